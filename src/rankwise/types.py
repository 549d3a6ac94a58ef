"""Result types shared by the BM25 index, the Milvus store and the rerankers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

Metadata: TypeAlias = dict[str, Any]

#: A search filter, in one of four forms (see :class:`TextStore` for which store takes which):
#:
#: * ``Mapping[str, value]`` — metadata equalities, all of which must hold (``{"lang": "en"}``);
#: * ``Callable[[Metadata], bool]`` — a predicate over a document's metadata dict;
#: * ``set``/``frozenset`` of ids — the documents allowed;
#: * ``str`` — a Milvus boolean expression (``'metadata["year"] >= 2020'``), written by the
#:   caller and passed to Milvus as is.
Filter: TypeAlias = Mapping[str, Any] | Callable[[Metadata], bool] | set[str] | frozenset[str] | str

FilterKind = Literal["mapping", "predicate", "ids", "expression"]

#: The filter kinds in the order error messages list them.
FILTER_KINDS: tuple[FilterKind, ...] = ("mapping", "ids", "predicate", "expression")


class FilterNotSupportedError(ValueError):
    """A store was given a filter form it cannot apply inside its top-k (e.g. a Python
    predicate on Milvus, or a Milvus expression on the embedded index).

    Raised at the call that received the filter, before anything is searched; the message
    always reads ``"<Store> cannot apply a(n) <kind> filter; it takes <kinds>"``.
    """

    def __init__(self, store: str, kind: str, accepted: Iterable[str]) -> None:
        self.store = store
        self.kind = kind
        self.accepted = tuple(k for k in FILTER_KINDS if k in set(accepted))
        article = "an" if kind[:1] in "aeiou" else "a"
        super().__init__(
            f"{store} cannot apply {article} {kind} filter; it takes {_kinds_text(self.accepted)}"
        )


_KIND_TEXT = {
    "mapping": "a dict of metadata equalities",
    "ids": "a set of allowed ids",
    "predicate": "a predicate over the metadata dict",
    "expression": "a Milvus expression string",
}


def _kinds_text(kinds: Iterable[str]) -> str:
    parts = [_KIND_TEXT[k] for k in kinds]
    if len(parts) <= 1:
        return "".join(parts) or "no filter"
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def filter_kind(filter: object) -> FilterKind | None:
    """The kind of ``filter`` (None for no filter); ValueError for something that is no filter."""
    if filter is None:
        return None
    if isinstance(filter, str):
        return "expression"
    if isinstance(filter, (set, frozenset)):
        return "ids"
    if isinstance(filter, Mapping):
        return "mapping"
    if callable(filter):
        return "predicate"
    raise ValueError(
        "filter must be a dict of metadata equalities, a predicate over the metadata dict, a "
        f"set of allowed ids or a Milvus expression string; got {type(filter).__name__}"
    )


def check_filter(filter: object, store: str, accepted: Iterable[FilterKind]) -> FilterKind | None:
    """The kind of ``filter``, or :class:`FilterNotSupportedError` if ``store`` can't apply it."""
    kind = filter_kind(filter)
    accepted = tuple(accepted)
    if kind is not None and kind not in accepted:
        raise FilterNotSupportedError(store, kind, accepted)
    return kind


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the document id, its BM25 score, its text and its metadata."""

    id: str
    score: float
    text: str
    metadata: Metadata = field(default_factory=dict)


class _HitBuilder:
    """Builds a :class:`Hit` at about half the cost of ``Hit(...)`` (a search builds one per
    result): ``Hit``'s frozen ``__init__`` stores each field through ``object.__setattr__``,
    while this twin of its slot layout stores them directly and then turns itself into a
    ``Hit`` (``__class__`` assignment, which CPython allows between classes with the same slots).
    The result is an ordinary ``Hit``; ``_builder_works`` checks that at import."""

    __slots__ = ("id", "metadata", "score", "text")  # CPython lays slots out sorted by name

    def __init__(self, id: str, score: float, text: str, metadata: Metadata | None = None) -> None:
        self.id = id
        self.score = score
        self.text = text
        self.metadata = {} if metadata is None else metadata
        self.__class__ = Hit  # type: ignore[assignment]


def _builder_works() -> bool:
    try:
        hit: object = _HitBuilder("id", 1.0, "text", {})
    except TypeError:  # pragma: no cover - a Hit whose layout differs, or no __class__ assignment
        return False
    return type(hit) is Hit and hit == Hit("id", 1.0, "text", {})


_HIT = _HitBuilder if _builder_works() else Hit


def make_hits(
    ids: Iterable[str],
    scores: Iterable[float],
    texts: Iterable[str],
    metadatas: Iterable[Metadata] | None = None,
) -> list[Hit]:
    """``[Hit(*row) for row in zip(ids, scores, texts, metadatas)]``, built faster (the
    columns must have equal lengths). Each metadata dict becomes its hit's own, so pass fresh
    copies; without ``metadatas`` each hit gets a new empty dict."""
    if metadatas is None:
        return list(map(_HIT, ids, scores, texts))  # type: ignore[arg-type]
    return list(map(_HIT, ids, scores, texts, metadatas))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, eq=False)
class Ranking(Sequence[str]):
    """One query's results as two columns, best first: the document ids and their scores.

    What ``BM25Index.search_ids`` and ``search_many_ids`` return for callers that need ids and
    scores but not texts (evaluation runs, code that keeps its documents elsewhere, Milvus's
    ``output_fields=[]``): the results of ``search``/``search_many`` without a :class:`Hit`
    per result, so a query costs a few objects however deep ``k`` is. ``ids`` is a list of
    str and ``scores`` a float64 array of the same length, both the ranking's own
    (``ranking.ids == [h.id for h in hits]``, ``ranking.scores.tolist() == [h.score for h in
    hits]`` for the hits of the same search).

    A ranking is also the sequence of its ids, as the evaluation functions take a ranking
    (``len``, indexing, iteration and ``in`` are over ``ids``), so a run of rankings can be
    passed to :func:`rankwise.evaluation.evaluate` as it is; ``zip(r.ids, r.scores)`` pairs
    them with their scores. Rankings are equal when their ids and scores are.
    """

    ids: list[str]
    scores: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self.ids[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ranking):
            return NotImplemented
        return self.ids == other.ids and bool(np.array_equal(self.scores, other.scores))

    __hash__ = None  # type: ignore[assignment]  # mutable columns


class _RankingBuilder(Sequence[str]):
    """Builds a :class:`Ranking` without its frozen ``__init__`` (two ``object.__setattr__``
    calls), as ``_HitBuilder`` builds a ``Hit``: a twin of its slot layout that stores the
    columns and turns itself into a ``Ranking``; ``_ranking_builder_works`` checks it at
    import."""

    __slots__ = ("ids", "scores")

    def __init__(self, ids: list[str], scores: npt.NDArray[np.float64]) -> None:
        self.ids = ids
        self.scores = scores
        self.__class__ = Ranking  # type: ignore[assignment]

    def __len__(self) -> int:  # pragma: no cover - a Ranking by then
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:  # pragma: no cover - a Ranking by then
        return self.ids[index]


def _ranking_builder_works() -> bool:
    scores = np.zeros(1)
    try:
        ranking: object = _RankingBuilder(["id"], scores)
    except TypeError:  # pragma: no cover - a Ranking whose layout differs
        return False
    return type(ranking) is Ranking and ranking == Ranking(["id"], scores)


_RANKING = _RankingBuilder if _ranking_builder_works() else Ranking


def make_rankings(
    ids: Iterable[list[str]], scores: Iterable[npt.NDArray[np.float64]]
) -> list[Ranking]:
    """``[Ranking(*row) for row in zip(ids, scores)]``, built faster (equal lengths)."""
    return list(map(_RANKING, ids, scores))  # type: ignore[arg-type]


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
    """The contract every full-text backend keeps, so retrievers and integrations need no
    per-backend code. ``tests/contract/`` checks every implementation against it: the
    embedded :class:`rankwise.BM25Index` and :class:`rankwise.dense.DenseIndex`,
    :class:`rankwise.milvus.MilvusBM25Store` and :class:`rankwise.milvus.MilvusSparseStore`.

    **Documents.** A document is an id (non-empty ``str``), a text (``str``) and a metadata
    dict (JSON-representable, see :func:`rankwise._checks.json_metadata`; ``None`` = ``{}``).

    * ``add(texts, ids=None, metadatas=None)`` inserts new documents and returns their ids
      (uuid4 hex strings when not given). A duplicate id within the call, or an id already
      stored, is a ``ValueError`` (use ``upsert``) and nothing is written.
    * ``upsert(texts, ids, metadatas=None)`` inserts or replaces documents by id.
    * ``delete(ids)`` removes documents and returns how many were stored; unknown ids are
      ignored.
    * ``get(ids)`` returns the stored documents in the order asked (unknown ids skipped) as
      hits with score ``0.0``.
    * ``ids()`` lists every stored id; ``len(store)`` counts them.
    * ``close()`` releases connections; the data stays where the backend keeps it. Closing
      twice is harmless; embedded stores have nothing to release.

    **A hit** (:class:`Hit`) is ``id``, ``score``, ``text`` and ``metadata`` (a fresh dict the
    caller may change). Its score is the backend's own relevance (BM25, cosine, ...): higher is
    better and comparable within one result list only.

    **Search.** ``search(query, k=10, filter=None)`` returns at most ``k`` hits, best first:

    * *Zero scores*: only documents with ``score > 0`` are hits. A document sharing no term
      with the query is not returned, even when fewer than ``k`` hits remain; consumers never
      filter scores themselves.
    * *Ties*: equal scores keep insertion order (the earlier added or upserted document
      first) where the backend knows it (the embedded stores and ``MilvusBM25Store``'s exact
      route); Milvus's own BM25 function and IP search order ties themselves.
    * ``k`` is a positive ``int`` (else ``ValueError``); a ``k`` larger than the store is not
      an error and returns every match. Milvus caps ``k`` at 16384 (``ValueError`` above).
    * A blank query, or one whose terms no document has, returns ``[]``; a query that is
      not a ``str`` is a ``TypeError``/``ValueError`` naming ``query``.
    * ``search_many(queries, k, filter)`` equals ``[search(q, k, filter) for q in queries]``
      (backends batch it).

    **Filters** (:data:`Filter`) are applied *inside* the top-k: a filtered search returns
    the ``k`` best matching documents, not the matches among the ``k`` best. An empty id set
    matches nothing; an empty mapping matches everything. Which forms each backend takes:

    * ``BM25Index``, ``DenseIndex``: mapping, id set, predicate (not an expression);
    * ``MilvusBM25Store``, ``MilvusSparseStore``: mapping, id set, Milvus expression (not a
      predicate, which cannot run inside Milvus).

    Each backend lists the forms it takes in a ``filter_kinds`` attribute (``"mapping"``,
    ``"ids"``, ``"predicate"``, ``"expression"``), so an adapter can pick the form to send
    (a store without one is taken to accept mapping, ids and predicate). A form a backend
    cannot apply raises :class:`FilterNotSupportedError` (a ``ValueError``)
    at the call, with the same message shape everywhere; no backend falls back to filtering
    a deeper unfiltered ranking on the client. A mapping matches a document whose metadata
    has every key with an equal value (``True == 1`` as in Python); Milvus refuses ``None``
    values (a JSON null is a missing key there).

    **Threads.** Searches may run concurrently with each other and with writes; one store
    object serialises its own writes. A search running during a write sees the store before
    or after that write (the embedded stores guarantee a consistent snapshot; Milvus gives
    its consistency level, ``Strong`` for collections rankwise creates).
    """

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

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]: ...

    def ids(self) -> list[str]: ...

    def close(self) -> None: ...

    def __len__(self) -> int: ...
