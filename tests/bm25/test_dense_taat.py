"""The dense TAAT's float32 pass: its error bound holds, and with the exact float64 rescore of
its candidates every search returns the very bits of the float64-only path (ties at the k-th
score, scores a last ulp apart, deletions, several segments, stale block bounds, candidate
overflow)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.bm25 import BM25Index, kernels, postings
from rankwise.bm25.index import _NO_IMPACTS, _warmup
from tests.bm25 import test_kernels as tk

#: the dense path for every query with postings in a quarter of a segment, float32 first in
#: every segment (small ones included) or never
DENSE_ALWAYS = {"DENSE_DOCS": 1 << 30, "SPARSE_POSTINGS": 0}
APPROX = {**DENSE_ALWAYS, "DENSE_APPROX_DOCS": 0}
EXACT = {**DENSE_ALWAYS, "DENSE_APPROX_DOCS": 1 << 30}


@contextlib.contextmanager
def _kernel_settings(**values: int) -> Iterator[None]:
    saved = {name: getattr(kernels, name) for name in values}
    for name, value in values.items():
        setattr(kernels, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(kernels, name, value)


def _hits(ix: BM25Index, query: str, k: int, mode: dict[str, int]) -> list[tuple[str, float]]:
    with _kernel_settings(**mode):
        ix.search(query, k)  # a first search may run in NumPy while the kernel compiles
        _warmup.wait()
        return [(h.id, h.score) for h in ix.search(query, k)]


def _both(ix: BM25Index, query: str, k: int) -> list[tuple[str, float]]:
    """The hits of the float32-first path, checked equal (ids and score bits) to those of the
    float64-only path and of the TAAT_NAIVE twin."""
    algo = ix.inverted_index_algo
    approx = _hits(ix, query, k, APPROX)
    exact = _hits(ix, query, k, EXACT)
    assert approx == exact, query
    ix.inverted_index_algo = "TAAT_NAIVE"
    try:
        assert _hits(ix, query, k, APPROX) == exact, query
    finally:
        ix.inverted_index_algo = algo
    return approx


def _packed(docs: np.ndarray, tfs: np.ndarray, n_docs: int) -> tuple[np.ndarray, Any, Any]:
    """``(post, shift, mask)`` as a segment of ``n_docs`` documents hands them to the kernels."""
    dtype, shift = postings.pack_layout(n_docs, int(tfs.max()))
    return postings.pack(docs, tfs, dtype, shift), dtype(shift), dtype((1 << shift) - 1)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp2(rng.uniform(np.log2(lo), np.log2(hi), n))


def _segment(
    rng: np.random.Generator,
    norm: np.ndarray,
    shares: tuple[float, ...],
    doc_type: Any,
    block: int,
) -> tuple[np.ndarray, np.ndarray, Any, Any, np.ndarray, np.ndarray]:
    """A segment of ``norm.size`` documents with one term per share (each document holds it
    with that probability, tf 1..8), as the kernels take it: ``(ptr, post, shift, mask,
    bptr, blast)``, doc numbers of ``doc_type`` in ``blast``."""
    n = norm.size
    ptr = [0]
    docs_l, tfs_l = [], []
    for share in shares:
        d = np.flatnonzero(rng.random(n) < share)
        docs_l.append(d.astype(doc_type))
        tfs_l.append(rng.integers(1, 9, d.size).astype(np.uint8))
        ptr.append(ptr[-1] + d.size)
    ptr_a = np.array(ptr, np.int64)
    post, sh, mk = _packed(np.concatenate(docs_l), np.concatenate(tfs_l), n)
    bptr, blast, _bmax = postings.compute_blocks(ptr_a, post, int(sh), norm, block)
    return ptr_a, post, sh, mk, bptr, blast.astype(doc_type)


def test_float32_bound_holds_for_long_queries_and_large_tf() -> None:
    """Usual norms and weights, then the whole range the float32 pass takes (norms 0 and up to
    APPROX_MAX_VALUE, weights from 2^-30 up to it): pairs of frequent terms over one
    division stay within ``_approx_error`` too."""
    rng = np.random.default_rng(3)
    n = 3000
    top = kernels.APPROX_MAX_VALUE
    usual = rng.uniform(0.05, 40.0, n).astype(np.float32)
    extreme = _log_uniform(rng, 2.0**-20, top, n).astype(np.float32)
    extreme[::7] = 0.0
    extreme[1] = np.float32(top)
    for norm, (w_lo, w_hi) in ((usual, (1e-6, 50.0)), (extreme, (2.0**-30, top))):
        _check_float32_bound(rng, n, norm, w_lo, w_hi)


def _check_float32_bound(
    rng: np.random.Generator, n: int, norm: np.ndarray, w_lo: float, w_hi: float
) -> None:
    alive = np.ones(n, np.bool_)
    for m, top_tf in ((1, 3), (6, 255), (40, 65535)):
        ptr = [0]
        docs_l, tfs_l = [], []
        for _ in range(m):
            d = np.flatnonzero(rng.random(n) < rng.uniform(0.05, 1.0))
            docs_l.append(d.astype(np.uint32))
            tfs_l.append(rng.integers(1, top_tf + 1, d.size).astype(np.uint16))
            ptr.append(ptr[-1] + d.size)
        docs = np.concatenate(docs_l)
        tfs = np.concatenate(tfs_l)
        starts = np.array(ptr[:-1], np.int64)
        ends = np.array(ptr[1:], np.int64)
        weights = _log_uniform(rng, w_lo, w_hi, m)
        post, sh, mk = _packed(docs, tfs, n)
        fbuf, _ibuf, buf32, gmax32, tfw = kernels._dense_work(n, m, 16)
        acc = np.zeros(n, np.float64)
        kernels._exact_scores(starts, ends, weights, post, sh, mk, norm, acc, fbuf)
        exact = acc.copy()
        acc32 = np.zeros(n, np.float32)
        cur = np.zeros(m, np.int64)
        terms = np.arange(m, dtype=np.int64)
        islot, imp, _itf = _NO_IMPACTS
        kernels._approx_scores(
            starts, ends, weights, terms, islot, imp, post, sh, mk, norm, alive, False, acc32,
            tfw, buf32, cur, gmax32,
        )  # fmt: skip
        assert tfw.size == 2 * n  # one window: the segment is smaller than DENSE_WINDOW
        assert not tfw.any()  # left all zero
        for width in (1, 7, 128, 1000):  # windows of `width` documents: the same float32 sums
            narrow = np.zeros(2 * width, np.uint8)
            windowed = np.full(n, np.nan, np.float32)
            kernels._approx_scores(
                starts, ends, weights, terms, islot, imp, post, sh, mk, norm, alive, False,
                windowed, narrow, buf32, cur, gmax32.copy(),
            )  # fmt: skip
            assert not narrow.any()
            if top_tf <= 255:  # every window spreads the same terms: the same float32 sums
                assert np.array_equal(windowed, acc32), width
            else:  # a term is taken posting by posting in the windows where a tf passes
                # the uint8 scratch (its spread undone): other sums, the same error bound
                err = np.abs(windowed.astype(np.float64) - exact)
                assert (err <= kernels._approx_error(m) * exact).all(), width
        eps = kernels._approx_error(m)
        err = np.abs(acc32.astype(np.float64) - exact)
        assert (err <= eps * exact).all()
        assert ((acc32 > 0) == (exact > 0)).all()
        # the frequent terms' impacts kept (every one, or as many as half their bytes hold):
        # their rows replace their postings, within the same bound
        ptr_all = np.array(ptr, np.int64)
        frequent = int(np.count_nonzero(np.diff(ptr_all) * kernels.DENSE_TERM_SHARE >= n))
        for budget in (6 * n * frequent, 6 * n * (frequent // 2)):
            islot_k, imp_k, itf_k = kernels.impact_table(ptr_all, post, sh, mk, norm, budget)
            rows = imp_k.shape[0]
            assert imp_k.shape == itf_k.shape == (rows, n)
            assert rows == min(budget // (6 * n), frequent)
            for t in np.flatnonzero(islot_k >= 0):  # each kept term's tfs, and only those
                want_tf = np.zeros(n, np.uint16)
                want_tf[docs_l[t]] = tfs_l[t]
                assert np.array_equal(itf_k[islot_k[t]], want_tf)
                assert np.array_equal(imp_k[islot_k[t]] > 0, want_tf > 0)
            with_rows = np.zeros(n, np.float32)
            kernels._approx_scores(
                starts, ends, weights, terms, islot_k, imp_k, post, sh, mk, norm, alive, False,
                with_rows, tfw, buf32, cur, gmax32.copy(),
            )  # fmt: skip
            assert not tfw.any()
            err = np.abs(with_rows.astype(np.float64) - exact)
            assert (err <= eps * exact).all(), (m, budget)
            assert ((with_rows > 0) == (exact > 0)).all()
        # the group maxima are those of the float32 scores
        groups = gmax32.size
        want = np.zeros(groups, np.float32)
        np.maximum.at(want, np.arange(n) % groups, acc32)
        assert np.array_equal(gmax32.view(np.float32), want)


def test_scores_a_last_ulp_apart_and_ties_keep_their_exact_order() -> None:
    # every document holds the same four terms (equal weights), with the term frequencies
    # permuted: the float64 sums of the same contributions in other orders differ in the last
    # ulp, which float32 cannot tell apart; identical documents tie exactly
    patterns = [p for p in itertools.product(range(1, 5), repeat=4) if sum(p) == 10]
    docs = []
    for rep in range(3):
        for p in patterns:
            words = [w for w, c in zip("abcd", p, strict=True) for _ in range(c)]
            docs.append(" ".join(words + ["pad"] * rep))
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=[f"d{i}" for i in range(len(docs))])
    every = _both(ix, "a b c d", len(docs))
    scores = np.array([s for _, s in every])
    apart = scores[:-1] != scores[1:]
    close = np.abs(scores[:-1] - scores[1:]) <= 4 * np.spacing(scores[1:])
    assert (apart & close).any()  # some scores differ by a few ulp only
    assert (~apart).any()  # and some tie
    for k in range(1, len(docs) + 1, 3):
        assert _both(ix, "a b c d", k) == every[:k]
    # float32 scores would differ from these: skipping the rescore fails this test
    assert any(np.float64(np.float32(s)) != s for _, s in every)


def test_candidate_overflow_falls_back_to_float64() -> None:
    docs = ["a b"] * 300 + ["a"] * 100 + ["b c"] * 50
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=[f"d{i}" for i in range(len(docs))])
    for cap in (1, 2, 299, 300, 301):
        for k in (1, 10, 300):
            with _kernel_settings(**APPROX, DENSE_CANDIDATES=cap):
                ix.search("a b", k)
                _warmup.wait()
                assert [h.id for h in ix.search("a b", k)] == [f"d{i}" for i in range(k)]
                _both(ix, "a b c", k)


def test_paths_equal_brute_force_with_deletions_and_segments() -> None:
    rng = np.random.default_rng(17)
    docs = tk._zipf_docs(rng, 2500)
    ids = [f"d{i}" for i in range(len(docs))]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    for lo in range(0, len(docs), 700):
        ix.add(docs[lo : lo + 700], ids=ids[lo : lo + 700])
    live = list(zip(ids, docs, strict=True))
    order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
    dead = set(ids[::4]) | set(ids[700:1000])
    ix.delete(sorted(dead))
    live = [(i, t) for i, t in live if i not in dead]
    order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
    for q in tk.QUERIES:
        for k in (1, 10, 100, 300):
            tk._check_hits(_both(ix, q, k), live, q, k, ix, order)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.integers(0, 30)),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=4,
    ),
    dead=st.sets(st.integers(0, 160), max_size=40),
    query=st.lists(st.integers(0, 3), min_size=1, max_size=6),
    k=st.integers(1, 60),
)
def test_float32_first_equals_float64_property(
    batches: list[list[tuple[list[int], int]]], dead: set[int], query: list[int], k: int
) -> None:
    """Documents of a few frequent terms (many ties, scores a few ulp apart), padded to
    different lengths; several segments whose later additions move the average length (stale
    block bounds); deletions; repeated query terms."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    n = 0
    for batch in batches:
        texts = [" ".join([f"w{t}" for t in terms] + ["pad"] * pad) for terms, pad in batch]
        ix.add(texts, ids=[f"d{n + i}" for i in range(len(texts))])
        n += len(texts)
    victims = sorted(f"d{i}" for i in dead if i < n)
    if victims:
        ix.delete(victims)
    _both(ix, " ".join(f"w{t}" for t in query), k)


def test_rescore_and_candidates_equal_brute_force() -> None:
    """The rescore's block lookups (full and partial blocks, candidates before, inside and
    after a term's postings, absent from it), and its reads of the kept term frequencies of
    frequent terms, give the bits of the float64 pass, and the
    candidate scan (runs and a ragged tail, more hits than room) the documents NumPy finds."""
    rng = np.random.default_rng(11)
    for n, doc_type, block in (
        (3000, np.uint16, 128),
        (70_000, np.uint32, 128),
        (900, np.uint32, 4),
    ):
        norm = rng.uniform(0.05, 40.0, n).astype(np.float32)
        ptr_a, post, sh, mk, bptr, blast = _segment(
            rng, norm, (1.0, 0.5, 0.05, 0.001), doc_type, block
        )
        m = ptr_a.size - 1
        weights = rng.uniform(0.1, 20.0, m)
        fbuf = np.empty(2 * kernels.DENSE_RUN, np.float64)
        exact = np.zeros(n, np.float64)
        kernels._exact_scores(ptr_a[:-1], ptr_a[1:], weights, post, sh, mk, norm, exact, fbuf)
        cand = np.unique(np.concatenate([[0, n - 1], rng.choice(n, 300, replace=False)]))
        out = np.empty(cand.size, np.float64)
        pos = np.empty(cand.size, np.int64)
        terms = np.arange(m)
        big = 6 * n * m  # room for every frequent term's rows
        for islot, _imp, itf in (_NO_IMPACTS, kernels.impact_table(ptr_a, post, sh, mk, norm, big)):
            out[:] = np.nan
            kernels._rescore(
                cand, cand.size, ptr_a[:-1], ptr_a[1:], bptr[:-1], bptr[1:], weights, terms,
                islot, itf, post, sh, mk, blast, block, norm, out, pos,
            )  # fmt: skip
            assert np.array_equal(out.view(np.int64), exact[cand].view(np.int64)), islot.size
        assert np.count_nonzero(islot >= 0) == 2  # the terms in all and half the documents
        bits = exact.astype(np.float32).view(np.int32)
        n_groups = kernels._dense_groups(n)
        gmax = np.zeros(n_groups, np.int32)
        np.maximum.at(gmax, np.arange(n) % n_groups, bits)
        walked = set()  # whether the group walk answered (True) or left it to the scan
        for t in (1, int(np.median(bits)), *np.sort(bits)[-3:].tolist(), int(bits.max()) + 1):
            want = np.flatnonzero(bits >= t)
            for room in (0, 1, want.size, want.size + 5):
                got = np.full(room, -1, np.int64)
                assert kernels._candidates(bits, n, np.int32(t), got) == want.size
                assert np.array_equal(got[: min(room, want.size)], want[:room])
                # through the groups that reach t: the same documents, ascending, when all fit
                got = np.full(room, -1, np.int64)
                count = kernels._group_candidates(bits, n, np.int32(t), gmax, got)
                walked.add(count >= 0)
                if count >= 0:
                    assert count == want.size
                    if room >= want.size:
                        assert np.array_equal(got[: want.size], want)
                    else:  # some of them (any), the rest of the room untouched
                        assert np.isin(got, want).all()
        assert walked == {True, False}, n


def test_zero_norms_k1_zero_and_empty_documents() -> None:
    """norm = 0 for every document when k1 = 0 (and for an empty one when b = 1): a document
    without a frequent term must add 0, not 0 / 0 = NaN, in the float32 pass (a NaN there
    poisoned the bound of the k-th score and lost hits)."""
    docs = ["a b"] * 30 + ["b c"] * 30 + ["c"] * 40 + [""] * 5
    for k1, b in ((0.0, 0.75), (0.0, 1.0), (1.2, 1.0)):
        ix = BM25Index({"tokenizer": "whitespace"}, k1=k1, b=b, show_progress=False)
        ix.add(docs, ids=[f"d{i}" for i in range(len(docs))])
        for q in ("a", "a b", "c", "a b c"):
            for k in (1, 10, 50, 100, 105):
                hits = _both(ix, q, k)
                want = {"a": 30, "a b": 60, "c": 70, "a b c": 100}[q]
                assert len(hits) == min(k, want), (k1, b, q, k)


def test_float32_pass_leaves_values_past_its_range_to_float64(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """k1 = 2^70: norms ~2^70 and weights ~2^60, past APPROX_MAX_VALUE, where the float32
    pass's products overflow (a pair over one division gives x / inf = 0 for every document,
    and no hit). The index turns the float32 pass off for norms past the range (the plan
    hands the kernels no room for candidates) and the kernel for weights past it: the hits
    are those of the float64-only path and of brute force."""
    rng = np.random.default_rng(23)
    docs = tk._zipf_docs(rng, 600, vocab=12)
    ids = [f"d{i}" for i in range(len(docs))]
    live = list(zip(ids, docs, strict=True))
    order = {doc_id: pos for pos, doc_id in enumerate(ids)}
    seen: list[int] = []
    batch = kernels.maxscore_batch

    def spy(*args: Any) -> None:
        seen.append(args[-6])  # approx_candidates
        batch(*args)

    monkeypatch.setattr(kernels, "maxscore_batch", spy)
    for k1, room in ((1.2, kernels.DENSE_CANDIDATES), (2.0**70, 0)):
        ix = BM25Index({"tokenizer": "whitespace"}, k1=k1, show_progress=False)
        ix.add(docs, ids=ids)
        for q in ("w0 w1", "w0 w1 w2 w3"):
            for k in (1, 10, 100):
                seen.clear()
                tk._check_hits(_both(ix, q, k), live, q, k, ix, order)
                assert seen, (k1, q, k)
                assert set(seen) == {room}, (k1, seen)


def test_float32_pass_leaves_weights_past_its_range_to_float64() -> None:
    """Query weights past APPROX_MAX_VALUE (2^120: the float32 products overflow for the long
    documents, which then outrank the short ones) make the dense kernel score in float64: its
    top k is that of the exact scores, ties by document."""
    rng = np.random.default_rng(5)
    n = 4000
    norm = rng.uniform(0.05, 40.0, n).astype(np.float32)
    block = 128
    ptr, post, sh, mk, bptr, blast = _segment(rng, norm, (1.0, 0.6, 0.02), np.uint16, block)
    m = ptr.size - 1
    alive = np.ones(n, np.bool_)
    for weights in (rng.uniform(1.0, 20.0, m), np.full(m, 2.0**120)):
        exact = np.zeros(n, np.float64)
        fbuf = np.empty(2 * kernels.DENSE_RUN, np.float64)
        kernels._exact_scores(ptr[:-1], ptr[1:], weights, post, sh, mk, norm, exact, fbuf)
        for k in (1, 10, 25):
            hs = np.zeros(k, np.float64)
            hd = np.zeros(k, np.int64)
            work = kernels._dense_work(n, m, n)  # room for every candidate
            size = kernels._taat_dense(
                ptr[:-1], ptr[1:], bptr[:-1], bptr[1:], weights, np.arange(m), *_NO_IMPACTS,
                post, sh, mk, blast, block, norm, alive, False, np.zeros(n, np.float64), work, 0,
                hs, hd, 0, k,
            )  # fmt: skip
            kernels._sort_heap(hs, hd, size)
            want = np.lexsort((np.arange(n), -exact))[:k]
            assert size == k
            assert np.array_equal(hd, want), (weights[0], k)
            assert np.array_equal(hs.view(np.int64), exact[want].view(np.int64))


def _impact_rows(ix: BM25Index) -> list[int]:
    """Rows of each segment's impact table in the current snapshot ([] before its first
    search)."""
    state = ix._state.cache.get("impact_tables")
    return [int(imp.shape[0]) for _islot, imp, _itf in state[0]] if state is not None else []


def test_impact_rows_are_those_of_each_snapshot() -> None:
    """The float32 pass adds the kept ``tf / (tf + norm)`` rows of frequent terms in small
    segments; those depend on avgdl, so each snapshot keeps its own. Through writes that move
    avgdl (long documents added, documents deleted), the hits with rows equal those without
    (ids and score bits), those of the float64-only path, and brute force's."""
    rng = np.random.default_rng(29)
    docs = tk._zipf_docs(rng, 2000, vocab=60)
    ids = [f"d{i}" for i in range(len(docs))]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=ids)
    live = list(zip(ids, docs, strict=True))
    queries = ["w0 w1", "w0 w2 w9", "w1 w1 w3 w30", "w0 w1 w2 w3 w4 w5 w6"]

    def check() -> None:
        order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
        for q in queries:
            for k in (1, 10, 50):
                with _kernel_settings(IMPACT_QUERIES=0):  # after a first dense query
                    with_rows = _both(ix, q, k)
                    assert max(_impact_rows(ix)) > 0
                    with _kernel_settings(IMPACT_DOCS=0):
                        ix._state.cache.pop("impact_tables")
                        without = _both(ix, q, k)
                        assert max(_impact_rows(ix)) == 0
                    ix._state.cache.pop("impact_tables")
                bits = [(i, s.hex()) for i, s in with_rows]
                assert bits == [(i, s.hex()) for i, s in without], (q, k)
                tk._check_hits(with_rows, live, q, k, ix, order)

    check()
    longer = [" ".join([d] * 20) for d in tk._zipf_docs(rng, 900, vocab=60)]
    more = [f"e{i}" for i in range(len(longer))]
    ix.add(longer, ids=more)  # avgdl grows ~7x: every norm and impact moves
    live += list(zip(more, longer, strict=True))
    check()
    dead = set(ids[::3]) | set(more[::2])
    ix.delete(sorted(dead))
    live = [(i, t) for i, t in live if i not in dead]
    check()


def test_a_segment_gets_impact_rows_after_enough_dense_queries() -> None:
    """A segment gets its impact rows once more than IMPACT_QUERIES queries of the snapshot
    were scored densely there (search and search_many alike): a write between every few
    searches never builds them, the next snapshot counts from zero, and queries that skip the
    dense path (rare terms) do not count."""
    rng = np.random.default_rng(31)
    docs = tk._zipf_docs(rng, 1500, vocab=60)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs)

    def fresh_snapshot(text: str) -> None:
        ix.add([text])
        ix.search("w0 w1")  # may start compiling for the new segment: one more query counted
        _warmup.wait()

    def rows() -> int:
        return max(_impact_rows(ix))

    with _kernel_settings(IMPACT_QUERIES=10):
        fresh_snapshot("w0 w1 w2")
        ix.search_many(["w59"] * 30, n_threads=1)  # rare: not scored densely
        for _ in range(3):
            ix.search("w0 w1")
        ix.search_many(["w0 w2", "w1 w3", "w0"], n_threads=1)
        assert rows() == 0  # at most 8 dense queries so far
        ix.search_many(["w0 w3"] * 5, n_threads=1)
        ix.search("w0 w3")  # the rows come with the call after the count passes 10
        assert rows() > 0
        fresh_snapshot("w5 w6")
        assert rows() == 0


def test_threads_making_impact_rows_at_once_get_the_same_hits() -> None:
    """Threads of one search_many reach the IMPACT_QUERIES count together and may each build
    a segment's rows: every query's hits equal those of the rows-free path; so do those with
    a deleted document (its row entries are zeroed with the rest of it)."""
    rng = np.random.default_rng(37)
    docs = tk._zipf_docs(rng, 3000, vocab=80)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs[:2000])
    ix.add(docs[2000:])  # two segments
    queries = [" ".join(f"w{int(t)}" for t in rng.integers(0, 12, 4)) for _ in range(400)]
    ix.search(queries[0])  # the kernels compiled, not the NumPy stand-in
    _warmup.wait()
    with _kernel_settings(IMPACT_DOCS=0):
        want = ix.search_many_ids(queries, k=10, n_threads=1)
    [extra] = ix.add(["w0 w1 w2 w3"])  # a new snapshot: counts from zero
    with _kernel_settings(IMPACT_QUERIES=0):
        got = ix.search_many_ids(queries, k=10, n_threads=2)
        assert max(_impact_rows(ix)) > 0
    with _kernel_settings(IMPACT_DOCS=0):
        ix._state.cache.pop("impact_tables")
        assert got == ix.search_many_ids(queries, k=10, n_threads=1)
    ix.delete([extra])  # the same statistics as before the add, one dead document
    with _kernel_settings(IMPACT_QUERIES=0):
        assert ix.search_many_ids(queries, k=10, n_threads=2) == want
        assert max(_impact_rows(ix)) > 0


def test_the_warm_up_compiles_the_impact_table_builder_for_the_segments_types(
    tmp_path: Any,
) -> None:
    """A snapshot's first impact table is built inside a caller's search: the background
    warm-up of a new kind of arrays (here read-only, memory-mapped postings) compiles its
    builder too, so that search does not wait for numba."""
    import numba

    rng = np.random.default_rng(41)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(tk._zipf_docs(rng, 500, vocab=40))
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", mmap=True, show_progress=False)
    seg = loaded._state.segments[0]
    assert not seg.post.flags.writeable
    loaded.search("w0 w1")
    _warmup.wait()
    want = (numba.typeof(seg.ptr), numba.typeof(seg.post))
    assert any(tuple(sig[:2]) == want for sig in kernels.impact_table.signatures)
