"""`rankwise serve --workers N`: N processes (uvicorn's supervisor) answer on one port with the
same index, stop together on SIGTERM, and a worker that cannot load stops the server with a
one-line reason instead of being restarted forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("uvicorn")
pytestmark = pytest.mark.slow  # each test starts server processes


def serve(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rankwise", "serve", *argv, "--port", "0", "-q"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def served_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("rankwise serve: "), line
    return line.rsplit(" on ", 1)[1].strip()


def answers_by_pid(url: str, timeout: float = 120) -> dict[int, dict[str, Any]]:
    """One /v1/search answer from each worker: requests on fresh connections until two
    processes have answered."""
    body = {"query": "swept wing lift", "k": 3}

    def ask(_: int) -> tuple[int, dict[str, Any]] | None:
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                pid = client.get("/v1/info").json()["pid"]
                return pid, client.post("/v1/search", json=body).json()
        except httpx.TransportError:
            return None

    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        while len(seen) < 2:
            assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered"
            for got in pool.map(ask, range(8)):
                if got is not None:
                    seen.setdefault(*got)
            time.sleep(0.05)
    return seen


def test_two_workers_answer_alike_and_stop_on_sigterm(serve_index: Path) -> None:
    proc = serve(str(serve_index), "--workers", "2")
    try:
        url = served_url(proc)
        assert url.startswith("http://127.0.0.1:")
        seen = answers_by_pid(url)
        assert proc.pid not in seen  # the supervisor only watches its workers
        first, second = (json.dumps(a["results"], sort_keys=True) for a in seen.values())
        assert first == second
        assert json.loads(first)[0]["id"] == "d1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        for pid in seen:  # the workers went with it
            assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_a_worker_that_cannot_load_stops_the_server(serve_index: Path) -> None:
    proc = serve(str(serve_index), "--workers", "2", "--rerank", "nosuchkind:model")
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "rankwise serve: error: worker" in err
    assert "nosuchkind" in err
    assert "Traceback" not in err


def test_workers_need_an_index_folder(tmp_path: Path) -> None:
    proc = serve(str(tmp_path / "nowhere"), "--workers", "2")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.startswith("rankwise serve: error:")
    assert "nowhere" in err
