"""The retrievers and the compressor inside LangChain: LCEL, langchain-classic's
ContextualCompressionRetriever and EnsembleRetriever, batch/abatch and callbacks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_classic.retrievers import ContextualCompressionRetriever, EnsembleRetriever
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_rankwise import RankwiseHybridRetriever, RankwiseRerank
from lc_doubles import ConceptEmbedding, OverlapReranker, corpus_documents, make_bm25


def format_docs(docs: list[Document]) -> str:
    return "\n".join(f"[{d.id}] {d.page_content}" for d in docs)


PROMPT = ChatPromptTemplate.from_messages(
    [("human", "Answer from the context.\nContext:\n{context}\nQuestion: {question}")]
)


def vector_retriever(k: int = 4) -> Any:
    store = InMemoryVectorStore(embedding=ConceptEmbedding())
    store.add_documents(corpus_documents())
    return store.as_retriever(search_kwargs={"k": k})


def hybrid(**kwargs: Any) -> RankwiseHybridRetriever:
    return RankwiseHybridRetriever(retrievers=[make_bm25(), vector_retriever()], **kwargs)


def test_lcel_rag_chain_sync_and_async() -> None:
    retriever = hybrid(k=2)
    chain = (
        {"context": retriever | format_docs, "question": lambda q: q}
        | PROMPT
        | ParrotFakeChatModel()
        | StrOutputParser()
    )
    answer = chain.invoke("part number XJ9000")
    assert "[doc6] Part number XJ9000 fits the rear axle assembly" in answer
    assert "Question: part number XJ9000" in answer


async def test_lcel_chain_async() -> None:
    chain = make_bm25(k=1) | format_docs
    assert await chain.ainvoke("reciprocal rank fusion") == (
        "[doc2] Reciprocal rank fusion merges ranked lists from several retrievers"
    )


def test_contextual_compression_retriever_with_rankwise_rerank() -> None:
    reranker = OverlapReranker()
    ccr = ContextualCompressionRetriever(
        base_compressor=RankwiseRerank(reranker=reranker, top_n=1),
        base_retriever=make_bm25(k=4),
    )
    out = ccr.invoke("cross-encoder reranker scores pairs")
    assert [d.id for d in out] == ["doc1"]
    assert "relevance_score" in out[0].metadata
    assert "rankwise_score" in out[0].metadata  # the BM25 score survives the compressor
    assert reranker.calls == 1


async def test_contextual_compression_retriever_async() -> None:
    reranker = OverlapReranker(delay=0.01)
    ccr = ContextualCompressionRetriever(
        base_compressor=RankwiseRerank(reranker=reranker, top_n=2),
        base_retriever=hybrid(k=6),
    )
    out = await ccr.ainvoke("rank fusion of retrievers")
    assert out[0].id == "doc2"
    assert len(out) == 2


def test_ensemble_retriever_accepts_rankwise_retrievers() -> None:
    ensemble = EnsembleRetriever(retrievers=[make_bm25(), hybrid()], weights=[0.5, 0.5])
    out = ensemble.invoke("sparse vectors full text search")
    assert out[0].id == "doc3"
    assert len({d.id for d in out}) == len(out)


def test_batch_and_abatch() -> None:
    retriever = hybrid(k=1)
    queries = ["part number XJ9000", "salmon in the ocean"]
    assert [[d.id for d in r] for r in retriever.batch(queries)] == [["doc6"], ["doc5"]]


async def test_abatch() -> None:
    retriever = make_bm25(k=1)
    out = await retriever.abatch(["cross-encoder", "Milvus"])
    assert [[d.id for d in r] for r in out] == [["doc1"], ["doc3"]]


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, UUID | None]] = []
        self.names: dict[UUID, str] = {}

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self.names[run_id] = kwargs.get("name") or ""
        self.events.append(("start", self.names[run_id], parent_run_id))

    def on_retriever_end(
        self, documents: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self.events.append(("end", self.names[run_id], parent_run_id))


def test_callbacks_see_the_retriever_and_its_children() -> None:
    recorder = Recorder()
    hybrid(k=2).invoke("BM25", config={"callbacks": [recorder]})
    starts = [(name, parent) for kind, name, parent in recorder.events if kind == "start"]
    assert starts[0] == ("RankwiseHybridRetriever", None)
    parent_id = next(rid for rid, name in recorder.names.items() if name == starts[0][0])
    children = {name for name, parent in starts[1:] if parent == parent_id}
    assert children == {"RankwiseBM25Retriever", "VectorStoreRetriever"}
    assert [e[0] for e in recorder.events].count("end") == 3


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    async def on_retriever_start(
        self, serialized: dict[str, Any], query: str, **kwargs: Any
    ) -> None:
        self.names.append(kwargs.get("name") or "")


async def test_async_callbacks() -> None:
    recorder = AsyncRecorder()
    await hybrid().ainvoke("BM25", config={"callbacks": [recorder]})
    assert sorted(recorder.names) == [
        "RankwiseBM25Retriever",
        "RankwiseHybridRetriever",
        "VectorStoreRetriever",
    ]
