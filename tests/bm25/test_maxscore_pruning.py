"""MaxScore's pruning never loses a hit: the window documents it drops before completing them
with the other terms (``_drop_hopeless``) could not have entered the top k, and its block and
term bounds are sharp enough that scaling them down is caught. Forced through the pure
MaxScore path with small blocks (many windows), with ties at the k-th score, deletions,
several segments and a stale bound_avgdl."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.bm25 import BM25Index, kernels
from rankwise.bm25 import index as index_module
from tests.bm25.test_properties import _check_against_brute


@pytest.fixture(autouse=True, scope="module")
def _compiled_kernels() -> None:
    """Searches run the compiled kernels (not the NumPy stand-in used while they compile)."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["a b", "b c"], ids=["x", "y"])
    for algo in ("TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE"):
        ix.inverted_index_algo = algo
        ix.search("a b", 1)
        index_module._warmup.wait()


@contextmanager
def _pure_maxscore(block: int) -> Iterator[None]:
    """DAAT_MAXSCORE without its exhaustive shortcuts, blocks of ``block`` postings (windows of
    ``WINDOW_BLOCKS * block`` documents)."""
    saved = kernels.DENSE_DOCS, kernels.SPARSE_POSTINGS, kernels.BLOCK_SIZE
    kernels.DENSE_DOCS, kernels.SPARSE_POSTINGS, kernels.BLOCK_SIZE = 0, 0, block
    try:
        yield
    finally:
        kernels.DENSE_DOCS, kernels.SPARSE_POSTINGS, kernels.BLOCK_SIZE = saved


# few distinct documents, many copies: equal scores at the k-th place are the rule
TEMPLATES = ["a b", "a", "a a c", "b c", "c", "a b c d", "d", "e a", "b b", "a c e"]
template_docs = st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=40)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    # decreasing batch sizes: each add stays its own segment (no merge of similar sizes)
    batches=st.tuples(
        st.lists(template_docs, min_size=5, max_size=8).map(lambda bs: [d for b in bs for d in b]),
        st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=20),
    ),
    long_tail=st.integers(0, 30),
    dead=st.sets(st.integers(0, 400), max_size=60),
    k=st.sampled_from([1, 3, 10, 17, 40]),
    block=st.sampled_from([2, 4]),
    query=st.sampled_from(["a b", "a c", "c e", "a b c d e", "b d", "a a e", "d e c"]),
)
def test_pure_maxscore_with_ties_deletions_segments_and_stale_bounds(
    batches: tuple[list[str], list[str]],
    long_tail: int,
    dead: set[int],
    k: int,
    block: int,
    query: str,
) -> None:
    first, second = batches
    docs = first + second
    with _pure_maxscore(block):
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ids = [f"d{i}" for i in range(len(docs))]
        ix.add(first, ids=ids[: len(first)])
        ix.add(second, ids=ids[len(first) :])
        live = list(zip(ids, docs, strict=True))
        if long_tail:
            # long documents move avgdl: the older segments keep bounds built for the old
            # one (bound_avgdl), scaled up at query time
            tail = [" ".join(["f"] * 30 + ["a", "c"]) for _ in range(long_tail)]
            tail_ids = [f"t{i}" for i in range(long_tail)]
            ix.add(tail, ids=tail_ids)
            live += list(zip(tail_ids, tail, strict=True))
        victims = {f"d{i}" for i in dead}
        ix.delete(sorted(victims))
        live = [(i, t) for i, t in live if i not in victims]
        _check_against_brute(ix, live, [query], k)


def _zipf_corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, 61)
    p = (1.0 / ranks) / (1.0 / ranks).sum()
    return [
        " ".join(f"w{int(t)}" for t in rng.choice(60, size=int(m), p=p))
        for m in rng.integers(1, 25, size=n)
    ]


ZIPF_QUERIES = ["w0 w1 w30", "w0 w5 w12 w40", "w2 w3 w25", "w1 w7 w7 w50", "w0 w20 w33 w59"]


@pytest.mark.parametrize("k", [1, 10, 50])
def test_pure_maxscore_on_a_zipf_corpus_in_many_windows(k: int) -> None:
    docs = _zipf_corpus(1500, 4)
    with _pure_maxscore(2):
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ids = [f"d{i}" for i in range(len(docs))]
        ix.add(docs[:1000], ids=ids[:1000])
        ix.add(docs[1000:], ids=ids[1000:])
        ix.delete(ids[::5])
        live = [(i, t) for i, t in zip(ids, docs, strict=True) if i not in set(ids[::5])]
        _check_against_brute(ix, live, ZIPF_QUERIES, k)


def test_a_bound_scaled_down_loses_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above is sharp: with every block and term bound scaled down by 30% (unsafe),
    pure MaxScore misses hits on the same corpus and queries."""
    docs = _zipf_corpus(1500, 4)
    monkeypatch.setattr(index_module, "_BOUND_MARGIN", -0.3)
    with _pure_maxscore(2):
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ix.add(docs, ids=[f"d{i}" for i in range(len(docs))])
        for algo in ("TAAT_NAIVE", "DAAT_MAXSCORE"):  # compiled kernels, not the NumPy stand-in
            ix.inverted_index_algo = algo
            ix.search(ZIPF_QUERIES[0], 10)
            index_module._warmup.wait()
        lost = 0
        for q in ZIPF_QUERIES:
            ix.inverted_index_algo = "TAAT_NAIVE"
            want = [h.id for h in ix.search(q, 10)]
            ix.inverted_index_algo = "DAAT_MAXSCORE"
            lost += [h.id for h in ix.search(q, 10)] != want
        assert lost > 0


def test_drop_hopeless_keeps_exactly_the_documents_above_the_bound() -> None:
    rng = np.random.default_rng(1)
    window = 64 * 9
    for rest, theta in ((0.0, 2.0), (1.5, 2.0), (0.5, 0.0), (3.0, 2.5)):
        win = np.where(rng.random(window) < 0.4, rng.random(window) * 3, 0.0)
        win[::11] = theta - rest  # exactly at the bound: dropped (cannot beat the k-th score)
        touched = win != 0.0
        bits = np.packbits(touched, bitorder="little").view("<u8").copy()
        want = touched & (win + rest > theta)
        w = win.copy()
        left = kernels._drop_hopeless(w, bits, window // 64, rest, theta)
        assert left == int(want.sum())
        kept = np.unpackbits(bits.view(np.uint8), bitorder="little").astype(bool)
        assert np.array_equal(kept, want)
        assert np.array_equal(w, np.where(want | ~touched, win, 0.0))
