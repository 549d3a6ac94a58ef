"""A live `rankwise serve` application on 127.0.0.1 (uvicorn in a thread, port chosen by the OS)
over a tiny BM25 index and a tiny random cross-encoder built here."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

DOCS = [
    {"_id": "d1", "title": "Wings", "text": "The lift of a swept wing in a propeller slipstream.",
     "metadata": {"year": 1956, "lang": "en"}},
    {"_id": "d2", "text": "Boundary layer transition on a flat plate at supersonic speed.",
     "year": 1960, "lang": "en"},
    {"_id": "d3", "text": "Heat transfer in hypersonic flow around a blunt body wing.",
     "year": 1970, "lang": "fr"},
    {"_id": "d4", "text": "We are loving Milvus! Information retrieval with BM25 and wing flow.",
     "year": 2024, "lang": "en"},
    {"_id": "d5", "text": "Shock waves and pressure distribution on an airfoil wing.",
     "year": 1965},
    {"_id": "d6", "text": "The Dartmouth conference of 1956 started artificial intelligence.",
     "year": 1956, "lang": "en"},
]  # fmt: skip


@dataclass
class Live:
    """A running server: its base URL, the objects behind it and the index folder."""

    url: str
    server: Any  # rankwise.serve.app.RankwiseServer
    index: Path
    spec: str | None
    token: str | None = None


@pytest.fixture(scope="session")
def tiny_ce(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankwise.testing.tiny_models import save_tiny_model

    return Path(save_tiny_model(tmp_path_factory.mktemp("tiny-ce")))


@pytest.fixture(scope="session")
def serve_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankwise.cli import main

    root = tmp_path_factory.mktemp("serve-index")
    corpus = root / "docs.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    assert main(["index", str(corpus), "--out", str(root / "idx"), "-q"]) == 0
    return root / "idx"


def start_live(index: Path, spec: str | None, token: str | None = None, **limits: Any) -> Any:
    from rankwise.serve import ServeConfig, bind_socket, load_server

    config = ServeConfig(index=str(index), rerank=spec, token=token, **limits)
    server = load_server(config)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(server.app(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)

    def stop() -> None:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()

    return Live(f"http://127.0.0.1:{port}", server, index, spec, token), stop


@pytest.fixture(scope="session")
def live(serve_index: Path, tiny_ce: Path) -> Iterator[Live]:
    server, stop = start_live(
        serve_index, f"cross-encoder:{tiny_ce}", max_body_bytes=20_000, max_documents=50
    )
    yield server
    stop()


@pytest.fixture(scope="session")
def live_token(serve_index: Path) -> Iterator[Live]:
    server, stop = start_live(serve_index, None, token="s3cret-token")
    yield server
    stop()
