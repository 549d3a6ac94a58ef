"""A small exact in-memory dense index: brute-force dot product over normalised embeddings.

Exact and simple: every search scores every document with one matrix-vector product, which
is fast up to a few hundred thousand documents. For more, use a vector database (Milvus).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import uuid4

import numpy as np
import numpy.typing as npt

from rankwise._checks import (
    ArgumentTypeError,
    copy_metadata,
    ids_arg,
    metadatas_arg,
    positive_int,
    text_arg,
    texts_arg,
)
from rankwise.embeddings import Embedder, FloatMatrix
from rankwise.types import Filter, FilterKind, Hit, Metadata, check_filter


def _as_matrix(x: npt.ArrayLike, name: str) -> FloatMatrix:
    m = np.asarray(x, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {m.shape}")
    return m


def _normalize(m: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: FloatMatrix = (m / norms).astype(np.float32, copy=False)
    return out


def _filter_fn(filter: Filter | None) -> Callable[[str, Metadata], bool] | None:
    kind = check_filter(filter, "DenseIndex", DenseIndex.filter_kinds)
    if kind is None:
        return None
    if kind == "ids":
        allowed = filter
        assert isinstance(allowed, (set, frozenset))
        return lambda doc_id, _md: doc_id in allowed
    if kind == "mapping":
        assert isinstance(filter, Mapping)
        wanted = dict(filter)
        return lambda _id, md: all(k in md and md[k] == v for k, v in wanted.items())
    pred = filter
    assert callable(pred)
    return lambda _id, md: bool(pred(md))


@dataclass(frozen=True)
class _State:
    """One immutable snapshot: a write builds a new one and swaps it in whole, so a search
    running during a write sees all of the old documents or all of the new ones."""

    ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    metadatas: tuple[Metadata, ...] = ()
    matrix: FloatMatrix | None = None
    pos: dict[str, int] = field(default_factory=dict)


class DenseIndex:
    """Exact cosine-similarity search over embeddings held in a numpy matrix.

    Keeps the :class:`rankwise.types.TextStore` contract: hits have ``score > 0``, equal scores
    keep insertion order, filters are a metadata mapping, a predicate or an id set.

    Args:
        embedder: turns texts (documents and queries) into vectors, e.g. a
            :class:`rankwise.embeddings.SentenceEmbedder`. Optional if you always pass
            ``embeddings=`` to :meth:`add` and search with :meth:`search_by_vector`.
        normalize: L2-normalise vectors on the way in, so the dot product is the cosine.
    """

    #: The filter forms this index applies inside its top-k (the TextStore contract).
    filter_kinds: tuple[FilterKind, ...] = ("mapping", "ids", "predicate")

    def __init__(self, embedder: Embedder | None = None, *, normalize: bool = True) -> None:
        self.embedder = embedder
        self.normalize = normalize
        self._state = _State()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._state.ids)

    def ids(self) -> list[str]:
        return list(self._state.ids)

    def close(self) -> None:
        """Nothing to release (the TextStore contract's ``close``); the index stays usable."""

    @property
    def embeddings(self) -> FloatMatrix:
        """The ``(len(self), dim)`` matrix of stored vectors, in insertion order."""
        matrix = self._state.matrix
        if matrix is None:
            return np.zeros((0, 0), dtype=np.float32)
        return matrix

    def _embed(self, texts: Sequence[str], what: str) -> FloatMatrix:
        if self.embedder is None:
            raise ValueError(f"{what}: this DenseIndex has no embedder; pass embeddings")
        return _as_matrix(self.embedder.encode(list(texts)), "embeddings")

    def _checked(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None,
        metadatas: Iterable[Metadata | None] | None,
    ) -> tuple[list[str], list[str], list[Metadata]]:
        text_list = texts_arg(texts)
        if ids is None:
            id_list = [uuid4().hex for _ in text_list]
        else:
            id_list = ids_arg(ids, count=len(text_list), unique=True)
        mds = metadatas_arg(metadatas, len(text_list))
        return text_list, id_list, mds

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
        *,
        embeddings: npt.ArrayLike | None = None,
    ) -> list[str]:
        """Add documents (embedding them unless ``embeddings`` are given); returns their ids."""
        text_list, id_list, mds = self._checked(texts, ids, metadatas)
        with self._lock:
            clash = [i for i in id_list if i in self._state.pos]
            if clash:
                raise ValueError(f"ids already in the index: {clash[:5]} (use upsert)")
            if not text_list:
                return []
            self._state = self._appended(self._state, text_list, id_list, mds, embeddings)
        return id_list

    def _appended(
        self,
        st: _State,
        texts: list[str],
        ids: list[str],
        mds: list[Metadata],
        embeddings: npt.ArrayLike | None,
    ) -> _State:
        vecs = (
            _as_matrix(embeddings, "embeddings")
            if embeddings is not None
            else self._embed(texts, "add")
        )
        if len(vecs) != len(texts):
            raise ValueError(f"embeddings has {len(vecs)} rows for {len(texts)} texts")
        if st.matrix is not None and st.matrix.shape[1] != vecs.shape[1]:
            raise ValueError(
                f"embeddings have dimension {vecs.shape[1]}, the index has {st.matrix.shape[1]}"
            )
        if self.normalize:
            vecs = _normalize(vecs)
        matrix = vecs.copy() if st.matrix is None else np.vstack([st.matrix, vecs])
        all_ids = (*st.ids, *ids)
        return _State(
            ids=all_ids,
            texts=(*st.texts, *texts),
            metadatas=(*st.metadatas, *mds),
            matrix=matrix,
            pos={doc_id: p for p, doc_id in enumerate(all_ids)},
        )

    @staticmethod
    def _without(st: _State, gone: set[str]) -> _State:
        keep = [p for p, doc_id in enumerate(st.ids) if doc_id not in gone]
        assert st.matrix is not None
        ids = tuple(st.ids[p] for p in keep)
        return _State(
            ids=ids,
            texts=tuple(st.texts[p] for p in keep),
            metadatas=tuple(st.metadatas[p] for p in keep),
            matrix=st.matrix[keep] if ids else None,
            pos={doc_id: p for p, doc_id in enumerate(ids)},
        )

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; returns how many were removed."""
        id_list = ids_arg(ids)
        with self._lock:
            gone = set(id_list) & self._state.pos.keys()
            if gone:
                self._state = self._without(self._state, gone)
        return len(gone)

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
        *,
        embeddings: npt.ArrayLike | None = None,
    ) -> list[str]:
        """Insert or replace documents by id (one snapshot swap); returns the ids."""
        if ids is None:
            raise ArgumentTypeError("ids must be given to upsert, got None")
        text_list, id_list, mds = self._checked(texts, ids, metadatas)
        if not text_list:
            return []
        with self._lock:
            st = self._without(self._state, set(id_list) & self._state.pos.keys())
            self._state = self._appended(st, text_list, id_list, mds, embeddings)
        return id_list

    def get(self, ids: Iterable[str]) -> list[Hit]:
        """Stored documents by id (unknown ids are skipped), score 0.0."""
        st = self._state
        out = []
        for doc_id in ids_arg(ids):
            p = st.pos.get(doc_id)
            if p is not None:
                out.append(Hit(st.ids[p], 0.0, st.texts[p], copy_metadata(st.metadatas[p])))
        return out

    def search_by_vector(
        self, vector: npt.ArrayLike, k: int = 10, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` documents by dot product with ``vector`` (cosine when normalised);
        only positive scores, ties in insertion order."""
        k = positive_int(k, "k")
        pred = _filter_fn(filter)
        st = self._state
        if st.matrix is None or not st.ids:
            return []
        q = _as_matrix(vector, "vector")[0]
        if q.shape[0] != st.matrix.shape[1]:
            raise ValueError(
                f"vector has dimension {q.shape[0]}, the index has {st.matrix.shape[1]}"
            )
        if self.normalize:
            q = _normalize(q[None, :])[0]
        scores = st.matrix @ q
        mask = scores > 0
        if pred is not None:
            mask &= np.fromiter(
                (pred(i, md) for i, md in zip(st.ids, st.metadatas, strict=True)),
                dtype=bool,
                count=len(st.ids),
            )
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return []
        sub = scores[candidates]
        kk = min(k, sub.size)
        top = np.argpartition(-sub, kk - 1)[:kk] if kk < sub.size else np.arange(sub.size)
        # Best first; ties by insertion order, so results are deterministic.
        top = top[np.lexsort((candidates[top], -sub[top]))]
        return [
            Hit(st.ids[p], float(scores[p]), st.texts[p], copy_metadata(st.metadatas[p]))
            for p in candidates[top]
        ]

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top ``k`` documents for ``query`` by cosine similarity of embeddings."""
        return self.search_many([text_arg(query, "query")], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """:meth:`search` for several queries, embedded in one call."""
        queries = texts_arg(queries, "queries")
        k = positive_int(k, "k")
        _filter_fn(filter)
        out: list[list[Hit]] = [[] for _ in queries]
        todo = [i for i, q in enumerate(queries) if q.strip()]
        if not todo or not self._state.ids:
            return out
        vectors = self._embed([queries[i] for i in todo], "search")
        for i, vector in zip(todo, vectors, strict=True):
            out[i] = self.search_by_vector(vector, k, filter)
        return out

    def __repr__(self) -> str:
        matrix = self._state.matrix
        dim = 0 if matrix is None else matrix.shape[1]
        return f"DenseIndex({len(self)} documents, dim={dim}, embedder={self.embedder!r})"


__all__ = ["DenseIndex"]
