"""RankwiseHybridRetriever: weighted RRF, min-max fusion, concurrency, rerank stage."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.settings import _Settings
from llama_index.postprocessor.rankwise import RankwiseRerank
from llama_index.retrievers.rankwise import RankwiseHybridRetriever

A = [("x", 10.0), ("y", 5.0), ("z", 0.0)]
B = [("z", 0.9), ("w", 0.3)]


def ids(nodes) -> list[str]:
    return [n.node.node_id for n in nodes]


def test_weighted_rrf_ranks_from_one_with_c_60(list_retriever_cls):
    hybrid = RankwiseHybridRetriever(
        [list_retriever_cls(A), list_retriever_cls(B)], weights=[1.0, 2.0], similarity_top_k=None
    )
    out = hybrid.retrieve("q")
    expected = {
        "x": 1 / 61,
        "y": 1 / 62,
        "z": 1 / 63 + 2 / 61,
        "w": 2 / 62,
    }
    assert ids(out) == sorted(expected, key=lambda k: -expected[k])
    for n in out:
        assert n.score == pytest.approx(expected[n.node.node_id])


def test_weights_change_the_order(list_retriever_cls):
    def top(weights: list[float]) -> list[str]:
        retrievers = [list_retriever_cls(A), list_retriever_cls(B)]
        return ids(
            RankwiseHybridRetriever(retrievers, weights=weights, similarity_top_k=2).retrieve("q")
        )

    # Equal weights: z (in both lists) first, then x (rank 1 of A).
    assert top([1.0, 1.0]) == ["z", "x"]
    # B weighted down to zero: A's own order.
    assert top([1.0, 0.0]) == ["x", "y"]
    # A weighted down to zero: B's order.
    assert top([0.0, 1.0]) == ["z", "w"]


def test_custom_c_and_duplicates_count_once(list_retriever_cls):
    dup = list_retriever_cls([("x", 3.0), ("x", 2.0), ("y", 1.0)])
    out = RankwiseHybridRetriever([dup], c=0, similarity_top_k=None).retrieve("q")
    assert ids(out) == ["x", "y"]
    assert [n.score for n in out] == pytest.approx([1.0, 0.5])


def test_min_max_fusion(list_retriever_cls):
    hybrid = RankwiseHybridRetriever(
        [list_retriever_cls(A), list_retriever_cls(B)],
        fusion="min_max",
        weights=[1.0, 0.5],
        similarity_top_k=None,
    )
    out = hybrid.retrieve("q")
    # A scaled: x 1, y 0.5, z 0; B scaled: z 1, w 0 (times 0.5).
    expected = {"x": 1.0, "y": 0.5, "z": 0.5, "w": 0.0}
    assert {n.node.node_id: n.score for n in out} == pytest.approx(expected)
    assert ids(out) == ["x", "y", "z", "w"]  # y before z: ties keep first-seen order


def test_top_k_and_fused_nodes_are_copies(list_retriever_cls):
    a = list_retriever_cls(A)
    hybrid = RankwiseHybridRetriever([a, list_retriever_cls(B)])
    out = hybrid.retrieve("q")
    assert len(out) == 2  # LlamaIndex's default similarity_top_k
    hybrid.similarity_top_k = 3
    assert len(hybrid.retrieve("q")) == 3
    with pytest.raises(ValueError, match="similarity_top_k"):
        hybrid.similarity_top_k = 0
    assert out[0].node.text == "text of z"
    out[0].node.metadata["touched"] = True
    assert all("touched" not in n.node.metadata for n in a.retrieve("q"))


def test_sync_path_runs_children_concurrently(list_retriever_cls, stopwatch):
    slow = [list_retriever_cls(A, delay=0.5), list_retriever_cls(B, delay=0.5)]
    hybrid = RankwiseHybridRetriever(slow)
    elapsed = stopwatch.best(lambda: hybrid.retrieve("q"), under=0.85)
    assert elapsed < 0.85, f"children ran one after the other ({elapsed:.2f}s)"
    assert slow[0].sync_calls == slow[1].sync_calls >= 1


async def test_two_aretrieve_against_slow_children_take_about_one_delay(
    list_retriever_cls, stopwatch
):
    slow = [list_retriever_cls(A, delay=0.5), list_retriever_cls(B, delay=0.5)]
    hybrid = RankwiseHybridRetriever(slow, similarity_top_k=None)
    results: list[list] = []

    async def both() -> None:
        results[:] = await asyncio.gather(hybrid.aretrieve("q1"), hybrid.aretrieve("q2"))

    elapsed = await stopwatch.abest(both, under=0.85)
    assert elapsed < 0.85, f"aretrieve calls were serialized ({elapsed:.2f}s)"
    first, second = results
    expected = hybrid.fuse([list_retriever_cls(A)._results(), list_retriever_cls(B)._results()])
    assert ids(first) == ids(second) == ids(expected)
    assert slow[0].async_calls == slow[1].async_calls >= 2
    assert [r.sync_calls for r in slow] == [0, 0]


def test_needs_no_llm(list_retriever_cls, monkeypatch):
    def no_llm(self: Any) -> Any:
        raise AssertionError("the hybrid retriever must not resolve an LLM")

    monkeypatch.setattr(_Settings, "llm", property(no_llm))
    out = RankwiseHybridRetriever([list_retriever_cls(A), list_retriever_cls(B)]).retrieve("q")
    assert ids(out) == ["z", "x"]


def test_reranker_stage_sees_the_fused_candidates(list_retriever_cls, overlap_reranker):
    a = list_retriever_cls([("x", 1.0), ("y", 0.5)])
    b = list_retriever_cls([("w", 1.0), ("y", 0.9)])
    hybrid = RankwiseHybridRetriever([a, b], reranker=overlap_reranker, similarity_top_k=1)
    # The overlap reranker scores "text of w" highest for the query "w".
    out = hybrid.retrieve("w")
    assert ids(out) == ["w"]
    assert out[0].score == 1.0
    ((_, docs),) = overlap_reranker.calls
    assert sorted(docs) == ["text of w", "text of x", "text of y"]
    # The wrapped reranker follows similarity_top_k, also when it changes later.
    hybrid.similarity_top_k = 3
    assert len(hybrid.retrieve("w")) == 3
    hybrid.similarity_top_k = None
    assert len(hybrid.retrieve("w")) == 3
    assert ids(hybrid.retrieve("w"))[0] == "w"


def test_fetch_k_limits_what_the_reranker_sees(list_retriever_cls, overlap_reranker):
    a = list_retriever_cls([("x", 1.0), ("y", 0.5), ("v", 0.1)])
    b = list_retriever_cls([("y", 1.0), ("w", 0.9)])
    hybrid = RankwiseHybridRetriever(
        [a, b], reranker=overlap_reranker, fetch_k=2, similarity_top_k=2
    )
    out = hybrid.retrieve("w")
    # Fused: y (both lists), x, w, v; only y and x reach the reranker, so w can't win.
    ((_, docs),) = overlap_reranker.calls
    assert docs == ["text of y", "text of x"]
    assert set(ids(out)) == {"x", "y"}


async def test_reranker_stage_async_with_a_postprocessor(list_retriever_cls, overlap_reranker):
    a = list_retriever_cls([("x", 1.0), ("y", 0.5)])
    b = list_retriever_cls([("w", 1.0)])
    post = RankwiseRerank(overlap_reranker, top_n=5)
    hybrid = RankwiseHybridRetriever([a, b], reranker=post, similarity_top_k=2)
    assert hybrid.reranker is post
    out = await hybrid.aretrieve("y")
    assert ids(out)[0] == "y"
    assert len(out) == 2
    assert overlap_reranker.async_calls == 1


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"weights": [1.0]}, "weights"),
        ({"weights": [1.0, -1.0]}, "weights"),
        ({"weights": [0.0, 0.0]}, "weights"),
        ({"weights": "ab"}, "weights"),
        ({"fusion": "dist"}, "fusion"),
        ({"c": -1}, "c must"),
        ({"similarity_top_k": 0}, "similarity_top_k"),
        ({"fetch_k": 3}, "fetch_k"),
        ({"reranker": 42}, "reranker"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_bad_arguments(list_retriever_cls, kwargs: dict[str, Any], argument: str):
    with pytest.raises(ValueError, match=argument):
        RankwiseHybridRetriever([list_retriever_cls(A), list_retriever_cls(B)], **kwargs)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ({"mode": "relative_score"}, {"fusion": "min_max"}, "use fusion="),
        ({"mode": "rrf"}, {"fusion": "rrf"}, "use fusion="),
        ({"fusion": "relative_score"}, {"fusion": "min_max"}, 'use "min_max"'),
        ({"max_workers": 1}, {"max_concurrency": 1}, "use max_concurrency="),
    ],
)
def test_deprecated_names_warn_and_fuse_the_same(list_retriever_cls, old, new, message):
    # Issue 17 item 3: one name per setting; the old LlamaIndex names work for one release.
    retrievers = [list_retriever_cls(A), list_retriever_cls(B)]
    expected = RankwiseHybridRetriever(retrievers, similarity_top_k=None, **new).retrieve("q")
    with pytest.warns(DeprecationWarning, match=message) as caught:
        hybrid = RankwiseHybridRetriever(retrievers, similarity_top_k=None, **old)
    assert all(issubclass(w.category, DeprecationWarning) for w in caught)
    out = hybrid.retrieve("q")
    assert ids(out) == ids(expected)
    assert [n.score for n in out] == pytest.approx([n.score for n in expected])
    assert hybrid.fusion == new.get("fusion", "rrf")


def test_deprecated_candidate_k_is_fetch_k(list_retriever_cls, overlap_reranker):
    a = list_retriever_cls([("x", 1.0), ("y", 0.5), ("v", 0.1)])
    b = list_retriever_cls([("y", 1.0), ("w", 0.9)])
    with pytest.warns(DeprecationWarning, match="use fetch_k="):
        hybrid = RankwiseHybridRetriever(
            [a, b], reranker=overlap_reranker, candidate_k=2, similarity_top_k=2
        )
    hybrid.retrieve("w")
    ((_, docs),) = overlap_reranker.calls
    assert docs == ["text of y", "text of x"]
    with pytest.warns(DeprecationWarning, match="use fusion"):
        assert hybrid.mode == "rrf"
    with (
        pytest.raises(TypeError, match="fetch_k="),
        pytest.warns(DeprecationWarning, match="candidate_k"),
    ):
        RankwiseHybridRetriever([a, b], reranker=overlap_reranker, fetch_k=2, candidate_k=3)


def test_bad_retrievers(list_retriever_cls):
    with pytest.raises(ValueError, match="at least one"):
        RankwiseHybridRetriever([])
    with pytest.raises(ValueError, match=r"retrievers\[1\]"):
        RankwiseHybridRetriever([list_retriever_cls(A), "bm25"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="sequence"):
        RankwiseHybridRetriever(list_retriever_cls(A))  # type: ignore[arg-type]


class ChildError(Exception):
    pass


def test_a_failing_retriever_fails_the_hybrid(list_retriever_cls):
    class Failing(list_retriever_cls):
        def _retrieve(self, query_bundle):
            raise ChildError("child failed")

        async def _aretrieve(self, query_bundle):
            raise ChildError("child failed")

    hybrid = RankwiseHybridRetriever([list_retriever_cls(A), Failing([])])
    with pytest.raises(ChildError):
        hybrid.retrieve("q")
    with pytest.raises(ChildError):
        asyncio.run(hybrid.aretrieve("q"))


def test_fuse_checks_the_number_of_lists(list_retriever_cls):
    hybrid = RankwiseHybridRetriever([list_retriever_cls(A), list_retriever_cls(B)])
    with pytest.raises(ValueError, match="results"):
        hybrid.fuse([list_retriever_cls(A)._results()])
