"""``RankwiseHybridRetriever``: fuse several retrievers, optionally rerank the fused list."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever, RetrieverLike
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ContextThreadPoolExecutor
from pydantic import ConfigDict, ValidationInfo, field_validator, model_validator

from langchain_rankwise._utils import check_query, with_metadata
from langchain_rankwise.rerank import RankwiseRerank
from rankwise._checks import number_arg, optional_int, positive_int
from rankwise.fusion import DEFAULT_RRF_C, check_weights, fuse
from rankwise.rerankers.base import BaseReranker

DocKey = tuple[str, Hashable]


class RankwiseHybridRetriever(BaseRetriever):
    """Hybrid retrieval: run several retrievers concurrently and fuse their rankings.

    Typically a vector-store retriever plus a ``RankwiseBM25Retriever``. Fusion is weighted
    reciprocal-rank fusion (``weight / (c + rank)``, rank from 1) or weighted min-max score
    fusion. Duplicates are merged by ``Document.id`` (else by content); a document that one
    retriever returns twice counts once. Each result carries ``metadata["fused_score"]``.
    With ``reranker=...`` the best ``fetch_k`` fused candidates are reranked and the best
    ``k`` returned, each also carrying ``metadata["relevance_score"]``.

    Example:
        ```python
        from langchain_rankwise import RankwiseBM25Retriever, RankwiseHybridRetriever

        hybrid = RankwiseHybridRetriever(
            retrievers=[vectorstore.as_retriever(search_kwargs={"k": 20}),
                        RankwiseBM25Retriever.from_documents(docs, k=20)],
            weights=[0.5, 0.5],
            k=5,
            reranker="cross-encoder:cross-encoder/ms-marco-MiniLM-L6-v2",
        )
        hybrid.invoke("how does bm25 saturate term frequency?")
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    retrievers: list[RetrieverLike]
    """The retrievers (any runnable from query string to a list of documents) to fuse."""

    weights: list[float] | None = None
    """One non-negative weight per retriever; equal weights when unset."""

    fusion: Literal["rrf", "min_max"] = "rrf"
    """``"rrf"``: weighted reciprocal-rank fusion. ``"min_max"``: each retriever's scores
    (``metadata[score_key]``) scaled to [0, 1], then weighted and summed."""

    c: float = DEFAULT_RRF_C
    """The RRF constant in ``weight / (c + rank)``."""

    k: int = 4
    """How many fused documents to return; ``invoke(query, k=...)`` overrides it per call."""

    fetch_k: int = 20
    """How many fused candidates the reranker sees (at least ``k``); unused without one."""

    reranker: BaseDocumentCompressor | None = None
    """Optional second stage: a ``RankwiseRerank``, a rankwise ``BaseReranker``, a spec string
    for ``rankwise.rerankers.load`` (e.g. ``"cohere:rerank-v3.5"``), or any LangChain document
    compressor."""

    id_key: str | None = None
    """Metadata key to de-duplicate on before ``Document.id`` and content (optional)."""

    score_key: str = "rankwise_score"
    """Metadata key holding each child's score, for ``fusion="min_max"`` (default: the key
    ``RankwiseBM25Retriever`` writes, ``"rankwise_score"``)."""

    max_concurrency: int | None = None
    """Most child retrievers run at once in the sync path (default: all of them)."""

    if TYPE_CHECKING:
        # What callers may pass: ``reranker`` also takes a rankwise reranker or a spec string,
        # which a validator wraps in ``RankwiseRerank``.
        def __init__(
            self,
            *,
            retrievers: Sequence[RetrieverLike],
            weights: Sequence[float] | None = None,
            fusion: Literal["rrf", "min_max"] = "rrf",
            c: float = DEFAULT_RRF_C,
            k: int = 4,
            fetch_k: int = 20,
            reranker: BaseDocumentCompressor | BaseReranker | str | None = None,
            id_key: str | None = None,
            score_key: str = "rankwise_score",
            max_concurrency: int | None = None,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
        ) -> None: ...

    @field_validator("retrievers")
    @classmethod
    def _check_retrievers(cls, value: list[RetrieverLike]) -> list[RetrieverLike]:
        if not value:
            raise ValueError("retrievers must contain at least one retriever")
        return value

    @field_validator("k", "fetch_k", mode="before")
    @classmethod
    def _check_counts(cls, value: object, info: ValidationInfo) -> int:
        return positive_int(value, info.field_name or "k")

    @field_validator("max_concurrency", mode="before")
    @classmethod
    def _check_concurrency(cls, value: object) -> int | None:
        return optional_int(value, "max_concurrency")

    @field_validator("c")
    @classmethod
    def _check_c(cls, value: float) -> float:
        return number_arg(value, "c", minimum=0.0)

    @model_validator(mode="before")
    @classmethod
    def _wrap_reranker(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("reranker"), (str, BaseReranker)):
            data = dict(data)
            data["reranker"] = RankwiseRerank(reranker=data["reranker"], top_n=None)
        return data

    @model_validator(mode="after")
    def _check_weights(self) -> RankwiseHybridRetriever:
        if self.weights is not None:
            check_weights(self.weights, len(self.retrievers), "retrievers")
        return self

    # -- fusion -------------------------------------------------------------------------

    def _key(self, doc: Document) -> DocKey:
        if self.id_key is not None and doc.metadata.get(self.id_key) is not None:
            return ("meta", doc.metadata[self.id_key])
        if doc.id:
            return ("id", doc.id)
        return ("content", doc.page_content)

    def _fuse(self, results: Sequence[Sequence[Document]]) -> list[Document]:
        fused = fuse(
            results,
            self._key,
            fusion=self.fusion,
            weights=self.weights,
            c=self.c,
            score=self._score_of,
        )
        return [with_metadata(doc, fused_score=float(score)) for doc, score in fused]

    def _score_of(self, doc: Document, retriever_index: int) -> float:
        score = doc.metadata.get(self.score_key)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(
                f'fusion="min_max" needs a numeric metadata[{self.score_key!r}] on every '
                f"document, but retrievers[{retriever_index}] returned one without it; "
                'use fusion="rrf" or a retriever that reports scores (see score_key)'
            )
        return float(score)

    def _candidates(self, fused: list[Document], k: int) -> list[Document]:
        if self.reranker is None:
            return fused[:k]
        return fused[: max(self.fetch_k, k)]

    def _k(self, k: int | None) -> int:
        return self.k if k is None else positive_int(k, "k")

    # -- retrieval ----------------------------------------------------------------------

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        check_query(query)
        n = self._k(k)
        configs: list[RunnableConfig] = [
            {"callbacks": run_manager.get_child(tag=f"retriever_{i + 1}")}
            for i in range(len(self.retrievers))
        ]
        if len(self.retrievers) == 1:
            results = [self.retrievers[0].invoke(query, configs[0])]
        else:
            workers = self.max_concurrency or len(self.retrievers)
            with ContextThreadPoolExecutor(max_workers=workers) as pool:
                futures = [
                    pool.submit(r.invoke, query, cfg)
                    for r, cfg in zip(self.retrievers, configs, strict=True)
                ]
                results = [f.result() for f in futures]
        candidates = self._candidates(self._fuse(results), n)
        if self.reranker is None or not candidates:
            return candidates
        callbacks = run_manager.get_child(tag="reranker")
        if isinstance(self.reranker, RankwiseRerank):
            return self.reranker.rerank_documents(candidates, query, n)
        return list(self.reranker.compress_documents(candidates, query, callbacks))[:n]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        check_query(query)
        n = self._k(k)
        results = await asyncio.gather(
            *(
                r.ainvoke(query, {"callbacks": run_manager.get_child(tag=f"retriever_{i + 1}")})
                for i, r in enumerate(self.retrievers)
            )
        )
        candidates = self._candidates(self._fuse(results), n)
        if self.reranker is None or not candidates:
            return candidates
        callbacks = run_manager.get_child(tag="reranker")
        if isinstance(self.reranker, RankwiseRerank):
            return await self.reranker.arerank_documents(candidates, query, n)
        docs = await self.reranker.acompress_documents(candidates, query, callbacks)
        return list(docs)[:n]


__all__ = ["RankwiseHybridRetriever"]
