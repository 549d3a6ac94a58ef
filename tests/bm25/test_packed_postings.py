"""Packed postings (issue 14, memory): a segment holds one ``doc << shift | tf`` per posting,
4 bytes where doc and tf fit in 32 bits (uint64 for a segment where a term frequency does not
fit beside its doc numbers), with exact scores on every path, through saves and loads."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rankwise.bm25 import BM25Index, kernels, persistence, postings, split_postings
from rankwise.bm25.index import ALGORITHMS
from rankwise.bm25.split_postings import SplitPostings
from tests.bm25 import test_kernels as tk

#: documents of a segment whose doc numbers take 18 bits: 14 are left for tf in uint32
N18 = (1 << 17) + 1
FIT = (1 << 14) - 1  # the largest tf that fits beside them
WORDS = ["a", "b", "c", "a b", "b c d", "a a c", "d d", "c x"]
QUERIES = ["x", "x a", "b x d", "d", "x x c"]


def _texts(n: int, big_tf: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), n)]
    texts[3] = " ".join(["x"] * big_tf + ["a"])
    texts[n // 2] = " ".join(["x"] * (big_tf // 3) + ["d"] * 5)
    texts[-1] = "x " * 40 + "b"
    return texts


class _Oracle:
    """Brute-force BM25 (the formula of ``_brute.brute_force``) over many short documents:
    each document counted once, a query scored only on the documents holding its terms."""

    def __init__(self, docs: list[tuple[str, str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = [doc_id for doc_id, _ in docs]
        self.tfs = [Counter(text.split()) for _, text in docs]
        self.lens = [sum(c.values()) for c in self.tfs]
        self.avgdl = sum(self.lens) / len(docs)
        self.holders: dict[str, list[int]] = {}
        for pos, c in enumerate(self.tfs):
            for term in c:
                self.holders.setdefault(term, []).append(pos)
        self.k1, self.b = k1, b

    def top(self, query: str, k: int) -> list[tuple[str, float]]:
        n = len(self.ids)
        q = Counter(query.split())
        scores: dict[int, float] = {}
        for pos in sorted({p for t in q for p in self.holders.get(t, [])}):
            tf, s = self.tfs[pos], 0.0
            for term, mult in q.items():
                if term in tf:
                    df = len(self.holders[term])
                    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                    norm = self.k1 * (1 - self.b + self.b * self.lens[pos] / self.avgdl)
                    s += mult * idf * tf[term] * (self.k1 + 1) / (tf[term] + norm)
            scores[pos] = s
        best = sorted(scores, key=lambda p: (-scores[p], p))[:k]
        return [(self.ids[p], scores[p]) for p in best]


def _check(ix: BM25Index, oracle: _Oracle, k: int = 10) -> None:
    """Every algorithm (and MaxScore's pure and exhaustive paths) gives the same bits, and
    they are the oracle's top k (within the float32 norms' rounding), ties by position."""
    order = {doc_id: pos for pos, doc_id in enumerate(oracle.ids)}
    for q in QUERIES:
        results = []
        for algo, mode in [*((a, "default") for a in ALGORITHMS), ("DAAT_MAXSCORE", "pure")]:
            ix.inverted_index_algo = algo
            with pytest.MonkeyPatch.context() as mp:
                if mode == "pure":
                    for name, value in tk.PURE_MAXSCORE.items():
                        mp.setattr(kernels, name, value)
                results.append([(h.id, h.score) for h in ix.search(q, k)])
        assert all(r == results[0] for r in results), q
        want = oracle.top(q, k)
        got = results[0]
        assert [i for i, _ in got] == [i for i, _ in want], q
        for (_, gs), (_, es) in zip(got, want, strict=True):
            assert math.isclose(gs, es, rel_tol=1e-6), q
        for (ia, sa), (ib, sb) in itertools.pairwise(got):
            assert sa > sb or (sa == sb and order[ia] < order[ib])


def test_pack_layout_keeps_4_bytes_while_doc_and_tf_fit() -> None:
    assert postings.pack_layout(1, 1) == (np.uint32, 1)
    assert postings.pack_layout(1 << 18, 255) == (np.uint32, 8)  # most segments
    assert postings.pack_layout(N18, FIT) == (np.uint32, 14)
    assert postings.pack_layout(N18, FIT + 1) == (np.uint64, 32)
    assert postings.pack_layout(1 << 18, FIT) == (np.uint32, 14)  # a build's full segment
    assert postings.pack_layout(1_000_000, 4095) == (np.uint32, 12)  # a saved 1M index
    assert postings.pack_layout(1_000_000, 4096) == (np.uint64, 32)
    assert postings.pack_layout(1 << 32, (1 << 32) - 1) == (np.uint64, 32)
    for n_docs, max_tf in ((1, 1), (N18, FIT), (N18, FIT + 1), (1 << 18, 7), (5, 2**31)):
        dtype, shift = postings.pack_layout(n_docs, max_tf)
        docs = np.array([0, n_docs - 1], np.uint32)
        tfs = np.array([max_tf, 1], np.uint32)
        post = postings.pack(docs, tfs, dtype, shift)
        assert post.dtype == dtype
        assert postings.post_docs(post, shift).tolist() == docs.tolist()
        assert postings.post_tfs(post, shift).tolist() == tfs.tolist()
        assert post[0] < post[1] or n_docs == 1  # ascending in doc, whatever the tf


def test_a_built_segment_holds_3_bytes_a_posting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory goal's largest part: 5 bytes a posting (uint32 docs + uint8 tfs) at first,
    then 4 (one packed uint32), now 3 where doc and tf fit in 24 bits in an index of
    ``SPLIT_MIN_DOCS`` documents or more (here lowered: see test_split_postings)."""
    monkeypatch.setattr(split_postings, "SPLIT_MIN_DOCS", 1000)
    rng = np.random.default_rng(4)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(tk._zipf_docs(rng, 3000))
    ix.add(tk._zipf_docs(rng, 500))
    nnz = sum(seg.nnz for seg in ix._state.segments)
    assert nnz > 20_000
    assert all(isinstance(seg.post, SplitPostings) for seg in ix._state.segments)
    per_posting = [
        a.nbytes for seg in ix._state.segments for a in (seg.post.lo, seg.post.hi)
        if isinstance(seg.post, SplitPostings)
    ]  # fmt: skip
    assert sum(per_posting) == 3 * nnz
    # and int32 term and block pointers (one each per vocabulary term and segment)
    for seg in ix._state.segments:
        assert (seg.ptr.dtype, seg.bptr.dtype) == (np.int32, np.int32)


def test_pointers_are_int32_until_the_total_does_not_fit() -> None:
    got = postings.pointers(np.array([3, 0, 2], np.int64))
    assert (got.tolist(), got.dtype) == ([0, 3, 3, 5], np.int32)
    big = postings.pointers(np.array([(1 << 31) - 1, 0], np.int64))
    assert big.dtype == np.int32
    assert int(big[-1]) == (1 << 31) - 1
    past = postings.pointers(np.array([(1 << 31) - 1, 1], np.int64))
    assert (past.tolist(), past.dtype) == ([0, (1 << 31) - 1, 1 << 31], np.int64)


def test_term_frequencies_at_and_beyond_the_packed_bits_score_exactly(tmp_path: Path) -> None:
    """A segment of 2^17 + 1 documents keeps 14 bits for tf in uint32: tf = 16,383 fits, tf =
    16,384 makes that segment uint64 (only it); the saved index (one segment of all the
    documents, 19 bits of doc number) is uint64 too. Every algorithm, exact, before and after
    save and load (memory-mapped and not)."""
    first, second = _texts(N18, FIT, 1), _texts(N18, FIT + 1, 2)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(first, ids=[f"a{i}" for i in range(N18)])
    ix.add(second, ids=[f"b{i}" for i in range(N18)])
    segs = ix._state.segments
    assert [(s.n_docs, s.post.dtype, s.shift) for s in segs] == [
        (N18, np.dtype(np.uint32), 14),
        (N18, np.dtype(np.uint64), 32),
    ]
    assert [int(s.tfs.max()) for s in segs] == [FIT, FIT + 1]
    docs = [(f"a{i}", t) for i, t in enumerate(first)] + [
        (f"b{i}", t) for i, t in enumerate(second)
    ]
    oracle = _Oracle(docs)
    _check(ix, oracle)
    ix.save(tmp_path / "ix")
    for mmap in (False, True):
        loaded = BM25Index.load(tmp_path / "ix", mmap=mmap)
        (seg,) = loaded._state.segments
        assert (seg.post.dtype, seg.shift) == (np.dtype(np.uint64), 32)
        _check(loaded, oracle)
    # with the two largest tfs deleted, the compacted index (19 bits of doc number) is uint32
    ix.delete(["a3", "b3"])
    oracle = _Oracle([d for d in docs if d[0] not in ("a3", "b3")])
    _check(ix, oracle)
    ix.save(tmp_path / "ix")
    (seg,) = BM25Index.load(tmp_path / "ix")._state.segments
    assert seg.post.dtype == np.uint32


def test_a_saved_index_is_memory_mapped_packed(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    texts = tk._zipf_docs(rng, 2000)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(texts)
    ix.save(tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["format_version"] == persistence.FORMAT_VERSION == 2
    assert {"post.npy"} <= set(manifest["files"])
    assert "docs.npy" not in manifest["files"]
    loaded = BM25Index.load(tmp_path / "ix", mmap=True)
    (seg,) = loaded._state.segments
    assert isinstance(seg.post, np.memmap)
    assert not seg.post.flags.writeable
    assert (seg.post.dtype, seg.ptr.dtype, seg.bptr.dtype) == (np.uint32, np.int32, np.int32)
    for q in tk.QUERIES:
        assert [(h.id, h.score) for h in loaded.search(q, 10)] == [
            (h.id, h.score) for h in ix.search(q, 10)
        ]


def _as_version_1(folder: Path) -> None:
    """Rewrite a saved folder the way format version 1 stored postings (docs + tfs)."""
    import zlib

    manifest = json.loads((folder / "manifest.json").read_text())
    gen = folder / manifest["generation"]
    post = np.load(gen / "post.npy")
    shift = manifest["post_shift"]
    tfs = postings.post_tfs(post, shift)
    arrays = {
        "docs.npy": postings.post_docs(post, shift).astype(np.uint32),
        "tfs.npy": tfs.astype(postings.tf_dtype(int(tfs.max()))),
    }
    (gen / "post.npy").unlink()
    del manifest["files"]["post.npy"]
    for name, arr in arrays.items():
        np.save(gen / name, arr)
        data = (gen / name).read_bytes()
        manifest["files"][name] = {"bytes": len(data), "crc32": zlib.crc32(data),
                                   "dtype": arr.dtype.str, "shape": list(arr.shape)}  # fmt: skip
    manifest["format_version"] = 1
    del manifest["post_shift"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("mmap", [False, True])
def test_a_version_1_folder_loads_packed_with_the_same_answers(tmp_path: Path, mmap: bool) -> None:
    rng = np.random.default_rng(8)
    texts = tk._zipf_docs(rng, 1500)
    texts[10] = "w1 " * 300  # a uint16 tf in version 1
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(texts)
    ix.save(tmp_path / "v2")
    shutil.copytree(tmp_path / "v2", tmp_path / "v1")
    _as_version_1(tmp_path / "v1")
    old = BM25Index.load(tmp_path / "v1", mmap=mmap)
    new = BM25Index.load(tmp_path / "v2", mmap=mmap)
    (a,), (b,) = old._state.segments, new._state.segments
    assert np.array_equal(a.post, b.post)
    assert a.post.dtype == np.uint32
    for q in [*tk.QUERIES, "w1"]:
        assert [(h.id, h.score) for h in old.search(q, 20)] == [
            (h.id, h.score) for h in new.search(q, 20)
        ]
    old.save(tmp_path / "v1")  # saved again in today's format
    assert json.loads((tmp_path / "v1" / "manifest.json").read_text())["format_version"] == 2
