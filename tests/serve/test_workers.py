"""`rankwise serve --workers N`: N processes (uvicorn's supervisor) answer on one port with the
same index, stop together on SIGTERM, and a worker that cannot load stops the server with a
one-line reason instead of being restarted forever."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections import Counter
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


def test_keep_alive_clients_spread_evenly_over_the_workers(serve_index: Path) -> None:
    """8 clients connecting one after another land 4 and 4 (least connections first); with
    a plain shared socket the process that wakes first took most of them (8/0, 6/2 seen)."""
    proc = serve(str(serve_index), "--workers", "2")
    try:
        url = served_url(proc)
        answers_by_pid(url)  # both workers serve
        for _ in range(3):
            clients = [httpx.Client(base_url=url, timeout=30) for _ in range(8)]
            try:
                pids = Counter(c.get("/v1/info").json()["pid"] for c in clients)
            finally:
                for c in clients:
                    c.close()
            # a worker leaves a new connection to a less busy one for at most 50 ms: on a
            # loaded machine one may come late, never most of them
            assert len(pids) == 2, pids
            assert max(pids.values()) <= 5, pids
            time.sleep(1.0)  # the workers see the connections close
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_the_connection_table_counts_per_worker_and_skips_dead_workers() -> None:
    from rankwise.serve.balance import ConnectionTable, create_table

    def put(path: str, slot: int, pid: int, count: int) -> None:
        with open(path, "r+b") as fh:
            fh.seek(16 * slot)
            fh.write(struct.pack("qq", pid, count))

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(gone.stdout)
    path = create_table(2)
    try:
        mine = ConnectionTable(path)
        assert mine.slot == 0
        assert struct.unpack("qq", Path(path).read_bytes()[:16]) == (os.getpid(), 0)
        mine.add(2)
        assert mine.open == 2
        assert mine.is_least_busy()  # no other worker yet
        put(path, 1, dead, 0)
        assert mine.is_least_busy()  # a worker that exited holds nothing back
        put(path, 1, os.getppid(), 1)
        assert not mine.is_least_busy()  # a live one with fewer connections goes first
        mine.add(-1)
        assert mine.is_least_busy()  # a tie accepts
        put(path, 0, dead, 7)
        again = ConnectionTable(path)  # a restarted worker takes the slot of one that died
        assert again.slot == 0
        assert again.open == 0
    finally:
        os.unlink(path)


def test_workers_auto_is_one_per_usable_core_at_most_four(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankwise.cli.main import build_parser
    from rankwise.serve import AUTO_MAX_WORKERS, auto_workers

    assert build_parser().parse_args(["serve", "ix"]).workers == "auto"
    assert build_parser().parse_args(["serve", "ix", "--workers", "3"]).workers == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(2)))
    assert auto_workers() == 2 == auto_workers("cpu")
    assert auto_workers("cuda:0") == 1  # a GPU model: one copy in its memory
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert auto_workers() == AUTO_MAX_WORKERS == 4
