"""`rankwise serve` over HTTP on 127.0.0.1: Cohere-shaped rerank (checked with the real cohere SDK
and rankwise's CohereReranker), /v1/search against the CLI, limits, JSON errors, the bearer
token, micro-batching across concurrent requests, and a subprocess that shuts down cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rankwise.cli import main
from tests.serve.conftest import Live

QUERY = "lift of a swept wing"
DOCS = [
    "The lift of a swept wing in a propeller slipstream.",
    "Heat transfer in hypersonic flow.",
    "Shock waves on an airfoil wing.",
    "The Dartmouth conference of 1956.",
]


def direct_scores(live: Live, query: str, docs: list[str]) -> list[float]:
    return [float(s) for s in live.server.reranker._score(query, docs)]


def post(live: Live, path: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(live.url + path, json=body, timeout=60, **kw)


# -- health, info ---------------------------------------------------------------------------
def test_health_and_info(live: Live) -> None:
    assert httpx.get(live.url + "/health").json() == {"status": "ok"}
    info = httpx.get(live.url + "/v1/info").json()
    from rankwise import __version__

    assert info["version"] == __version__
    assert info["index"]["documents"] == 6
    assert info["index"]["store"] == "embedded"
    assert info["index"]["analyzer"] == {"type": "english"}
    assert info["models"] == [live.server.reranker.name]
    assert info["reranker"]["batching"] == "cross-encoder"
    assert info["reranker"]["model_workers"] == 2  # two batches may run at once
    assert info["reranker"]["model_threads"] == 1
    assert info["limits"]["max_documents"] == 50


def test_search_tokenizes_each_corpus_document_once(live: Live) -> None:
    """The cross-encoder keeps candidates' token ids: a new query over documents already seen
    tokenizes only the query (/v1/info shows the cache)."""
    body = {"query": "wing flow", "k": 3, "fetch_k": 6}
    assert post(live, "/v1/search", body).status_code == 200
    before = httpx.get(live.url + "/v1/info").json()["reranker"]["token_cache"]
    body = {"query": "lift of a swept wing heat", "k": 3, "fetch_k": 6}
    found = post(live, "/v1/search", body).json()["results"]
    after = httpx.get(live.url + "/v1/info").json()["reranker"]["token_cache"]
    assert found
    assert after["misses"] == before["misses"]
    assert after["hits"] > before["hits"]
    assert 0 < after["documents"] <= after["max_documents"]


# -- Cohere-shaped rerank -------------------------------------------------------------------
def test_cohere_sdk_v2_client_reranks_through_the_server(live: Live) -> None:
    cohere = pytest.importorskip("cohere")
    client = cohere.ClientV2(api_key="unused", base_url=live.url, max_retries=0)  # type: ignore[call-arg]
    resp = client.rerank(model="any", query=QUERY, documents=DOCS, top_n=3)
    want = direct_scores(live, QUERY, DOCS)
    order = sorted(range(len(DOCS)), key=lambda i: (-want[i], i))[:3]
    assert [r.index for r in resp.results] == order
    assert [r.relevance_score for r in resp.results] == pytest.approx([want[i] for i in order])


def test_cohere_sdk_v1_client_with_return_documents(live: Live) -> None:
    cohere = pytest.importorskip("cohere")
    client = cohere.Client(api_key="unused", base_url=live.url, max_retries=0)  # type: ignore[call-arg]
    docs = [{"text": d} for d in DOCS]
    resp = client.rerank(query=QUERY, documents=docs, return_documents=True)
    want = direct_scores(live, QUERY, DOCS)
    assert sorted(r.index for r in resp.results) == [0, 1, 2, 3]
    for r in resp.results:
        assert r.relevance_score == pytest.approx(want[r.index])
        assert r.document is not None
        assert r.document.text == DOCS[r.index]


def test_rankwise_cohere_reranker_against_the_server(live: Live) -> None:
    pytest.importorskip("cohere")
    from rankwise.rerankers import CohereReranker

    remote = CohereReranker("served", api_key="unused", base_url=live.url)
    got = remote.rerank(QUERY, DOCS, top_k=2)
    local = live.server.reranker.rerank(QUERY, DOCS, top_k=2)
    assert [r.index for r in got] == [r.index for r in local]
    assert [r.score for r in got] == pytest.approx([r.score for r in local])


# -- /v1/search -----------------------------------------------------------------------------
def _cli_search(capsys: pytest.CaptureFixture[str], live: Live, *extra: str) -> dict[str, Any]:
    assert main(["search", str(live.index), QUERY, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_search_returns_the_cli_schema_and_answer(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    got = post(live, "/v1/search", {"query": QUERY, "k": 3, "rerank": False}).json()
    cli = _cli_search(capsys, live, "-k", "3")
    assert set(got) == set(cli)
    assert got["schema"] == cli["schema"] == "rankwise.search/v1"
    assert got["reranker"] is None
    strip = [{k: v for k, v in r.items()} for r in got["results"]]
    assert strip == cli["results"]

    got = post(live, "/v1/search", {"query": QUERY, "k": 3}).json()  # rerank by default
    cli = _cli_search(capsys, live, "-k", "3", "--rerank", live.spec or "")
    assert got["reranker"] == cli["reranker"] == live.server.reranker.name
    assert [r["id"] for r in got["results"]] == [r["id"] for r in cli["results"]]
    assert [r["score"] for r in got["results"]] == pytest.approx(
        [r["score"] for r in cli["results"]], rel=1e-5
    )
    assert got["timings_ms"]["rerank"] is not None


@pytest.mark.parametrize(
    ("flt", "cli_flags"),
    [
        ({"lang": "en"}, ["--filter", "lang=en"]),
        (["year>=1960", "lang!=fr"], ["--filter", "year>=1960", "--filter", "lang!=fr"]),
        (["year<1960"], ["--filter", "year<1960"]),
    ],
)
def test_search_filter_forms_match_the_cli(
    live: Live, capsys: pytest.CaptureFixture[str], flt: Any, cli_flags: list[str]
) -> None:
    got = post(live, "/v1/search", {"query": "wing", "k": 10, "rerank": False, "filter": flt})
    assert got.status_code == 200
    cli = _cli_search(capsys, live, "-k", "10", *cli_flags)
    assert [r["id"] for r in got.json()["results"]] == [r["id"] for r in cli["results"]]
    assert got.json()["results"]


# -- limits and errors ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/rerank", b"{not json", 400, "not valid JSON"),
        ("/v1/rerank", b"[1, 2]", 400, "must be a JSON object, not list"),
        ("/v1/rerank", b"", 400, "body is empty"),
        (
            "/v1/rerank",
            {"documents": ["a"]},
            400,
            "'query' must be a non-empty string; it is missing",
        ),
        ("/v1/rerank", {"query": "q", "documents": "a"}, 400, "'documents' must be a list"),
        ("/v1/rerank", {"query": "q", "documents": []}, 400, "at least one document"),
        ("/v1/rerank", {"query": "q", "documents": [1]}, 400, "documents[0] must be a string"),
        ("/v1/rerank", {"query": "q", "documents": ["a"] * 51}, 400, "the limit is 50"),
        (
            "/v1/rerank",
            {"query": "q", "documents": ["a"], "top_n": 0},
            400,
            "'top_n' must be a positive",
        ),
        ("/v2/rerank", {"query": "q\ud800", "documents": ["a"]}, 400, "lone surrogate"),
        ("/v1/rerank", {"query": "q", "documents": ["x" * 30_000]}, 413, "20,000-byte limit"),
        ("/v1/search", {"query": "q", "k": "3"}, 400, "'k' must be a positive integer"),
        ("/v1/search", {"query": "q", "k": 5000}, 400, "'k' must be at most 1,000"),
        ("/v1/search", {"query": "q", "filter": ["year~3"]}, 400, "is not KEY=VALUE"),
        ("/v1/search", {"query": "q", "filter": {"a": [1]}}, 400, "filter['a'] must be"),
        ("/v1/search", {"query": "q", "rerank": "yes"}, 400, "'rerank' must be true or false"),
        ("/v1/nothing", {}, 404, "no such endpoint: POST /v1/nothing"),
    ],
)
def test_bad_requests_get_clear_4xx_json(
    live: Live, path: str, body: Any, status: int, message: str
) -> None:
    if isinstance(body, bytes):
        resp = httpx.post(live.url + path, content=body, timeout=60)
    else:
        raw = json.dumps(body).encode()
        resp = httpx.post(live.url + path, content=raw, timeout=60)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert message in resp.json()["message"]


def test_wrong_method_is_json_405(live: Live) -> None:
    resp = httpx.get(live.url + "/v1/search")
    assert resp.status_code == 405
    assert "method not allowed" in resp.json()["message"]


def test_chunked_body_over_the_limit_is_refused(live: Live) -> None:
    def parts() -> Any:
        yield b'{"query": "q", "documents": ["'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"]}'

    resp = httpx.post(live.url + "/v1/rerank", content=parts(), timeout=60)
    assert resp.status_code == 413


def test_no_reranker_means_rerank_is_refused(live_token: Live) -> None:
    auth = {"Authorization": "Bearer s3cret-token"}
    resp = post(live_token, "/v1/rerank", {"query": "q", "documents": ["a"]}, headers=auth)
    assert resp.status_code == 404
    assert "--rerank SPEC" in resp.json()["message"]
    resp = post(live_token, "/v1/search", {"query": "wing", "rerank": True}, headers=auth)
    assert resp.status_code == 400
    resp = post(live_token, "/v1/search", {"query": "wing"}, headers=auth)
    assert resp.status_code == 200
    assert resp.json()["reranker"] is None


# -- bearer token ---------------------------------------------------------------------------
def test_bearer_token_is_required_except_for_health(live_token: Live) -> None:
    body = {"query": "wing"}
    assert httpx.get(live_token.url + "/health").status_code == 200
    resp = post(live_token, "/v1/search", body)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in resp.json()["message"]
    for wrong in ("Bearer s3cret-tokeN", "Bearer x", "Basic s3cret-token", "s3cret-token"):
        assert (
            post(live_token, "/v1/search", body, headers={"Authorization": wrong}).status_code
            == 401
        )
    ok = post(live_token, "/v1/search", body, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert httpx.get(live_token.url + "/v1/info").status_code == 401


# -- micro-batching -------------------------------------------------------------------------
def test_concurrent_rerank_requests_share_model_calls_and_keep_their_answers(live: Live) -> None:
    queries = [f"{w} wing flow" for w in ("lift", "heat", "shock", "boundary", "milvus", "drag")]
    queries *= 3
    before_calls = live.server.batcher.calls
    before_requests = live.server.batcher.requests

    async def fire() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=live.url, timeout=120) as client:
            resps = await asyncio.gather(
                *(client.post("/v1/rerank", json={"query": q, "documents": DOCS}) for q in queries)
            )
        return [r.json() for r in resps]

    answers = asyncio.run(fire())
    calls = live.server.batcher.calls - before_calls
    assert live.server.batcher.requests - before_requests == len(queries)
    assert calls < len(queries), "no two concurrent requests shared a model call"
    for q, answer in zip(queries, answers, strict=True):
        want = direct_scores(live, q, DOCS)
        got = {r["index"]: r["relevance_score"] for r in answer["results"]}
        assert [got[i] for i in range(len(DOCS))] == pytest.approx(want, abs=1e-5)


def test_embedding_batches_give_the_reranker_s_own_scores(tmp_path: Path) -> None:
    """The bi-encoder batch path (one encode for many queries) equals EmbeddingReranker."""
    from rankwise.embeddings import SentenceEmbedder
    from rankwise.rerankers.embedding import EmbeddingReranker
    from rankwise.serve.batching import _Job, batch_scorer, score_jobs
    from rankwise.testing.tiny_models import save_tiny_model

    path = save_tiny_model(tmp_path / "tiny-bi", num_labels=1)
    reranker = EmbeddingReranker(embedder=SentenceEmbedder(str(path), cache_size=0))
    assert batch_scorer(reranker) == "embedding"
    loop = asyncio.new_event_loop()
    jobs = [_Job(q, DOCS[: 2 + i], loop.create_future()) for i, q in enumerate(["a b", "c"])]
    got = score_jobs(reranker, "embedding", jobs)
    loop.close()
    for job, scores in zip(jobs, got, strict=True):
        assert scores == pytest.approx(reranker._score(job.query, job.documents), abs=1e-5)


# -- the command: loopback default, graceful shutdown ---------------------------------------
def test_rankwise_serve_subprocess_binds_loopback_and_stops_on_sigterm(serve_index: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RANKWISE_SERVE_TOKEN": "tok"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rankwise", "serve", str(serve_index), "--port", "0", "-q"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("rankwise serve: "), line
        url = line.rsplit(" on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert httpx.post(url + "/v1/search", json={"query": "wing"}).status_code == 401
        ok = httpx.post(
            url + "/v1/search", json={"query": "wing"}, headers={"Authorization": "Bearer tok"}
        )
        assert ok.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
