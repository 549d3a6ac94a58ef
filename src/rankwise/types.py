"""Result types shared by the BM25 index, the Milvus store and the rerankers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, runtime_checkable

Metadata: TypeAlias = dict[str, Any]

#: A search filter: a dict of metadata equalities, a predicate over the metadata dict, or a
#: collection of allowed ids (set/frozenset). Filters are applied inside the top-k.
Filter: TypeAlias = Mapping[str, Any] | Callable[[Metadata], bool] | set[str] | frozenset[str]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the document id, its BM25 score, its text and its metadata."""

    id: str
    score: float
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One reranked document, best first in a result list.

    ``index`` is the document's position in the input sequence, as in pymilvus-model's
    rerank functions; ``id`` and ``metadata`` are carried through when the caller gave them.
    """

    text: str
    score: float
    index: int
    id: str | None = None
    metadata: Metadata | None = None


@runtime_checkable
class TextStore(Protocol):
    """What the retrievers need from a full-text backend (embedded index or Milvus)."""

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]: ...

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]: ...

    def delete(self, ids: Iterable[str]) -> int: ...

    def get(self, ids: Iterable[str]) -> list[Hit]: ...

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]: ...

    def __len__(self) -> int: ...
