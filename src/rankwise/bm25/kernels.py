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

_F = TypeVar("_F", bound=Callable[..., Any])
_JIT: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "boundscheck": False}


def _jit(fn: _F) -> _F:
    return cast(_F, nb.njit(**_JIT)(fn))


def _helper(fn: _F) -> _F:
    # compiled into each kernel that calls it (LLVM inlines the small ones); numba-IR inlining
    # (inline="always") made the first compilation several times slower, and no faster
    return cast(_F, nb.njit(nogil=True, boundscheck=False)(fn))


BLOCK_SIZE = 128
#: MaxScore windows span this many blocks' worth of documents
WINDOW_BLOCKS = 64
#: a non-essential term is scanned in a window when it has at most this many postings there
#: per candidate document, else probed per candidate
SCAN_RATIO = 8
# lowest set bit of a 64-bit word -> its index (de Bruijn multiplication)
_DEBRUIJN = 0x03F79D71B4CB0A89
_DEBRUIJN_INDEX = np.zeros(64, np.int64)
for _i in range(64):
    _DEBRUIJN_INDEX[(((1 << _i) * _DEBRUIJN) % (1 << 64)) >> 58] = _i
if sorted(_DEBRUIJN_INDEX.tolist()) != list(range(64)):  # pragma: no cover
    raise RuntimeError("bad de Bruijn constant")
_NO_DOC: Any = np.iinfo(np.int64).max


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
    reference-count updates, a visible cost at k = 100."""
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
def _stable_order(values: Any, m: int) -> Any:  # pragma: no cover
    """Indices of ``values[:m]`` in ascending order, ties kept in index order (m is tiny:
    the number of query terms)."""
    order = np.empty(m, np.int64)
    for a in range(m):
        x = values[a]
        j = a - 1
        while j >= 0 and values[order[j]] > x:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = a
    return order


# --------------------------------------------------------------------------- TAAT


@_helper
def _taat(
    starts: Any,
    ends: Any,
    weights: Any,
    docs: Any,
    tfs: Any,
    norm: Any,
    alive: Any,
    acc: Any,
    touched: Any,
    base: int,
    hs: Any,
    hd: Any,
    size: int,
    k: int,
) -> int:  # pragma: no cover
    """Exhaustive term-at-a-time scoring of one segment into the heap; returns heap size.

    ``acc`` (float64) and ``touched`` (int64) are scratch arrays at least as long as the
    segment; ``acc`` must be all zero on entry and is left all zero.
    """
    n_touched = 0
    for i in range(starts.size):
        w = weights[i]
        for p in range(starts[i], ends[i]):
            d = docs[p]
            if not alive[d]:
                continue
            tf = np.float64(tfs[p])
            c = w * tf / (tf + np.float64(norm[d]))
            if acc[d] == 0.0:
                touched[n_touched] = d
                n_touched += 1
            acc[d] += c
    for j in range(n_touched):
        d = touched[j]
        s = acc[d]
        acc[d] = 0.0
        size = _heap_push(hs, hd, size, k, s, d + base)
    return size


# --------------------------------------------------------------------------- DAAT helpers


@_helper
def _advance(
    docs: Any,
    blast: Any,
    cur: Any,
    blk: Any,
    tstart: Any,
    tend: Any,
    bstart: Any,
    bend: Any,
    i: int,
    target: int,
    block: int,
) -> None:  # pragma: no cover
    """Move cursor ``i`` to its first posting with doc >= target (or to its end)."""
    c = cur[i]
    if c >= tend[i]:
        return
    if np.int64(docs[c]) >= target:
        return
    b = blk[i]
    be = bend[i]
    while b < be and np.int64(blast[b]) < target:
        b += 1
    blk[i] = b
    if b == be:
        cur[i] = tend[i]
        return
    lo = tstart[i] + (b - bstart[i]) * block
    hi = tstart[i] + (b - bstart[i] + 1) * block
    if hi > tend[i]:
        hi = tend[i]
    if lo < c:
        # the cursor is inside the target block: gallop forward from it (docs[c] < target)
        lo = c + 1
        step = 1
        while lo + step < hi and np.int64(docs[lo + step - 1]) < target:
            lo += step
            step *= 2
        if lo + step < hi:
            hi = lo + step
    # first position in [lo, hi) with docs >= target; it exists since blast[b] >= target
    while lo < hi:
        mid = (lo + hi) >> 1
        if np.int64(docs[mid]) < target:
            lo = mid + 1
        else:
            hi = mid
    cur[i] = lo


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
def _maxscore(
    tstart: Any,
    tend: Any,
    bstart: Any,
    bend: Any,
    weights: Any,
    ubs: Any,
    bscale: float,
    docs: Any,
    tfs: Any,
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
) -> int:  # pragma: no cover
    """Exact block-max MaxScore over document windows, essential terms scored in bulk.

    The segment is cut into windows of ``WINDOW_BLOCKS * block`` documents (empty stretches
    are jumped over). In each window every term is bounded by the maxima of its blocks
    overlapping the window; a window whose bound sum cannot beat the k-th score is skipped.
    Otherwise the terms are split by those bounds (classic MaxScore): the essential ones are
    scored term at a time into a window accumulator (with a bitmap of touched documents), and
    each touched document, in ascending order, is then completed with the non-essential terms
    (highest bound first, each checked against its block bound at that document before it is
    probed). A surviving document's score is recomputed in canonical term order, so it is
    bit-identical to the other algorithms. Inputs are in canonical term order; ``ubs[i]``
    bounds term i in this segment; block bounds are ``bmax * weights[i] * bscale``.
    ``win`` (float64, ``WINDOW_BLOCKS * block``) and ``bits`` (uint64, a bit per window slot)
    are scratch that must be all zero on entry and are left all zero.
    """
    m = tstart.size
    n_docs = norm.size
    window = WINDOW_BLOCKS * block
    gorder = _stable_order(ubs, m)  # ascending upper bound
    gprefix = np.empty(m, np.float64)
    acc = 0.0
    for a in range(m):
        acc += ubs[gorder[a]]
        gprefix[a] = acc
    wb = weights * bscale
    cur = tstart.copy()
    blk = bstart.copy()
    ecur = tstart.copy()
    wbnd = np.zeros(m, np.float64)
    worder = np.arange(m)
    wprefix = np.zeros(m, np.float64)
    is_ess = np.zeros(m, np.bool_)
    contrib = np.zeros(m, np.float64)
    wpost = np.zeros(m, np.int64)
    probed = np.zeros(m, np.bool_)
    pprefix = np.zeros(m, np.float64)
    one = np.uint64(1)
    magic = np.uint64(_DEBRUIJN)
    s58 = np.uint64(58)
    full = size == k
    theta: float = hs[0] if full else -1.0
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
            if c < tend[i] and np.int64(docs[c]) < lo:  # (see _advance's call in step 5)
                _advance(docs, blast, cur, blk, tstart, tend, bstart, bend, i, lo, block)
                c = cur[i]
            if c < tend[i]:
                dd = np.int64(docs[c])
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
                first = np.int64(docs[tstart[i] + (b - bstart[i]) * block])
                if first >= hi:
                    break
                nblk += 1
                v = np.float64(bmax[b])
                if v > mx:
                    mx = v
                if np.int64(blast[b]) >= hi - 1:
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
                if pss == 1 and wpost[i] > SCAN_RATIO * nt:
                    probed[i] = True
                    continue
                c = cur[i]
                e = tend[i]
                if c < e and np.int64(docs[c]) < lo:
                    _advance(docs, blast, cur, blk, tstart, tend, bstart, bend, i, lo, block)
                    c = cur[i]
                ecur[i] = c
                w = weights[i]
                if pss == 0:
                    while c < e:
                        dd = np.int64(docs[c])
                        if dd >= hi:
                            break
                        j = dd - lo
                        tf = np.float64(tfs[c])
                        # branch-free: the touched bit is set again rather than tested (a
                        # test mispredicts on frequent terms, which touch half the window)
                        bits[j >> 6] |= one << np.uint64(j & 63)
                        win[j] += w * tf / (tf + np.float64(norm[dd]))
                        c += 1
                else:
                    while c < e:
                        dd = np.int64(docs[c])
                        if dd >= hi:
                            break
                        j = dd - lo
                        if win[j] != 0.0:
                            tf = np.float64(tfs[c])
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
                        if c < tend[i] and np.int64(docs[c]) < cd:
                            # _advance written out: block b holds the first posting >= cd
                            # (blast[b] >= cd > blast[b - 1]); binary search in it, after c
                            plo = tstart[i] + (b - bstart[i]) * block
                            phi = min(plo + block, tend[i])
                            if plo <= c:
                                plo = c + 1
                            while plo < phi:
                                mid = (plo + phi) >> 1
                                if np.int64(docs[mid]) < cd:
                                    plo = mid + 1
                                else:
                                    phi = mid
                            cur[i] = plo
                            c = plo
                        if c < tend[i] and np.int64(docs[c]) == cd:
                            tf = np.float64(tfs[c])
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
                        while c < e and np.int64(docs[c]) < cd:
                            c += 1
                        ecur[i] = c
                        if c < e and np.int64(docs[c]) == cd:
                            tf = np.float64(tfs[c])
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
                if size == k:
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
    docs: Any,
    tfs: Any,
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
        curdoc[i] = np.int64(docs[cur[i]]) if cur[i] < tend[i] else _NO_DOC
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
                        tf = np.float64(tfs[cur[i]])
                        s += weights[i] * tf / (tf + kd)
                if size < k or _better(s, pd + base, hs[0], hd[0]):
                    size = _heap_push(hs, hd, size, k, s, pd + base)
                    if size == k:
                        theta = hs[0]
            for i in range(m):
                if curdoc[i] == pd:
                    cur[i] += 1
                    curdoc[i] = np.int64(docs[cur[i]]) if cur[i] < tend[i] else _NO_DOC
        else:
            for j in range(pivot):
                t = order[j]
                if curdoc[t] < pd:
                    _advance(docs, blast, cur, blk, tstart, tend, bstart, bend, t, pd, block)
                    curdoc[t] = np.int64(docs[cur[t]]) if cur[t] < tend[t] else _NO_DOC
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
    (postings start/end, blocks start/end, scratch term id) and ``values`` (weight, upper bound
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
            values[0, i] = wt
            values[1, i] = wt * np.float64(tmax[t]) * scale
            i += 1
    return i


@_helper
def _longest_query(qptr: Any) -> int:  # pragma: no cover
    longest = 1
    for q in range(qptr.size - 1):
        longest = max(longest, qptr[q + 1] - qptr[q])
    return longest


@_jit
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
    docs: Any,
    tfs: Any,
    blast: Any,
    bmax: Any,
    norm: Any,
    alive: Any,
    base: int,
    block: int,
    check_alive: bool,
    hs: Any,
    hd: Any,
    sizes: Any,
    finish: bool,
) -> None:  # pragma: no cover
    """``DAAT_MAXSCORE`` over one segment for a batch of queries (see the section comment)."""
    longest = _longest_query(qptr)
    cursors = np.empty((5, longest), np.int64)
    values = np.empty((3, longest), np.float64)
    window = WINDOW_BLOCKS * block
    win = np.zeros(window, np.float64)
    bits = np.zeros((window + 63) // 64, np.uint64)
    k = hs.shape[1]
    for q in range(qptr.size - 1):
        m = _query_cursors(
            q, qterms, qptr, df, n_live, k1p1, ptr, bptr, tmax, scale, cursors, values
        )
        if m > 0:
            sizes[q] = _maxscore(
                cursors[0, :m], cursors[1, :m], cursors[2, :m], cursors[3, :m], values[0, :m],
                values[1, :m], scale, docs, tfs, blast, bmax, norm, alive, base, hs[q], hd[q],
                sizes[q], k, block, check_alive, win, bits,
            )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])


@_jit
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
    docs: Any,
    tfs: Any,
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
                values[1, :m], docs, tfs, blast, norm, alive, base, hs[q], hd[q], sizes[q], k,
                block,
            )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])


@_jit
def taat_batch(
    qterms: Any,
    qptr: Any,
    df: Any,
    n_live: float,
    k1p1: float,
    ptr: Any,
    bptr: Any,
    tmax: Any,
    docs: Any,
    tfs: Any,
    norm: Any,
    alive: Any,
    base: int,
    acc: Any,
    touched: Any,
    hs: Any,
    hd: Any,
    sizes: Any,
    finish: bool,
) -> None:  # pragma: no cover
    """``TAAT_NAIVE`` over one segment for a batch of queries (see the section comment);
    ``acc`` (float64, all zero) and ``touched`` (int64) are scratch as long as the segment."""
    longest = _longest_query(qptr)
    cursors = np.empty((5, longest), np.int64)
    values = np.empty((3, longest), np.float64)
    k = hs.shape[1]
    for q in range(qptr.size - 1):
        m = _query_cursors(q, qterms, qptr, df, n_live, k1p1, ptr, bptr, tmax, 1.0, cursors, values)
        if m > 0:
            sizes[q] = _taat(
                cursors[0, :m], cursors[1, :m], values[0, :m], docs, tfs, norm, alive, acc,
                touched, base, hs[q], hd[q], sizes[q], k,
            )  # fmt: skip
        if finish:
            _sort_heap(hs[q], hd[q], sizes[q])


__all__ = [
    "BLOCK_SIZE",
    "maxscore_batch",
    "taat_batch",
    "wand_batch",
]
