"""Hybrid over an InMemoryVectorStore (deterministic concept embedding) and BM25: the fused
list holds a document only BM25 finds and one only the vector store finds."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda
from langchain_core.vectorstores import InMemoryVectorStore, VectorStoreRetriever
from langchain_rankwise import RankwiseBM25Retriever, RankwiseHybridRetriever
from lc_doubles import ConceptEmbedding, corpus_documents, make_bm25

QUERY = "car repair for XJ9000"
BM25_ONLY = "doc6"  # "Part number XJ9000 fits ..." shares the rare term XJ9000
VECTOR_ONLY = "doc4"  # "The automobile needs maintenance ..." is a paraphrase, no shared word


def build() -> tuple[RankwiseBM25Retriever, VectorStoreRetriever, RankwiseHybridRetriever]:
    vectorstore = InMemoryVectorStore(embedding=ConceptEmbedding())
    vectorstore.add_documents(corpus_documents())
    vector = vectorstore.as_retriever(search_kwargs={"k": 1})
    bm25 = make_bm25(k=3)
    return bm25, vector, RankwiseHybridRetriever(retrievers=[bm25, vector], k=4)


def test_hybrid_finds_what_each_retriever_alone_misses() -> None:
    bm25, vector, hybrid = build()
    bm25_ids = [d.id for d in bm25.invoke(QUERY)]
    vector_ids = [d.id for d in vector.invoke(QUERY)]
    # preconditions: each retriever alone misses the other's document
    assert BM25_ONLY in bm25_ids
    assert VECTOR_ONLY not in bm25_ids
    assert VECTOR_ONLY in vector_ids
    assert BM25_ONLY not in vector_ids

    fused = hybrid.invoke(QUERY)
    ids = [d.id for d in fused]
    assert BM25_ONLY in ids
    assert VECTOR_ONLY in ids
    assert len(ids) == len(set(ids))
    assert all(d.metadata["fused_score"] > 0 for d in fused)


async def test_hybrid_async_finds_both() -> None:
    _, _, hybrid = build()
    ids = [d.id for d in await hybrid.ainvoke(QUERY)]
    assert {BM25_ONLY, VECTOR_ONLY} <= set(ids)


def test_min_max_with_a_scored_vector_child() -> None:
    vectorstore = InMemoryVectorStore(embedding=ConceptEmbedding())
    vectorstore.add_documents(corpus_documents())
    scored_vectors = RunnableLambda(
        lambda q: [
            d.model_copy(update={"metadata": {**d.metadata, "rankwise_score": s}})
            for d, s in vectorstore.similarity_search_with_score(q, k=1)
        ]
    )
    hybrid = RankwiseHybridRetriever(
        retrievers=[scored_vectors, make_bm25(k=3)], fusion="min_max", k=4
    )
    out = hybrid.invoke(QUERY)
    ids = [d.id for d in out]
    assert {BM25_ONLY, VECTOR_ONLY} <= set(ids)
    # each list's best document gets 1.0 from its own list
    assert next(d for d in out if d.id == VECTOR_ONLY).metadata["fused_score"] == 1.0
    assert next(d for d in out if d.id == BM25_ONLY).metadata["fused_score"] == 1.0
