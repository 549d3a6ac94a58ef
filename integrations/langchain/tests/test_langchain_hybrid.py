"""RankwiseHybridRetriever: fusion arithmetic, de-duplication, concurrency, reranking, errors."""

from __future__ import annotations

import time

import pytest
from langchain_core.documents import Document
from langchain_rankwise import RankwiseHybridRetriever, RankwiseRerank
from lc_doubles import ListRetriever, OverlapReranker
from pydantic import ValidationError


def D(text: str, id: str | None = None, **meta: object) -> Document:
    return Document(page_content=text, id=id, metadata=dict(meta))


def test_weighted_rrf_scores_and_order() -> None:
    a = ListRetriever(docs=[D("alpha", "a"), D("beta", "b"), D("gamma", "c")])
    b = ListRetriever(docs=[D("beta", "b"), D("delta", "d")])
    hybrid = RankwiseHybridRetriever(retrievers=[a, b], weights=[1.0, 2.0], k=10)
    out = hybrid.invoke("q")
    scores = {d.id: d.metadata["fused_score"] for d in out}
    assert scores["b"] == pytest.approx(1 / 62 + 2 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["d"] == pytest.approx(2 / 62)
    assert scores["c"] == pytest.approx(1 / 63)
    assert [d.id for d in out] == ["b", "d", "a", "c"]


def test_custom_c_changes_scores() -> None:
    a = ListRetriever(docs=[D("alpha", "a"), D("beta", "b")])
    out = RankwiseHybridRetriever(retrievers=[a], c=0).invoke("q")
    assert [d.metadata["fused_score"] for d in out] == pytest.approx([1.0, 0.5])


def test_dedup_by_id_then_content_without_double_counting() -> None:
    # Retriever a returns the chunk "b" twice (two chunks of one doc): it counts once, at rank 2.
    a = ListRetriever(docs=[D("one", "x"), D("two", "b"), D("two again", "b")])
    b = ListRetriever(docs=[D("no id text"), D("two", "b")])
    c = ListRetriever(docs=[D("no id text")])
    out = RankwiseHybridRetriever(retrievers=[a, b, c], k=10).invoke("q")
    by_key = {d.id or d.page_content: d.metadata["fused_score"] for d in out}
    assert len(out) == 3
    assert by_key["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert by_key["no id text"] == pytest.approx(1 / 61 + 1 / 61)
    # the first-seen copy is kept, with its own content
    assert next(d for d in out if d.id == "b").page_content == "two"


def test_id_key_dedups_on_metadata() -> None:
    a = ListRetriever(docs=[D("chunk 1", "c1", doc="A"), D("chunk 2", "c2", doc="B")])
    b = ListRetriever(docs=[D("chunk 3", "c3", doc="A")])
    out = RankwiseHybridRetriever(retrievers=[a, b], id_key="doc").invoke("q")
    assert [d.metadata["doc"] for d in out] == ["A", "B"]
    assert out[0].metadata["fused_score"] == pytest.approx(2 / 61)


def test_min_max_fusion_uses_child_scores() -> None:
    a = ListRetriever(
        docs=[
            D("x", "x", rankwise_score=10.0),
            D("y", "y", rankwise_score=5.0),
            D("z", "z", rankwise_score=0.0),
        ]
    )
    b = ListRetriever(docs=[D("z", "z", rankwise_score=0.9), D("y", "y", rankwise_score=0.1)])
    out = RankwiseHybridRetriever(retrievers=[a, b], fusion="min_max", k=3).invoke("q")
    scores = {d.id: d.metadata["fused_score"] for d in out}
    assert scores == pytest.approx({"x": 1.0, "y": 0.5, "z": 1.0})
    # ties keep first-seen order: x (first list) before z
    assert [d.id for d in out] == ["x", "z", "y"]


def test_min_max_without_scores_is_a_clear_error() -> None:
    a = ListRetriever(docs=[D("x", "x")])
    hybrid = RankwiseHybridRetriever(retrievers=[a], fusion="min_max")
    with pytest.raises(ValueError, match="score"):
        hybrid.invoke("q")


def test_k_caps_results_and_invoke_kwarg_overrides() -> None:
    a = ListRetriever(docs=[D(f"t{i}", f"a{i}") for i in range(10)])
    hybrid = RankwiseHybridRetriever(retrievers=[a], k=4)
    assert len(hybrid.invoke("q")) == 4
    assert len(hybrid.invoke("q", k=2)) == 2
    assert len(hybrid.invoke("q", k=50)) == 10


async def test_async_matches_sync() -> None:
    a = ListRetriever(docs=[D("alpha", "a"), D("beta", "b")])
    b = ListRetriever(docs=[D("beta", "b"), D("delta", "d")])
    hybrid = RankwiseHybridRetriever(retrievers=[a, b], weights=[0.3, 0.7], k=3)
    sync = hybrid.invoke("q")
    asy = await hybrid.ainvoke("q", k=3)
    assert [(d.id, d.metadata) for d in sync] == [(d.id, d.metadata) for d in asy]


def test_children_run_concurrently_in_sync_path() -> None:
    slow = [ListRetriever(docs=[D(f"t{i}", f"s{i}")], delay=0.3) for i in range(3)]
    hybrid = RankwiseHybridRetriever(retrievers=slow)
    start = time.perf_counter()
    out = hybrid.invoke("q")
    elapsed = time.perf_counter() - start
    assert len(out) == 3
    assert elapsed < 0.75, f"sequential-looking sync path: {elapsed:.2f}s for 3 x 0.3s"
    assert len({t for r in slow for t in r.threads}) == 3


async def test_children_run_concurrently_in_async_path() -> None:
    slow = [ListRetriever(docs=[D(f"t{i}", f"s{i}")], delay=0.3) for i in range(3)]
    hybrid = RankwiseHybridRetriever(retrievers=slow)
    start = time.perf_counter()
    out = await hybrid.ainvoke("q")
    elapsed = time.perf_counter() - start
    assert len(out) == 3
    assert elapsed < 0.75, f"sequential-looking async path: {elapsed:.2f}s for 3 x 0.3s"


def test_reranker_reorders_fetch_k_candidates() -> None:
    # fused order puts the relevant doc last; the reranker brings it first.
    docs = [D(f"filler {i}", f"f{i}") for i in range(5)] + [
        D("bm25 saturates term frequency", "hit")
    ]
    a = ListRetriever(docs=docs)
    reranker = OverlapReranker()
    hybrid = RankwiseHybridRetriever(retrievers=[a], k=2, fetch_k=6, reranker=reranker)
    out = hybrid.invoke("term frequency")
    assert out[0].id == "hit"
    assert len(out) == 2
    assert out[0].metadata["relevance_score"] > out[1].metadata["relevance_score"]
    assert "fused_score" in out[0].metadata
    assert reranker.calls == 1

    # with fetch_k smaller than the hit's fused rank, the reranker never sees it
    narrow = RankwiseHybridRetriever(retrievers=[a], k=2, fetch_k=3, reranker=reranker)
    assert "hit" not in [d.id for d in narrow.invoke("term frequency")]


async def test_reranker_async_and_spec_wrapping() -> None:
    a = ListRetriever(docs=[D("cats", "c"), D("dogs bark", "d")])
    reranker = OverlapReranker()
    hybrid = RankwiseHybridRetriever(retrievers=[a], reranker=reranker, k=1)
    assert isinstance(hybrid.reranker, RankwiseRerank)
    out = await hybrid.ainvoke("dogs")
    assert [d.id for d in out] == ["d"]


def test_any_langchain_compressor_as_reranker() -> None:
    a = ListRetriever(docs=[D("cats", "c"), D("dogs bark", "d"), D("dogs", "e")])
    compressor = RankwiseRerank(reranker=OverlapReranker(), top_n=None)
    hybrid = RankwiseHybridRetriever(retrievers=[a], reranker=compressor, k=2)
    assert [d.id for d in hybrid.invoke("dogs")] == ["e", "d"]


def test_empty_children_give_empty_result_without_reranking() -> None:
    reranker = OverlapReranker()
    hybrid = RankwiseHybridRetriever(
        retrievers=[ListRetriever(docs=[]), ListRetriever(docs=[])], reranker=reranker
    )
    assert hybrid.invoke("anything") == []
    assert reranker.calls == 0


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_raises(query: str) -> None:
    hybrid = RankwiseHybridRetriever(retrievers=[ListRetriever(docs=[D("x", "x")])])
    with pytest.raises(ValueError, match="query"):
        hybrid.invoke(query)


@pytest.mark.parametrize("k", [0, -1])
def test_bad_k_raises(k: int) -> None:
    with pytest.raises(ValueError, match="k"):
        RankwiseHybridRetriever(retrievers=[ListRetriever(docs=[])], k=k)
    hybrid = RankwiseHybridRetriever(retrievers=[ListRetriever(docs=[D("x", "x")])])
    with pytest.raises(ValueError, match="k"):
        hybrid.invoke("q", k=k)


def test_bad_configuration_raises() -> None:
    one = ListRetriever(docs=[])
    with pytest.raises(ValidationError, match="retrievers"):
        RankwiseHybridRetriever(retrievers=[])
    with pytest.raises(ValidationError, match="weights"):
        RankwiseHybridRetriever(retrievers=[one, one], weights=[1.0])
    with pytest.raises(ValidationError, match=r"weights\[0\] must be a finite number >= 0"):
        RankwiseHybridRetriever(retrievers=[one], weights=[-1.0])
    with pytest.raises(ValidationError, match="not all be zero"):
        RankwiseHybridRetriever(retrievers=[one, one], weights=[0.0, 0.0])
    with pytest.raises(ValidationError, match="fusion"):
        RankwiseHybridRetriever(retrievers=[one], fusion="max")
    with pytest.raises(ValidationError, match="extra"):
        RankwiseHybridRetriever(retrievers=[one], top_k=3)
