"""The state of a BM25Index as one immutable value, and its flat form for storage.

``Snapshot`` is what an index publishes on each write and what a search reads from start to
end: postings segments, per-document columns and corpus statistics. ``SnapshotArrays`` is the
same content compacted into one segment of live documents numbered 0..n-1 plus the vocabulary
in term-id order: what a save writes and a load reads. ``Snapshot.to_arrays`` and
``Snapshot.from_arrays`` convert between them; ``from_arrays`` refuses arrays that do not
describe one consistent index (a damaged or forged folder), naming what disagrees.

Neither the index nor the storage code reaches into the other: the index hands a snapshot's
arrays to ``persistence`` and builds itself from the arrays a load returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rankwise.bm25 import postings
from rankwise.bm25.columns import MetaColumn, TextColumn
from rankwise.bm25.idmap import DuplicateIdError, IdMap
from rankwise.bm25.segment import Segment, concat_live, with_new_blocks
from rankwise.types import Metadata

#: documents whose norms are computed in one pass (see ``doc_norms``)
_NORM_STEP = 1 << 16


def doc_norms(
    doc_len: npt.NDArray[np.uint32], k1: float, b: float, avgdl: float
) -> npt.NDArray[np.float32]:
    """norm[d] = k1 * (1 - b + b * dl / avgdl) (float32); avgdl 0 (no live text) counts as 1.

    Computed in float64 ``_NORM_STEP`` documents at a time (a float64 copy of all of them
    would be 8 MB of scratch a million documents at the top of a build)."""
    if avgdl <= 0:
        avgdl = 1.0
    out = np.empty(doc_len.size, np.float32)
    for lo in range(0, doc_len.size, _NORM_STEP):
        part = doc_len[lo : lo + _NORM_STEP].astype(np.float64)
        part *= b / avgdl
        part += 1.0 - b
        part *= k1
        out[lo : lo + _NORM_STEP] = part
    return out


#: dtypes of term and block pointers (``postings.pointers``)
_POINTERS = (np.dtype(np.int32), np.dtype(np.int64))


class SnapshotError(ValueError):
    """Arrays that do not describe one consistent index (what disagrees is in the message)."""


@dataclass(frozen=True, eq=False)
class SnapshotArrays:
    """A snapshot flattened for storage: live documents only, numbered ``0..n_docs-1``.

    ``postings`` is one segment (base 0) over all of them; ``terms[t]`` is term ``t`` (a load
    refuses repeated terms when it builds the vocabulary: ``Vocabulary.from_terms``);
    ``ids``, ``texts``, ``metas`` and ``doc_len`` hold one entry per document; ``total_len``
    is the sum of ``doc_len``.
    """

    postings: Segment
    doc_len: npt.NDArray[np.uint32]
    total_len: int
    terms: Sequence[str]
    ids: Sequence[str]
    texts: Sequence[str]
    metas: Sequence[Metadata | None]

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.size)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable state of the index; searches read one snapshot from start to end.

    ``ids``, ``texts`` and ``metas`` are append-only columns shared with later snapshots: a
    snapshot reads only its first ``n_total`` entries.
    """

    segments: tuple[Segment, ...]
    doc_len: npt.NDArray[np.uint32]
    alive: npt.NDArray[np.bool_]
    df: npt.NDArray[np.int64]
    n_live: int
    total_len: int
    ids: list[str]
    texts: TextColumn
    metas: MetaColumn
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(
            segments=(),
            doc_len=np.zeros(0, np.uint32),
            alive=np.zeros(0, np.bool_),
            df=np.zeros(0, np.int64),
            n_live=0,
            total_len=0,
            ids=[],
            texts=TextColumn(),
            metas=MetaColumn(),
        )

    @property
    def n_total(self) -> int:
        return int(self.doc_len.size)

    @property
    def avgdl(self) -> float:
        return self.total_len / self.n_live if self.n_live else 0.0

    def id_map(self) -> IdMap:
        """id -> document number over the ids column (a loaded snapshot's: every document
        live, each id once); refuses an id that appears twice."""
        try:
            return IdMap.of(self.ids)
        except DuplicateIdError as exc:
            raise SnapshotError(str(exc)) from None

    def norms(self, k1: float, b: float) -> npt.NDArray[np.float32]:
        """norm[d] = k1 * (1 - b + b * dl / avgdl) for every internal document (float32)."""
        norm = self.cache.get("norm")
        if norm is None:
            norm = doc_norms(self.doc_len, k1, b, self.avgdl)
            self.cache["norm"] = norm
        return norm

    # ------------------------------------------------------------------ to / from arrays

    def to_arrays(self, k1: float, b: float, terms: Sequence[str]) -> SnapshotArrays:
        """The live documents of this snapshot, renumbered ``0..n_live-1``, in one segment.

        ``terms`` is the index's vocabulary in term-id order (at least ``df.size`` terms; a
        longer list, from writes after this snapshot, is cut)."""
        if len(terms) < self.df.size:
            raise ValueError(f"terms has {len(terms)} entries, the snapshot {self.df.size} terms")
        seg, live = self._compacted(k1, b)
        if live.size == self.n_total:
            ids: Sequence[str] = self.ids[: self.n_total]
            texts: Sequence[str] = _Rows(self.texts.getter(), None, self.n_total)
            metas: Sequence[Metadata | None] = self.metas[: self.n_total]
        else:
            rows = live.tolist()
            ids = [self.ids[i] for i in rows]
            texts = _Rows(self.texts.getter(), rows, len(rows))
            metas = [self.metas[i] for i in rows]
        return SnapshotArrays(
            postings=seg,
            doc_len=self.doc_len[live],
            total_len=self.total_len,
            terms=list(terms[: self.df.size]),
            ids=ids,
            texts=texts,
            metas=metas,
        )

    def _compacted(self, k1: float, b: float) -> tuple[Segment, npt.NDArray[np.int64]]:
        """All live postings in one segment with documents renumbered 0..n_live-1."""
        alive = self.alive
        norm_all = self.norms(k1, b)
        avgdl = self.avgdl
        live = np.flatnonzero(alive)
        segs = list(self.segments)
        n_terms = int(self.df.size)
        if not segs:  # no documents, but the vocabulary (and its saved terms) may be known
            seg = with_new_blocks(
                0, 0, np.zeros(n_terms + 1, np.int32), np.zeros(0, np.uint32), 1,
                np.zeros(0, np.float32), 1.0,
            )  # fmt: skip
            return seg, live
        if len(segs) == 1 and live.size == self.n_total:
            ptr, post, shift = segs[0].ptr, segs[0].post, segs[0].shift
            if ptr.size - 1 < n_terms:
                ptr = np.concatenate([ptr, np.full(n_terms - (ptr.size - 1), ptr[-1], ptr.dtype)])
        else:
            ptr, post, shift = concat_live(segs, alive, n_terms)
        norm = norm_all[live]
        block = postings.block_size()
        bptr, blast, bmax = postings.compute_blocks(ptr, post, shift, norm, block)
        seg = Segment(0, int(live.size), ptr, post, shift, bptr, blast, bmax, avgdl, block)
        return seg, live

    @classmethod
    def from_arrays(cls, arrays: SnapshotArrays) -> Snapshot:
        """The snapshot the arrays describe, after checking that they agree with each other.

        Arrays are used as they are (memory-mapped ones stay mapped, a ``TextColumn`` of
        texts is kept; other text sequences are copied into one). Raises ``SnapshotError``
        naming the disagreement."""
        check_arrays(arrays)
        seg = arrays.postings
        n_docs = arrays.n_docs
        texts = arrays.texts
        if isinstance(texts, TextColumn):
            column = texts
        else:
            column = TextColumn()
            column.extend(list(texts))
        return cls(
            segments=(seg,) if n_docs else (),
            doc_len=arrays.doc_len,
            alive=np.ones(n_docs, np.bool_),
            df=np.diff(seg.ptr).astype(np.int64),
            n_live=n_docs,
            total_len=arrays.total_len,
            ids=list(arrays.ids),
            texts=column,
            metas=MetaColumn(arrays.metas),
        )


def check_block_layout(
    ptr: npt.NDArray[Any],
    bptr: npt.NDArray[Any],
    blast: npt.NDArray[Any],
    bmax: npt.NDArray[Any],
    nnz: int,
    block: int,
) -> None:
    """Refuse postings and block pointers that disagree (checked before a ``Segment`` is
    made of them: its term bounds index ``bmax`` through ``bptr``)."""
    checks = [
        (ptr.dtype in _POINTERS and ptr.ndim == 1 and ptr.size >= 1, "ptr dtype"),
        (bptr.dtype in _POINTERS and bptr.shape == ptr.shape, "bptr shape"),
        (blast.dtype == np.uint32 and blast.shape == bmax.shape, "block arrays"),
        (bmax.dtype == np.float32 and bmax.ndim == 1, "bmax dtype"),
        (block >= 1, "block size"),
    ]
    for ok, what in checks:
        if not ok:
            raise SnapshotError(f"inconsistent {what}")
    if ptr[0] != 0 or ptr[-1] != nnz or bool((np.diff(ptr) < 0).any()):
        raise SnapshotError("postings pointers are not monotonic")
    n_blocks = (np.diff(ptr) + block - 1) // block
    if bptr[0] != 0 or not np.array_equal(np.diff(bptr), n_blocks):
        raise SnapshotError("block pointers disagree with the postings")
    if int(bptr[-1]) != bmax.size:
        raise SnapshotError("block pointers disagree with the block arrays")


def check_arrays(arrays: SnapshotArrays) -> None:
    """Refuse arrays that do not describe one index (``SnapshotError`` says what disagrees)."""
    seg = arrays.postings
    n_docs = arrays.n_docs
    n_terms = len(arrays.terms)
    check_block_layout(seg.ptr, seg.bptr, seg.blast, seg.bmax, seg.nnz, seg.block)
    checks = [
        (seg.base == 0 and seg.n_docs == n_docs, "postings cover other documents"),
        (seg.ptr.shape == (n_terms + 1,), "ptr shape"),
        (seg.post.dtype in (np.uint32, np.uint64) and seg.post.ndim == 1, "postings dtype"),
        (0 < seg.shift < 8 * seg.post.dtype.itemsize, "postings shift"),
        (arrays.doc_len.dtype == np.uint32 and arrays.doc_len.ndim == 1, "doc_len dtype"),
        (len(arrays.ids) == n_docs, "one id per document"),
        (len(arrays.texts) == n_docs, "one text per document"),
        (len(arrays.metas) == n_docs, "one metadata entry per document"),
    ]
    for ok, what in checks:
        if not ok:
            raise SnapshotError(f"inconsistent {what}")
    # doc numbers are the high bits: the largest posting holds the largest one
    if seg.nnz and int(seg.post.max()) >> seg.shift >= n_docs:
        raise SnapshotError("a posting points past the last document")
    if int(arrays.doc_len.astype(np.int64).sum()) != arrays.total_len:
        raise SnapshotError("document lengths disagree with the total length")
    if seg.nnz and not seg.bound_avgdl > 0:
        raise SnapshotError("bound_avgdl must be > 0 when there are postings")


class _Rows(Sequence[str]):
    """Rows ``rows`` (all when None) of a text column, read on demand (no copies of texts)."""

    __slots__ = ("_get", "_n", "_rows")

    def __init__(self, get: Callable[[int], str], rows: list[int] | None, n: int) -> None:
        self._get = get
        self._rows = rows
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        return self._get(i if self._rows is None else self._rows[i])

    def __iter__(self) -> Iterator[str]:
        get = self._get
        return map(get, range(self._n) if self._rows is None else self._rows)


__all__ = [
    "Snapshot",
    "SnapshotArrays",
    "SnapshotError",
    "check_arrays",
    "check_block_layout",
    "doc_norms",
]
