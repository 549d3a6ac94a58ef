"""LangChain and LlamaIndex are thin adapters over the TextStore contract: over the same store,
the same filter gives the same documents, in the same order, with the same scores."""

from __future__ import annotations

from typing import Any

import pytest

from rankwise.types import TextStore

pytest.importorskip("langchain_rankwise")
pytest.importorskip("llama_index.retrievers.rankwise")

from langchain_rankwise import RankwiseBM25Retriever as LangChainBM25
from langchain_rankwise.bm25 import SCORE_KEY
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.retrievers.rankwise import RankwiseBM25Retriever as LlamaIndexBM25

QUERIES = ["supersonic wing flutter", "boundary layer heat transfer", "flow"]


def later_than(year: int, kinds: tuple[str, ...]) -> Any:
    """``year > N`` in the form this store applies: a predicate or a Milvus expression."""
    if "predicate" in kinds:
        return lambda meta: isinstance(meta.get("year"), int) and meta["year"] > year
    return f'metadata["year"] > {year}'


def cases(kinds: tuple[str, ...]) -> list[tuple[Any, MetadataFilters | None]]:
    """(LangChain filter, LlamaIndex filters) pairs that select the same documents."""
    not_aero = (
        (lambda meta: meta.get("topic") != "aero")
        if "predicate" in kinds
        else '(not exists metadata["topic"] or metadata["topic"] != "aero")'
    )
    return [
        (None, None),
        ({"topic": "aero"}, MetadataFilters(filters=[MetadataFilter(key="topic", value="aero")])),
        (
            later_than(1960, kinds),
            MetadataFilters(
                filters=[MetadataFilter(key="year", value=1960, operator=FilterOperator.GT)]
            ),
        ),
        (
            not_aero,
            MetadataFilters(
                filters=[MetadataFilter(key="topic", value="aero")], condition=FilterCondition.NOT
            ),
        ),
    ]


def test_langchain_and_llamaindex_return_the_same_documents(store: TextStore) -> None:
    kinds = tuple(store.filter_kinds)  # type: ignore[attr-defined]
    langchain = LangChainBM25(store=store, k=3)
    llamaindex = LlamaIndexBM25.from_defaults(store=store, similarity_top_k=3)
    for lc_filter, li_filters in cases(kinds):
        for query in QUERIES:
            docs = langchain.invoke(query, filter=lc_filter)
            nodes = llamaindex.retrieve(query, filters=li_filters)
            direct = store.search(query, k=3, filter=lc_filter)
            assert [d.id for d in docs] == [n.node.node_id for n in nodes] == [h.id for h in direct]
            assert [d.metadata[SCORE_KEY] for d in docs] == [n.score for n in nodes]
            assert [d.page_content for d in docs] == [n.node.get_content() for n in nodes]
    # filters a store cannot apply fail the same way in both
    if "predicate" not in kinds:
        with pytest.raises(ValueError, match="cannot apply a predicate filter"):
            langchain.invoke("flow", filter=lambda meta: True)
