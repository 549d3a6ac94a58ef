"""A large add is built as a stream of bounded segments (issue 14's memory goal): the answers
are exactly those of one segment and of brute force, with every algorithm, before and after
updates and a save/load; merges stop at the segment cap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rankwise.bm25.index as index_module
from rankwise.bm25 import ALGORITHMS, BM25Index, kernels, postings
from tests.bm25._brute import brute_force

QUERIES = ["w1 w2", "w3", "w5 w5 w8", "w0 w13 w21", "w2 w40", "absent"]


def _corpus(n: int, seed: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=(n, 12)), 60) - 1
    lengths = rng.integers(0, 12, size=n)  # some documents empty
    rows = zip(ranks.tolist(), lengths.tolist(), strict=True)
    return [" ".join(f"w{r}" for r in row[:m]) for row, m in rows]


def _answers(ix: BM25Index, k: int = 7) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in hits] for hits in ix.search_many(QUERIES, k=k)]


def _build(texts: list[str], algo: str, ids: list[str]) -> BM25Index:
    ix = BM25Index({"tokenizer": "whitespace"}, inverted_index_algo=algo, show_progress=False)
    ix.add(texts, ids=ids)
    return ix


def _check_brute(ix: BM25Index, docs: list[tuple[str, str]]) -> None:
    """Each query's hits have the brute-force top-k scores, and each hit's own brute-force
    score (float32 length norms: equal to 1e-5, so near-ties may swap places)."""
    for q, got in zip(QUERIES, _answers(ix), strict=True):
        want = brute_force(docs, q, 7)
        every = dict(brute_force(docs, q, len(docs) + 1))
        assert len(got) == len(want)
        for (gid, gs), (_, ws) in zip(got, want, strict=True):
            assert gs == pytest.approx(ws, rel=1e-5)
            assert every[gid] == pytest.approx(gs, rel=1e-5)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 4 postings, so that pruning crosses blocks and segments."""
    monkeypatch.setattr(kernels, "BLOCK_SIZE", 4)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_CHUNK", 7)
    monkeypatch.setattr(index_module, "SEGMENT_DOCS", 20)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_streamed_segments_answer_like_one_segment_and_brute_force(
    algo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _corpus(230)
    ids = [f"d{i}" for i in range(len(texts))]
    whole = _build(texts, algo, ids)
    assert len(whole._state.segments) == 1
    monkeypatch.setattr(index_module, "_CHUNK", 7)
    monkeypatch.setattr(index_module, "SEGMENT_DOCS", 20)
    streamed = _build(texts, algo, ids)
    segments = streamed._state.segments
    # a segment is cut before a chunk of 7 would take it past 20 documents: two chunks (14),
    # and the last two with the final chunk of 6 (20); they are never merged
    assert [seg.n_docs for seg in segments] == [14] * 15 + [20]
    assert [seg.base for seg in segments] == [14 * i for i in range(16)]
    assert _answers(streamed) == _answers(whole)
    _check_brute(streamed, list(zip(ids, texts, strict=True)))
    assert np.array_equal(streamed._state.df, whole._state.df)
    assert streamed._state.total_len == whole._state.total_len


def test_updates_and_save_load_of_streamed_segments(tmp_path: Path, small_segments: None) -> None:
    texts = _corpus(150, seed=5)
    ids = [f"d{i}" for i in range(len(texts))]
    ix = _build(texts, "DAAT_MAXSCORE", ids)
    ix.delete([f"d{i}" for i in range(0, 150, 4)])
    ix.upsert(["w1 w1 w2 w3", "w40"], ids=["d1", "new"])
    ix.add(_corpus(45, seed=6), ids=[f"e{i}" for i in range(45)])
    _check_brute(ix, [(h.id, h.text) for h in ix.get(ix.ids())])
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    assert len(loaded._state.segments) == 1
    assert _answers(loaded) == _answers(ix)
    assert loaded.ids() == ix.ids()


def test_merges_stop_at_the_segment_cap(small_segments: None) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    for i in range(12):
        ix.add(_corpus(5, seed=i), ids=[f"b{i}-{j}" for j in range(5)])
    sizes = [seg.n_docs for seg in ix._state.segments]
    assert sum(sizes) == 60
    assert max(sizes) <= 20
    assert sizes == sorted(sizes, reverse=True)  # the logarithmic policy below the cap
    _check_brute(ix, [(h.id, h.text) for h in ix.get(ix.ids())])


@pytest.mark.parametrize("delete_every", [0, 3])
def test_concat_live_equals_pairwise_merges(small_segments: None, delete_every: int) -> None:
    """The one-pass copy a save uses gives the postings that merging pairwise gives."""
    from rankwise.bm25.segment import concat_live, merge_segments

    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(_corpus(90, seed=8), ids=[f"d{i}" for i in range(90)])
    ix.add(["w1 w1 w1 " * 100 + "w99"], ids=["long"])  # a uint16 term frequency segment
    if delete_every:
        ix.delete([f"d{i}" for i in range(0, 90, delete_every)])
    st = ix._state
    assert len(st.segments) > 3
    assert max(int(seg.tfs.max()) for seg in st.segments) == 300
    norm = st.norms(ix.k1, ix.b)
    merged = st.segments[0]
    for seg in st.segments[1:]:
        merged = merge_segments(merged, seg, st.alive, norm, st.avgdl)
    remap = np.cumsum(st.alive) - 1
    ptr, post, shift = concat_live(list(st.segments), st.alive, int(st.df.size))
    assert (post.dtype, shift) == (np.uint32, 9)  # tf 300
    docs, tfs = postings.post_docs(post, shift), postings.post_tfs(post, shift)
    assert ptr.tolist() == [*merged.ptr.tolist(), *[merged.ptr[-1]] * (ptr.size - merged.ptr.size)]
    assert docs.tolist() == remap[merged.docs].tolist()
    assert tfs.tolist() == merged.tfs.tolist()
    assert np.array_equal(np.diff(ptr), st.df)
