"""LangChain's and LlamaIndex's own Cohere rerankers (langchain-cohere, llama-index-postprocessor-
cohere-rerank), unchanged, against `rankwise serve` on 127.0.0.1.

Both require cohere<6 while rankwise resolves cohere 7, so they live in a second virtualenv that
`make setup` builds (.venv-cohere5, scripts/setup_cohere5.sh); the frameworks run there, in a
subprocess (tests/serve/cohere_frameworks_client.py), and talk to the server this test starts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Live

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("cohere_frameworks_client.py")
pytestmark = pytest.mark.slow  # imports LangChain and LlamaIndex in a subprocess

QUERY = "lift of a swept wing"
DOCS = [
    "The lift of a swept wing in a propeller slipstream.",
    "Heat transfer in hypersonic flow.",
    "Shock waves on an airfoil wing.",
    "The Dartmouth conference of 1956.",
    "Boundary layer transition on a flat plate.",
]


def cohere5_python() -> Path:
    venv = Path(os.environ.get("RANKWISE_COHERE5_VENV", ROOT / ".venv-cohere5"))
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"{venv} is absent: `make setup` builds it (LangChain's and LlamaIndex's Cohere "
            "rerankers need cohere<6, rankwise's environment has cohere 7)"
        )
    return python


def run_frameworks(live: Live, top_n: int) -> dict[str, Any]:
    request = {"url": live.url, "query": QUERY, "documents": DOCS, "top_n": top_n}
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "COHERE_API_KEY": "unused",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
    }
    done = subprocess.run(
        [str(cohere5_python()), str(CLIENT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def framework_results(live: Live) -> dict[str, Any]:
    return run_frameworks(live, top_n=3)


def expected(live: Live, top_n: int | None) -> list[tuple[int, float]]:
    scores = [float(s) for s in live.server.reranker._score(QUERY, DOCS)]
    order = sorted(range(len(DOCS)), key=lambda i: (-scores[i], i))
    return [(i, scores[i]) for i in order[:top_n]]


def check(got: list[dict[str, Any]], want: list[tuple[int, float]]) -> None:
    assert [r["index"] for r in got] == [i for i, _ in want]
    assert [r["score"] for r in got] == pytest.approx([s for _, s in want], rel=1e-5)


@pytest.mark.parametrize("call", ["compress_documents", "acompress_documents"])
def test_langchain_cohere_rerank_calls_the_server_unchanged(
    live: Live, framework_results: dict[str, Any], call: str
) -> None:
    check(framework_results["langchain"][call], expected(live, 3))


def test_langchain_cohere_rerank_every_document(
    live: Live, framework_results: dict[str, Any]
) -> None:
    check(framework_results["langchain"]["rerank"], expected(live, None))


@pytest.mark.parametrize("call", ["postprocess_nodes", "apostprocess_nodes"])
def test_llama_index_cohere_rerank_calls_the_server_unchanged(
    live: Live, framework_results: dict[str, Any], call: str
) -> None:
    check(framework_results["llama_index"][call], expected(live, 3))
