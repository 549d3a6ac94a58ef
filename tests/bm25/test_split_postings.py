"""Split postings (issue 14, memory): a segment whose doc numbers and term frequencies fit in
24 bits holds its packed postings as a uint16 array of their low bits beside a uint8 array of
their high bits, 3 bytes a posting; every reader (NumPy code and the compiled kernels) sees the
same values as from the uint32 array, so every path answers to the bit as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numba as nb
import numpy as np
import pytest

from rankwise.bm25 import BM25Index, kernels, postings, segment, split_postings
from rankwise.bm25.index import ALGORITHMS, _warmup
from rankwise.bm25.postings import ChunkPostings
from rankwise.bm25.split_postings import SplitPostings
from tests.bm25 import test_dense_taat as td
from tests.bm25 import test_kernels as tk
from tests.bm25.test_packed_postings import _check, _Oracle


@pytest.fixture
def split_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every segment that fits in 24 bits split, however small the index (the tests' are)."""
    monkeypatch.setattr(split_postings, "SPLIT_MIN_DOCS", 0)


def _values(n: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).integers(0, 1 << 24, n)).astype(np.uint32)


def test_split_postings_read_and_write_like_the_uint32_array() -> None:
    values = _values(1000)
    split = SplitPostings.of(values)
    assert (split.size, len(split), split.shape, split.ndim) == (1000, 1000, (1000,), 1)
    assert split.nbytes == 3 * 1000
    assert split.dtype == np.uint32
    assert np.array_equal(split[:], values)
    assert split[17] == values[17]
    assert isinstance(split[17], np.uint32)
    assert np.array_equal(split[10:500], values[10:500])
    mask = values % 3 == 0
    assert np.array_equal(split[mask], values[mask])
    at = np.array([999, 0, 5, 5])
    assert np.array_equal(split[at], values[at])
    assert split.max() == values.max()
    changed = values.copy()
    changed[[3, 7]] = [(1 << 24) - 1, 0x10000]
    split[np.array([3, 7])] = np.array([(1 << 24) - 1, 0x10000], np.uint32)
    assert np.array_equal(split[:], changed)
    lo, hi = split.kernel_form()
    assert (lo.dtype, hi.dtype) == (np.uint16, np.uint8)
    assert split_postings.kernel_form(values) is values
    assert split_postings.as_array(values) is values
    assert (split_postings.layout_key(split), split_postings.layout_key(values)) == ("S", "I")
    with pytest.raises(ValueError, match="uint16 and uint8"):
        SplitPostings(np.zeros(3, np.uint16), np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="uint16 and uint8"):
        SplitPostings(np.zeros(3, np.uint32), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="empty"):
        SplitPostings.empty(0).max()


def _chunk(n_docs: int, max_tf: int, seed: int) -> ChunkPostings:
    """Postings of 3 terms over ``n_docs`` documents, one with tf ``max_tf``."""
    rng = np.random.default_rng(seed)
    docs, counts = [], []
    for share in (0.5, 0.05, 0.001):
        d = np.flatnonzero(rng.random(n_docs) < share).astype(np.uint32)
        if d.size == 0:
            d = np.array([n_docs - 1], np.uint32)
        docs.append(d)
        counts.append(d.size)
    all_docs = np.concatenate(docs)
    tfs = rng.integers(1, 4, all_docs.size).astype(np.uint32)
    tfs[-1] = max_tf
    return ChunkPostings(
        np.arange(3, dtype=np.int32), np.array(counts, np.int32), all_docs, tfs, n_docs
    )


@pytest.mark.parametrize(
    ("n_docs", "max_tf", "split"),
    [
        (1 << 18, 63, True),  # a full build segment of 18 doc bits, tfs in 6
        (1 << 18, 64, False),  # one tf of 7 bits: 25 bits, the uint32 array
        ((1 << 18) + 1, 31, True),  # 19 + 5
        ((1 << 18) + 1, 32, False),
        (2, (1 << 23) - 1, True),  # 1 + 23
        (2, 1 << 23, False),
    ],
)
def test_the_split_layout_is_chosen_exactly_when_24_bits_hold_the_postings(
    n_docs: int, max_tf: int, split: bool, split_all: None
) -> None:
    one = _chunk(n_docs, max_tf, seed=1)
    want_docs, want_tfs = one.docs.copy(), one.tfs.copy()
    for chunks in (
        [one],
        [_chunk(n_docs // 2 or 1, 3, 2), _chunk(n_docs - n_docs // 2, max_tf, 3)],
    ):
        n = sum(c.n_docs for c in chunks)
        ptr, post, shift = postings.merge_chunks(list(chunks), 3, passes=2, split=True)
        assert isinstance(post, SplitPostings) is split
        assert post.nbytes == (3 if split else 4) * int(ptr[-1])
        docs, tfs = postings.post_docs(post, shift), postings.post_tfs(post, shift)
        assert int(tfs.max()) == max_tf
        assert int(docs.max()) < n
        if len(chunks) == 1:
            assert docs.tolist() == want_docs.tolist()
            assert tfs.tolist() == want_tfs.tolist()
        # block bounds read the same values either way
        norm = np.ones(n, np.float32)
        got = postings.compute_blocks(ptr, post, shift, norm, 128)
        want = postings.compute_blocks(ptr, split_postings.as_array(post), shift, norm, 128)
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a, b)


@nb.njit(cache=False)
def _read_all(post, sh, mk, a, b, f, into, lo, track):  # type: ignore[no-untyped-def]
    vals = split_postings.value_array(post, b - a)
    for j in range(b - a):
        vals[j] = split_postings.post_value(post, a + j)
    view = split_postings.post_run(post, a, b)
    run = split_postings.value_array(post, b - a)
    for j in range(b - a):
        run[j] = split_postings.post_value(view, j)
    below = kernels.count_below(post, a, b, f)
    seen = kernels.spread_tfs(post, a, b, sh, mk, into, lo, track)
    return vals, run, below, seen


def test_the_kernels_read_both_layouts_alike_and_like_the_python_readers() -> None:
    """The compiled readers (numba overloads in ``kernels``) against each other on the two
    layouts, and against their plain Python versions."""
    sh, mk = np.uint32(6), np.uint32(63)
    docs = np.sort(np.random.default_rng(2).choice(1 << 17, 500, replace=False)).astype(np.uint32)
    tfs = np.random.default_rng(3).integers(1, 64, docs.size).astype(np.uint32)
    values = (docs << sh) | tfs
    split = SplitPostings.of(values)
    a, b = 37, 400
    f = np.uint32(values[200])
    lo = np.uint64(int(docs[a]))
    span = int(docs[b - 1] - docs[a]) + 1
    results = []
    for post in (values, split.kernel_form()):
        for track in (False, True):
            into = np.zeros(span, np.uint8)
            vals, run, below, seen = _read_all(post, sh, mk, a, b, f, into, lo, track)
            results.append((vals.tolist(), run.tolist(), int(below), int(seen), into.tolist()))
    untracked = [r for i, r in enumerate(results) if i % 2 == 0]
    tracked = [r for i, r in enumerate(results) if i % 2 == 1]
    assert untracked[0] == untracked[1]
    assert tracked[0] == tracked[1]
    want_vals = values[a:b].tolist()
    assert untracked[0][0] == want_vals == untracked[0][1]
    assert untracked[0][2] == int((values[a:b] < f).sum()) == 200 - a
    assert untracked[0][3] == 0
    assert tracked[0][3] == int(np.bitwise_or.reduce(values[a:b].astype(np.uint64)))
    spread = np.zeros(span, np.uint8)
    spread[docs[a:b] - docs[a]] = tfs[a:b]
    assert untracked[0][4] == spread.tolist()
    # the Python readers (and the compiled helpers called from Python) give the same
    for post in (values, split):
        assert split_postings.post_value(post, 5) == values[5]
        view = split_postings.post_run(post, a, b)
        assert [split_postings.post_value(view, j) for j in range(b - a)] == values[a:b].tolist()
        # (compiled helpers, called from Python on what the kernels take)
        form = split_postings.kernel_form(post)
        assert kernels.count_below(form, a, b, f) == 200 - a
        into = np.zeros(span, np.uint8)
        assert kernels.spread_tfs(form, a, b, sh, mk, into, lo, True) == tracked[0][3]
        assert into.tolist() == spread.tolist()
        assert split_postings.value_array(post, 4).dtype == np.uint32


def _as_uint32(ix: BM25Index) -> BM25Index:
    """A second index over the same snapshot with every segment's postings as the uint32
    array (the layout of a loaded index)."""
    twin = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    st = ix._state
    segs = tuple(dataclasses.replace(s, post=split_postings.as_array(s.post)) for s in st.segments)
    twin.__dict__.update(ix.__dict__)
    twin._state = dataclasses.replace(st, segments=segs, cache={})
    return twin


@pytest.mark.parametrize(
    "mode", ["default", "pure_maxscore", "always_taat", "dense_approx", "dense_exact"]
)
def test_split_segments_answer_bit_for_bit_like_uint32_ones(
    mode: str, monkeypatch: pytest.MonkeyPatch, split_all: None
) -> None:
    """Every algorithm and kernel path (dense windows, rescoring, MaxScore seeks, WAND,
    TAAT), top-10 and top-100, over several split segments: the same ids and the same
    score bits as the same postings held as uint32 arrays."""
    settings = {
        "default": {},
        "pure_maxscore": tk.PURE_MAXSCORE,
        "always_taat": tk.ALWAYS_TAAT,
        "dense_approx": td.APPROX,  # float32 windows, then rescoring
        "dense_exact": td.EXACT,
    }
    for name, value in settings[mode].items():
        monkeypatch.setattr(kernels, name, value)
    rng = np.random.default_rng(11)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    for n in (3000, 1000, 300):  # each under half the one before: three segments
        ix.add(tk._zipf_docs(rng, n))
    assert len(ix._state.segments) > 1
    assert all(isinstance(s.post, SplitPostings) for s in ix._state.segments)
    twin = _as_uint32(ix)
    assert not any(isinstance(s.post, SplitPostings) for s in twin._state.segments)
    for algo in ALGORITHMS:
        ix.inverted_index_algo = twin.inverted_index_algo = algo
        for one in (ix, twin):  # compiled kernels, not the NumPy stand-in of a cold start
            one.search_many_ids(tk.QUERIES[:1], 10, n_threads=1)
        _warmup.wait()
        for k in (10, 100):
            got = ix.search_many_ids(tk.QUERIES, k, n_threads=1)
            want = twin.search_many_ids(tk.QUERIES, k, n_threads=1)
            assert got == want, (algo, k)


def test_an_index_of_split_and_uint32_segments_is_exact_through_merges_and_saves(
    tmp_path: Path, split_all: None
) -> None:
    """A segment with a tf of 2^21 needs more than 24 bits and stays a uint32 array beside
    split ones; searches, a merge of the two kinds, deletes (compaction keeps the split
    layout) and a save and load all stay exact."""
    rng = np.random.default_rng(5)
    words = ["a", "b", "c", "a b", "b c d", "a a c", "d d", "c x"]
    first = [words[int(i)] for i in rng.integers(0, len(words), 300)]
    second = [words[int(i)] for i in rng.integers(0, len(words), 40)]
    second[7] = " ".join(["x"] * (1 << 21) + ["a"])
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(first, ids=[f"a{i}" for i in range(300)])
    ix.add(second, ids=[f"b{i}" for i in range(40)])
    segs = ix._state.segments
    assert [type(s.post) for s in segs] == [SplitPostings, np.ndarray]
    assert segs[1].post.dtype == np.uint32
    assert segs[1].shift == 22
    docs = [(f"a{i}", t) for i, t in enumerate(first)] + [
        (f"b{i}", t) for i, t in enumerate(second)
    ]
    _check(ix, _Oracle(docs))
    st = ix._state
    merged = segment.merge_segments(segs[0], segs[1], st.alive, st.norms(1.2, 0.75), st.avgdl)
    assert isinstance(merged.post, np.ndarray)  # 9 doc bits + 22 tf bits
    assert merged.nnz == segs[0].nnz + segs[1].nnz
    for seg, base in ((segs[0], 0), (segs[1], segs[0].n_docs)):  # each term's postings kept
        for t in range(seg.vocab_size):
            lo, hi = int(seg.ptr[t]), int(seg.ptr[t + 1])
            mlo, mhi = int(merged.ptr[t]), int(merged.ptr[t + 1])
            pairs = set(
                zip(merged.docs[mlo:mhi].tolist(), merged.tfs[mlo:mhi].tolist(), strict=True)
            )
            want = zip((seg.docs[lo:hi] + base).tolist(), seg.tfs[lo:hi].tolist(), strict=True)
            assert set(want) <= pairs
    # deleting most of the first segment compacts it, still split
    gone = [f"a{i}" for i in range(0, 300) if i % 3]
    ix.delete(gone)
    kept = [d for d in docs if d[0] not in set(gone)]
    _check(ix, _Oracle(kept))
    assert type(ix._state.segments[0].post) is SplitPostings
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    (seg,) = loaded._state.segments
    assert isinstance(seg.post, np.ndarray)  # the saved format: one packed array
    _check(loaded, _Oracle(kept))


def test_only_large_indexes_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """An index below ``SPLIT_MIN_DOCS`` keeps uint32 arrays (its queries pay 2-5% for the
    split layout); one at or past it splits its new segments, a batch that takes it past
    splits its own, a merge with a split segment is split, and compaction keeps the layout."""
    texts = tk._zipf_docs(np.random.default_rng(8), 2000)
    ids = [f"d{i}" for i in range(len(texts))]
    assert split_postings.SPLIT_MIN_DOCS == 1 << 19
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(texts, ids=ids)
    (seg,) = ix._state.segments
    assert type(seg.post) is np.ndarray
    gone = ids[: len(ids) * 3 // 5]  # 60% of the documents: a delete compacts the segment
    for threshold, split in ((2001, False), (2000, True)):
        monkeypatch.setattr(split_postings, "SPLIT_MIN_DOCS", threshold)
        again = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        again.add(texts, ids=ids)
        (one,) = again._state.segments
        assert isinstance(one.post, SplitPostings) is split
        assert np.array_equal(split_postings.as_array(one.post), seg.post)
        assert again.search_many_ids(tk.QUERIES, 10) == ix.search_many_ids(tk.QUERIES, 10)
        again.delete(gone)
        (compacted,) = again._state.segments
        assert compacted.nnz < one.nnz
        assert isinstance(compacted.post, SplitPostings) is split
    ix.delete(gone)
    assert again.search_many_ids(tk.QUERIES, 10) == ix.search_many_ids(tk.QUERIES, 10)
    # an index growing past the threshold: the batch that crosses it is split, and so is
    # its merge with the uint32 segment before it (1,200 documents beside 800: merged)
    monkeypatch.setattr(split_postings, "SPLIT_MIN_DOCS", 1500)
    grown = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    grown.add(texts[:1200], ids=ids[:1200])
    assert type(grown._state.segments[0].post) is np.ndarray
    grown.add(texts[1200:], ids=ids[1200:])
    (merged,) = grown._state.segments
    assert isinstance(merged.post, SplitPostings)
    whole = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    whole.add(texts, ids=ids)
    assert grown.search_many_ids(tk.QUERIES, 10) == whole.search_many_ids(tk.QUERIES, 10)
