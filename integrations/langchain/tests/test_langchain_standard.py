"""LangChain's standard retriever suite (langchain-tests, pinned) for both retrievers."""

from __future__ import annotations

from typing import Any

from langchain_core.vectorstores import InMemoryVectorStore
from langchain_rankwise import RankwiseBM25Retriever, RankwiseHybridRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests
from lc_doubles import ConceptEmbedding, corpus_documents, make_bm25

QUERY = "BM25 ranks documents and retrievers with rank fusion and search"


class TestRankwiseBM25RetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[RankwiseBM25Retriever]:
        return RankwiseBM25Retriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": make_bm25().store, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestRankwiseHybridRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[RankwiseHybridRetriever]:
        return RankwiseHybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        vectorstore = InMemoryVectorStore(embedding=ConceptEmbedding())
        vectorstore.add_documents(corpus_documents())
        return {
            "retrievers": [make_bm25(k=10), vectorstore.as_retriever(search_kwargs={"k": 10})],
            "weights": [0.6, 0.4],
            "k": 4,
        }

    @property
    def retriever_query_example(self) -> str:
        return QUERY
