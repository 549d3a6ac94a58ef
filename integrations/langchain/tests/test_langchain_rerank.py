"""RankwiseRerank with an in-test reranker: copies, top_n, threshold, async path, errors."""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.documents import Document
from langchain_rankwise import RankwiseRerank
from lc_doubles import OverlapReranker
from pydantic import ValidationError

DOCS = [
    Document(page_content="cats sleep all day", id="c", metadata={"src": "a.txt"}),
    Document(page_content="dogs bark at night and dogs play", id="d", metadata={"src": "b.txt"}),
    Document(page_content="a dog and a cat at night", metadata={"src": "c.txt"}),
    Document(page_content="the stock market fell", id="m", metadata={}),
]


def test_returns_reranked_copies_keeping_id_and_metadata() -> None:
    compressor = RankwiseRerank(reranker=OverlapReranker(), top_n=None)
    out = compressor.compress_documents(DOCS, "dogs at night")
    assert [d.page_content for d in out][:2] == [DOCS[1].page_content, DOCS[2].page_content]
    assert len(out) == 4
    by_content = {d.page_content: d for d in out}
    for original in DOCS:
        copy = by_content[original.page_content]
        assert copy is not original
        assert copy.id == original.id
        for key, value in original.metadata.items():
            assert copy.metadata[key] == value
        assert isinstance(copy.metadata["relevance_score"], float)
        assert "relevance_score" not in original.metadata
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True)


def test_top_n_default_is_three_and_none_is_all() -> None:
    reranker = OverlapReranker()
    assert len(RankwiseRerank(reranker=reranker).compress_documents(DOCS, "dogs")) == 3
    assert len(RankwiseRerank(reranker=reranker, top_n=1).compress_documents(DOCS, "dogs")) == 1
    assert len(RankwiseRerank(reranker=reranker, top_n=None).compress_documents(DOCS, "x")) == 4
    assert len(RankwiseRerank(reranker=reranker, top_n=10).compress_documents(DOCS, "x")) == 4


def test_score_threshold_drops_low_scores() -> None:
    compressor = RankwiseRerank(reranker=OverlapReranker(), top_n=None, score_threshold=1.0)
    out = compressor.compress_documents(DOCS, "night")
    assert {d.metadata["src"] for d in out} == {"b.txt", "c.txt"}
    assert all(d.metadata["relevance_score"] >= 1.0 for d in out)


def test_empty_input_makes_no_model_call() -> None:
    reranker = OverlapReranker()
    compressor = RankwiseRerank(reranker=reranker)
    assert compressor.compress_documents([], "dogs") == []
    assert reranker.calls == 0


async def test_async_empty_input_makes_no_model_call() -> None:
    reranker = OverlapReranker(delay=5.0)
    assert await RankwiseRerank(reranker=reranker).acompress_documents([], "dogs") == []
    assert reranker.calls == 0


async def test_async_path_is_native_and_concurrent() -> None:
    reranker = OverlapReranker(delay=0.4)
    compressor = RankwiseRerank(reranker=reranker, top_n=2)
    start = time.perf_counter()
    first, second = await asyncio.gather(
        compressor.acompress_documents(DOCS, "dogs"),
        compressor.acompress_documents(DOCS, "cats"),
    )
    elapsed = time.perf_counter() - start
    assert elapsed < 0.7, f"two 0.4 s async reranks took {elapsed:.2f}s"
    assert first[0].id == "d"
    assert second[0].id == "c"
    assert reranker.calls == 2


@pytest.mark.parametrize("query", ["", "  "])
def test_empty_query_raises(query: str) -> None:
    with pytest.raises(ValueError, match="query"):
        RankwiseRerank(reranker=OverlapReranker()).compress_documents(DOCS, query)


@pytest.mark.parametrize("top_n", [0, -2, True])
def test_bad_top_n_raises(top_n: int) -> None:
    with pytest.raises(ValidationError, match="top_n"):
        RankwiseRerank(reranker=OverlapReranker(), top_n=top_n)


def test_rejects_unknown_fields_and_non_rerankers() -> None:
    with pytest.raises(ValidationError, match="extra"):
        RankwiseRerank(reranker=OverlapReranker(), top_k=3)
    with pytest.raises(ValidationError, match="reranker"):
        RankwiseRerank(reranker=object())


def test_spec_only_options_with_an_instance_raise() -> None:
    with pytest.raises(ValidationError, match="api_key only apply when reranker is a spec"):
        RankwiseRerank(reranker=OverlapReranker(), api_key="k")
    with pytest.raises(ValidationError, match="reranker_kwargs"):
        RankwiseRerank(reranker=OverlapReranker(), reranker_kwargs={"batch_size": 2})


def test_bad_spec_string_raises() -> None:
    with pytest.raises(ValueError, match="unknown reranker kind"):
        RankwiseRerank(reranker="nope:model")
