"""RankwiseRerank over real rankwise backends: a tiny local cross-encoder built here, and the
Cohere backend (real SDK) against rankwise's loopback fake server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_rankwise import RankwiseHybridRetriever, RankwiseRerank
from lc_doubles import ListRetriever

from rankwise.rerankers import load
from rankwise.testing.fake_api import FakeRerankServer, Reply

DOCS = [
    Document(page_content="the river flows under the old bridge", id="r", metadata={"p": 1}),
    Document(page_content="a fast search engine ranks every document", id="s", metadata={}),
    Document(page_content="the cat and the dog sleep", id="c", metadata={"p": 3}),
    Document(page_content="dense vector search with a reranker model", id="v"),
    Document(page_content="heat transfer in the boundary layer flow", metadata={"p": 5}),
]
QUERY = "search engine ranks reranker"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankwise.testing.tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-ce"), seed=7)


@pytest.fixture
def fake_api() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as server:
        yield server


def test_tiny_cross_encoder_from_spec_string(tiny_cross_encoder: Path) -> None:
    compressor = RankwiseRerank(
        reranker=f"cross-encoder:{tiny_cross_encoder}",
        reranker_kwargs={"show_progress": False},
        top_n=None,
    )
    out = compressor.compress_documents(DOCS, QUERY)
    direct = load(f"cross-encoder:{tiny_cross_encoder}", show_progress=False).rerank(
        QUERY, [d.page_content for d in DOCS]
    )
    assert [d.page_content for d in out] == [r.text for r in direct]
    assert [d.metadata["relevance_score"] for d in out] == pytest.approx([r.score for r in direct])
    assert [d.id for d in out] == [DOCS[r.index].id for r in direct]
    for d, r in zip(out, direct, strict=True):
        assert {k: v for k, v in d.metadata.items() if k != "relevance_score"} == DOCS[
            r.index
        ].metadata


async def test_tiny_cross_encoder_async_matches_sync(tiny_cross_encoder: Path) -> None:
    compressor = RankwiseRerank(
        reranker=load(f"cross-encoder:{tiny_cross_encoder}", show_progress=False), top_n=2
    )
    sync = compressor.compress_documents(DOCS, QUERY)
    asy = await compressor.acompress_documents(DOCS, QUERY)
    assert len(asy) == 2
    assert [(d.id, d.page_content) for d in sync] == [(d.id, d.page_content) for d in asy]
    assert [d.metadata["relevance_score"] for d in sync] == pytest.approx(
        [d.metadata["relevance_score"] for d in asy], abs=1e-5
    )


def cohere_compressor(server: FakeRerankServer, top_n: int | None = 3) -> RankwiseRerank:
    return RankwiseRerank(
        reranker="cohere:rerank-v3.5",
        api_key="test-key-123",
        reranker_kwargs={"base_url": server.base_url("cohere")},
        top_n=top_n,
    )


def test_fake_cohere_reranks_and_keeps_ids(fake_api: FakeRerankServer) -> None:
    compressor = cohere_compressor(fake_api, top_n=2)
    out = compressor.compress_documents(DOCS, QUERY)
    assert [d.id for d in out] == ["s", "v"]
    assert out[0].metadata["relevance_score"] > out[1].metadata["relevance_score"] > 0
    (request,) = fake_api.requests_for("cohere")
    assert request.json["query"] == QUERY
    assert request.json["model"] == "rerank-v3.5"
    assert len(request.json["documents"]) == len(DOCS)
    assert "test-key-123" in request.headers["authorization"]
    assert "test-key-123" not in repr(compressor)


def test_fake_cohere_empty_input_sends_nothing(fake_api: FakeRerankServer) -> None:
    assert cohere_compressor(fake_api).compress_documents([], QUERY) == []
    assert fake_api.requests == []


async def test_fake_cohere_async_calls_overlap(fake_api: FakeRerankServer) -> None:
    delay = 0.6
    compressor = cohere_compressor(fake_api)
    await compressor.acompress_documents(DOCS[:1], QUERY)  # warm the async client
    fake_api.default = Reply.ok(delay=delay)
    start = time.perf_counter()
    first, second = await asyncio.gather(
        compressor.acompress_documents(DOCS, QUERY),
        compressor.acompress_documents(DOCS, "cat and dog"),
    )
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5 * delay, f"two {delay}s requests took {elapsed:.2f}s (not concurrent)"
    assert first[0].id == "s"
    assert second[0].id == "c"
    assert len(fake_api.requests_for("cohere")) == 3


async def test_hybrid_with_fake_cohere_reranker(fake_api: FakeRerankServer) -> None:
    hybrid = RankwiseHybridRetriever(
        retrievers=[ListRetriever(docs=DOCS[:3]), ListRetriever(docs=DOCS[2:])],
        reranker=cohere_compressor(fake_api, top_n=None),
        k=2,
        fetch_k=4,
    )
    out = await hybrid.ainvoke("dense vector search")
    assert [d.id for d in out] == ["v", "s"]
    assert all("fused_score" in d.metadata for d in out)
    (request,) = fake_api.requests_for("cohere")
    assert len(request.json["documents"]) == 4
