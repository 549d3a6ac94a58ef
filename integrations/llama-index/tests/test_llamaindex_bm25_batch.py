"""retrieve_many: one search_many call for a batch, the same nodes and events as retrieve."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
from llama_index.retrievers.rankwise import RankwiseBM25Retriever

from rankwise.bm25 import BM25Index

QUERIES = ["supersonic flutter", "boundary layer heat transfer", "wing pressure", "pasta"]


def spy_search_many(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = BM25Index.search_many

    def spy(self: BM25Index, queries: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(list(queries)))
        return real(self, queries, *args, **kwargs)

    monkeypatch.setattr(BM25Index, "search_many", spy)
    return calls


def ranking(nodes: list[Any]) -> list[tuple[str, float | None]]:
    return [(n.node.node_id, n.score) for n in nodes]


def test_retrieve_many_equals_retrieve_from_one_search_many(
    nodes: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    debug = LlamaDebugHandler()
    retriever = RankwiseBM25Retriever(
        nodes, similarity_top_k=3, callback_manager=CallbackManager([debug])
    )
    want = [ranking(retriever.retrieve(q)) for q in QUERIES]
    debug.flush_event_logs()
    calls = spy_search_many(monkeypatch)
    got = retriever.retrieve_many([*QUERIES, QUERIES[0]])
    assert [ranking(r) for r in got] == [*want, want[0]]
    assert calls == [len(QUERIES)]  # one call, distinct queries only
    assert len(debug.get_event_pairs(CBEventType.RETRIEVE)) == len(QUERIES) + 1


async def test_aretrieve_many_and_filters(
    nodes: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = RankwiseBM25Retriever(nodes, similarity_top_k=3)
    key, value = next(iter(nodes[0].metadata.items()))
    filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value)])
    want = [ranking(retriever.retrieve(q, filters=filters)) for q in QUERIES]
    calls = spy_search_many(monkeypatch)
    got = await retriever.aretrieve_many(QUERIES, filters=filters)
    assert [ranking(r) for r in got] == want
    assert calls == [len(QUERIES)]


def test_retrieve_many_rejects_a_single_string(nodes: list[Any]) -> None:
    with pytest.raises(ValueError, match="queries"):
        RankwiseBM25Retriever(nodes).retrieve_many("wing")
