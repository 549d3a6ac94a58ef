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
from rankwise.bm25.postings import ChunkPostings, PostArray, PtrArray, block_size, tf_dtype
from rankwise.bm25.split_postings import SplitPostings, kernel_form, post_value

IntArray = npt.NDArray[np.int64]
#: term ranges a new segment's chunks are copied in (see ``postings.merge_chunks``): each range
#: adds its share of the output before its chunk parts are freed (16: 200k docs peak -4 MB)
_MERGE_PASSES = 16


@dataclass(frozen=True)
class Segment:
    """Postings of the documents ``base .. base + n_docs - 1`` (internal numbers).

    ``ptr`` (vocab+1; int32 where it fits, see ``postings.pointers``) delimits each term's
    postings in ``post``: ``doc << shift | tf`` (local doc numbers, ascending within a term;
    uint32 values, held in 3 bytes each in a large index where they fit in 24 bits
    (``SplitPostings``), uint64 where a term frequency does not fit beside the doc numbers:
    see ``postings.pack_layout`` and ``postings.new_postings``). The kernels read
    ``kernel_post``. ``bptr``/``blast``/
    ``bmax`` describe blocks of ``block`` postings (``postings.block_size()`` when built):
    last doc and maximum of ``tf/(tf+norm)`` computed with the average document length
    ``bound_avgdl``.
    """

    base: int
    n_docs: int
    ptr: PtrArray
    post: PostArray
    shift: int
    bptr: PtrArray
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
        return int(self.post.size)

    @functools.cached_property
    def kernel_post(self) -> Any:
        """``post`` as the kernels take it (a split segment's ``(lo, hi)`` arrays)."""
        return kernel_form(self.post)

    @functools.cached_property
    def unpack(self) -> tuple[np.unsignedinteger, np.unsignedinteger]:
        """``(shift, mask)`` as scalars of the postings' dtype: what the kernels take to read
        ``doc = post >> shift`` and ``tf = post & mask`` in unsigned arithmetic."""
        dtype = self.post.dtype.type
        return dtype(self.shift), dtype((1 << self.shift) - 1)

    @property
    def docs(self) -> npt.NDArray[np.unsignedinteger]:
        """The doc number of each posting (a new array)."""
        return postings.post_docs(self.post, self.shift)

    @property
    def tfs(self) -> npt.NDArray[np.unsignedinteger]:
        """The term frequency of each posting (a new array)."""
        return postings.post_tfs(self.post, self.shift)

    def with_bounds(self, norm: npt.NDArray[np.float32], avgdl: float) -> Segment:
        """Same postings, block bounds recomputed for the norms ``norm`` of this segment's docs."""
        bmax = postings.compute_blocks(self.ptr, self.post, self.shift, norm, self.block)[2]
        return Segment(
            self.base, self.n_docs, self.ptr, self.post, self.shift, self.bptr, self.blast,
            bmax, avgdl, self.block,
        )  # fmt: skip


def build_segment(
    chunks: list[ChunkPostings],
    vocab_size: int,
    base: int,
    norm: npt.NDArray[np.float32],
    avgdl: float,
    split: bool = False,
) -> Segment:
    """Segment from the postings of consecutive chunks of documents (``postings.chunk_postings``);
    the chunks are released from ``chunks`` as they are copied in. ``split``: the postings in
    3 bytes each where they fit (an index of ``split_postings.SPLIT_MIN_DOCS`` or more)."""
    n_docs = sum(c.n_docs for c in chunks)
    ptr, post, shift = postings.merge_chunks(chunks, vocab_size, passes=_MERGE_PASSES, split=split)
    return with_new_blocks(base, n_docs, ptr, post, shift, norm, avgdl)


def with_new_blocks(
    base: int,
    n_docs: int,
    ptr: PtrArray,
    post: PostArray,
    shift: int,
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    block = block_size()
    bptr, blast, bmax = postings.compute_blocks(ptr, post, shift, norm, block)
    return Segment(base, n_docs, ptr, post, shift, bptr, blast, bmax, avgdl, block)


def _live_postings(seg: Segment, live: npt.NDArray[np.bool_]) -> tuple[IntArray, PostArray]:
    """``(counts, post)``: per term, the postings of ``seg`` whose documents are set in
    ``live`` (its slice of ``alive``), and those postings (``seg.post`` itself when all are)."""
    keep = live[seg.docs]
    if bool(keep.all()):
        return np.diff(seg.ptr), seg.post
    kept = np.zeros(keep.size + 1, np.int64)  # kept[p]: live postings before posting p
    np.cumsum(keep, out=kept[1:])
    counts = kept[seg.ptr[1:]] - kept[seg.ptr[:-1]]
    post = seg.post[keep]  # the same documents and tfs: they fit a split layout as before
    return counts, SplitPostings.of(post) if isinstance(seg.post, SplitPostings) else post


def _live_chunk(seg: Segment, live: npt.NDArray[np.bool_]) -> ChunkPostings:
    """The postings of ``seg`` whose documents are set in ``live``, unpacked (to merge)."""
    counts, post = _live_postings(seg, live)
    terms = np.arange(seg.vocab_size, dtype=np.int64)
    tfs = postings.post_tfs(post, seg.shift)
    tfs = tfs.astype(tf_dtype(int(tfs.max()) if tfs.size else 0))
    docs = postings.post_docs(post, seg.shift).astype(np.uint32)
    return ChunkPostings(terms, counts, docs, tfs, seg.n_docs)


def merge_segments(
    a: Segment,
    b: Segment,
    alive: npt.NDArray[np.bool_],
    norm: npt.NDArray[np.float32],
    avgdl: float,
) -> Segment:
    """One segment holding the live postings of adjacent segments ``a`` then ``b`` (split
    where either is and they fit: see ``split_postings``).

    ``alive`` and ``norm`` are the global per-document arrays.
    """
    if a.base + a.n_docs != b.base:
        raise RuntimeError("only adjacent segments can be merged")
    vocab_size = max(a.vocab_size, b.vocab_size)
    chunks = [
        _live_chunk(a, alive[a.base : a.base + a.n_docs]),
        _live_chunk(b, alive[b.base : b.base + b.n_docs]),
    ]
    split = isinstance(a.post, SplitPostings) or isinstance(b.post, SplitPostings)
    ptr, post, shift = postings.merge_chunks(chunks, vocab_size, split=split)
    n_docs = a.n_docs + b.n_docs
    norm_s = norm[a.base : a.base + n_docs]
    return with_new_blocks(a.base, n_docs, ptr, post, shift, norm_s, avgdl)


def compact_segment(
    seg: Segment, alive: npt.NDArray[np.bool_], norm: npt.NDArray[np.float32], avgdl: float
) -> Segment:
    """The segment without the postings of dead documents (doc numbers unchanged)."""
    counts, post = _live_postings(seg, alive[seg.base : seg.base + seg.n_docs])
    ptr = postings.pointers(counts)
    norm_s = norm[seg.base : seg.base + seg.n_docs]
    return with_new_blocks(seg.base, seg.n_docs, ptr, post, seg.shift, norm_s, avgdl)


def _count_live(
    ptr: Any, post: Any, sh: Any, mk: Any, live: Any, counts: Any
) -> int:  # pragma: no cover
    """Add each term's number of postings of live documents to ``counts[t]``; returns the
    largest term frequency among them."""
    most: Any = 0
    for t in range(ptr.size - 1):
        c = 0
        for j in range(ptr[t], ptr[t + 1]):
            x = post_value(post, j)
            if live[x >> sh]:
                c += 1
                tf = np.int64(x & mk)
                if tf > most:
                    most = tf
        counts[t] += c
    return int(most)


def _copy_live(
    ptr: Any, post: Any, sh: Any, mk: Any, live: Any, renumber: Any, out_sh: Any, written: Any,
    out_post: Any,
) -> None:  # pragma: no cover  # fmt: skip
    """Append each term's live postings at ``written[t]`` (advanced), documents renumbered
    and packed with ``out_sh``."""
    for t in range(ptr.size - 1):
        w = written[t]
        for j in range(ptr[t], ptr[t + 1]):
            x = post_value(post, j)
            d = x >> sh
            if live[d]:
                out_post[w] = (np.uint64(renumber[d]) << out_sh) | np.uint64(x & mk)
                w += 1
        written[t] = w


@functools.cache
def _live_kernels() -> tuple[Callable[..., int], Callable[..., None]]:
    """``_count_live`` and ``_copy_live`` compiled (numba loads on the first save that needs
    them, not when a build runs)."""
    from rankwise.bm25 import kernels

    return kernels._jit(_count_live), kernels._jit(_copy_live)


def concat_live(
    segments: list[Segment], alive: npt.NDArray[np.bool_], n_terms: int
) -> tuple[PtrArray, PostArray, int]:
    """``(ptr, post, shift)`` of the live postings of ``segments`` (adjacent, in document order)
    as one postings list per term, documents renumbered ``0..n_live-1`` in the same order
    (packed for ``n_live`` documents: see ``postings.pack_layout``).

    Each segment is copied straight into the output (no intermediate merges), so the memory
    needed is the output plus one number per document."""
    count_live, copy_live = _live_kernels()
    renumber = np.cumsum(alive, dtype=np.int64) - 1  # global -> compacted number
    counts = np.zeros(n_terms, np.int64)
    max_tf = 0
    for seg in segments:
        live = alive[seg.base : seg.base + seg.n_docs]
        sh, mk = seg.unpack
        max_tf = max(max_tf, count_live(seg.ptr, seg.kernel_post, sh, mk, live, counts))
    ptr = postings.pointers(counts)
    nnz = int(ptr[-1])
    dtype, out_shift = postings.pack_layout(int(renumber[-1]) + 1 if renumber.size else 0, max_tf)
    post = np.empty(nnz, dtype)
    written = ptr[:-1].copy()
    for seg in segments:
        lo, hi = seg.base, seg.base + seg.n_docs
        sh, mk = seg.unpack
        copy_live(
            seg.ptr, seg.kernel_post, sh, mk, alive[lo:hi], renumber[lo:hi], np.uint64(out_shift),
            written, post,
        )  # fmt: skip
    return ptr, post, out_shift


__all__ = [
    "Segment",
    "build_segment",
    "compact_segment",
    "concat_live",
    "merge_segments",
    "tf_dtype",
]
