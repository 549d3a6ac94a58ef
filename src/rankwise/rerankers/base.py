"""The reranker contract every backend implements.

A backend only says how to score ``(query, document)`` pairs (``_score`` and, where it has a
native async client, ``_ascore``); validation, ordering, ``top_k`` and id/metadata carry-through
live here once.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from rankwise._checks import optional_int, positive_int, text_arg
from rankwise.types import Hit, Metadata, RerankResult

_Item = TypeVar("_Item")
_Reranker = TypeVar("_Reranker", bound="BaseReranker")


def validate_rerank_input(query: object, documents: object, top_k: object) -> None:
    """Raise an error naming the argument that is wrong, before anything is scored.

    Texts follow the shared rule of :func:`rankwise._checks.text_arg`: a non-``str`` is a
    TypeError, a lone surrogate (which no tokenizer or API can take) a ValueError.
    """
    query = text_arg(query, "query")
    if not query.strip():
        raise ValueError("query must be a non-empty string")
    if isinstance(documents, str) or not isinstance(documents, Sequence):
        raise ValueError("documents must be a sequence of strings, not " + type(documents).__name__)
    for i, doc in enumerate(documents):
        text_arg(doc, f"documents[{i}]")
    optional_int(top_k, "top_k")


def rank_scores(
    documents: Sequence[str],
    scores: Sequence[float],
    top_k: int | None,
    ids: Sequence[str] | None = None,
    metadatas: Sequence[Metadata | None] | None = None,
) -> list[RerankResult]:
    """Order documents by score, best first; ties keep input order."""
    if len(scores) != len(documents):
        raise ValueError(f"got {len(scores)} scores for {len(documents)} documents")
    order = sorted(range(len(documents)), key=lambda i: (-float(scores[i]), i))
    if top_k is not None:
        order = order[:top_k]
    return [
        RerankResult(
            text=documents[i],
            score=float(scores[i]),
            index=i,
            id=None if ids is None else ids[i],
            metadata=None if metadatas is None else metadatas[i],
        )
        for i in order
    ]


def pair_results(
    items: Sequence[_Item], results: Iterable[RerankResult]
) -> list[tuple[_Item, float]]:
    """``(item, score)`` for each result, in the results' order (best first).

    The one place a :class:`RerankResult` is mapped back to what was reranked: ``index`` is the
    position of its document in the input, so ``items`` must be the sequence whose texts went
    in (hits, LangChain documents, LlamaIndex nodes). The score is the reranker's, as a float.
    """
    return [(items[r.index], float(r.score)) for r in results]


def rescored_hit(hit: Hit, score: float) -> Hit:
    """``hit`` with the reranker's ``score`` and a fresh copy of its metadata (the caller may
    change the returned hit's metadata without touching the store's or the input hit's)."""
    return Hit(id=hit.id, score=float(score), text=hit.text, metadata=dict(hit.metadata))


def hits_from_results(hits: Sequence[Hit], results: Iterable[RerankResult]) -> list[Hit]:
    """The reranked ``hits``, best first, each with its reranker score (:func:`rescored_hit`)."""
    return [rescored_hit(hit, score) for hit, score in pair_results(hits, results)]


def _hit_texts(hits: object) -> list[str]:
    if isinstance(hits, str) or not isinstance(hits, Sequence):
        raise ValueError("hits must be a sequence of Hit, not " + type(hits).__name__)
    for i, hit in enumerate(hits):
        if not isinstance(hit, Hit):
            raise TypeError(f"hits[{i}] must be a Hit, got {type(hit).__name__}")
    return [hit.text for hit in hits]


class BaseReranker(ABC):
    """Scores documents against a query and returns them best first."""

    #: Short label of the backend and model, e.g. ``"cohere:rerank-v3.5"``.
    @property
    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def _score(self, query: str, documents: list[str]) -> list[float]:
        """One score per document, in input order."""

    async def _ascore(self, query: str, documents: list[str]) -> list[float]:
        """Async scoring; local models run in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self._score, query, documents)

    def _check_extras(
        self,
        documents: Sequence[str],
        ids: Sequence[str] | None,
        metadatas: Sequence[Metadata | None] | None,
    ) -> None:
        if ids is not None and len(ids) != len(documents):
            raise ValueError(f"ids has {len(ids)} entries for {len(documents)} documents")
        if metadatas is not None and len(metadatas) != len(documents):
            raise ValueError(
                f"metadatas has {len(metadatas)} entries for {len(documents)} documents"
            )

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Metadata | None] | None = None,
    ) -> list[RerankResult]:
        """Rerank ``documents`` for ``query``; ``top_k`` keeps only the best ones."""
        validate_rerank_input(query, documents, top_k)
        self._check_extras(documents, ids, metadatas)
        if not documents:
            return []
        scores = self._score(query, list(documents))
        return rank_scores(documents, scores, top_k, ids, metadatas)

    def __call__(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        **kwargs: Any,
    ) -> list[RerankResult]:
        return self.rerank(query, documents, top_k, **kwargs)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Metadata | None] | None = None,
    ) -> list[RerankResult]:
        """Async twin of :meth:`rerank`."""
        validate_rerank_input(query, documents, top_k)
        self._check_extras(documents, ids, metadatas)
        if not documents:
            return []
        scores = await self._ascore(query, list(documents))
        return rank_scores(documents, scores, top_k, ids, metadatas)

    def rerank_hits(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        """Rerank search ``hits`` (from any rankwise store) by their text; best first.

        Each returned hit keeps its id and text, takes the reranker's score and gets a fresh
        copy of its metadata (:func:`rescored_hit`). Input is validated as in :meth:`rerank`.
        """
        return hits_from_results(hits, self.rerank(query, _hit_texts(hits), top_k))

    async def arerank_hits(
        self, query: str, hits: Sequence[Hit], top_k: int | None = None
    ) -> list[Hit]:
        """Async twin of :meth:`rerank_hits`."""
        return hits_from_results(hits, await self.arerank(query, _hit_texts(hits), top_k))

    def _check_many(
        self, queries: Sequence[str], documents_per_query: Sequence[Sequence[str]], top_k: object
    ) -> None:
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise ValueError("queries must be a sequence of strings")
        if isinstance(documents_per_query, str) or not isinstance(documents_per_query, Sequence):
            raise ValueError("documents_per_query must be a sequence of document sequences")
        if len(queries) != len(documents_per_query):
            raise ValueError(
                f"queries has {len(queries)} entries but documents_per_query has "
                f"{len(documents_per_query)}"
            )
        # validate everything before scoring anything
        for q, docs in zip(queries, documents_per_query, strict=True):
            validate_rerank_input(q, docs, top_k)

    def rerank_many(
        self,
        queries: Sequence[str],
        documents_per_query: Sequence[Sequence[str]],
        top_k: int | None = None,
    ) -> list[list[RerankResult]]:
        """Rerank several (query, documents) pairs; one result list per query.

        All inputs are validated before any scoring starts.
        """
        self._check_many(queries, documents_per_query, top_k)
        pairs = zip(queries, documents_per_query, strict=True)
        return [self.rerank(q, docs, top_k) for q, docs in pairs]

    async def arerank_many(
        self,
        queries: Sequence[str],
        documents_per_query: Sequence[Sequence[str]],
        top_k: int | None = None,
        *,
        max_concurrency: int = 8,
    ) -> list[list[RerankResult]]:
        """Async :meth:`rerank_many`: up to ``max_concurrency`` queries in flight at once."""
        max_concurrency = positive_int(max_concurrency, "max_concurrency")
        self._check_many(queries, documents_per_query, top_k)
        semaphore = asyncio.Semaphore(max_concurrency)

        async def one(q: str, docs: Sequence[str]) -> list[RerankResult]:
            async with semaphore:
                return await self.arerank(q, docs, top_k)

        pairs = zip(queries, documents_per_query, strict=True)
        return list(await asyncio.gather(*(one(q, d) for q, d in pairs)))

    # -- resources ---------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - a no-op by default: local models hold nothing open
        """Release what the reranker holds open (API rerankers: their connection pools).

        Local models hold nothing to close. Closing twice is harmless, and a closed reranker
        can still be called (it opens what it needs again).
        """

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()

    def __enter__(self: _Reranker) -> _Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self: _Reranker) -> _Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
