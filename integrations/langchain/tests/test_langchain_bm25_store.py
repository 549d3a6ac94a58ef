"""RankwiseBM25Retriever over a store that is not the embedded index (the ``store=`` wiring
that also takes rankwise.milvus.MilvusBM25Store)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_rankwise import RankwiseBM25Retriever

from rankwise.testing.stores import WordCountStore
from rankwise.types import Filter, Hit

TEXTS = [
    "red apples and green apples",
    "green grass",
    "blue sky over the sea",
    "red wine",
]


@pytest.fixture
def retriever(word_store: WordCountStore) -> RankwiseBM25Retriever:
    word_store.add(TEXTS, ids=["a", "g", "s", "w"], metadatas=[{"c": "red"}, {}, {}, {"c": "red"}])
    return RankwiseBM25Retriever(store=word_store, k=2)


def test_documents_carry_id_score_and_metadata(retriever: RankwiseBM25Retriever) -> None:
    out = retriever.invoke("red apples")
    assert [d.id for d in out] == ["a", "w"]
    assert out[0].metadata == {"c": "red", "rankwise_score": 3.0}
    assert out[1].metadata["rankwise_score"] == 1.0


def test_zero_score_documents_are_not_returned(retriever: RankwiseBM25Retriever) -> None:
    # the store returns only matches (the TextStore contract); the retriever adds nothing
    out = retriever.invoke("grass", k=4)
    assert [d.id for d in out] == ["g"]
    assert retriever.invoke("zebra") == []


def test_k_kwarg_and_filter_per_call(
    retriever: RankwiseBM25Retriever, word_store: WordCountStore
) -> None:
    assert len(retriever.invoke("red green")) == 2
    assert word_store.searches[-1] == ("red green", 2)
    assert len(retriever.invoke("red green", k=3)) == 3
    assert word_store.searches[-1] == ("red green", 3)
    assert [d.id for d in retriever.invoke("red green", k=4, filter={"c": "red"})] == ["a", "w"]
    assert [d.id for d in retriever.invoke("red green", k=4, filter={"g", "w"})] == ["g", "w"]
    only_empty: Filter = lambda meta: not meta  # noqa: E731
    assert [d.id for d in retriever.invoke("red green", k=4, filter=only_empty)] == ["g"]


def test_default_filter_field(word_store: WordCountStore) -> None:
    word_store.add(TEXTS, ids=["a", "g", "s", "w"], metadatas=[{"c": "red"}, {}, {}, {"c": "red"}])
    retriever = RankwiseBM25Retriever(store=word_store, k=4, filter=frozenset({"w"}))
    assert [d.id for d in retriever.invoke("red")] == ["w"]
    # a per-call filter replaces the default one
    assert [d.id for d in retriever.invoke("red", filter={"c": "red"})] == ["a", "w"]


def test_add_documents_get_and_delete(retriever: RankwiseBM25Retriever) -> None:
    ids = retriever.add_documents(
        [Document(page_content="purple apples", id="p"), Document(page_content="apples pie")]
    )
    assert ids[0] == "p"
    assert len(ids[1]) == 32
    assert {d.id for d in retriever.invoke("apples", k=10)} == {"a", "p", ids[1]}
    # same id again replaces the document
    retriever.add_documents([Document(page_content="purple plums", id="p")])
    assert retriever.get_by_ids(["p"])[0].page_content == "purple plums"
    assert retriever.delete(["p", "missing"]) == 1
    assert "p" not in {d.id for d in retriever.invoke("purple apples", k=10)}
    with pytest.raises(ValueError, match="ids"):
        retriever.add_documents([Document(page_content="x")], ids=["1", "2"])


@pytest.mark.parametrize("query", ["", " \n"])
def test_empty_query_raises(retriever: RankwiseBM25Retriever, query: str) -> None:
    with pytest.raises(ValueError, match="query"):
        retriever.invoke(query)


@pytest.mark.parametrize("k", [0, -3])
async def test_bad_k_raises(retriever: RankwiseBM25Retriever, k: int) -> None:
    with pytest.raises(ValueError, match="k"):
        retriever.invoke("red", k=k)
    with pytest.raises(ValueError, match="k"):
        await retriever.ainvoke("red", k=k)
    with pytest.raises(ValueError, match="k"):
        RankwiseBM25Retriever(store=WordCountStore(), k=k)


async def test_k_follows_the_core_rule(retriever: RankwiseBM25Retriever) -> None:
    """``rankwise._checks.positive_int``: a NumPy integer is a count; a bool or a str is not."""
    assert retriever.invoke("red", k=np.int64(1)) == retriever.invoke("red", k=1)
    assert RankwiseBM25Retriever(store=WordCountStore(), k=np.int64(2)).k == 2
    for bad in (True, "2", 2.0):
        with pytest.raises(ValueError, match=r"^k must be a positive integer"):
            retriever.invoke("red", k=bad)


def test_save_needs_the_embedded_index(retriever: RankwiseBM25Retriever, tmp_path: object) -> None:
    with pytest.raises(TypeError, match="BM25Index"):
        retriever.save(str(tmp_path))


class SlowStore(WordCountStore):
    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        time.sleep(0.3)
        return super().search(query, k, filter)


async def test_async_path_does_not_block_the_event_loop() -> None:
    store = SlowStore()
    store.add(TEXTS)
    retriever = RankwiseBM25Retriever(store=store)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    start = time.perf_counter()
    results = await asyncio.gather(retriever.ainvoke("red"), retriever.ainvoke("green"))
    elapsed = time.perf_counter() - start
    task.cancel()
    assert [len(r) for r in results] == [2, 2]
    assert elapsed < 0.55, f"two 0.3 s searches took {elapsed:.2f}s"
    assert ticks >= 5, "the event loop was blocked during the search"


class StoreWithStrayCoroutine(WordCountStore):
    """A store with an extra ``asearch`` coroutine, which is not part of ``TextStore``."""

    def __init__(self) -> None:
        super().__init__()
        self.search_threads: list[int] = []

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        self.search_threads.append(threading.get_ident())
        return super().search(query, k, filter)

    async def asearch(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        raise AssertionError("only TextStore methods are called")


async def test_ainvoke_runs_the_store_search_in_a_worker_thread() -> None:
    # One async path for every store (issue 17 item 8): the TextStore contract has no
    # asearch, so ainvoke runs search() off the event loop's thread and ignores extras.
    store = StoreWithStrayCoroutine()
    store.add(TEXTS, ids=["a", "g", "s", "w"])
    retriever = RankwiseBM25Retriever(store=store, k=1)
    out = await retriever.ainvoke("red apples")
    assert [d.id for d in out] == ["a"]
    assert store.search_threads
    assert threading.get_ident() not in store.search_threads
