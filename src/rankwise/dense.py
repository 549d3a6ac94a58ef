"""A small exact in-memory dense index: brute-force dot product over normalised embeddings.

Exact and simple: every search scores every document with one matrix-vector product, which
is fast up to a few hundred thousand documents. For more, use a vector database (Milvus).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from uuid import uuid4

import numpy as np
import numpy.typing as npt

from rankwise.embeddings import Embedder, FloatMatrix
from rankwise.types import Filter, Hit, Metadata


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
    if filter is None:
        return None
    if isinstance(filter, (set, frozenset)):
        allowed = filter
        return lambda doc_id, _md: doc_id in allowed
    if isinstance(filter, Mapping):
        wanted = dict(filter)
        return lambda _id, md: all(k in md and md[k] == v for k, v in wanted.items())
    if callable(filter):
        pred = filter
        return lambda _id, md: bool(pred(md))
    raise ValueError(f"filter must be a mapping, a callable or a set of ids, got {filter!r}")


class DenseIndex:
    """Exact cosine-similarity search over embeddings held in a numpy matrix.

    Args:
        embedder: turns texts (documents and queries) into vectors, e.g. a
            :class:`rankwise.embeddings.SentenceEmbedder`. Optional if you always pass
            ``embeddings=`` to :meth:`add` and search with :meth:`search_by_vector`.
        normalize: L2-normalise vectors on the way in, so the dot product is the cosine.
    """

    def __init__(self, embedder: Embedder | None = None, *, normalize: bool = True) -> None:
        self.embedder = embedder
        self.normalize = normalize
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._metadatas: list[Metadata] = []
        self._pos: dict[str, int] = {}
        self._matrix: FloatMatrix | None = None

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def embeddings(self) -> FloatMatrix:
        """The ``(len(self), dim)`` matrix of stored vectors, in insertion order."""
        if self._matrix is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self._matrix

    def _embed(self, texts: Sequence[str], what: str) -> FloatMatrix:
        if self.embedder is None:
            raise ValueError(f"{what}: this DenseIndex has no embedder; pass embeddings")
        return _as_matrix(self.embedder.encode(list(texts)), "embeddings")

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
        *,
        embeddings: npt.ArrayLike | None = None,
    ) -> list[str]:
        """Add documents (embedding them unless ``embeddings`` are given); returns their ids."""
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise ValueError(f"texts[{i}] must be a string, got {type(t).__name__}")
        id_list = [str(i) for i in ids] if ids is not None else [uuid4().hex for _ in texts]
        if len(id_list) != len(texts):
            raise ValueError(f"ids has {len(id_list)} entries for {len(texts)} texts")
        if len(set(id_list)) != len(id_list):
            raise ValueError("ids must be unique within one add")
        clash = [i for i in id_list if i in self._pos]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]} (use upsert)")
        mds = [dict(m or {}) for m in metadatas] if metadatas is not None else [{}] * len(texts)
        if len(mds) != len(texts):
            raise ValueError(f"metadatas has {len(mds)} entries for {len(texts)} texts")
        if not texts:
            return []
        vecs = (
            _as_matrix(embeddings, "embeddings")
            if embeddings is not None
            else self._embed(texts, "add")
        )
        if len(vecs) != len(texts):
            raise ValueError(f"embeddings has {len(vecs)} rows for {len(texts)} texts")
        if self._matrix is not None and self._matrix.shape[1] != vecs.shape[1]:
            raise ValueError(
                f"embeddings have dimension {vecs.shape[1]}, the index has {self._matrix.shape[1]}"
            )
        if self.normalize:
            vecs = _normalize(vecs)
        start = len(self._ids)
        self._matrix = vecs.copy() if self._matrix is None else np.vstack([self._matrix, vecs])
        self._ids.extend(id_list)
        self._texts.extend(texts)
        self._metadatas.extend(mds)
        for offset, doc_id in enumerate(id_list):
            self._pos[doc_id] = start + offset
        return id_list

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; returns how many were removed."""
        gone = {str(i) for i in ids} & self._pos.keys()
        if not gone:
            return 0
        keep = [p for p, doc_id in enumerate(self._ids) if doc_id not in gone]
        assert self._matrix is not None
        self._matrix = self._matrix[keep]
        self._ids = [self._ids[p] for p in keep]
        self._texts = [self._texts[p] for p in keep]
        self._metadatas = [self._metadatas[p] for p in keep]
        self._pos = {doc_id: p for p, doc_id in enumerate(self._ids)}
        return len(gone)

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        id_list = [str(i) for i in ids]
        self.delete(id_list)
        return self.add(texts, id_list, metadatas)

    def get(self, ids: Iterable[str]) -> list[Hit]:
        """Stored documents by id (unknown ids are skipped), score 0.0."""
        out = []
        for doc_id in ids:
            p = self._pos.get(str(doc_id))
            if p is not None:
                out.append(Hit(self._ids[p], 0.0, self._texts[p], dict(self._metadatas[p])))
        return out

    def search_by_vector(
        self, vector: npt.ArrayLike, k: int = 10, filter: Filter | None = None
    ) -> list[Hit]:
        """Top ``k`` documents by dot product with ``vector`` (cosine when normalised)."""
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if self._matrix is None or not self._ids:
            return []
        q = _as_matrix(vector, "vector")[0]
        if q.shape[0] != self._matrix.shape[1]:
            raise ValueError(
                f"vector has dimension {q.shape[0]}, the index has {self._matrix.shape[1]}"
            )
        if self.normalize:
            q = _normalize(q[None, :])[0]
        scores = self._matrix @ q
        pred = _filter_fn(filter)
        if pred is not None:
            mask = np.fromiter(
                (pred(i, md) for i, md in zip(self._ids, self._metadatas, strict=True)),
                dtype=bool,
                count=len(self._ids),
            )
            candidates = np.flatnonzero(mask)
            if candidates.size == 0:
                return []
            sub = scores[candidates]
        else:
            candidates = np.arange(len(self._ids))
            sub = scores
        kk = min(k, sub.size)
        top = np.argpartition(-sub, kk - 1)[:kk] if kk < sub.size else np.arange(sub.size)
        # Best first; ties by insertion order, so results are deterministic.
        top = top[np.lexsort((candidates[top], -sub[top]))]
        return [
            Hit(
                self._ids[p],
                float(scores[p]),
                self._texts[p],
                dict(self._metadatas[p]),
            )
            for p in candidates[top]
        ]

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top ``k`` documents for ``query`` by cosine similarity of embeddings."""
        if not isinstance(query, str):
            raise ValueError(f"query must be a string, got {type(query).__name__}")
        if not query.strip():
            return []
        return self.search_by_vector(self._embed([query], "search")[0], k, filter)

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        return [self.search(q, k, filter) for q in queries]

    def __repr__(self) -> str:
        dim = 0 if self._matrix is None else self._matrix.shape[1]
        return f"DenseIndex({len(self)} documents, dim={dim}, embedder={self.embedder!r})"


__all__ = ["DenseIndex"]
