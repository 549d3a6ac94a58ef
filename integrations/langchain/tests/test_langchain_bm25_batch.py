"""batch/abatch: one search_many call for a batch, the same documents and callbacks as invoke."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from lc_doubles import make_bm25

from rankwise.bm25 import BM25Index

QUERIES = ["BM25 term frequency", "sparse vectors Milvus", "rivers ocean", "rank fusion"]


class CountRetrievals(BaseCallbackHandler):
    def __init__(self) -> None:
        self.ended = 0

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.ended += 1


def spy_search_many(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = BM25Index.search_many

    def spy(self: BM25Index, queries: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(list(queries)))
        return real(self, queries, *args, **kwargs)

    monkeypatch.setattr(BM25Index, "search_many", spy)
    return calls


def test_batch_equals_invoke_from_one_search_many(monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = make_bm25(k=3)
    want = [retriever.invoke(q) for q in QUERIES]
    calls = spy_search_many(monkeypatch)
    counter = CountRetrievals()
    got = retriever.batch([*QUERIES, QUERIES[1]], config={"callbacks": [counter]})
    assert got == [*want, want[1]]
    assert calls == [len(QUERIES)]  # one call, distinct queries only
    assert counter.ended == len(QUERIES) + 1  # callbacks still fire per input


async def test_abatch_equals_ainvoke_from_one_search_many(monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = make_bm25(k=3)
    want = [await retriever.ainvoke(q) for q in QUERIES]
    calls = spy_search_many(monkeypatch)
    assert await retriever.abatch(QUERIES) == want
    assert calls == [len(QUERIES)]


def test_batch_with_per_call_keywords_searches_each_input(monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = make_bm25(k=3)
    calls = spy_search_many(monkeypatch)
    got = retriever.batch(QUERIES, k=1)
    assert calls == []
    assert got == [retriever.invoke(q, k=1) for q in QUERIES]
