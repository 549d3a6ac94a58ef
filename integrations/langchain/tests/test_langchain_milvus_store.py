"""The BM25 retriever on the Milvus backend (Milvus Lite, embedded): the switch is ``store=``."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_rankwise import RankwiseBM25Retriever, RankwiseHybridRetriever
from lc_doubles import CORPUS, corpus_documents, make_bm25

pytestmark = pytest.mark.milvus


@pytest.fixture(scope="module")
def milvus_retriever(tmp_path_factory: pytest.TempPathFactory) -> RankwiseBM25Retriever:
    from rankwise.milvus import MilvusBM25Store

    path = Path(tmp_path_factory.mktemp("milvus")) / "lc.db"
    store = MilvusBM25Store(uri=str(path), collection="langchain", show_progress=False)
    retriever = RankwiseBM25Retriever(store=store, k=3)
    retriever.add_documents(corpus_documents())
    return retriever


def test_same_retriever_on_milvus(milvus_retriever: RankwiseBM25Retriever) -> None:
    out = milvus_retriever.invoke("sparse vectors full text search")
    assert out[0].id == "doc3"
    assert out[0].page_content == CORPUS[3]
    assert out[0].metadata["n"] == 3
    assert out[0].metadata["rankwise_score"] > 0
    assert len(milvus_retriever.invoke("XJ9000", k=5)) == 1
    assert milvus_retriever.invoke("zeppelin") == []


def test_milvus_filters_and_k(milvus_retriever: RankwiseBM25Retriever) -> None:
    query = "BM25 rank fusion retrievers search Milvus"
    assert len(milvus_retriever.invoke(query, k=1)) == 1
    even = milvus_retriever.invoke(query, k=8, filter={"even": True})
    assert even
    assert all(d.metadata["even"] for d in even)
    # same top document as the embedded index for a distinctive query
    assert milvus_retriever.invoke("Milvus", k=1)[0].id == make_bm25().invoke("Milvus")[0].id


async def test_milvus_in_hybrid_async(milvus_retriever: RankwiseBM25Retriever) -> None:
    hybrid = RankwiseHybridRetriever(retrievers=[milvus_retriever, make_bm25()], k=2)
    out = await hybrid.ainvoke("cross-encoder reranker")
    assert out[0].id == "doc1"


def test_milvus_store_is_not_saved_by_the_retriever(
    milvus_retriever: RankwiseBM25Retriever, tmp_path: Path
) -> None:
    with pytest.raises(TypeError, match="persists itself"):
        milvus_retriever.save(tmp_path)


def test_predicate_filters_are_refused_by_milvus(milvus_retriever: RankwiseBM25Retriever) -> None:
    with pytest.raises(ValueError, match="predicate"):
        milvus_retriever.invoke("Milvus", filter=lambda m: True)
    assert [d.id for d in milvus_retriever.invoke("Milvus BM25", filter={"doc0"})] == ["doc0"]
