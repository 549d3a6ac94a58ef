"""``BaseReranker.rerank_hits``: the one way search hits are reranked (core, CLI, server,
Milvus and the integrations all map ``RerankResult.index`` back through it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rankwise.rerankers.base import hits_from_results, pair_results, rank_scores
from rankwise.rerankers.cross_encoder import CrossEncoderReranker
from rankwise.types import Hit


@pytest.fixture(scope="module")
def reranker(bert_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(str(bert_dir), device="cpu")


def _hits(docs: list[str]) -> list[Hit]:
    return [
        Hit(id=f"d{i}", score=100.0 - i, text=t, metadata={"n": i, "tags": ["x"]})
        for i, t in enumerate(docs)
    ]


def test_rerank_hits_matches_rerank_by_index(
    reranker: CrossEncoderReranker, docs: list[str]
) -> None:
    hits = _hits(docs[:12])
    query = docs[20]
    expected = reranker.rerank(query, [h.text for h in hits], 5)
    got = reranker.rerank_hits(query, hits, top_k=5)
    assert [h.id for h in got] == [f"d{r.index}" for r in expected]
    assert [h.text for h in got] == [r.text for r in expected]
    assert [h.score for h in got] == [r.score for r in expected]  # the reranker's scores
    assert all(type(h.score) is float for h in got)
    assert [h.metadata for h in got] == [hits[r.index].metadata for r in expected]
    assert len(reranker.rerank_hits(query, hits)) == len(hits)  # top_k=None keeps all


def test_rerank_hits_copies_metadata(reranker: CrossEncoderReranker, docs: list[str]) -> None:
    hits = _hits(docs[:3])
    got = reranker.rerank_hits(docs[5], hits)
    got[0].metadata["n"] = "changed"
    assert all(h.metadata["n"] != "changed" for h in hits)


def test_arerank_hits_equals_the_sync_path(reranker: CrossEncoderReranker, docs: list[str]) -> None:
    hits = _hits(docs[:9])
    sync = reranker.rerank_hits(docs[30], hits, 4)
    assert asyncio.run(reranker.arerank_hits(docs[30], hits, 4)) == sync


def test_rerank_hits_validates_like_rerank(reranker: CrossEncoderReranker) -> None:
    hits = _hits(["a b", "c d"])
    assert reranker.rerank_hits("q", []) == []
    with pytest.raises(ValueError, match="query"):
        reranker.rerank_hits("  ", hits)
    with pytest.raises(ValueError, match="top_k"):
        reranker.rerank_hits("q", hits, top_k=0)
    with pytest.raises(TypeError, match=r"hits\[1\]"):
        reranker.rerank_hits("q", [hits[0], "c d"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="hits"):
        reranker.rerank_hits("q", "a b")  # type: ignore[arg-type]


def test_pair_results_maps_index_back_to_any_item() -> None:
    items = [("first",), ("second",), ("third",)]
    results = rank_scores(["a", "b", "c"], [0.1, 0.9, 0.5], 2)
    assert pair_results(items, results) == [(("second",), 0.9), (("third",), 0.5)]
    hits = _hits(["a", "b", "c"])
    assert [(h.id, h.score) for h in hits_from_results(hits, results)] == [
        ("d1", 0.9),
        ("d2", 0.5),
    ]


def test_a_local_reranker_is_a_context_manager(bert_dir: Path, docs: list[str]) -> None:
    with CrossEncoderReranker(str(bert_dir), device="cpu") as local:
        first = local.rerank(docs[0], docs[:3])
    local.close()  # nothing to release; harmless twice, and the model still answers
    assert local.rerank(docs[0], docs[:3]) == first

    async def use() -> None:
        async with local as same:
            assert same is local
            assert await same.arerank(docs[0], docs[:3]) == first

    asyncio.run(use())
