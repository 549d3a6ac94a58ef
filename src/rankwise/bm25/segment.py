"""Immutable postings segments (CSC layout) and the operations that create them.

Building, merging and compacting segments runs in NumPy (``postings``); only ``concat_live``
(a save of several segments) compiles numba loops, loaded when first called."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rankwise.bm25 import postings
from rankwise.bm25.postings import ChunkPostings, block_size, tf_dtype

IntArray = npt.NDArray[np.int64]
#: term ranges a new segment's chunks are copied in (see ``postings.merge_chunks``): each range
#: adds its share of the output before its chunk parts are freed (16: 200k docs peak -4 MB)
_MERGE_PASSES = 16


@dataclass(frozen=True)
class Segment:
    """Postings of the documents ``base .. base + n_docs - 1`` (internal numbers).

    ``ptr`` (int64, vocab+1) delimits each term's postings in ``docs`` (uint32, local doc
    numbers, ascending) and ``tfs``. ``bptr``/``blast``/``bmax`` describe blocks of
    ``block`` postings (``postings.block_size()`` when built): last doc and maximum of
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
            object.__setattr__(self, "tmax", postings.term_max(self.bptr, self.bmax))

    @property
    def vocab_size(self) -> int:
        return int(self.ptr.size - 1)

    @property
    def nnz(self) -> int:
        return int(self.docs.size)

    def with_bounds(self, norm: npt.NDArray[np.float32], avgdl: float) -> Segment:
        """Same postings, block bounds recomputed for the norms ``norm`` of this segment's docs."""
        bmax = postings.compute_blocks(self.ptr, self.docs, self.tfs, norm, self.block)[2]
        return Segment(
            self.base, self.n_docs, self.ptr, self.docs, self.tfs, self.bptr, self.blast,
            bmax, avgdl, self.block,
        )  # fmt: skip


def build_segment(
    chunks: list[ChunkPostings],
    vocab_size: int,
    base: int,
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    """Segment from the postings of consecutive chunks of documents (``postings.chunk_postings``);
    the chunks are released from ``chunks`` as they are copied in."""
    n_docs = sum(c.n_docs for c in chunks)
    ptr, docs, tfs = postings.merge_chunks(chunks, vocab_size, passes=_MERGE_PASSES)
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
    block = block_size()
    bptr, blast, bmax = postings.compute_blocks(ptr, docs, tfs, norm, block)
    return Segment(base, n_docs, ptr, docs, tfs, bptr, blast, bmax, avgdl, block)


def _live_chunk(seg: Segment, live: npt.NDArray[np.bool_]) -> ChunkPostings:
    """The postings of ``seg`` whose documents are set in ``live`` (its slice of ``alive``)."""
    keep = live[seg.docs]
    terms = np.arange(seg.vocab_size, dtype=np.int64)
    if bool(keep.all()):
        return ChunkPostings(terms, np.diff(seg.ptr), seg.docs, seg.tfs, seg.n_docs)
    kept = np.zeros(keep.size + 1, np.int64)  # kept[p]: live postings before posting p
    np.cumsum(keep, out=kept[1:])
    counts = kept[seg.ptr[1:]] - kept[seg.ptr[:-1]]
    return ChunkPostings(terms, counts, seg.docs[keep], seg.tfs[keep], seg.n_docs)


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
    chunks = [
        _live_chunk(a, alive[a.base : a.base + a.n_docs]),
        _live_chunk(b, alive[b.base : b.base + b.n_docs]),
    ]
    ptr, docs, tfs = postings.merge_chunks(chunks, vocab_size)
    n_docs = a.n_docs + b.n_docs
    return with_new_blocks(a.base, n_docs, ptr, docs, tfs, norm[a.base : a.base + n_docs], avgdl)


def compact_segment(
    seg: Segment, alive: npt.NDArray[np.bool_], norm: npt.NDArray[np.float32], avgdl: float
) -> Segment:
    """The segment without the postings of dead documents (doc numbers unchanged)."""
    live = _live_chunk(seg, alive[seg.base : seg.base + seg.n_docs])
    ptr = np.zeros(seg.ptr.size, np.int64)
    np.cumsum(live.counts, out=ptr[1:])
    norm_s = norm[seg.base : seg.base + seg.n_docs]
    return with_new_blocks(seg.base, seg.n_docs, ptr, live.docs, live.tfs, norm_s, avgdl)


def _count_live(ptr: Any, docs: Any, live: Any, counts: Any) -> None:  # pragma: no cover
    """Add each term's number of postings of live documents to ``counts[t]``."""
    for t in range(ptr.size - 1):
        c = 0
        for j in range(ptr[t], ptr[t + 1]):
            if live[docs[j]]:
                c += 1
        counts[t] += c


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


@functools.cache
def _live_kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """``_count_live`` and ``_copy_live`` compiled (numba loads on the first save that needs
    them, not when a build runs)."""
    from rankwise.bm25 import kernels

    return kernels._jit(_count_live), kernels._jit(_copy_live)


def concat_live(
    segments: list[Segment], alive: npt.NDArray[np.bool_], n_terms: int
) -> tuple[IntArray, npt.NDArray[np.uint32], npt.NDArray[np.unsignedinteger]]:
    """``(ptr, docs, tfs)`` of the live postings of ``segments`` (adjacent, in document order)
    as one postings list per term, documents renumbered ``0..n_live-1`` in the same order.

    Each segment is copied straight into the output (no intermediate merges), so the memory
    needed is the output plus one number per document."""
    count_live, copy_live = _live_kernels()
    renumber = np.cumsum(alive, dtype=np.int64) - 1  # global -> compacted number
    counts = np.zeros(n_terms, np.int64)
    for seg in segments:
        live = alive[seg.base : seg.base + seg.n_docs]
        count_live(seg.ptr, seg.docs, live, counts)
    ptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    nnz = int(ptr[-1])
    docs = np.empty(nnz, np.uint32)
    tfs = np.empty(nnz, np.result_type(*(seg.tfs.dtype for seg in segments)))
    written = ptr[:-1].copy()
    for seg in segments:
        lo, hi = seg.base, seg.base + seg.n_docs
        copy_live(
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
