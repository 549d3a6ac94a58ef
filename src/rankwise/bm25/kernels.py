"""numba kernels: the three query algorithms (postings and block bounds: ``postings.py``).

Scoring conventions shared by every kernel (so all algorithms return bit-identical scores):
- a query term ``i`` (canonical order = ascending term id) has weight ``w[i] = n_i * idf * (k1+1)``;
- its contribution to document ``d`` is ``w[i] * tf / (tf + norm[d])`` in float64, with
  ``norm[d] = k1 * (1 - b + b * dl / avgdl)`` (float32 array);
- a document's score is the float64 sum of its contributions in canonical term order;
- ties are broken by the lower internal document number.
The top-k heap keeps the *worst* hit at the root; a candidate enters when it is better than the
root (higher score, or equal score and lower doc).

Kernels are compiled lazily on first use (``cache=True`` stores them next to this file, or
in numba's per-user cache folder when the install is read-only) and release the GIL. Queries run
in batches: one ``search_batch`` call per segment serves many queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba as nb
import numpy as np
from numba.core import types as nbtypes
from numba.extending import overload

from rankwise.bm25.split_postings import post_run, post_value, value_array

_F = TypeVar("_F", bound=Callable[..., Any])
_JIT: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "boundscheck": False}


def _jit(fn: _F) -> _F:
    return cast(_F, nb.njit(**_JIT)(fn))


# query kernels: a float division by zero gives inf instead of raising, so the division has no
# zero test and loops that divide can be vectorised (no query kernel divides by zero:
# tf + norm >= 1)
_QJIT: dict[str, Any] = {**_JIT, "error_model": "numpy"}


def _qjit(fn: _F) -> _F:
    return cast(_F, nb.njit(**_QJIT)(fn))


def _helper(fn: _F) -> _F:
    # compiled into each kernel that calls it (LLVM inlines the small ones); numba-IR inlining
    # (inline="always") made the first compilation several times slower, and no faster
    return cast(_F, nb.njit(nogil=True, boundscheck=False, error_model="numpy")(fn))


# Postings are read through ``split_postings.post_value``/``post_run``: compiled here for a
# packed array (an index read) and for a split segment's ``(lo, hi)`` arrays (two aligned
# loads, ``lo | hi << 16``), so each kernel compiles once per layout from one source.
_READ_OPTIONS: Any = {"boundscheck": False, "error_model": "numpy"}


def _is_split(post: Any) -> bool:
    return isinstance(post, nbtypes.BaseTuple)


@overload(post_value, jit_options=_READ_OPTIONS)
def _post_value(post: Any, i: Any) -> Any:
    # (also reads a run from post_run: a slice, or a pair of slices; the implementations'
    # parameters must match these, annotations included)
    def split_value(post: Any, i: Any) -> Any:  # pragma: no cover
        return np.uint32(np.uint32(post[0][i]) | (np.uint32(post[1][i]) << np.uint32(16)))

    def array_value(post: Any, i: Any) -> Any:  # pragma: no cover
        return post[i]

    return split_value if _is_split(post) else array_value


@overload(post_run, jit_options=_READ_OPTIONS)
def _post_run(post: Any, a: Any, b: Any) -> Any:
    def split_run(post: Any, a: Any, b: Any) -> Any:  # pragma: no cover
        return post[0][a:b], post[1][a:b]

    def array_run(post: Any, a: Any, b: Any) -> Any:  # pragma: no cover
        return post[a:b]

    return split_run if _is_split(post) else array_run


@_helper
def count_below(post: Any, a: int, b: int, f: Any) -> Any:  # pragma: no cover
    """How many of postings ``a..b-1`` are below ``f`` (a value of their value dtype), by a
    compare of each with no branch on the data (see ``_rescore``)."""
    run = post_run(post, a, b)
    cnt: Any = 0
    for j in range(b - a):
        cnt += post_value(run, j) < f
    return cnt


@_helper
def spread_tfs(
    post: Any, a: int, b: int, sh: Any, mk: Any, into: Any, lo: Any, track: bool
) -> Any:  # pragma: no cover
    """``into[doc - lo] = tf`` for postings ``a..b-1`` (its low 8 bits: ``into`` is uint8);
    with ``track``, returns the OR of their values (to tell whether a tf did not fit), else
    0. In ``_approx_scores``'s dense windows; a split segment's values are put together in
    the same loop (no pass decoding them first)."""
    run = post_run(post, a, b)
    seen = np.uint64(0)
    if not track:
        for j in range(b - a):  # unsigned indices: no test for negative ones
            x = post_value(run, j)
            into[np.uint64(x >> sh) - lo] = x & mk
    else:  # (a separate loop: tracking the bits in the other cost 1.1x)
        for j in range(b - a):
            x = post_value(run, j)
            into[np.uint64(x >> sh) - lo] = x & mk
            seen |= x
    return seen


@overload(value_array, jit_options=_READ_OPTIONS)
def _value_array(post: Any, n: Any) -> Any:
    def split_values(post: Any, n: Any) -> Any:  # pragma: no cover
        return np.empty(n, np.uint32)

    def array_values(post: Any, n: Any) -> Any:  # pragma: no cover
        return np.empty(n, post.dtype)

    return split_values if _is_split(post) else array_values


BLOCK_SIZE = 128
#: MaxScore windows span this many blocks' worth of documents
WINDOW_BLOCKS = 64
#: a non-essential term is scanned in a window when it has at most this many postings there
#: per candidate document, else probed per candidate
SCAN_RATIO = 8
#: MaxScore drops a window's hopeless documents first when the other terms would scan more
#: postings than 1/DROP_SHARE of the window's documents (measured at 1M documents: heavy
#: queries gain 12-20%, skip100 queries, whose other terms are rare, do not pay for the walk)
DROP_SHARE = 8
#: postings per run whose contributions the dense TAAT computes in one vectorised loop
DENSE_RUN = 256
#: documents per window of the dense TAAT's float32 pass (every query term adds into the
#: window's accumulators in turn; measured at 200k documents, heavy top-100: windows of 2^12
#: documents, which kept them in the first-level cache, took 1.4x the time of 2^16: longer
#: runs per term pay more than the cache level)
DENSE_WINDOW = 1 << 16
#: in that pass, a term with postings in at least 1/DENSE_TERM_SHARE of the documents is
#: scored for every document of a window (no gathers), a rarer one posting by posting
DENSE_TERM_SHARE = 8
#: the index keeps, per snapshot, the most frequent of those terms' ``tf / (tf + norm)`` and
#: ``tf`` for every document of a segment (``impact_table``): the float32 pass then adds ``w``
#: times the first row, with no spread of term frequencies and no division, and the float64
#: rescore reads the second instead of searching the term's blocks. A segment of at most
#: IMPACT_DOCS documents gets the rows once more than IMPACT_QUERIES queries were scored
#: densely there in the snapshot (building them costs about what they save that many queries:
#: 20k documents 0.6 ms, ~3 us a query; in a 1M-document index the first segment's hits bound
#: the other segments' queries, which then skip the dense path: rows there would only cost
#: memory), rows of at most 1/IMPACT_SHARE of the segment's postings' bytes (6 bytes a
#: document; 20k documents: 17 rows beside 4.1 MB of postings; there, heavy top-10 / top-100,
#: separate processes: without the tf rows 14.2 / 30.5 us a query, with them 13.0 / 27.5; the
#: dense kernel with a budget of 1/4: 10.1-10.8 us a dense query, 1/2: 9.3-9.5)
IMPACT_QUERIES = 256
IMPACT_DOCS = 1 << 18
IMPACT_SHARE = 2
#: documents per run the dense TAAT tests at once for candidates of the float32 pass
DENSE_CHUNK = 64
#: it reads only the groups whose maximum reaches the bound of the k-th score (strided
#: reads) while they hold at most 1/DENSE_GROUP_SHARE of the documents, else it scans them
#: all (in-process A/B, Intel Xeon, heavy top-100: 200k documents 197.7 -> 184.8 us a
#: query, 4096 groups of ~49; 20k unchanged, where ~110 groups of ~39 exceed the share;
#: shares 2 and 8 cost 20k 1-2.5%)
DENSE_GROUP_SHARE = 16
#: the dense TAAT scores in float32 first and rescores in float64 only the documents that may
#: be in the top k, for k up to DENSE_APPROX_K and while at most DENSE_CANDIDATES documents
#: remain; else it scores every document in float64
#: (in segments of at least DENSE_APPROX_DOCS documents per hit asked for: the float32 pass
#: saves time in proportion to the documents, the candidates cost it in proportion to k;
#: measured at 20k documents on an AMD EPYC, float32 first paid for k = 10 to 40 and broke
#: even at 100; at 200k it paid for k = 100; on an Intel Xeon with AVX-512 it paid at 20k for
#: k = 100 too, 40.0 -> 35.4 us a heavy query, so 2^7; these two are read by the caller at
#: each call, so tests can force each path)
DENSE_APPROX_K = 256
DENSE_APPROX_DOCS = 1 << 7
DENSE_CANDIDATES = 4096
#: the float32 pass takes query weights and document norms up to this (2^40): its products
#: (a pair of terms over one division, see ``_approx_scores``) then stay below 2^90, far from
#: float32's 2^128; a query or segment with a larger one is scored in float64 throughout
#: (only an extreme k1, or a query repeating a term ~10^11 times, gets there)
APPROX_MAX_VALUE = 2.0**40
#: the lower bound of the k-th score among n values is the k-th largest itself (an insertion
#: per value that enters the k largest) for k up to KTH_EXACT_K and n from k * KTH_EXACT_K to
#: KTH_EXACT_N, else found by halvings (k = 10: 512 values 0.66 -> 0.43 us, 4096 values 4.3 ->
#: 1.8 us; k = 32 among 512: 0.64 -> 1.04 us, hence the limits; in-process A/B at 200k
#: documents, top-10: heavy 1.01-1.04x, skip100 1.035x; 20k unchanged)
KTH_EXACT_K = 16
KTH_EXACT_N = 1 << 13
#: halvings of the search for TAAT's lower bound of the k-th score, and the most touched
#: documents the sparse TAAT computes it for
BOUND_STEPS = 12
BOUND_VALUES = 1 << 16
#: MaxScore's first bound of the k-th score comes from a term with at most this many postings;
#: for k <= BOUND_K, DAAT_MAXSCORE keeps to MaxScore for a query with a term of k to
#: 1/BOUND_SHARE of the segment's documents (measured at 20k documents on an AMD EPYC: top-10
#: MaxScore then beat dense scoring, top-100 did not), in segments of at least BOUND_MIN_DOCS
#: documents: below, dense scoring (float32 first) is the faster since it got cheaper
#: (in-process A/B on an Intel Xeon, heavy top-10, us a query, bounded MaxScore against dense:
#: 10k documents 14.7 / 11.6, 20k 20.4 / 18.8, 30k 24.5 / 24.8, 40k 29.2 / 32.8, 50k 33.1 /
#: 39.5, 200k 76.7 / 147.4; with the bound from 2^15 documents, 20k top-10 / 20 / 32: 20.6 ->
#: 19.0, 25.1 -> 21.1, 27.9 -> 22.6)
BOUND_POSTINGS = 1 << 13
BOUND_SHARE = 16
BOUND_K = 32
BOUND_MIN_DOCS = 1 << 15
#: a query whose postings in a segment number at least 1/DENSE_SHARE of its documents is
#: scored densely (TAAT); DAAT_MAXSCORE does so only in segments of at most DENSE_DOCS
#: documents (measured at 20k, 200k and 1M, whose segments hold up to 280k documents: dense
#: scoring beats its windows there, unless a term gives MaxScore a good first bound, see
#: BOUND_K), and only while the query's heap is not yet full: once earlier segments have
#: given it k hits, the heap's root is such a bound (1M, 4 segments, Intel Xeon: heavy
#: top-100 1,032 -> 669 us a query, top-10 346 -> 308; every segment dense or every segment
#: MaxScore were both slower). An eighth rather than a quarter since the dense path got
#: cheaper (in-process A/B on the Intel Xeon, heavy queries, us a query: 20k top-10 18.7 ->
#: 17.9, 200k top-100 175.5 -> 169.5; TAAT_NAIVE 200k top-10 166.9 -> 150.4, top-100 189.7
#: -> 175.5; skip100 and 1M unchanged; a sixteenth or a 32nd: no better)
DENSE_SHARE = 8
DENSE_DOCS = 1 << 20
#: DAAT_MAXSCORE scores a query with at most this many postings in a segment of at most
#: SPARSE_DOCS documents term at a time: cheaper than setting up its windows (these and
#: DENSE_DOCS are read by the caller at each call, so tests can force each path)
SPARSE_POSTINGS = 1 << 14
SPARSE_DOCS = 1 << 20
#: a top-k of RANK_SORT_MIN to RANK_SORT_MAX hits is put best first by counting each hit's
#: place rather than by sorting its heap (in-process A/B, Intel Xeon, heavy queries: 20k
#: documents top-40 25.3 -> 24.6 us, top-100 35.8 -> 34.5; 200k top-100 188.4 -> 183.3;
#: at top-10 the counting's two scratch copies cost more than the heap's short sifts, at
#: top-250 its k^2 compares do: 20k 59.1 -> 60.6 us)
RANK_SORT_MIN = 32
RANK_SORT_MAX = 128
# lowest set bit of a 64-bit word -> its index (de Bruijn multiplication)
_DEBRUIJN = 0x03F79D71B4CB0A89
_DEBRUIJN_INDEX = np.zeros(64, np.int64)
for _i in range(64):
    _DEBRUIJN_INDEX[(((1 << _i) * _DEBRUIJN) % (1 << 64)) >> 58] = _i
if sorted(_DEBRUIJN_INDEX.tolist()) != list(range(64)):  # pragma: no cover
    raise RuntimeError("bad de Bruijn constant")
_NO_DOC: Any = np.iinfo(np.int64).max
#: the largest term frequency the dense TAAT's window scratch holds (uint8: a quarter of the
#: traffic of float32 in its loop over every document; measured at 200k documents, heavy
#: top-100 took 1.1x the time with float32); a power of two less one (see _approx_scores)
_TFW_MAX = np.uint64(255)


# postings construction and block bounds are built in NumPy: see postings.py


# --------------------------------------------------------------------------- top-k heap


@_helper
def _better(s1: float, d1: int, s2: float, d2: int) -> bool:  # pragma: no cover
    return s1 > s2 or (s1 == s2 and d1 < d2)


@_helper
def _sift_down(hs: Any, hd: Any, size: int, i: int) -> None:  # pragma: no cover
    # root holds the worst hit: a parent is never better than its children
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        worst = left
        right = left + 1
        if right < size and _better(hs[worst], hd[worst], hs[right], hd[right]):
            worst = right
        if _better(hs[i], hd[i], hs[worst], hd[worst]):
            hs[i], hs[worst] = hs[worst], hs[i]
            hd[i], hd[worst] = hd[worst], hd[i]
            i = worst
        else:
            break


@_helper
def _heap_push(hs: Any, hd: Any, size: int, k: int, s: float, d: int) -> int:  # pragma: no cover
    """Offer hit (s, d); returns the new heap size."""
    if size < k:
        i = size
        hs[i] = s
        hd[i] = d
        size += 1
        while i > 0:
            parent = (i - 1) // 2
            if _better(hs[parent], hd[parent], hs[i], hd[i]):
                hs[i], hs[parent] = hs[parent], hs[i]
                hd[i], hd[parent] = hd[parent], hd[i]
                i = parent
            else:
                break
        return size
    if _better(s, d, hs[0], hd[0]):
        hs[0] = s
        hd[0] = d
        _sift_down(hs, hd, size, 0)
    return size


@_helper
def _sort_heap(hs: Any, hd: Any, size: int) -> None:  # pragma: no cover
    """Turn the heap ``hs[:size]``/``hd[:size]`` into its hits best first, in place (the
    worst hit is at the root: swap it to the back, repeatedly). The sift is written out
    rather than calling ``_sift_down``: each compiled call taking arrays pays atomic
    reference-count updates, a visible cost at k = 100.

    From RANK_SORT_MIN to RANK_SORT_MAX hits, each hit's place is instead counted (how many
    hits are better), with no branch on the data: a heap sort's sifts mispredict about once
    a level, k log k times, which at k = 100 cost ~3.5 us a query (a tenth of a 20k-document
    heavy top-100 query); the count is k^2 compares, vectorised."""
    if RANK_SORT_MIN <= size <= RANK_SORT_MAX:
        ts = hs[:size].copy()
        td = hd[:size].copy()
        for i in range(size):
            si = ts[i]
            di = td[i]
            r = 0
            for j in range(size):  # _better(ts[j], td[j], si, di), without branches
                r += (ts[j] > si) | ((ts[j] == si) & (td[j] < di))
            hs[r] = si
            hd[r] = di
        return
    n = size
    while n > 1:
        n -= 1
        s = hs[n]
        d = hd[n]
        hs[n] = hs[0]
        hd[n] = hd[0]
        i = 0
        while True:  # sift (s, d) down from the root of hs[:n]
            left = 2 * i + 1
            if left >= n:
                break
            worst = left
            right = left + 1
            if right < n and _better(hs[left], hd[left], hs[right], hd[right]):
                worst = right
            if _better(s, d, hs[worst], hd[worst]):
                hs[i] = hs[worst]
                hd[i] = hd[worst]
                i = worst
            else:
                break
        hs[i] = s
        hd[i] = d


@_helper
def _stable_order(values: Any, m: int, order: Any) -> None:  # pragma: no cover
    """Indices of ``values[:m]`` in ascending order into ``order[:m]``, ties kept in index
    order (m is tiny: the number of query terms)."""
    for a in range(m):
        x = values[a]
        j = a - 1
        while j >= 0 and values[order[j]] > x:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = a


# --------------------------------------------------------------------------- TAAT
# The heap insertion is written out in each loop that offers documents: a compiled helper
# taking the heap arrays pays atomic reference-count updates per call (see _sort_heap), which
# at one call per touched document made TAAT_NAIVE eight times slower.


@_helper
def _kth_bound(vbits: Any, n: int, k: int) -> Any:  # pragma: no cover
    """Bits of a value (within BOUND_STEPS halvings of the largest) that at least k of the
    non-negative float64 values whose bits are ``vbits[:n]`` reach (0 when fewer than k are
    positive). Compared as integers, such bits order as the values do, in loops the compiler
    vectorises. For k up to KTH_EXACT_K among k * KTH_EXACT_K to KTH_EXACT_N values, the k-th
    largest itself (the highest such value), kept by insertion: one compare per value, about
    k log(n / k) insertions."""
    if k <= KTH_EXACT_K and k * KTH_EXACT_K <= n <= KTH_EXACT_N:
        best = np.empty(k, np.int64)  # the largest so far, descending
        have = 0
        floor = np.int64(-1)  # what a value must beat to enter, once ``best`` is full
        for j in range(n):
            v = vbits[j]
            if v <= floor:
                continue
            i = have if have < k else k - 1
            while i > 0 and best[i - 1] < v:
                best[i] = best[i - 1]
                i -= 1
            best[i] = v
            if have < k:
                have += 1
            if have == k:
                floor = best[k - 1]
        return best[k - 1] if have == k else np.int64(0)
    top = np.int64(0)
    for j in range(n):
        if vbits[j] > top:
            top = vbits[j]
    lo_v = 0.0
    hi_v = np.int64(top).view(np.float64)
    for _ in range(BOUND_STEPS):
        mid = 0.5 * (lo_v + hi_v)
        mid_bits = np.float64(mid).view(np.int64)
        cnt = 0
        for j in range(n):
            cnt += vbits[j] >= mid_bits
        if cnt >= k:
            lo_v = mid
        else:
            hi_v = mid
    return np.float64(lo_v).view(np.int64)


@_helper
def _taat(
    starts: Any,
    ends: Any,
    weights: Any,
    post: Any,
    sh: Any,
    mk: Any,
    norm: Any,
    alive: Any,
    check_alive: bool,
    acc: Any,
    touched: Any,
    vals: Any,
    base: int,
    hs: Any,
    hd: Any,
    size: int,
    k: int,
) -> int:  # pragma: no cover
    """Exhaustive term-at-a-time scoring of one segment into the heap, for queries touching a
    small part of it; returns the heap size.

    ``acc`` (float64) and ``touched`` (int64) are scratch arrays at least as long as the
    segment; ``acc`` must be all zero on entry and is left all zero. ``check_alive=False``
    promises every document is alive. When more than k documents are touched, and no more
    than ``vals`` (float64 scratch) holds, their scores are copied there to find a lower
    bound of the k-th score first (see _kth_bound): only the documents reaching it are
    offered, so few are inserted into the heap only to be pushed out again.
    """
    n_touched = 0
    for i in range(starts.size):
        w = weights[i]
        for p in range(starts[i], ends[i]):
            x = post_value(post, p)
            d = np.int64(x >> sh)
            tf = np.float64(x & mk)
            c = w * tf / (tf + np.float64(norm[d]))
            if acc[d] == 0.0:
                touched[n_touched] = d
                n_touched += 1
            acc[d] += c
    tb = np.int64(0)
    if k < n_touched <= vals.size:
        for j in range(n_touched):
            d = touched[j]
            vals[j] = acc[d] if not check_alive or alive[d] else 0.0
        tb = _kth_bound(vals.view(np.int64), n_touched, k)
    if size == k:
        root = np.float64(hs[0]).view(np.int64)
        if root > tb:
            tb = root
    bits = acc.view(np.int64)
    for j in range(n_touched):
        d = touched[j]
        if bits[d] < tb:
            acc[d] = 0.0
            continue
        s = acc[d]
        acc[d] = 0.0
        if check_alive and not alive[d]:
            continue
        dg = d + base
        if size < k:  # heap insertion, written out
            h = size
            size += 1
            while h > 0:  # sift up while the parent is better
                par = (h - 1) >> 1
                if _better(hs[par], hd[par], s, dg):
                    hs[h] = hs[par]
                    hd[h] = hd[par]
                    h = par
                else:
                    break
            hs[h] = s
            hd[h] = dg
        elif _better(s, dg, hs[0], hd[0]):
            h = 0
            while True:  # replace the root, sift down past worse children
                left = 2 * h + 1
                if left >= size:
                    break
                worst = left
                if left + 1 < size and _better(hs[left], hd[left], hs[left + 1],
                                               hd[left + 1]):  # fmt: skip
                    worst = left + 1
                if _better(s, dg, hs[worst], hd[worst]):
                    hs[h] = hs[worst]
                    hd[h] = hd[worst]
                    h = worst
                else:
                    break
            hs[h] = s
            hd[h] = dg
        else:
            continue
        if size == k:
            root = np.float64(hs[0]).view(np.int64)
            if root > tb:
                tb = root
    return size


@_helper
def _dense_groups(n_docs: int) -> int:  # pragma: no cover
    """Number of groups ``_taat_dense`` offers a segment of ``n_docs`` documents in (document
    d in group ``d % n_groups``): a power of two from 256 to 8192, about n_docs / 16."""
    g = 256
    while g < 8192 and g * 32 <= n_docs:
        g *= 2
    return g


@_helper
def _window_end(post: Any, sh: Any, p: int, e: int, hi: int, width: int) -> int:  # pragma: no cover
    """First posting in ``p..e`` whose document is at least ``hi``, knowing that at most
    ``width`` postings from ``p`` on fall below it (one per document of the window)."""
    b = min(e, p + width)
    if b == e and (b == p or np.int64(post_value(post, b - 1) >> sh) < hi):
        return e
    a = p
    while a < b:
        mid = (a + b) >> 1
        if np.int64(post_value(post, mid) >> sh) < hi:
            a = mid + 1
        else:
            b = mid
    return a


@_helper
def _group_max32(bits: Any, lo: int, hi: int, gmax: Any) -> None:  # pragma: no cover
    """Raise ``gmax[d % gmax.size]`` to ``bits[d]`` for the documents d in ``lo..hi``
    (``gmax.size`` a power of two), in runs of consecutive groups the compiler vectorises."""
    n_groups = gmax.size
    d = lo
    while d < hi:
        g0 = d & (n_groups - 1)
        cnt = min(hi - d, n_groups - g0)
        row = bits[d : d + cnt]
        gm = gmax[g0 : g0 + cnt]
        for j in range(cnt):
            v = row[j]
            if v > gm[j]:
                gm[j] = v
        d += cnt


@_helper
def _approx_scores(
    starts: Any,
    ends: Any,
    weights: Any,
    terms: Any,
    islot: Any,
    imp: Any,
    post: Any,
    sh: Any,
    mk: Any,
    norm: Any,
    alive: Any,
    check_alive: bool,
    acc32: Any,
    tfw: Any,
    buf32: Any,
    cur: Any,
    gmax32: Any,
) -> None:  # pragma: no cover
    """Float32 scores of the segment's documents into ``acc32[:n_docs]`` (0 for dead ones when
    ``check_alive``) and their group maxima, as int32 bits, into ``gmax32``.

    The segment is scored in windows of ``tfw.size // 2`` documents (``DENSE_WINDOW``, or
    the whole of a smaller segment: see ``_dense_work``), each query term in turn
    adding into the window's accumulators. A term with postings in at least
    1/DENSE_TERM_SHARE of the documents has its term frequencies spread into ``tfw`` (two
    windows long, zero on entry and exit) and its contributions computed for every document
    of the window by a vectorised loop, two such terms per loop (no gathers: a contribution
    where tf = 0 is 0; the float32 sum's order is free, its error bound does not depend on
    it); a rarer term's postings run by run: norms gathered, contributions computed by a
    vectorised loop into ``buf32``, then added at their documents. So is a frequent term
    with a tf above ``_TFW_MAX`` in the window (``tfw`` is uint8): its spread is undone.

    A pair of frequent terms costs one division per document, not two: ``wa * ta / da +
    wb * tb / db`` as ``(wa * ta * db + wb * tb * da) / (da * db)`` (at 200k documents, heavy
    top-100: 193.8 -> 190.8 us a query, in one process). Weights and norms at most
    ``APPROX_MAX_VALUE`` keep these products finite and normal; ``_approx_error`` bounds the
    roundings.

    A term with a row in ``imp`` (``islot[term]``: see ``impact_table``) adds ``w`` times that
    row, its postings unread: 3 roundings (the row's value, the weight, the product)."""
    n = norm.size
    half = tfw.size // 2  # documents per window; the second term's frequencies start there
    run = DENSE_RUN
    contrib = buf32[:run]
    gathered = buf32[run : 2 * run]
    bits = acc32.view(np.int32)
    # a document without the term has tf = 0 and tf / (tf + norm) = 0, but 0 / 0 is NaN where
    # norm = 0 (k1 = 0, or b = 1 and an empty document): the divisor is kept at least 1, which
    # leaves it unchanged for the documents with the term (tf >= 1)
    one = np.float32(1.0)
    gmax32[:] = 0
    for i in range(starts.size):
        cur[i] = starts[i]
    for lo in range(0, n, half):
        hi = min(lo + half, n)
        span = hi - lo
        aw = acc32[lo:hi]
        nw = norm[lo:hi]
        # the terms whose impacts are kept first, a multiply(-add) per document each: the
        # first one sets the window's sums (no zeroing pass: 20k documents, 2.1 of 7.7 us)
        fresh = True
        for i in range(starts.size):
            t = terms[i]
            if t < islot.size and islot[t] >= 0:
                w = np.float32(weights[i])
                row = imp[islot[t], lo:hi]
                if fresh:
                    for j in range(span):
                        aw[j] = w * row[j]
                    fresh = False
                else:
                    for j in range(span):
                        aw[j] += w * row[j]
        if fresh:
            aw[:] = 0.0
        tfa = tfw[:span]
        tfb = tfw[half : half + span]
        pend = -1  # a frequent term whose term frequencies wait in tfa for a second one
        for i in range(starts.size):
            w = np.float32(weights[i])
            t = terms[i]
            if t < islot.size and islot[t] >= 0:  # added above
                continue
            p = cur[i]
            e = ends[i]
            b = _window_end(post, sh, p, e, hi, span)
            if (e - starts[i]) * DENSE_TERM_SHARE >= n:
                ulo = np.uint64(lo)
                into = tfa if pend < 0 else tfb
                # the bits of its tfs where they may not fit in 8 (every segment's fit: see
                # postings.pack_layout), else 0
                seen = spread_tfs(post, p, b, sh, mk, into, ulo, mk > _TFW_MAX)
                if (seen & mk) > _TFW_MAX:  # a tf ``tfw`` cannot hold: undone, taken run by run
                    for c in range(p, b):
                        into[np.uint64(post_value(post, c) >> sh) - ulo] = 0
                elif pend < 0:
                    pend = i
                    p = b
                else:  # two terms per pass over the window (the sum's order is free here)
                    wa = np.float32(weights[pend])
                    for j in range(span):
                        ta = np.float32(tfa[j])
                        tb = np.float32(tfb[j])
                        nj = nw[j]
                        da = max(ta + nj, one)
                        db = max(tb + nj, one)
                        aw[j] += (wa * ta * db + w * tb * da) / (da * db)
                        tfa[j] = 0
                        tfb[j] = 0
                    pend = -1
                    p = b
            while p < b:
                r = min(run, b - p)
                pr = post_run(post, p, p + r)
                for j in range(r):
                    gathered[j] = norm[post_value(pr, j) >> sh]
                for j in range(r):
                    tf = np.float32(np.uint32(post_value(pr, j) & mk))  # 16 per zmm
                    contrib[j] = w * tf / (tf + gathered[j])
                for j in range(r):
                    acc32[post_value(pr, j) >> sh] += contrib[j]
                p += r
            cur[i] = p
        if pend >= 0:
            wa = np.float32(weights[pend])
            for j in range(span):
                ta = np.float32(tfa[j])
                aw[j] += wa * ta / max(ta + nw[j], one)
                tfa[j] = 0
        if check_alive:
            live = alive[lo:hi]
            for j in range(span):
                if not live[j]:
                    aw[j] = 0.0
        _group_max32(bits, lo, hi, gmax32)


@_helper
def _approx_error(m: int) -> float:  # pragma: no cover
    """Bound of ``|s32 - s64| / s64`` for a document of a query with m terms: ``s32`` its
    float32 score (``_approx_scores``), ``s64`` its float64 one. With u = 2^-24 and every
    value non-negative (relative errors of products and quotients add, a sum's is at most its
    largest term's plus one rounding): a single float32 contribution carries at most 4
    roundings (the weight, the product, the sum tf + norm, the quotient: tf and norm are
    exact); a pair of terms over one division at most 9 (numerator: on each side the
    weight, its product by tf, the other term's tf + norm, the product by it, then their
    sum: 5; denominator: the two sums tf + norm and their product: 3; the quotient: 1);
    the float32 sum of at most m such parts m - 1 more: (m + 8) u to first order; the
    float64 score about (m + 1) * 2^-53 more. (m + 8) * 2^-23 is twice the first-order
    term: it covers the rest with room."""
    return (m + 8) * 2.0**-23


@_helper
def _rescore(
    cand: Any,
    nc: int,
    starts: Any,
    ends: Any,
    bstarts: Any,
    bends: Any,
    weights: Any,
    terms: Any,
    islot: Any,
    itf: Any,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    block: int,
    norm: Any,
    out: Any,
    pos: Any,
) -> None:  # pragma: no cover
    """Float64 scores of the documents ``cand[:nc]`` (ascending) into ``out[:nc]``: the same
    contributions summed in the same term order as the exact dense loop, so the same bits.
    Term by term, a walk of the term's block ends (``blast``) first finds each candidate's
    block (``pos``: int64 scratch of ``nc``); then the candidate's place in its block is
    counted by a vectorised compare of the whole block, with no branch on the data, so the
    lookups of successive candidates overlap instead of waiting on each other's loads. A term
    with a row of term frequencies in ``itf`` (``islot[term]``, see ``impact_table``) reads
    each candidate's there instead (its longest posting lists: no walk of their blocks)."""
    for c in range(nc):
        out[c] = 0.0
    # a candidate's postings are those from ``d << sh``: its place in a block is the count of
    # smaller packed values, compared in the postings' own width (a value read from an array
    # of their dtype: numba widens both sides alike, which the compiler narrows back)
    first = value_array(post, 1)
    for i in range(starts.size):
        w = weights[i]
        t = terms[i]
        if t < islot.size and islot[t] >= 0:  # the same contribution, from the kept tf
            tfs = itf[islot[t]]
            for c in range(nc):
                d = cand[c]
                tf = np.float64(tfs[d])
                x = w * tf / (tf + np.float64(norm[d]))
                out[c] += x if tf > 0.0 else 0.0
            continue
        ts = starts[i]
        te = ends[i]
        bs = bstarts[i]
        be = bends[i]
        b = bs
        n_in = nc
        for c in range(nc):
            d = cand[c]
            while b < be and np.int64(blast[b]) < d:
                b += 1
            if b == be:
                n_in = c
                break
            pos[c] = ts + (b - bs) * block
        for c in range(n_in):
            d = cand[c]
            lo = pos[c]
            hi = min(lo + block, te)
            first[0] = np.uint64(d) << np.uint64(sh)
            cnt = count_below(post, lo, hi, first[0])
            p = min(lo + cnt, hi - 1)  # d's posting if it has one (d <= the block's last doc)
            y = post_value(post, p)
            tf = np.float64(y & mk)
            x = w * tf / (tf + np.float64(norm[d]))
            # adding 0.0 leaves a sum of non-negative contributions unchanged, to the bit
            out[c] += x if np.int64(y >> sh) == d else 0.0


@_helper
def _exact_scores(
    starts: Any, ends: Any, weights: Any, post: Any, sh: Any, mk: Any, norm: Any, acc: Any,
    buf: Any,
) -> None:  # fmt: skip  # pragma: no cover
    """Float64 scores of the segment's documents into ``acc[:n_docs]`` (any content on entry):
    each run of ``DENSE_RUN`` postings of a term has its norms gathered and its contributions
    computed by a vectorised loop into ``buf``, then added at their documents. (Runs are slices:
    indexing by ``p + j`` made numba check for negative indices, which kept every loop scalar.)"""
    n = norm.size
    run = DENSE_RUN
    contrib = buf[:run]
    gathered = buf[run : 2 * run]
    acc[:n] = 0.0
    for i in range(starts.size):
        w = weights[i]
        p = starts[i]
        e = ends[i]
        while p < e:
            r = min(run, e - p)
            pr = post_run(post, p, p + r)
            for j in range(r):
                gathered[j] = norm[post_value(pr, j) >> sh]
            for j in range(r):
                tf = np.float64(np.uint32(post_value(pr, j) & mk))  # (see _approx_scores)
                contrib[j] = w * tf / (tf + gathered[j])
            for j in range(r):
                acc[post_value(pr, j) >> sh] += contrib[j]
            p += r


@_helper
def _dense_work(n_docs: int, longest: int, candidates: int) -> Any:  # pragma: no cover
    """Scratch arrays of ``_taat_dense`` for a segment of ``n_docs`` documents and queries of
    up to ``longest`` terms, the float32 pass leaving at most ``candidates`` documents (0: no
    float32 pass): (float64 runs and candidate scores, int64 group maxima, candidates, their
    blocks and cursors, float32 runs, int32 group maxima, term frequencies of a window: uint8,
    as the tfs of almost every segment were before they were packed; see ``_approx_scores``)."""
    n_groups = _dense_groups(n_docs)
    fbuf = np.empty(2 * DENSE_RUN + candidates, np.float64)
    ibuf = np.empty(n_groups + 2 * candidates + longest, np.int64)
    buf32 = np.empty(2 * DENSE_RUN, np.float32)
    gmax32 = np.empty(n_groups, np.int32)
    tfw = np.zeros(2 * min(DENSE_WINDOW, n_docs), np.uint8)
    return fbuf, ibuf, buf32, gmax32, tfw


@_helper
def _no_dense_work() -> Any:  # pragma: no cover
    """Empty stand-in for ``_dense_work`` until a query takes the dense path."""
    return (
        np.empty(0, np.float64), np.empty(0, np.int64), np.empty(0, np.float32),
        np.empty(0, np.int32), np.zeros(0, np.uint8),
    )  # fmt: skip


@_helper
def _candidates(bits: Any, n: int, t: Any, cand: Any) -> int:  # pragma: no cover
    """Documents d < n with ``bits[d] >= t`` ascending into ``cand`` (as many as it holds);
    returns how many there are. Runs of DENSE_CHUNK documents are tested by a vectorised
    count first (contiguous, unsigned indices), and only runs with a hit are walked."""
    nc = 0
    cap = cand.size
    chunk = DENSE_CHUNK
    full = n - n % chunk
    for lo in range(0, full, chunk):
        ulo = np.uint64(lo)
        hit = 0
        for j in range(chunk):
            hit += bits[ulo + np.uint64(j)] >= t
        if hit == 0:
            continue
        for d in range(lo, lo + chunk):
            if bits[d] >= t:
                if nc < cap:
                    cand[nc] = d
                nc += 1
    for d in range(full, n):
        if bits[d] >= t:
            if nc < cap:
                cand[nc] = d
            nc += 1
    return nc


@_helper
def _group_candidates(bits: Any, n: int, t: Any, gmax: Any, cand: Any) -> int:  # pragma: no cover
    """``_candidates`` read through the group maxima ``gmax`` (document d in group
    ``d % gmax.size``): only the groups that reach ``t`` are walked, then the documents found
    are sorted. Returns -1, having done nothing, when those groups hold more than
    1/DENSE_GROUP_SHARE of the documents: a scan of every document is cheaper then."""
    n_groups = gmax.size
    hit = 0
    for g in range(n_groups):
        hit += gmax[g] >= t
    if hit * ((n + n_groups - 1) // n_groups) * DENSE_GROUP_SHARE > n:
        return -1
    nc = 0
    cap = cand.size
    for g in range(n_groups):
        if gmax[g] < t:
            continue
        for d in range(g, n, n_groups):
            if bits[d] >= t:
                if nc < cap:
                    cand[nc] = d
                nc += 1
    if nc <= cap:
        cand[:nc].sort()
    return nc


@_helper
def _taat_dense(
    starts: Any,
    ends: Any,
    bstarts: Any,
    bends: Any,
    weights: Any,
    terms: Any,
    islot: Any,
    imp: Any,
    itf: Any,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    block: int,
    norm: Any,
    alive: Any,
    check_alive: bool,
    acc: Any,
    work: Any,
    base: int,
    hs: Any,
    hd: Any,
    size: int,
    k: int,
) -> int:  # pragma: no cover
    """``_taat`` for queries whose postings cover a large part of the segment; returns the
    heap size. Leaves ``acc[:n_docs]`` (float64 scratch at least as long as the segment, any
    content on entry) dirty: the caller zeroes it before other uses. ``work`` comes from
    ``_dense_work``.

    For k up to DENSE_APPROX_K every document is first scored in float32 (``_approx_scores``,
    into the bytes of ``acc``), which bounds its float64 score within ``_approx_error``. Group
    maxima give a value that k documents reach (a value that k group maxima reach is reached by
    k documents: see _kth_bound), so a lower bound of the k-th float64 score (the heap's root
    too, once full); only documents whose float32 score, widened by the error, reaches it can
    be in the top k. Those candidates (about k, unless many tie; found by walking the groups
    whose maximum reaches the bound, ``_group_candidates``, or by a scan of every document,
    ``_candidates``, where those groups hold many) are rescored exactly in float64
    (``_rescore``, in document order) and offered to the heap.
    When more than ``work`` has room for remain (DENSE_CANDIDATES), or k is larger, or
    ``work`` has no room (a small segment), the query is scored exactly in float64 throughout
    (``_exact_scores``) and offered the same way by groups. Scores are non-negative: compared
    as the integers of their bits they order the same way, which is what the vectorised loops
    compare.
    """
    n = norm.size
    m = starts.size
    fbuf, ibuf, buf32, gmax32, tfw = work
    n_groups = gmax32.size
    gmax = ibuf[:n_groups]
    cap = fbuf.size - 2 * DENSE_RUN  # most candidates (0: no float32 pass)
    if cap > 0 and k <= DENSE_APPROX_K and weights.max() <= APPROX_MAX_VALUE:
        cand = ibuf[n_groups : n_groups + cap]
        cur = ibuf[n_groups + 2 * cap : n_groups + 2 * cap + m]
        acc32 = acc[: (n + 1) // 2].view(np.float32)
        _approx_scores(
            starts, ends, weights, terms, islot, imp, post, sh, mk, norm, alive, check_alive,
            acc32, tfw, buf32, cur, gmax32,
        )  # fmt: skip
        gmax32f = gmax32.view(np.float32)
        for g in range(n_groups):  # float32 -> float64 is exact and keeps the order
            gmax[g] = np.float64(gmax32f[g]).view(np.int64)
        eps = _approx_error(m)
        reached = np.int64(_kth_bound(gmax, n_groups, k)).view(np.float64)
        low = reached * (1.0 - eps)  # at least k documents score this much in float64
        if size == k and hs[0] > low:
            low = hs[0]
        # float32 scores of the documents that may reach ``low`` (rounded down)
        t32 = np.float32(low * (1.0 - eps) * (1.0 - 2.0**-22)).view(np.int32)
        if t32 < 1:
            t32 = np.int32(1)  # score 0: not touched (or dead)
        nc = _group_candidates(acc32.view(np.int32), n, t32, gmax32, cand)
        if nc < 0:
            nc = _candidates(acc32.view(np.int32), n, t32, cand)
        if nc <= cap:
            chosen = cand[:nc]
            scores = fbuf[2 * DENSE_RUN : 2 * DENSE_RUN + nc]
            _rescore(
                chosen, nc, starts, ends, bstarts, bends, weights, terms, islot, itf, post, sh, mk,
                blast, block, norm, scores, ibuf[n_groups + cap : n_groups + 2 * cap],
            )  # fmt: skip
            for c in range(nc):
                s = scores[c]
                dg = chosen[c] + base
                if size < k:  # heap insertion, written out
                    h = size
                    size += 1
                    while h > 0:  # sift up while the parent is better
                        par = (h - 1) >> 1
                        if _better(hs[par], hd[par], s, dg):
                            hs[h] = hs[par]
                            hd[h] = hd[par]
                            h = par
                        else:
                            break
                    hs[h] = s
                    hd[h] = dg
                elif _better(s, dg, hs[0], hd[0]):
                    h = 0
                    while True:  # replace the root, sift down past worse children
                        left = 2 * h + 1
                        if left >= size:
                            break
                        worst = left
                        if left + 1 < size and _better(hs[left], hd[left], hs[left + 1],
                                                       hd[left + 1]):  # fmt: skip
                            worst = left + 1
                        if _better(s, dg, hs[worst], hd[worst]):
                            hs[h] = hs[worst]
                            hd[h] = hd[worst]
                            h = worst
                        else:
                            break
                    hs[h] = s
                    hd[h] = dg
            return size
    _exact_scores(starts, ends, weights, post, sh, mk, norm, acc, fbuf)
    bits = acc.view(np.int64)
    gmax[:] = 0
    rows = n // n_groups
    for row in range(rows):
        off = row * n_groups
        for g in range(n_groups):
            v = bits[off + g]
            if v > gmax[g]:
                gmax[g] = v
    off = rows * n_groups
    for g in range(n - off):
        v = bits[off + g]
        if v > gmax[g]:
            gmax[g] = v
    # a value that k group maxima reach is reached by k documents (none counts when some
    # documents are dead)
    tb = _kth_bound(gmax, n_groups, k) if not check_alive else np.int64(0)
    if size == k:
        root = np.float64(hs[0]).view(np.int64)
        if root > tb:
            tb = root
    if tb < 1:
        tb = np.int64(1)  # score 0: not touched
    for g in range(n_groups):
        if gmax[g] < tb:
            continue
        for d in range(g, n, n_groups):
            if bits[d] < tb:
                continue
            if check_alive and not alive[d]:
                continue
            s = acc[d]
            dg = d + base
            if size < k:  # heap insertion, written out
                h = size
                size += 1
                while h > 0:  # sift up while the parent is better
                    par = (h - 1) >> 1
                    if _better(hs[par], hd[par], s, dg):
                        hs[h] = hs[par]
                        hd[h] = hd[par]
                        h = par
                    else:
                        break
                hs[h] = s
                hd[h] = dg
            elif _better(s, dg, hs[0], hd[0]):
                h = 0
                while True:  # replace the root, sift down past worse children
                    left = 2 * h + 1
                    if left >= size:
                        break
                    worst = left
                    if left + 1 < size and _better(hs[left], hd[left], hs[left + 1],
                                                   hd[left + 1]):  # fmt: skip
                        worst = left + 1
                    if _better(s, dg, hs[worst], hd[worst]):
                        hs[h] = hs[worst]
                        hd[h] = hd[worst]
                        h = worst
                    else:
                        break
                hs[h] = s
                hd[h] = dg
            else:
                continue
            if size == k:
                root = np.float64(hs[0]).view(np.int64)
                if root > tb:
                    tb = root
    return size


# --------------------------------------------------------------------------- DAAT helpers


@_helper
def _seek(
    post: Any,
    sh: Any,
    blast: Any,
    c: int,
    b: int,
    ts: int,
    te: int,
    bs: int,
    be: int,
    target: int,
    block: int,
) -> tuple[int, int]:  # pragma: no cover
    """(posting, block) of a cursor at posting ``c`` in block ``b`` of a term with postings
    ``ts..te`` and blocks ``bs..be``, moved to its first posting with doc >= target (or to its
    end). Cursors are passed as numbers: a helper taking the cursor arrays paid atomic
    reference counts on each of them per call, a visible cost at one call per term and window."""
    if c >= te:
        return c, b
    if np.int64(post_value(post, c) >> sh) >= target:
        return c, b
    while b < be and np.int64(blast[b]) < target:
        b += 1
    if b == be:
        return te, b
    lo = ts + (b - bs) * block
    hi = min(ts + (b - bs + 1) * block, te)
    if lo < c:
        # the cursor is inside the target block: gallop forward from it (docs[c] < target)
        lo = c + 1
        step = 1
        while lo + step < hi and np.int64(post_value(post, lo + step - 1) >> sh) < target:
            lo += step
            step *= 2
        if lo + step < hi:
            hi = lo + step
    # first position in [lo, hi) with docs >= target; it exists since blast[b] >= target
    while lo < hi:
        mid = (lo + hi) >> 1
        if np.int64(post_value(post, mid) >> sh) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo, b


# --------------------------------------------------------------------------- MaxScore


@_helper
def _count_bits(bits: Any, n_words: int) -> int:  # pragma: no cover
    """Set bits in ``bits[:n_words]`` (SWAR popcount)."""
    total = 0
    m1 = np.uint64(0x5555555555555555)
    m2 = np.uint64(0x3333333333333333)
    m4 = np.uint64(0x0F0F0F0F0F0F0F0F)
    h01 = np.uint64(0x0101010101010101)
    for wi in range(n_words):
        x = bits[wi]
        x = x - ((x >> np.uint64(1)) & m1)
        x = (x & m2) + ((x >> np.uint64(2)) & m2)
        x = (x + (x >> np.uint64(4))) & m4
        total += int((x * h01) >> np.uint64(56))
    return total


@_helper
def _drop_hopeless(
    win: Any, bits: Any, n_words: int, rest: float, theta: float
) -> int:  # pragma: no cover
    """Clear the window documents of ``bits[:n_words]`` whose partial score ``win[j]`` plus
    ``rest`` does not exceed ``theta`` (their ``win`` slot zeroed too); returns how many
    remain."""
    one = np.uint64(1)
    magic = np.uint64(_DEBRUIJN)
    s58 = np.uint64(58)
    left = 0
    for wi in range(n_words):
        word = bits[wi]
        if word == 0:
            continue
        keep = word
        while word != 0:
            low = word & (~word + one)
            word ^= low
            j = (wi << 6) + _DEBRUIJN_INDEX[np.int64((low * magic) >> s58)]
            # branch-free: about half the documents go, in no predictable order
            x = win[j]
            drop = x + rest <= theta
            win[j] = 0.0 if drop else x
            keep ^= low if drop else np.uint64(0)
            left += 0 if drop else 1
        bits[wi] = keep
    return left


@_helper
def _maxscore(
    tstart: Any,
    tend: Any,
    bstart: Any,
    bend: Any,
    weights: Any,
    ubs: Any,
    bscale: float,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    bmax: Any,
    norm: Any,
    alive: Any,
    base: int,
    hs: Any,
    hd: Any,
    size: int,
    k: int,
    block: int,
    check_alive: bool,
    win: Any,
    bits: Any,
    fwork: Any,
    iwork: Any,
    bwork: Any,
    ibuf: Any,
) -> int:  # pragma: no cover
    """Exact block-max MaxScore over document windows, essential terms scored in bulk.

    The segment is cut into windows of ``WINDOW_BLOCKS * block`` documents (empty stretches
    are jumped over). In each window every term is bounded by the maxima of its blocks
    overlapping the window; a window whose bound sum cannot beat the k-th score is skipped.
    Otherwise the terms are split by those bounds (classic MaxScore): the essential ones are
    scored term at a time into a window accumulator (with a bitmap of touched documents), the
    touched documents that cannot reach the k-th score even with every non-essential bound
    are dropped (``_drop_hopeless``), and each remaining one, in ascending order, is then
    completed with the non-essential terms (highest bound first, each checked against its
    block bound at that document before it is probed). A surviving document's score
    is recomputed in canonical term order, so it is bit-identical to the other algorithms.
    Inputs are in canonical term order; ``ubs[i]`` bounds term i in this segment; block
    bounds are ``bmax * weights[i] * bscale``.
    ``win`` (float64, ``WINDOW_BLOCKS * block``) and ``bits`` (uint64, a bit per window slot)
    are scratch that must be all zero on entry and are left all zero. ``fwork`` (float64),
    ``iwork`` (int64) and ``bwork`` (bool) are per-term scratch of at least 6, 6 and 2 rows;
    ``ibuf`` (float64) holds twice the postings of a term the first bound is taken from.
    """
    m = tstart.size
    n_docs = norm.size
    window = WINDOW_BLOCKS * block
    # per-term scratch (views of the batch's work arrays: no allocation per query)
    gprefix = fwork[0, :m]
    wb = fwork[1, :m]
    wbnd = fwork[2, :m]
    wprefix = fwork[3, :m]
    contrib = fwork[4, :m]
    pprefix = fwork[5, :m]
    gorder = iwork[0, :m]
    cur = iwork[1, :m]
    blk = iwork[2, :m]
    ecur = iwork[3, :m]
    worder = iwork[4, :m]
    wpost = iwork[5, :m]
    is_ess = bwork[0, :m]
    probed = bwork[1, :m]
    _stable_order(ubs, m, gorder)  # ascending upper bound
    acc = 0.0
    for a in range(m):
        acc += ubs[gorder[a]]
        gprefix[a] = acc
        wb[a] = weights[a] * bscale
        cur[a] = tstart[a]
        blk[a] = bstart[a]
        ecur[a] = tstart[a]
        wbnd[a] = 0.0
        worder[a] = a
        wprefix[a] = 0.0
        contrib[a] = 0.0
        wpost[a] = 0
        pprefix[a] = 0.0
        is_ess[a] = False
        probed[a] = False
    one = np.uint64(1)
    magic = np.uint64(_DEBRUIJN)
    s58 = np.uint64(58)
    full = size == k
    theta: float = hs[0] if full else -1.0
    if not full:
        # start from a lower bound of the k-th score instead of nothing (or the first windows
        # score every document): a document's score is at least its contribution from any one
        # term (a float sum of non-negative terms is at least each of them), so a value k
        # contributions of one term reach bounds the k-th score. Tried on the two terms of
        # highest bound with enough (but not too many) postings; pruning with it is strict
        # (slack), since a document scoring exactly the bound may still win on a tie
        tried = 0
        n_buf = ibuf.size // 2
        for a in range(m - 1, -1, -1):
            i = gorder[a]
            n_i = tend[i] - tstart[i]
            if n_i < k or n_i > n_buf:
                continue
            w = weights[i]
            p0 = tstart[i]
            vals = ibuf[:n_i]
            kd = ibuf[n_buf : n_buf + n_i]
            for j in range(n_i):
                kd[j] = norm[post_value(post, p0 + j) >> sh]
            for j in range(n_i):
                tf = np.float64(np.uint32(post_value(post, p0 + j) & mk))
                vals[j] = w * tf / (tf + kd[j])
            if check_alive:
                for j in range(n_i):
                    if not alive[post_value(post, p0 + j) >> sh]:
                        vals[j] = 0.0
            v = np.int64(_kth_bound(vals.view(np.int64), n_i, k)).view(np.float64)
            if v * (1.0 - 1e-9) > theta:
                theta = v * (1.0 - 1e-9)
                full = True
            tried += 1
            if tried == 2:
                break
    # in-window pruning compares sums taken in another order than the score's, and documents
    # are not yet in the heap's order: prune only strictly below the k-th score, with slack
    theta_lo = theta * (1.0 - 1e-12)
    p = 0
    if full:
        while p < m and gprefix[p] <= theta:
            p += 1
    lo = 0
    while p < m:
        # 1. next window starts at the smallest posting >= lo of a term that can still matter
        d = _NO_DOC
        for a in range(p, m):
            i = gorder[a]
            c = cur[i]
            if (
                c < tend[i] and np.int64(post_value(post, c) >> sh) < lo
            ):  # (see the written-out _seek in step 5)
                cur[i], blk[i] = _seek(
                    post, sh, blast, c, blk[i], tstart[i], tend[i], bstart[i], bend[i], lo, block
                )
                c = cur[i]
            if c < tend[i]:
                dd = np.int64(post_value(post, c) >> sh)
                if dd < d:
                    d = dd
        if d == _NO_DOC:
            break
        lo = d
        hi = min(lo + window, n_docs)
        # 2. window bound of every term
        total = 0.0
        for i in range(m):
            b = blk[i]
            be = bend[i]
            while b < be and np.int64(blast[b]) < lo:
                b += 1
            blk[i] = b
            mx = 0.0
            nblk = 0
            while b < be:
                # a block after the first that ends inside the window starts inside it too:
                # only the first block and the one crossing the window's end have their first
                # posting read (a cache miss per block in a large segment, where the
                # postings of the terms MaxScore skips are otherwise never touched)
                last = np.int64(blast[b])
                if nblk == 0 or last >= hi:
                    first = np.int64(post_value(post, tstart[i] + (b - bstart[i]) * block) >> sh)
                    if first >= hi:
                        break
                nblk += 1
                v = np.float64(bmax[b])
                if v > mx:
                    mx = v
                if last >= hi - 1:
                    break
                b += 1
            bound = mx * wb[i]
            wbnd[i] = bound
            wpost[i] = nblk * block
            total += bound
        if full and total <= theta:
            lo = hi
            continue
        # 3. split the terms by their window bounds (ascending)
        for a in range(m):
            worder[a] = a
        for a in range(1, m):
            x = worder[a]
            j = a - 1
            while j >= 0 and wbnd[worder[j]] > wbnd[x]:
                worder[j + 1] = worder[j]
                j -= 1
            worder[j + 1] = x
        acc = 0.0
        for a in range(m):
            acc += wbnd[worder[a]]
            wprefix[a] = acc
        q = 0
        if full:
            while q < m and wprefix[q] <= theta:
                q += 1
        for a in range(m):
            is_ess[worder[a]] = a >= q
        # 4. essential terms, term at a time, into the window accumulator; then the other
        # terms with few postings here, only into the documents an essential term touched;
        # the remaining ones are probed per document in step 5
        nt = -1  # documents touched by the essential terms, counted when first needed
        for pss in range(2):
            for i in range(m):
                probed[i] = False
                if is_ess[i] != (pss == 0) or wbnd[i] == 0.0:
                    continue
                if pss == 1 and nt < 0:
                    nt = _count_bits(bits, (hi - lo + 63) >> 6)
                    # postings the other terms would have scanned
                    scan = 0
                    for t in range(m):
                        if not is_ess[t] and wbnd[t] != 0.0 and wpost[t] <= SCAN_RATIO * nt:
                            scan += wpost[t]
                    if full and scan * DROP_SHARE > hi - lo:
                        # drop the documents that cannot reach the k-th score even with every
                        # other term's bound here: fewer left to complete, so more of the
                        # other terms are probed rather than scanned (walking the touched
                        # documents once more pays only when much of the window would be)
                        nt = _drop_hopeless(
                            win, bits, (hi - lo + 63) >> 6, wprefix[q - 1], theta_lo
                        )
                if pss == 1 and wpost[i] > SCAN_RATIO * nt:
                    probed[i] = True
                    continue
                c = cur[i]
                e = tend[i]
                if c < e and np.int64(post_value(post, c) >> sh) < lo:
                    cur[i], blk[i] = _seek(
                        post,
                        sh,
                        blast,
                        c,
                        blk[i],
                        tstart[i],
                        tend[i],
                        bstart[i],
                        bend[i],
                        lo,
                        block,
                    )
                    c = cur[i]
                ecur[i] = c
                w = weights[i]
                if pss == 0:
                    while c < e:
                        dd = np.int64(post_value(post, c) >> sh)
                        if dd >= hi:
                            break
                        j = dd - lo
                        tf = np.float64(post_value(post, c) & mk)
                        # branch-free: the touched bit is set again rather than tested (a
                        # test mispredicts on frequent terms, which touch half the window)
                        bits[j >> 6] |= one << np.uint64(j & 63)
                        win[j] += w * tf / (tf + np.float64(norm[dd]))
                        c += 1
                else:
                    while c < e:
                        dd = np.int64(post_value(post, c) >> sh)
                        if dd >= hi:
                            break
                        j = dd - lo
                        # only into documents an essential term touched (and not dropped:
                        # once hopeless ones are, few are left, so the test predicts well
                        # and the norms of the others are not loaded)
                        if win[j] != 0.0:
                            tf = np.float64(post_value(post, c) & mk)
                            win[j] += w * tf / (tf + np.float64(norm[dd]))
                        c += 1
                cur[i] = c
        # bounds of the probed terms, ascending (prefix sums over worder)
        acc = 0.0
        for a in range(m):
            i = worder[a]
            if probed[i]:
                acc += wbnd[i]
            pprefix[a] = acc
        rest = acc
        # 5. touched documents in ascending order: probe the remaining terms (highest bound
        # first, each checked against its block bound here), exact score of the survivors
        for wi in range((hi - lo + 63) >> 6):
            word = bits[wi]
            if word == 0:
                continue
            bits[wi] = 0
            while word != 0:
                low = word & (~word + one)
                word ^= low
                j = (wi << 6) + _DEBRUIJN_INDEX[np.int64((low * magic) >> s58)]
                partial = win[j]
                win[j] = 0.0
                cd = lo + j
                if check_alive and not alive[cd]:
                    continue
                if full and partial + rest <= theta_lo:
                    continue
                kd = np.float64(norm[cd])
                ok = True
                if rest > 0.0:
                    for a in range(q - 1, -1, -1):
                        i = worder[a]
                        if not probed[i]:
                            continue
                        contrib[i] = 0.0
                        if full and partial + pprefix[a] <= theta_lo:
                            ok = False
                            break
                        # block bound at cd (inline: a helper taking arrays costs atomic
                        # reference counts per call, per candidate and term)
                        b = blk[i]
                        be = bend[i]
                        while b < be and np.int64(blast[b]) < cd:
                            b += 1
                        blk[i] = b
                        bb = np.float64(bmax[b]) * wb[i] if b < be else 0.0
                        if full and partial + (pprefix[a] - wbnd[i]) + bb <= theta_lo:
                            ok = False
                            break
                        if bb == 0.0:
                            continue
                        c = cur[i]
                        if c < tend[i] and np.int64(post_value(post, c) >> sh) < cd:
                            # _seek written out: block b holds the first posting >= cd
                            # (blast[b] >= cd > blast[b - 1]); search it after c, galloping
                            # from c when c is in it (candidates come in ascending order: the
                            # next posting is often a few along, in cache lines just read)
                            plo = tstart[i] + (b - bstart[i]) * block
                            phi = min(plo + block, tend[i])
                            if plo <= c:
                                plo = c + 1
                                step = 1
                                while (
                                    plo + step < phi
                                    and np.int64(post_value(post, plo + step - 1) >> sh) < cd
                                ):
                                    plo += step
                                    step *= 2
                                if plo + step < phi:
                                    phi = plo + step
                            # branch-free binary search (its comparisons are unpredictable)
                            n = phi - plo
                            while n > 1:
                                half = n >> 1
                                plo = (
                                    plo + half
                                    if np.int64(post_value(post, plo + half) >> sh) < cd
                                    else plo
                                )
                                n -= half
                            if n == 1 and np.int64(post_value(post, plo) >> sh) < cd:
                                plo += 1
                            cur[i] = plo
                            c = plo
                        if c < tend[i] and np.int64(post_value(post, c) >> sh) == cd:
                            tf = np.float64(post_value(post, c) & mk)
                            v = weights[i] * tf / (tf + kd)
                            contrib[i] = v
                            partial += v
                    if not ok:
                        continue
                    if full and partial <= theta_lo:
                        continue
                if q == 0:
                    # every term was essential and summed into win in canonical order, so
                    # partial already is the exact score
                    s = partial
                else:  # summed again in canonical order (inline, as above)
                    s = 0.0
                    for i in range(m):
                        if wbnd[i] == 0.0:
                            continue
                        if probed[i]:
                            s += contrib[i]
                            continue
                        c = ecur[i]
                        e = cur[i]
                        while c < e and np.int64(post_value(post, c) >> sh) < cd:
                            c += 1
                        ecur[i] = c
                        if c < e and np.int64(post_value(post, c) >> sh) == cd:
                            tf = np.float64(post_value(post, c) & mk)
                            s += weights[i] * tf / (tf + kd)
                # offer (s, dg) to the heap: _heap_push written out (see _sort_heap)
                dg = cd + base
                if size < k:
                    h = size
                    size += 1
                    while h > 0:  # sift up while the parent is better
                        par = (h - 1) >> 1
                        if _better(hs[par], hd[par], s, dg):
                            hs[h] = hs[par]
                            hd[h] = hd[par]
                            h = par
                        else:
                            break
                    hs[h] = s
                    hd[h] = dg
                elif _better(s, dg, hs[0], hd[0]):
                    h = 0
                    while True:  # replace the root, sift down past worse children
                        left = 2 * h + 1
                        if left >= size:
                            break
                        worst = left
                        if left + 1 < size and _better(hs[left], hd[left], hs[left + 1],
                                                       hd[left + 1]):  # fmt: skip
                            worst = left + 1
                        if _better(s, dg, hs[worst], hd[worst]):
                            hs[h] = hs[worst]
                            hd[h] = hd[worst]
                            h = worst
                        else:
                            break
                    hs[h] = s
                    hd[h] = dg
                else:
                    continue
                if size == k and hs[0] > theta:
                    full = True
                    theta = hs[0]
                    theta_lo = theta * (1.0 - 1e-12)
        lo = hi
        if full:
            while p < m and gprefix[p] <= theta:
                p += 1
    return size


# --------------------------------------------------------------------------- WAND


@_helper
def _wand(
    tstart: Any,
    tend: Any,
    bstart: Any,
    bend: Any,
    weights: Any,
    ubs: Any,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    norm: Any,
    alive: Any,
    base: int,
    hs: Any,
    hd: Any,
    size: int,
    k: int,
    block: int,
) -> int:  # pragma: no cover
    """Exact document-at-a-time WAND (term-level upper bounds, pivot skipping)."""
    m = tstart.size
    cur = tstart.copy()
    blk = bstart.copy()
    order = np.arange(m)
    curdoc = np.empty(m, np.int64)
    for i in range(m):
        curdoc[i] = np.int64(post_value(post, cur[i]) >> sh) if cur[i] < tend[i] else _NO_DOC
    theta = hs[0] if size == k else -1.0
    while True:
        # insertion sort of the terms by current doc
        for a in range(1, m):
            x = order[a]
            j = a - 1
            while j >= 0 and curdoc[order[j]] > curdoc[x]:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = x
        acc = 0.0
        pivot = -1
        for j in range(m):
            t = order[j]
            if curdoc[t] == _NO_DOC:
                break
            acc += ubs[t]
            if acc > theta:
                pivot = j
                break
        if pivot < 0:
            break
        pd = curdoc[order[pivot]]
        if curdoc[order[0]] == pd:
            if alive[pd]:
                kd = np.float64(norm[pd])
                s = 0.0
                for i in range(m):  # canonical order
                    if curdoc[i] == pd:
                        tf = np.float64(post_value(post, cur[i]) & mk)
                        s += weights[i] * tf / (tf + kd)
                if size < k or _better(s, pd + base, hs[0], hd[0]):
                    size = _heap_push(hs, hd, size, k, s, pd + base)
                    if size == k:
                        theta = hs[0]
            for i in range(m):
                if curdoc[i] == pd:
                    cur[i] += 1
                    curdoc[i] = (
                        np.int64(post_value(post, cur[i]) >> sh) if cur[i] < tend[i] else _NO_DOC
                    )
        else:
            for j in range(pivot):
                t = order[j]
                if curdoc[t] < pd:
                    cur[t], blk[t] = _seek(
                        post, sh, blast, cur[t], blk[t], tstart[t], tend[t], bstart[t], bend[t], pd,
                        block,
                    )  # fmt: skip
                    curdoc[t] = (
                        np.int64(post_value(post, cur[t]) >> sh) if cur[t] < tend[t] else _NO_DOC
                    )
    return size


# --------------------------------------------------------------------------- query batches
# One call per segment serves a whole batch of queries, so the cost of crossing from Python into
# compiled code is paid per batch, not per query. Queries are term ids with repeats (a term's
# count multiplies its weight), query q owning ``qterms[qptr[q]:qptr[q + 1]]``; hits go to the
# per-query heaps ``hs[q]``/``hd[q]`` (``sizes[q]`` filled, capacity ``hs.shape[1]``), which the
# call for the last segment (``finish``) sorts best first. One kernel per algorithm, so a
# process compiles only the one it uses.


@_helper
def _query_weights(
    qterms: Any, lo: int, hi: int, df: Any, n_live: float, k1p1: float, terms: Any, weights: Any
) -> int:  # pragma: no cover
    """Distinct known terms of ``qterms[lo:hi]`` ascending into ``terms`` with their weights
    ``n_t * idf_t * (k1 + 1)`` into ``weights``; returns how many. Term ids the snapshot does
    not know (newer than its ``df``, or with no live document) are left out."""
    m = 0
    n_terms = df.size
    for p in range(lo, hi):
        t = qterms[p]
        if t < 0 or t >= n_terms or df[t] <= 0:
            continue
        j = m - 1
        while j >= 0 and terms[j] > t:
            j -= 1
        if j >= 0 and terms[j] == t:
            weights[j] += 1.0
            continue
        for r in range(m, j + 1, -1):
            terms[r] = terms[r - 1]
            weights[r] = weights[r - 1]
        terms[j + 1] = t
        weights[j + 1] = 1.0
        m += 1
    for i in range(m):
        d = np.float64(df[terms[i]])
        idf = np.log1p((n_live - d + 0.5) / (d + 0.5))
        weights[i] = weights[i] * idf * k1p1
    return m


@_helper
def _query_cursors(
    q: int,
    qterms: Any,
    qptr: Any,
    df: Any,
    n_live: float,
    k1p1: float,
    ptr: Any,
    bptr: Any,
    tmax: Any,
    scale: float,
    cursors: Any,
    values: Any,
) -> int:  # pragma: no cover
    """Query q's terms with postings in this segment (canonical order): rows of ``cursors``
    (postings start/end, blocks start/end, term id) and ``values`` (weight, upper bound
    ``w * tmax * scale``, scratch weight); returns how many."""
    m0 = _query_weights(
        qterms, qptr[q], qptr[q + 1], df, n_live, k1p1, cursors[4], values[2]
    )  # fmt: skip
    vocab = ptr.size - 1
    i = 0
    for j in range(m0):
        t = cursors[4, j]
        if t < vocab and ptr[t + 1] > ptr[t]:
            wt = values[2, j]
            cursors[0, i] = ptr[t]
            cursors[1, i] = ptr[t + 1]
            cursors[2, i] = bptr[t]
            cursors[3, i] = bptr[t + 1]
            cursors[4, i] = t  # i <= j: row 4 is read at j before it is written at i
            values[0, i] = wt
            values[1, i] = wt * np.float64(tmax[t]) * scale
            i += 1
    return i


@_helper
def _postings(cursors: Any, m: int) -> int:  # pragma: no cover
    """Postings of the first ``m`` query terms of ``cursors`` (see _query_cursors)."""
    total = 0
    for i in range(m):
        total += cursors[1, i] - cursors[0, i]
    return total


@_helper
def _bounding_term(cursors: Any, m: int, k: int, most: int) -> bool:  # pragma: no cover
    """Whether one of the first ``m`` query terms of ``cursors`` has k to ``most`` postings:
    then MaxScore starts from a bound of the k-th score high enough to beat dense scoring."""
    for i in range(m):
        n = cursors[1, i] - cursors[0, i]
        if k <= n <= most:
            return True
    return False


@_helper
def _longest_query(qptr: Any) -> int:  # pragma: no cover
    longest = 1
    for q in range(qptr.size - 1):
        longest = max(longest, qptr[q + 1] - qptr[q])
    return longest


@_qjit
def maxscore_batch(
    qterms: Any,
    qptr: Any,
    df: Any,
    n_live: float,
    k1p1: float,
    ptr: Any,
    bptr: Any,
    tmax: Any,
    scale: float,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    bmax: Any,
    islot: Any,
    imp: Any,
    itf: Any,
    norm: Any,
    alive: Any,
    base: int,
    block: int,
    check_alive: bool,
    acc: Any,
    touched: Any,
    dense_docs: int,
    sparse_postings: int,
    approx_docs: int,
    approx_candidates: int,
    dense_runs: Any,
    hs: Any,
    hd: Any,
    sizes: Any,
    finish: bool,
) -> None:  # pragma: no cover
    """``DAAT_MAXSCORE`` over one segment for a batch of queries (see the section comment).

    Where pruning cannot pay, a query is scored exhaustively term at a time instead (the same
    scores and hits, sooner): densely in a segment of at most ``dense_docs`` documents when its
    postings cover much of it (``DENSE_DOCS``, ``DENSE_SHARE``) and neither one of its terms
    (``BOUND_SHARE``, in segments of ``BOUND_MIN_DOCS`` documents or more) nor a heap filled by
    earlier segments gives a good first bound of the k-th score, with a list of touched
    documents when it has at most ``sparse_postings`` postings there (``SPARSE_POSTINGS``).
    ``acc`` (float64, all zero) and ``touched`` (int64) are the scratch for that, used only in
    segments no longer than they are (the caller sizes them, up to ``SPARSE_DOCS``). The dense
    path scores in float32 first in segments of at least ``approx_docs`` documents per hit,
    rescoring up to ``approx_candidates`` documents per query (``DENSE_APPROX_DOCS``,
    ``DENSE_CANDIDATES``). ``dense_runs[0]`` counts the queries scored densely (the index
    keeps impact rows only for segments where many are; threads may lose a count)."""
    longest = _longest_query(qptr)
    cursors = np.empty((5, longest), np.int64)
    values = np.empty((3, longest), np.float64)
    fwork = np.empty((6, longest), np.float64)
    iwork = np.empty((6, longest), np.int64)
    bwork = np.empty((2, longest), np.bool_)
    # each path's scratch is made when a query first takes it (a search of one query pays
    # only for its own path)
    window = WINDOW_BLOCKS * block
    win = np.zeros(0, np.float64)
    bits = np.zeros(0, np.uint64)
    ibuf = np.empty(0, np.float64)
    work = _no_dense_work()
    vals = np.empty(0, np.float64)
    k = hs.shape[1]
    n_docs = norm.size
    fits = n_docs <= acc.size and n_docs <= touched.size
    dense_ok = fits and n_docs <= dense_docs
    sparse_ok = fits and sparse_postings > 0
    dirty = False  # whether the dense path left acc[:n_docs] non-zero
    for q in range(qptr.size - 1):
        m = _query_cursors(
            q, qterms, qptr, df, n_live, k1p1, ptr, bptr, tmax, scale, cursors, values
        )
        n_post = _postings(cursors, m)
        # a query covering much of the segment is scored densely, unless one of its terms
        # gives MaxScore a good first bound: then MaxScore, rather than the sparse path too;
        # so does a heap that earlier segments have filled (its root is that bound)
        wide = n_post * DENSE_SHARE >= n_docs
        bounded = (
            wide
            and k <= BOUND_K
            and n_docs >= BOUND_MIN_DOCS
            and _bounding_term(cursors, m, k, min(n_docs // BOUND_SHARE, BOUND_POSTINGS))
        )
        if m > 0 and dense_ok and wide and not bounded and sizes[q] < k:
            dense_runs[0] += 1
            if work[0].size == 0:
                cap = approx_candidates if n_docs >= approx_docs * k else 0
                work = _dense_work(n_docs, longest, cap)
            sizes[q] = _taat_dense(
                cursors[0, :m], cursors[1, :m], cursors[2, :m], cursors[3, :m], values[0, :m],
                cursors[4, :m], islot, imp, itf, post, sh, mk, blast, block, norm, alive,
                check_alive, acc, work, base, hs[q], hd[q], sizes[q], k,
            )  # fmt: skip
            dirty = True
        elif m > 0 and sparse_ok and n_post <= sparse_postings and not bounded:
            if vals.size == 0:
                vals = np.empty(min(sparse_postings, BOUND_VALUES), np.float64)
            if dirty:  # _taat needs acc all zero
                acc[:n_docs] = 0.0
                dirty = False
            sizes[q] = _taat(
                cursors[0, :m], cursors[1, :m], values[0, :m], post, sh, mk, norm, alive,
                check_alive, acc, touched, vals, base, hs[q], hd[q], sizes[q], k,
            )  # fmt: skip
        elif m > 0:
            if win.size == 0:
                win = np.zeros(window, np.float64)
                bits = np.zeros((window + 63) // 64, np.uint64)
                ibuf = np.empty(2 * BOUND_POSTINGS, np.float64)
            sizes[q] = _maxscore(
                cursors[0, :m], cursors[1, :m], cursors[2, :m], cursors[3, :m], values[0, :m],
                values[1, :m], scale, post, sh, mk, blast, bmax, norm, alive, base, hs[q], hd[q],
                sizes[q], k, block, check_alive, win, bits, fwork, iwork, bwork, ibuf,
            )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])
    if dirty:  # acc is left all zero, as it came
        acc[:n_docs] = 0.0


@_qjit
def wand_batch(
    qterms: Any,
    qptr: Any,
    df: Any,
    n_live: float,
    k1p1: float,
    ptr: Any,
    bptr: Any,
    tmax: Any,
    scale: float,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    norm: Any,
    alive: Any,
    base: int,
    block: int,
    hs: Any,
    hd: Any,
    sizes: Any,
    finish: bool,
) -> None:  # pragma: no cover
    """``DAAT_WAND`` over one segment for a batch of queries (see the section comment)."""
    longest = _longest_query(qptr)
    cursors = np.empty((5, longest), np.int64)
    values = np.empty((3, longest), np.float64)
    k = hs.shape[1]
    for q in range(qptr.size - 1):
        m = _query_cursors(
            q, qterms, qptr, df, n_live, k1p1, ptr, bptr, tmax, scale, cursors, values
        )
        if m > 0:
            sizes[q] = _wand(
                cursors[0, :m], cursors[1, :m], cursors[2, :m], cursors[3, :m], values[0, :m],
                values[1, :m], post, sh, mk, blast, norm, alive, base, hs[q], hd[q], sizes[q], k,
                block,
            )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])


@_jit
def impact_table(ptr: Any, post: Any, sh: Any, mk: Any, norm: Any, budget: int) -> Any:
    """The frequent terms' impacts of a segment under one snapshot's ``norm``: (``islot``, int32
    per term of the segment: its row or -1; ``imp``, float32 rows of ``tf / (tf + norm)`` for
    every document, 0 where the term is absent; ``itf``, uint16 rows of the term frequencies
    themselves, for the float64 rescore). The terms ``_approx_scores`` scores for every
    document (postings in at least 1/DENSE_TERM_SHARE of them) with term frequencies below
    2^16 get a row, the most frequent first, while the rows hold at most ``budget`` bytes.
    Each impact is the float64 quotient rounded once to float32."""
    n = norm.size
    vocab = ptr.size - 1
    wanted = 0
    for t in range(vocab):
        if n > 0 and (ptr[t + 1] - ptr[t]) * DENSE_TERM_SHARE >= n:
            wanted += 1
    frequent = np.empty(wanted, np.int64)
    counts = np.empty(wanted, np.int64)
    f = 0
    for t in range(vocab):
        c = ptr[t + 1] - ptr[t]
        if n > 0 and c * DENSE_TERM_SHARE >= n:
            top = np.uint64(0)  # the term's largest term frequency
            for p in range(ptr[t], ptr[t + 1]):
                top = max(top, np.uint64(post_value(post, p) & mk))
            if top < 1 << 16:
                frequent[f] = t
                counts[f] = -c
                f += 1
    rows = 0 if n == 0 else min(f, budget // (6 * n))
    islot = np.full(vocab if rows > 0 else 0, -1, np.int32)
    imp = np.zeros((rows, n), np.float32)
    itf = np.zeros((rows, n), np.uint16)
    if rows == 0:
        return islot, imp, itf
    order = np.argsort(counts[:f], kind="mergesort")  # most postings first, ties by term id
    for r in range(rows):
        t = frequent[order[r]]
        islot[t] = r
        row = imp[r]
        tfs = itf[r]
        for p in range(ptr[t], ptr[t + 1]):
            x = post_value(post, p)
            d = x >> sh
            tf = np.float64(np.uint32(x & mk))
            row[d] = np.float32(tf / (tf + np.float64(norm[d])))
            tfs[d] = np.uint16(x & mk)
    return islot, imp, itf


@_qjit
def taat_batch(
    qterms: Any,
    qptr: Any,
    df: Any,
    n_live: float,
    k1p1: float,
    ptr: Any,
    bptr: Any,
    tmax: Any,
    post: Any,
    sh: Any,
    mk: Any,
    blast: Any,
    block: int,
    islot: Any,
    imp: Any,
    itf: Any,
    norm: Any,
    alive: Any,
    base: int,
    check_alive: bool,
    acc: Any,
    touched: Any,
    approx_docs: int,
    approx_candidates: int,
    dense_runs: Any,
    hs: Any,
    hd: Any,
    sizes: Any,
    finish: bool,
) -> None:  # pragma: no cover
    """``TAAT_NAIVE`` over one segment for a batch of queries (see the section comment);
    ``acc`` (float64, all zero) and ``touched`` (int64) are scratch as long as the segment;
    ``dense_runs[0]`` counts the queries scored densely (see ``maxscore_batch``)."""
    longest = _longest_query(qptr)
    cursors = np.empty((5, longest), np.int64)
    values = np.empty((3, longest), np.float64)
    k = hs.shape[1]
    n_docs = norm.size
    work = _no_dense_work()  # made when a query first needs it
    vals = np.empty(0, np.float64)
    dirty = False  # whether the dense path left acc[:n_docs] non-zero
    for q in range(qptr.size - 1):
        m = _query_cursors(q, qterms, qptr, df, n_live, k1p1, ptr, bptr, tmax, 1.0, cursors, values)
        if m > 0:
            if _postings(cursors, m) * DENSE_SHARE >= n_docs:
                dense_runs[0] += 1
                if work[0].size == 0:
                    cap = approx_candidates if n_docs >= approx_docs * k else 0
                    work = _dense_work(n_docs, longest, cap)
                sizes[q] = _taat_dense(
                    cursors[0, :m], cursors[1, :m], cursors[2, :m], cursors[3, :m],
                    values[0, :m], cursors[4, :m], islot, imp, itf, post, sh, mk, blast, block,
                    norm, alive, check_alive, acc, work, base, hs[q], hd[q], sizes[q], k,
                )  # fmt: skip
                dirty = True
            else:
                if vals.size == 0:
                    vals = np.empty(min(n_docs // DENSE_SHARE + 1, BOUND_VALUES), np.float64)
                if dirty:  # _taat needs acc all zero
                    acc[:n_docs] = 0.0
                    dirty = False
                sizes[q] = _taat(
                    cursors[0, :m], cursors[1, :m], values[0, :m], post, sh, mk, norm, alive,
                    check_alive, acc, touched, vals, base, hs[q], hd[q], sizes[q], k,
                )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])
    if dirty:  # acc is left all zero, as it came
        acc[:n_docs] = 0.0


__all__ = [
    "BLOCK_SIZE",
    "impact_table",
    "maxscore_batch",
    "taat_batch",
    "wand_batch",
]
