"""The query kernels' exhaustive paths (dense and sparse TAAT, chosen per query inside
DAAT_MAXSCORE too) and the pure MaxScore path give the brute-force answers, bit for bit the
same across algorithms: ties, deletions, several segments and k beyond the matches included."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rankwise.bm25 import BM25Index, kernels
from rankwise.bm25.index import ALGORITHMS
from tests.bm25 import test_properties as props
from tests.bm25._brute import brute_force

#: DAAT_MAXSCORE with its exhaustive shortcuts switched off, and with them always on (but for
#: queries covering much of a segment with a term that bounds MaxScore's k-th score)
PURE_MAXSCORE = {"DENSE_DOCS": 0, "SPARSE_POSTINGS": 0}
ALWAYS_TAAT = {"DENSE_DOCS": 1 << 30, "SPARSE_POSTINGS": 1 << 30}


@pytest.fixture(params=["default", "pure_maxscore", "always_taat"])
def maxscore_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    settings = {"default": {}, "pure_maxscore": PURE_MAXSCORE, "always_taat": ALWAYS_TAAT}
    for name, value in settings[request.param].items():
        monkeypatch.setattr(kernels, name, value)
    return str(request.param)


def _check(ix: BM25Index, live: list[tuple[str, str]], queries: list[str], k: int) -> None:
    order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
    for q in queries:
        results = {}
        for algo in ALGORITHMS:
            ix.inverted_index_algo = algo
            results[algo] = [(h.id, h.score) for h in ix.search(q, k)]
        assert results["TAAT_NAIVE"] == results["DAAT_WAND"] == results["DAAT_MAXSCORE"], q
        _check_hits(results["DAAT_MAXSCORE"], live, q, k, ix, order)


def _check_hits(
    got: list[tuple[str, float]],
    live: list[tuple[str, str]],
    q: str,
    k: int,
    ix: BM25Index,
    order: dict[str, int],
) -> None:
    """``got`` is a top-k of ``live``: the brute force's scores (within the rounding of the
    float32 length norms), each hit's own brute-force score, best first, ties by position."""
    expected = brute_force(live, q, k, k1=ix.k1, b=ix.b)
    assert len(got) == len(expected), q
    every = dict(brute_force(live, q, len(live) + 1, k1=ix.k1, b=ix.b))
    for (gid, gs), (_, es) in zip(got, expected, strict=True):
        assert math.isclose(gs, es, rel_tol=1e-6), q
        assert math.isclose(every[gid], gs, rel_tol=1e-6), q
    for (ia, sa), (ib, sb) in itertools.pairwise(got):
        assert sa > sb or (sa == sb and order[ia] < order[ib])


def _zipf_docs(rng: np.random.Generator, n: int, vocab: int = 400) -> list[str]:
    ranks = np.arange(1, vocab + 1)
    p = (1.0 / ranks) / (1.0 / ranks).sum()
    lengths = rng.integers(1, 30, size=n)
    return [" ".join(f"w{int(t)}" for t in rng.choice(vocab, size=int(m), p=p)) for m in lengths]


QUERIES = [
    "w0 w1",  # postings cover most documents: the dense path
    "w0 w1 w2 w3 w5 w8",
    "w0 w0 w2",  # a repeated term counts twice
    "w0 w1 w150",  # covers most documents, but w150 bounds the k-th score: MaxScore
    "w150 w399",  # a few postings: the sparse path
    "w40 w41 w42 w43",
    "w7 w300",
    "w399 nothere",
]


@pytest.mark.parametrize("k", [1, 10, 100, 5000])
def test_every_path_equals_brute_force_with_deletions_and_segments(
    k: int, maxscore_mode: str
) -> None:
    rng = np.random.default_rng(11)
    docs = _zipf_docs(rng, 3000)
    ids = [f"d{i}" for i in range(len(docs))]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    for lo in range(0, len(docs), 1000):  # several segments: heaps carried across them
        ix.add(docs[lo : lo + 1000], ids=ids[lo : lo + 1000])
    live = list(zip(ids, docs, strict=True))
    _check(ix, live, QUERIES, k)
    dead = set(ids[::3]) | set(ids[1000:1400])
    ix.delete(sorted(dead))
    live = [(i, t) for i, t in live if i not in dead]
    _check(ix, live, QUERIES, k)


@pytest.mark.parametrize("k", [1, 7, 64])
def test_ties_go_to_the_earlier_document_on_every_path(k: int, maxscore_mode: str) -> None:
    # many documents with the very same score: the top-k bounds must not drop tied documents
    docs = ["a b"] * 500 + ["a c"] * 300 + ["b"] * 200 + ["z"] * 50
    ids = [f"d{i}" for i in range(len(docs))]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=ids)
    live = list(zip(ids, docs, strict=True))
    _check(ix, live, ["a", "a b", "b c", "a b c", "c"], k)
    ix.delete(ids[:100:2])
    live = [(i, t) for i, t in live if i not in set(ids[:100:2])]
    _check(ix, live, ["a", "a b", "b c"], k)


def test_filtered_searches_agree_on_every_path(maxscore_mode: str) -> None:
    rng = np.random.default_rng(5)
    docs = _zipf_docs(rng, 1500)
    ids = [f"d{i}" for i in range(len(docs))]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=ids, metadatas=[{"even": i % 2 == 0} for i in range(len(docs))])
    keep = set(ids[::2])
    live = [(i, t) for i, t in zip(ids, docs, strict=True) if i in keep]
    every = list(zip(ids, docs, strict=True))
    order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
    for q in QUERIES:
        for flt in ({"even": True}, keep):
            got = {}
            for algo in ALGORITHMS:
                ix.inverted_index_algo = algo
                got[algo] = [(h.id, h.score) for h in ix.search(q, 20, filter=flt)]
            assert got["TAAT_NAIVE"] == got["DAAT_WAND"] == got["DAAT_MAXSCORE"]
            # scores are those of the whole index (statistics over every document)
            scores = dict(brute_force(every, q, len(every) + 1, k1=ix.k1, b=ix.b))
            want = sorted(
                ((i, scores[i]) for i, _ in live if i in scores), key=lambda h: (-h[1], order[h[0]])
            )[:20]
            assert [i for i, _ in got["DAAT_MAXSCORE"]] == [i for i, _ in want]


def test_the_property_suite_holds_for_pure_maxscore_and_always_taat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The brute-force property tests once more with DAAT_MAXSCORE forced down each path (by
    default small corpora never reach its windows)."""
    for settings in (PURE_MAXSCORE, ALWAYS_TAAT):
        for name, value in settings.items():
            monkeypatch.setattr(kernels, name, value)
        props.test_algorithms_equal_brute_force()
        props.test_maxscore_scans_and_probes_non_essential_terms()
        props.test_algorithms_agree_on_larger_zipf_corpora()


def test_kth_bound_is_reached_by_k_values() -> None:
    """At least k values reach the bound; for small k among enough values (KTH_EXACT_K) it
    is the k-th largest itself, else within BOUND_STEPS halvings of it."""
    rng = np.random.default_rng(2)
    cases = [(1, 1), (10, 3), (1000, 100), (1000, 1000), (50, 80), (512, 10), (512, 16),
             (4096, 1), (8192, 16), (8193, 10), (600, 40), (16, 1), (300, 20)]  # fmt: skip
    for n, k in cases:
        for zeros in (7, 1):  # some zeros; then all zero (fewer than k positive)
            values = rng.random(n + 3) * 10  # the bound reads only the first n
            values[::zeros] = 0.0
            values[1::5] = values[0]  # ties
            bits = kernels._kth_bound(values.view(np.int64), n, k)
            bound = np.int64(bits).view(np.float64)
            values = values[:n]
            if (values > 0).sum() < k:
                assert bound == 0.0, (n, k)
                continue
            assert (values >= bound).sum() >= k, (n, k)
            kth = np.sort(values)[::-1][k - 1]
            exact = k <= kernels.KTH_EXACT_K and k * kernels.KTH_EXACT_K <= n <= kernels.KTH_EXACT_N
            if exact:
                assert bound == kth, (n, k)
            else:  # close to the k-th largest value (within BOUND_STEPS halvings)
                assert kth - bound <= values.max() * 2.0**-kernels.BOUND_STEPS, (n, k)


@pytest.mark.parametrize("size", [0, 1, 2, 10, 31, 32, 33, 100, 128, 129, 300])
def test_sort_heap_puts_hits_best_first_ties_by_document(size: int) -> None:
    """Both ways of ordering a top-k (the heap sort, and counting each hit's place from
    RANK_SORT_MIN to RANK_SORT_MAX hits): scores descending, equal scores by document."""
    rng = np.random.default_rng(size)
    k = max(size, 1)
    hs = np.zeros(k, np.float64)
    hd = np.zeros(k, np.int64)
    n = 0
    docs = rng.permutation(10 * k)[: 3 * k]
    scores = rng.integers(0, max(size // 4, 2), docs.size) / 7.0  # many ties
    for s, d in zip(scores.tolist(), docs.tolist(), strict=True):
        if size:
            n = kernels._heap_push(hs, hd, n, size, s, d)
    kernels._sort_heap(hs, hd, n)
    want = sorted(zip((-scores).tolist(), docs.tolist(), strict=True))[:size]
    assert n == size
    assert hs[:n].tolist() == [-s for s, _ in want]
    assert hd[:n].tolist() == [d for _, d in want]
