"""Immutable postings segments (CSC layout) and the operations that create them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rankwise.bm25 import kernels

IntArray = npt.NDArray[np.int64]


def tf_dtype(max_tf: int) -> type[np.unsignedinteger]:
    """Smallest unsigned dtype holding ``max_tf``."""
    if max_tf <= np.iinfo(np.uint8).max:
        return np.uint8
    if max_tf <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.uint32


@dataclass(frozen=True)
class Segment:
    """Postings of the documents ``base .. base + n_docs - 1`` (internal numbers).

    ``ptr`` (int64, vocab+1) delimits each term's postings in ``docs`` (uint32, local doc
    numbers, ascending) and ``tfs``. ``bptr``/``blast``/``bmax`` describe blocks of
    ``block`` postings (``kernels.BLOCK_SIZE`` when built): last doc and maximum of
    ``tf/(tf+norm)`` computed with the average document length ``bound_avgdl``.
    """

    base: int
    n_docs: int
    ptr: IntArray
    docs: npt.NDArray[np.uint32]
    tfs: npt.NDArray[np.unsignedinteger]
    bptr: IntArray
    blast: npt.NDArray[np.uint32]
    bmax: npt.NDArray[np.float32]
    bound_avgdl: float
    block: int
    tmax: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        if self.tmax.size != self.vocab_size:
            object.__setattr__(self, "tmax", kernels.term_max(self.bptr, self.bmax))

    @property
    def vocab_size(self) -> int:
        return int(self.ptr.size - 1)

    @property
    def nnz(self) -> int:
        return int(self.docs.size)

    def with_bounds(self, norm: npt.NDArray[np.float32], avgdl: float) -> Segment:
        """Same postings, block bounds recomputed for the norms ``norm`` of this segment's docs."""
        bmax = self.bmax.copy()
        kernels.refresh_block_max(self.ptr, self.docs, self.tfs, norm, self.bptr, bmax, self.block)
        return Segment(
            self.base, self.n_docs, self.ptr, self.docs, self.tfs, self.bptr, self.blast,
            bmax, avgdl, self.block,
        )  # fmt: skip


def build_segment(
    chunks: list[tuple[npt.NDArray[np.int32], IntArray]],
    vocab_size: int,
    base: int,
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    """Segment from chunks of token ids: ``(flat, offsets)`` where document ``j`` of a chunk
    owns ``flat[offsets[j]:offsets[j+1]]``; chunks follow each other in document order."""
    counts = np.zeros(vocab_size + 1, np.int64)
    max_tf = np.zeros(1, np.int64)
    n_docs = 0
    for flat, offsets in chunks:
        kernels.count_postings(flat, offsets, counts, max_tf)
        n_docs += int(offsets.size - 1)
    ptr = np.cumsum(counts)
    nnz = int(ptr[-1])
    docs = np.empty(nnz, np.uint32)
    tfs = np.empty(nnz, tf_dtype(int(max_tf[0])))
    fill = ptr[:-1].copy()
    doc_base = 0
    for flat, offsets in chunks:
        kernels.fill_postings(flat, offsets, doc_base, fill, docs, tfs)
        doc_base += int(offsets.size - 1)
    return with_new_blocks(base, n_docs, ptr, docs, tfs, norm, avgdl)


def with_new_blocks(
    base: int,
    n_docs: int,
    ptr: IntArray,
    docs: npt.NDArray[np.uint32],
    tfs: npt.NDArray[np.unsignedinteger],
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    block = int(kernels.BLOCK_SIZE)
    bptr, blast, bmax = kernels.compute_blocks(ptr, docs, tfs, norm, block)
    return Segment(base, n_docs, ptr, docs, tfs, bptr, blast, bmax, avgdl, block)


def merge_segments(
    a: Segment,
    b: Segment,
    alive: npt.NDArray[np.bool_],
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    """One segment holding the live postings of adjacent segments ``a`` then ``b``.

    ``alive`` and ``norm`` are the global per-document arrays.
    """
    if a.base + a.n_docs != b.base:
        raise RuntimeError("only adjacent segments can be merged")
    vocab_size = max(a.vocab_size, b.vocab_size)
    alive_a = alive[a.base : a.base + a.n_docs]
    alive_b = alive[b.base : b.base + b.n_docs]
    ptr = kernels.count_merge(a.ptr, a.docs, alive_a, b.ptr, b.docs, alive_b, vocab_size)
    nnz = int(ptr[-1])
    docs = np.empty(nnz, np.uint32)
    dtype = np.promote_types(a.tfs.dtype, b.tfs.dtype)
    tfs = np.empty(nnz, dtype)
    kernels.fill_merge(
        a.ptr, a.docs, a.tfs.astype(dtype, copy=False), alive_a,
        b.ptr, b.docs, b.tfs.astype(dtype, copy=False), alive_b, a.n_docs,
        ptr, docs, tfs,
    )  # fmt: skip
    n_docs = a.n_docs + b.n_docs
    return with_new_blocks(a.base, n_docs, ptr, docs, tfs, norm[a.base : a.base + n_docs], avgdl)


def compact_segment(
    seg: Segment, alive: npt.NDArray[np.bool_], norm: npt.NDArray[np.float32], avgdl: float
) -> Segment:
    """The segment without the postings of dead documents (doc numbers unchanged)."""
    alive_s = alive[seg.base : seg.base + seg.n_docs]
    empty_ptr = np.zeros(1, np.int64)
    empty_docs = np.empty(0, np.uint32)
    empty_alive = np.empty(0, np.bool_)
    ptr = kernels.count_merge(
        seg.ptr, seg.docs, alive_s, empty_ptr, empty_docs, empty_alive, seg.vocab_size
    )
    nnz = int(ptr[-1])
    docs = np.empty(nnz, np.uint32)
    tfs = np.empty(nnz, seg.tfs.dtype)
    kernels.fill_merge(
        seg.ptr, seg.docs, seg.tfs, alive_s,
        empty_ptr, empty_docs, np.empty(0, seg.tfs.dtype), empty_alive, 0,
        ptr, docs, tfs,
    )  # fmt: skip
    norm_s = norm[seg.base : seg.base + seg.n_docs]
    return with_new_blocks(seg.base, seg.n_docs, ptr, docs, tfs, norm_s, avgdl)


@kernels._jit
def _count_live(ptr: Any, docs: Any, live: Any, counts: Any) -> None:  # pragma: no cover
    """Add each term's number of postings of live documents to ``counts[t]``."""
    for t in range(ptr.size - 1):
        c = 0
        for j in range(ptr[t], ptr[t + 1]):
            if live[docs[j]]:
                c += 1
        counts[t] += c


@kernels._jit
def _copy_live(
    ptr: Any, docs: Any, tfs: Any, live: Any, renumber: Any, written: Any, out_docs: Any,
    out_tfs: Any,
) -> None:  # pragma: no cover  # fmt: skip
    """Append each term's live postings at ``written[t]`` (advanced), documents renumbered."""
    for t in range(ptr.size - 1):
        w = written[t]
        for j in range(ptr[t], ptr[t + 1]):
            d = docs[j]
            if live[d]:
                out_docs[w] = renumber[d]
                out_tfs[w] = tfs[j]
                w += 1
        written[t] = w


def concat_live(
    segments: list[Segment], alive: npt.NDArray[np.bool_], n_terms: int
) -> tuple[IntArray, npt.NDArray[np.uint32], npt.NDArray[np.unsignedinteger]]:
    """``(ptr, docs, tfs)`` of the live postings of ``segments`` (adjacent, in document order)
    as one postings list per term, documents renumbered ``0..n_live-1`` in the same order.

    Each segment is copied straight into the output (no intermediate merges), so the memory
    needed is the output plus one number per document."""
    renumber = np.cumsum(alive, dtype=np.int64) - 1  # global -> compacted number
    counts = np.zeros(n_terms, np.int64)
    for seg in segments:
        live = alive[seg.base : seg.base + seg.n_docs]
        _count_live(seg.ptr, seg.docs, live, counts)
    ptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    nnz = int(ptr[-1])
    docs = np.empty(nnz, np.uint32)
    tfs = np.empty(nnz, np.result_type(*(seg.tfs.dtype for seg in segments)))
    written = ptr[:-1].copy()
    for seg in segments:
        lo, hi = seg.base, seg.base + seg.n_docs
        _copy_live(
            seg.ptr, seg.docs, seg.tfs.astype(tfs.dtype, copy=False), alive[lo:hi],
            renumber[lo:hi], written, docs, tfs,
        )  # fmt: skip
    return ptr, docs, tfs


__all__ = [
    "Segment",
    "build_segment",
    "compact_segment",
    "concat_live",
    "merge_segments",
    "tf_dtype",
]
