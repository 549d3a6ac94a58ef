"""Postings construction in NumPy: what building an index needs, without loading numba.

A build turns chunks of token ids into term-major postings (``ptr``/``post``) and computes
their block bounds. A segment's postings are packed values, ``post = doc << shift | tf`` (see
``pack_layout``), ascending in doc within a term like the doc numbers alone: 3 bytes a posting
where doc and tf fit in 24 bits together in a large index (segments of up to 2^18 documents
with tfs below 64: ``split_postings``), else 4 in a uint32 array (8 in the rare uint64 one).

Doing that in NumPy (sorts, bincounts, ``reduceat``) keeps numba
(~110 MB of resident LLVM code, seconds of compilation on a fresh install) out of a process
until its first search, at about the speed of the compiled loops. The arithmetic of the bounds
is the query kernels' (``kernels.py``): ``tf / (tf + norm[d])`` in float64, rounded up to
float32, so an index built here and one built by any other path hold bit-identical bounds.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from rankwise.bm25 import split_postings

IntArray = npt.NDArray[np.int64]
#: postings per block (the query kernels' ``kernels.BLOCK_SIZE``)
BLOCK_SIZE = 128
#: postings whose bounds are computed in one NumPy pass (bounds the float64 scratch: ~2 MB)
_BOUND_STEP = 1 << 16
#: a chunk of at least this many postings is handed back to the OS once merged (a big build)
_RELEASE_POSTINGS = 1 << 16
#: tokens whose postings are sorted out in one pass (bounds its ~28 B a token of scratch)
_PIECE_TOKENS = 1 << 16


def block_size() -> int:
    """Postings per block of new segments: ``kernels.BLOCK_SIZE`` once the kernels module is
    loaded (tests shrink it there), else the same default without loading numba. The module
    may be half-imported (a search thread loading it): then it has no value yet."""
    kernels = sys.modules.get("rankwise.bm25.kernels")
    return int(getattr(kernels, "BLOCK_SIZE", BLOCK_SIZE))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except Exception:  # not glibc (no such symbol, or no C library handle at all)
        return None
    return trim


def release_free_heap() -> None:
    """Return the C heap's free pages to the OS (glibc ``malloc_trim``; elsewhere nothing).

    A build frees many mid-sized NumPy arrays (a chunk's postings, sort keys); glibc keeps
    such freed memory mapped when live blocks sit above it, about 100 MB at 1M documents,
    which would count in the build's peak RSS once the id map and columns grow on top."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def doc_dtype(n_docs: int) -> type[np.unsignedinteger]:
    """Doc numbers of a chunk of ``n_docs`` documents: uint16 when they fit, else uint32."""
    return np.uint16 if n_docs <= 1 << 16 else np.uint32


def tf_dtype(max_tf: int) -> type[np.unsignedinteger]:
    """Smallest unsigned dtype holding ``max_tf``."""
    if max_tf <= np.iinfo(np.uint8).max:
        return np.uint8
    if max_tf <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.uint32


#: a segment's packed postings: an array, or the split layout of 24-bit ones (3 bytes each)
PostArray = npt.NDArray[np.unsignedinteger] | split_postings.SplitPostings
#: term and block pointers: int32 where they fit (``pointers``), else int64
PtrArray = npt.NDArray[np.signedinteger[Any]]


def pointers(counts: npt.NDArray[np.integer[Any]]) -> PtrArray:
    """``[0, counts[0], counts[0] + counts[1], ...]``: int32 when the total fits (half the
    bytes of a segment's term and block pointers, one per vocabulary term each), else int64
    (the kernels compile once per dtype: int64 only for a segment of 2^31 postings)."""
    total = int(counts.sum(dtype=np.int64))
    out: PtrArray = np.zeros(counts.size + 1, np.int32 if total < 1 << 31 else np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def pack_layout(n_docs: int, max_tf: int) -> tuple[type[np.unsignedinteger], int]:
    """``(dtype, shift)`` of the packed postings of a segment of ``n_docs`` documents whose
    largest term frequency is ``max_tf``: ``post = doc << shift | tf``.

    The shift is the bits of ``max_tf`` (8 or fewer in almost every segment: the kernels'
    dense window then holds any tf as it is, see ``kernels._approx_scores``); uint32 when the
    doc numbers fit above them (a segment of 2^18 documents up to tf 16,383, a saved index
    of 1M documents up to 4,095), else uint64 with a shift of 32 (any uint32 doc and tf).
    The kernels compile per dtype, so an index whose segments are all uint32 (every
    realistic one) compiles one variant; a uint64 segment costs one more."""
    doc_bits = max(1, (max(n_docs, 1) - 1).bit_length())
    tf_bits = max(1, int(max_tf).bit_length())
    if doc_bits + tf_bits <= 32:
        return np.uint32, tf_bits
    return np.uint64, 32


def new_postings(
    nnz: int, n_docs: int, dtype: type[np.unsignedinteger], shift: int, split: bool
) -> Any:
    """Room for ``nnz`` postings of ``pack_layout(n_docs, ...) == (dtype, shift)``: split in
    3 bytes a posting where ``_held_split``, else an array."""
    if _held_split(split, n_docs, dtype, shift):
        return split_postings.SplitPostings.empty(nnz)
    return np.empty(nnz, dtype)


def _held_split(split: bool, n_docs: int, dtype: type[np.unsignedinteger], shift: int) -> bool:
    """Whether postings of ``pack_layout(n_docs, ...) == (dtype, shift)`` are held split: asked
    for (``split``: a large index, see ``split_postings``) and packed in 24 bits."""
    return split and dtype is np.uint32 and split_postings.fits(n_docs, shift)


def post_docs(post: PostArray, shift: int) -> npt.NDArray[np.unsignedinteger]:
    """The doc numbers of packed postings (a new array of their value dtype)."""
    values = split_postings.as_array(post)
    out: npt.NDArray[np.unsignedinteger] = values >> values.dtype.type(shift)
    return out


def post_tfs(post: PostArray, shift: int) -> npt.NDArray[np.unsignedinteger]:
    """The term frequencies of packed postings (a new array of their value dtype)."""
    values = split_postings.as_array(post)
    one = values.dtype.type(1)
    out: npt.NDArray[np.unsignedinteger] = values & ((one << values.dtype.type(shift)) - one)
    return out


def pack(
    docs: npt.NDArray[np.unsignedinteger],
    tfs: npt.NDArray[np.unsignedinteger],
    dtype: type[np.unsignedinteger],
    shift: int,
) -> npt.NDArray[np.unsignedinteger]:
    """``docs << shift | tfs`` as a new array of ``dtype``."""
    post = docs.astype(dtype)
    post <<= dtype(shift)
    post |= tfs.astype(dtype, copy=False)
    return post


class ChunkPostings(NamedTuple):
    """Term-major postings of a chunk of documents (doc numbers local to the chunk).

    A build holds a segment's worth of chunks until it merges them, so they are kept narrow:
    ``chunk_postings`` lists only the terms the chunk uses (a dense count per vocabulary term
    would cost more than the postings of a small chunk) and gives uint16 doc numbers where
    they fit (a chunk of at most 65,536 documents)."""

    terms: npt.NDArray[np.integer]  # term ids, ascending, each once
    counts: npt.NDArray[np.integer]  # postings of each of ``terms``
    docs: npt.NDArray[np.unsignedinteger]  # ascending within a term
    tfs: npt.NDArray[np.unsignedinteger]
    n_docs: int


def chunk_postings(flat: npt.NDArray[np.int32], lengths: IntArray) -> ChunkPostings:
    """Postings of documents whose token ids follow each other in ``flat`` (document ``j``
    has ``lengths[j]`` tokens): sorts of (term, doc) keys, then run lengths as tfs.

    Runs of documents of about ``_PIECE_TOKENS`` tokens are sorted one at a time (the sort
    scratch, ~28 B a token, would otherwise be the peak of a small build), then copied into
    the chunk's term-major arrays."""
    n_docs = int(lengths.size)
    pieces = []
    for d0, d1, t0, t1 in token_runs(lengths, _PIECE_TOKENS):
        if t1 > t0:
            pieces.append(_sorted_postings(flat[t0:t1], lengths[d0:d1], d0))
    if not pieces:
        empty = np.zeros(0, np.int64)
        return ChunkPostings(empty, empty, np.zeros(0, np.uint32), np.zeros(0, np.uint8), n_docs)
    if len(pieces) == 1:
        (one,) = pieces
        return one._replace(docs=one.docs.astype(doc_dtype(n_docs)), n_docs=n_docs)
    vocab = max(int(p.terms[-1]) for p in pieces) + 1
    ptr, docs, tfs = _chunk_major(pieces, vocab, doc_dtype(n_docs))
    _copy_chunks(pieces, ptr[:-1].copy(), docs, tfs)
    counts = np.diff(ptr)
    terms = np.flatnonzero(counts).astype(np.int32)
    return ChunkPostings(terms, counts[terms].astype(np.int32), docs, tfs, n_docs)


def token_runs(lengths: IntArray, tokens: int) -> Iterator[tuple[int, int, int, int]]:
    """``(first doc, end doc, first token, end token)`` of consecutive runs of documents with
    about ``tokens`` tokens each (a longer document is a run of its own)."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if ends.size else 0
    cuts = np.searchsorted(ends, np.arange(tokens, total, tokens), side="left") + 1
    # ascending; np.unique would import numpy.ma (~3 MB) into a process that only builds
    bounds = sorted({0, *cuts[cuts < lengths.size].tolist(), int(lengths.size)})
    for d0, d1 in itertools.pairwise(bounds):
        yield d0, d1, int(ends[d0 - 1]) if d0 else 0, int(ends[d1 - 1]) if d1 else 0


def _sorted_postings(flat: npt.NDArray[np.int32], lengths: IntArray, doc0: int) -> ChunkPostings:
    """Postings of a non-empty run of documents numbered from ``doc0`` (uint32 doc numbers)."""
    key = flat.astype(np.uint64)
    key <<= np.uint64(32)
    key |= np.repeat(np.arange(doc0, doc0 + lengths.size, dtype=np.uint32), lengths)
    key.sort()
    starts = _run_starts(key)
    tf = np.diff(starts, append=key.size)
    tfs = tf.astype(tf_dtype(int(tf.max())))
    del tf
    pairs = key[starts]
    del key, starts
    docs = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    pairs >>= np.uint64(32)
    term_starts = _run_starts(pairs)
    counts = np.diff(term_starts, append=pairs.size).astype(np.int32)
    terms = pairs[term_starts].astype(np.int32)
    return ChunkPostings(terms, counts, docs, tfs, int(lengths.size))


def _run_starts(values: npt.NDArray[np.uint64]) -> IntArray:
    """Where each run of equal values starts in the sorted, non-empty ``values``."""
    first = np.empty(values.size, np.bool_)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return np.flatnonzero(first)


def _term_ptr(parts: list[ChunkPostings], vocab_size: int) -> PtrArray:
    """``ptr[t]``: term t's first posting in the term-major copy of ``parts`` (``ptr[-1]``
    all of them)."""
    return pointers(_counts(parts, vocab_size))


def _chunk_major(
    parts: list[ChunkPostings], vocab_size: int, docs_dtype: type[np.unsignedinteger]
) -> tuple[PtrArray, npt.NDArray[np.unsignedinteger], npt.NDArray[np.unsignedinteger]]:
    """``(ptr, docs, tfs)`` to copy the pieces of a chunk into (``_term_ptr``; ``docs`` and
    ``tfs`` allocated, not filled)."""
    ptr = _term_ptr(parts, vocab_size)
    docs = np.empty(int(ptr[-1]), docs_dtype)
    tfs = np.empty(docs.size, np.result_type(np.uint8, *(p.tfs.dtype for p in parts)))
    return ptr, docs, tfs


def _counts(parts: list[ChunkPostings], vocab_size: int) -> IntArray:
    counts = np.zeros(vocab_size, np.int64)
    for p in parts:
        counts[p.terms] += p.counts
    return counts


def _destinations(p: ChunkPostings, written: PtrArray) -> IntArray:
    """Where each posting of part ``p`` goes: posting i of term t to ``written[t]`` + (i -
    the first posting of t in the part); ``written`` is advanced past them."""
    first = np.cumsum(p.counts, dtype=np.int64)
    first -= p.counts
    shift = written[p.terms] - first
    del first
    dest = np.repeat(shift, p.counts)
    del shift
    dest += np.arange(p.docs.size, dtype=np.int64)
    written[p.terms] += p.counts
    return dest


def _copy_chunks(
    parts: list[ChunkPostings],
    written: PtrArray,
    docs: npt.NDArray[np.unsignedinteger],
    tfs: npt.NDArray[np.unsignedinteger],
) -> None:
    """Copy the sorted pieces of one chunk (doc numbers already the chunk's) into its
    term-major ``docs``/``tfs`` at ``written[t]`` on, releasing them from the list."""
    while parts:
        p = parts.pop(0)
        if p.docs.size:
            dest = _destinations(p, written)
            docs[dest] = p.docs
            tfs[dest] = p.tfs
            del dest
        big = p.docs.size >= _RELEASE_POSTINGS
        del p
        if big:
            release_free_heap()


def _pack_into(
    parts: list[ChunkPostings], written: PtrArray, post: PostArray, shift: int, doc_base: int
) -> int:
    """Pack each part's postings of term t into ``post`` at ``written[t]`` on (advancing it),
    documents renumbered from ``doc_base`` in part order; returns the next base. Parts are
    released from the list as they are copied (large ones returned to the OS: glibc would
    keep them mapped under the output)."""
    dtype = post.dtype.type
    while parts:
        p = parts.pop(0)
        n = p.docs.size
        if n:
            dest = _destinations(p, written)
            packed = p.docs.astype(dtype)
            if doc_base:
                packed += dtype(doc_base)
            packed <<= dtype(shift)
            packed |= p.tfs
            post[dest] = packed
            del dest, packed
        doc_base += p.n_docs
        del p
        if n >= _RELEASE_POSTINGS:
            release_free_heap()
    return doc_base


def _split(c: ChunkPostings, bounds: IntArray) -> list[ChunkPostings]:
    """``c`` as one chunk per term range ``bounds[r] <= t < bounds[r + 1]`` (own copies)."""
    cut = np.searchsorted(c.terms, bounds).tolist()
    offsets = np.zeros(c.counts.size + 1, np.int64)
    np.cumsum(c.counts, out=offsets[1:])
    post = offsets[cut].tolist()
    return [
        ChunkPostings(
            c.terms[a:b].copy(),
            c.counts[a:b].copy(),
            c.docs[pa:pb].copy(),
            c.tfs[pa:pb].copy(),
            c.n_docs,
        )
        for a, b, pa, pb in zip(cut, cut[1:], post, post[1:], strict=False)
    ]


def _as_postings(c: ChunkPostings, vocab_size: int, split: bool) -> tuple[PtrArray, PostArray, int]:
    """``(ptr, post, shift)`` of one chunk (packed into a new array; see ``new_postings``)."""
    counts = np.zeros(vocab_size, np.int64)
    counts[c.terms] = c.counts
    ptr = pointers(counts)
    dtype, shift = pack_layout(c.n_docs, int(c.tfs.max()) if c.tfs.size else 0)
    packed = pack(c.docs, c.tfs, dtype, shift)
    if _held_split(split, c.n_docs, dtype, shift):
        return ptr, split_postings.SplitPostings.of(packed), shift
    return ptr, packed, shift


def merge_chunks(
    chunks: list[ChunkPostings], vocab_size: int, passes: int = 1, split: bool = False
) -> tuple[PtrArray, PostArray, int]:
    """``(ptr, post, shift)`` of consecutive chunks as one term-major list of packed postings
    (documents renumbered from 0 in chunk order; see ``pack_layout``; ``split``: see
    ``new_postings``). Chunks are released from ``chunks`` as they are copied.

    With ``passes`` > 1 (chunks that own their arrays, as ``chunk_postings`` makes them) the
    chunks are first cut into ``passes`` ranges of terms of about equal postings, then copied
    range by range: each range frees its parts while the output fills only its own pages, so
    the memory needed is about the larger of chunks and output, not their sum (the copy into
    a term-major output touches all of its pages from the first chunk on)."""
    if len(chunks) == 1:  # term-major already: no scatter (its int64 targets, 8 B a posting)
        return _as_postings(chunks.pop(), vocab_size, split)
    n_docs = sum(c.n_docs for c in chunks)
    max_tf = max((int(c.tfs.max()) for c in chunks if c.tfs.size), default=0)
    dtype, shift = pack_layout(n_docs, max_tf)
    ptr = _term_ptr(chunks, vocab_size)
    nnz = int(ptr[-1])
    post = new_postings(nnz, n_docs, dtype, shift, split)
    written = ptr[:-1].copy()
    if passes <= 1 or len(chunks) < 2 or not nnz:
        _pack_into(chunks, written, post, shift, 0)
        return ptr, post, shift
    mass = np.linspace(0, nnz, passes + 1)[1:-1]
    inner = np.searchsorted(ptr, mass, side="right") - 1
    bounds = np.array(sorted({0, *inner.tolist(), vocab_size}), np.int64)
    ranges: list[list[ChunkPostings]] = [[] for _ in range(bounds.size - 1)]
    while chunks:
        c = chunks.pop(0)
        for r, part in enumerate(_split(c, bounds)):
            ranges[r].append(part)
        big = c.docs.size >= _RELEASE_POSTINGS
        del c
        if big:
            release_free_heap()
    for parts in ranges:
        _pack_into(parts, written, post, shift, 0)
        release_free_heap()
    return ptr, post, shift


def _block_ranges(ptr: PtrArray, bptr: PtrArray, block: int) -> tuple[IntArray, PtrArray]:
    """``(start, end)``: each block's posting range, for the terms of ``ptr`` (a slice of a
    segment's pointers, ``bptr`` their block pointers counted from 0)."""
    term = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(bptr))
    start = np.arange(int(bptr[-1]), dtype=np.int64)
    start -= bptr[term]
    start *= block
    start += ptr[term]
    end = ptr[term + 1]
    np.minimum(end, start + block, out=end)
    return start, end


def _term_ranges(ptr: PtrArray, bptr: PtrArray) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of terms with about ``_BOUND_STEP`` postings and at most about
    ``_BOUND_STEP // 16`` blocks each (a term with more is a range of its own)."""
    n_terms = ptr.size - 1
    by_postings = np.searchsorted(ptr, np.arange(_BOUND_STEP, int(ptr[-1]), _BOUND_STEP))
    step = max(1, _BOUND_STEP // 16)
    by_blocks = np.searchsorted(bptr, np.arange(step, int(bptr[-1]), step))
    cuts = {*by_postings.tolist(), *by_blocks.tolist()}
    bounds = sorted({0, *(c for c in cuts if c < n_terms), n_terms})
    return itertools.pairwise(bounds)


def _fill_block_max(
    post: PostArray,
    shift: int,
    norm: npt.NDArray[np.float32],
    start: IntArray,
    end: PtrArray,
    out: npt.NDArray[np.float32],
) -> None:
    """``out[i]`` = max of ``tf / (tf + norm[d])`` over block i's postings, rounded up to
    float32 (a bound must not drop below the float64 value), a few blocks at a time."""
    n = start.size
    i = 0
    while i < n:
        lo = int(start[i])
        # blocks up to about _BOUND_STEP postings (at least one)
        j = max(i + 1, int(np.searchsorted(end, lo + _BOUND_STEP, side="right")))
        j = min(j, n)
        hi = int(end[j - 1])
        run = post[lo:hi]
        tf = post_tfs(run, shift).astype(np.float64)
        den = norm[post_docs(run, shift)].astype(np.float64)
        den += tf
        tf /= den
        m = np.maximum.reduceat(tf, start[i:j] - lo)
        m32 = m.astype(np.float32)
        low = m32.astype(np.float64) < m
        m32[low] = np.nextafter(m32[low], np.float32(np.inf))
        out[i:j] = m32
        i = j


def compute_blocks(
    ptr: PtrArray,
    post: PostArray,
    shift: int,
    norm: npt.NDArray[np.float32],
    block: int,
) -> tuple[PtrArray, npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
    """Per-term blocks of ``block`` postings: ``(bptr, blast, bmax)`` — block pointers, the
    last doc of each block and its bound (see ``_fill_block_max``); ``norm`` is per doc.

    Terms are taken a range at a time (``_term_ranges``): the per-block scratch (five int64
    arrays, ~13 MB for a segment of 15M postings) would otherwise sit on top of the finished
    segment, at the peak of a build."""
    n_blocks = np.diff(ptr).astype(np.int64)
    n_blocks += block - 1
    n_blocks //= block
    bptr = pointers(n_blocks)
    del n_blocks
    blast = np.empty(int(bptr[-1]), np.uint32)
    bmax = np.empty(blast.size, np.float32)
    for t0, t1 in _term_ranges(ptr, bptr):
        b0, b1 = int(bptr[t0]), int(bptr[t1])
        if b0 == b1:
            continue
        start, end = _block_ranges(ptr[t0 : t1 + 1], bptr[t0 : t1 + 1] - b0, block)
        end -= 1
        blast[b0:b1] = post_docs(post[end], shift)
        end += 1
        _fill_block_max(post, shift, norm, start, end, bmax[b0:b1])
    return bptr, blast, bmax


def term_max(bptr: PtrArray, bmax: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-term maximum of the block bounds (0 for terms without postings)."""
    out = np.zeros(bptr.size - 1, np.float32)
    has = bptr[1:] > bptr[:-1]
    if bmax.size:
        out[has] = np.maximum.reduceat(bmax, bptr[:-1][has])
    return out


__all__ = [
    "BLOCK_SIZE",
    "ChunkPostings",
    "PostArray",
    "PtrArray",
    "block_size",
    "chunk_postings",
    "compute_blocks",
    "doc_dtype",
    "merge_chunks",
    "new_postings",
    "pack",
    "pack_layout",
    "pointers",
    "post_docs",
    "post_tfs",
    "release_free_heap",
    "term_max",
    "tf_dtype",
    "token_runs",
]
