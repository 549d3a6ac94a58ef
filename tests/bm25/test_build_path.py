"""The build path runs in NumPy (issue 14: build memory, small-build time, cold start): a process
that only builds, updates, saves and loads an index never loads numba (~110 MB resident, and
seconds of compilation on a fresh install), and the NumPy postings and block bounds are those
of a plain-Python reference, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankwise.bm25 import postings
from tests.bm25._traced import traced

ROOT = Path(__file__).resolve().parents[2]

NO_NUMBA = """
import json, sys, tempfile
from rankwise.bm25 import BM25Index
ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
ix.add([f"t{i % 7} t{i % 5} t{i % 3} t{i % 7}" for i in range(300)])
ix.add(["t1 t2 x", "y t3"] * 100)  # a merge of two segments
ix.upsert(["t9 t9"], ids=[ix.ids()[0]])
ix.delete(ix.ids()[:250])  # compacts the first segment
folder = tempfile.mkdtemp()
one = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
one.add(["a b", "b c"])
one.save(folder + "/one")  # one segment: saved without the multi-segment copy loop
loaded = BM25Index.load(folder + "/one", show_progress=False)
from rankwise.bm25.index import _kernel_cached
waits = _kernel_cached("DAAT_MAXSCORE")  # asked by a first search: answered without numba
built = "numba" in sys.modules
hits = [h.text for h in loaded.search("a b", k=2)] + [h.text for h in ix.search("t1 x", k=1)]
print(json.dumps({"numba_after_build": built, "waits": waits, "hits": hits}))
"""


def test_building_saving_loading_and_the_first_search_do_not_wait_for_numba(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", NO_NUMBA], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["numba_after_build"] is False
    assert result["waits"] is False
    assert result["hits"] == ["a b", "b c", "t1 t2 x"]


def _reference_postings(
    docs: list[list[int]], vocab: int
) -> tuple[list[int], list[int], list[int]]:
    """(ptr, docs, tfs) built one posting at a time."""
    rows: list[list[tuple[int, int]]] = [[] for _ in range(vocab)]
    for d, terms in enumerate(docs):
        for t, tf in sorted(Counter(terms).items()):
            rows[t].append((d, tf))
    ptr = [0]
    for row in rows:
        ptr.append(ptr[-1] + len(row))
    return ptr, [d for row in rows for d, _ in row], [tf for row in rows for _, tf in row]


def _reference_bounds(
    ptr: list[int], docs: list[int], tfs: list[int], norm: np.ndarray, block: int
) -> tuple[list[int], list[int], list[float]]:
    """(bptr, blast, bmax): each block's bound is the float64 max rounded up to float32."""
    bptr, blast, bmax = [0], [], []
    for t in range(len(ptr) - 1):
        for lo in range(ptr[t], ptr[t + 1], block):
            hi = min(lo + block, ptr[t + 1])
            m = max(float(tfs[p]) / (float(tfs[p]) + float(norm[docs[p]])) for p in range(lo, hi))
            b = np.float32(m)
            if float(b) < m:
                b = np.nextafter(b, np.float32(np.inf))
            blast.append(docs[hi - 1])
            bmax.append(float(b))
        bptr.append(len(blast))
    return bptr, blast, bmax


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 12), max_size=40), min_size=1, max_size=30),
    chunk=st.integers(1, 8),
    block=st.sampled_from([1, 2, 3, 128]),
    seed=st.integers(0, 2**16),
    piece=st.sampled_from([1, 7, postings._PIECE_TOKENS]),
    passes=st.sampled_from([1, 2, 5]),
)
def test_numpy_postings_and_bounds_equal_a_reference(
    docs: list[list[int]], chunk: int, block: int, seed: int, piece: int, passes: int
) -> None:
    vocab = 1 + max((t for d in docs for t in d), default=0)
    chunks = []
    default_piece, postings._PIECE_TOKENS = postings._PIECE_TOKENS, piece  # sorted in pieces
    try:
        for lo in range(0, len(docs), chunk):
            part = docs[lo : lo + chunk]
            flat = np.array([t for d in part for t in d], np.int32)
            lens = np.array([len(d) for d in part], np.int64)
            chunks.append(postings.chunk_postings(flat, lens))
    finally:
        postings._PIECE_TOKENS = default_piece
    ptr, post, shift = postings.merge_chunks(chunks, vocab, passes=passes)
    got_docs, got_tfs = postings.post_docs(post, shift), postings.post_tfs(post, shift)
    want = _reference_postings(docs, vocab)
    assert (ptr.tolist(), got_docs.tolist(), got_tfs.tolist()) == want
    assert post.dtype == np.uint32  # 4 bytes a posting
    assert shift == max(1, max(got_tfs.tolist(), default=0).bit_length())

    norm = np.random.default_rng(seed).uniform(0.05, 3.0, len(docs)).astype(np.float32)
    bptr, blast, bmax = postings.compute_blocks(ptr, post, shift, norm, block)
    assert (bptr.tolist(), blast.tolist(), bmax.tolist()) == _reference_bounds(*want, norm, block)
    assert bmax.dtype == np.float32
    assert blast.dtype == np.uint32
    tmax = postings.term_max(bptr, bmax)
    assert tmax.tolist() == [
        max(bmax[bptr[t] : bptr[t + 1]].tolist(), default=0.0) for t in range(vocab)
    ]


def test_large_term_frequencies_widen_the_tf_dtype() -> None:
    flat = np.array([0] * 300 + [1] * 70_000, np.int32)
    got = postings.chunk_postings(flat, np.array([300, 70_000], np.int64))
    assert got.tfs.tolist() == [300, 70_000]
    assert got.tfs.dtype == np.uint32
    _, post, shift = postings.merge_chunks([got], 2)
    assert (post.dtype, shift) == (np.uint32, 17)  # 1 bit of doc number, 17 of tf
    assert postings.post_tfs(post, shift).tolist() == [300, 70_000]
    assert postings.post_docs(post, shift).tolist() == [0, 1]


def test_bounds_are_computed_in_steps_without_changing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    docs = [rng.integers(0, 20, rng.integers(1, 30)).tolist() for _ in range(200)]
    flat = np.array([t for d in docs for t in d], np.int32)
    chunk = postings.chunk_postings(flat, np.array([len(d) for d in docs], np.int64))
    ptr, post, shift = postings.merge_chunks([chunk], 20)
    norm = rng.uniform(0.1, 2.0, 200).astype(np.float32)
    whole = postings.compute_blocks(ptr, post, shift, norm, 4)
    monkeypatch.setattr(postings, "_BOUND_STEP", 7)  # many small passes, blocks never split
    stepped = postings.compute_blocks(ptr, post, shift, norm, 4)
    assert all(np.array_equal(a, b) for a, b in zip(whole, stepped, strict=True))


def test_the_default_block_size_is_the_kernels() -> None:
    from rankwise.bm25 import kernels

    assert postings.BLOCK_SIZE == kernels.BLOCK_SIZE == postings.block_size()


def test_an_index_emptied_by_deletes_saves_and_loads_again(tmp_path: Path) -> None:
    from rankwise.bm25 import BM25Index

    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["alpha"], ids=["d0"])
    ix.delete(["d0"])
    for _ in range(2):  # the second save writes a loaded index without segments
        ix.save(tmp_path / "ix")
        ix = BM25Index.load(tmp_path / "ix", show_progress=False)
        assert len(ix) == 0
        assert ix.search("alpha") == []
    ix.add(["alpha beta"], ids=["d1"])
    assert [h.id for h in ix.search("alpha")] == ["d1"]


def test_a_half_imported_kernels_module_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build or a first search may run while another thread imports the kernels module:
    its constants and kernels are not there yet (it failed a build with AttributeError)."""
    import types

    from rankwise.bm25 import BM25Index
    from rankwise.bm25.index import _kernel_cached

    half = types.ModuleType("rankwise.bm25.kernels")
    monkeypatch.setitem(sys.modules, "rankwise.bm25.kernels", half)
    assert postings.block_size() == postings.BLOCK_SIZE
    assert _kernel_cached("DAAT_MAXSCORE") is False
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["a b", "b c"])
    assert ix._state.segments[0].block == postings.BLOCK_SIZE


def test_pending_chunks_are_held_narrow_and_merge_to_the_same_postings() -> None:
    """A build holds a segment's worth of chunk postings before merging them (issue 14, build
    peak RSS): doc numbers are uint16 where they fit (they were uint32) and counts are kept for
    the terms a chunk uses only (they were int64 for every term id up to its largest); a chunk
    too large for uint16 keeps uint32; the merged postings are the same."""
    rng = np.random.default_rng(11)
    small_docs = [rng.integers(0, 50, int(n)).tolist() for n in rng.integers(0, 9, 300)]
    big_docs = [[d % 3] for d in range((1 << 16) + 5)]  # doc numbers past uint16
    chunks = []
    for part in (small_docs, big_docs):
        flat = np.array([t for d in part for t in d], np.int32)
        chunks.append(postings.chunk_postings(flat, np.array([len(d) for d in part], np.int64)))
    small, big = chunks
    assert small.docs.dtype == np.uint16
    assert small.terms.tolist() == sorted({t for d in small_docs for t in d})  # used terms only
    assert big.docs.dtype == np.uint32
    ptr, post, shift = postings.merge_chunks(chunks, 50)
    assert post.dtype == np.uint32
    docs, tfs = postings.post_docs(post, shift), postings.post_tfs(post, shift)
    assert (ptr.tolist(), docs.tolist(), tfs.tolist()) == _reference_postings(
        small_docs + big_docs, 50
    )


def test_a_large_build_returns_each_chunks_scratch_to_the_os(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """glibc keeps freed chunk scratch (sort keys, ~45 MB a 20k-document chunk) mapped under
    the next chunk's postings: a large build trims the heap after every chunk, not only at
    segment ends (issue 14, build peak RSS)."""
    from rankwise.bm25 import BM25Index
    from rankwise.bm25 import index as index_module

    calls = []
    monkeypatch.setattr(index_module, "release_free_heap", lambda: calls.append(1))
    monkeypatch.setattr(index_module, "_CHUNK", 10)
    monkeypatch.setattr(index_module, "PROGRESS_MIN_DOCS", 50)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add([f"t{i % 7} t{i % 3}" for i in range(100)])
    assert len(calls) >= 10  # one per chunk (and one per segment)
    calls.clear()
    ix.add(["small batch"] * 20)
    assert calls == []


def test_postings_sorted_in_token_bounded_pieces_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 20k-document chunk is sorted out in pieces of ~256k tokens (issue 14: the sort's
    scratch, ~28 B a token, was the peak of a 20k build); any piece size gives the same index."""
    from rankwise.bm25 import BM25Index

    rng = np.random.default_rng(2)
    texts = [
        " ".join(f"w{t}" for t in rng.zipf(1.3, rng.integers(0, 30)) % 500) for _ in range(400)
    ]
    texts[7] = " ".join(["long"] * 90)  # a document longer than a piece
    built = []
    for piece in (postings._PIECE_TOKENS, 50, 1):
        monkeypatch.setattr(postings, "_PIECE_TOKENS", piece)
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ix.add(texts)
        (seg,) = ix._state.segments
        built.append([a.tolist() for a in (seg.ptr, seg.docs, seg.tfs, seg.bptr, seg.bmax)])
    assert built[0] == built[1] == built[2]
    assert list(postings.token_runs(np.array([3, 3, 3, 3]), 4)) == [
        (0, 2, 0, 6), (2, 3, 6, 9), (3, 4, 9, 12)
    ]  # fmt: skip


def test_sorting_a_chunk_needs_scratch_for_one_piece_only() -> None:
    """The postings of a 20k-document chunk (~1.2M tokens) were sorted out in one pass with
    ~18 B a token of scratch (22 MB: the peak of a 20k build, above tantivy's); in pieces of
    ``_PIECE_TOKENS`` tokens the scratch is bounded by the piece (issue 14, build peak RSS).
    Traced in a child process (see ``_traced``)."""
    got = traced(
        """
        import tracemalloc
        import numpy as np
        from rankwise.bm25 import postings

        rng = np.random.default_rng(4)
        lengths = rng.integers(40, 80, 20_000).astype(np.int64)
        flat = (rng.zipf(1.2, int(lengths.sum())) % 200_000).astype(np.int32)
        tracemalloc.start()
        chunk = postings.chunk_postings(flat, lengths)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        held = sum(a.nbytes for a in chunk if isinstance(a, np.ndarray))
        result = {"peak": peak, "held": held}
        """
    )
    peak, held = got["peak"], got["held"]
    assert held > 1 << 20
    assert peak - held < 16 << 20, (peak, held)  # in pieces: 10 MB; in one pass: 22 MB


def test_a_small_build_needs_little_scratch_beyond_what_it_keeps() -> None:
    """Issue 14 (build peak RSS): one chunk of 20k documents (the whole of a small build)
    becomes postings without an int64 scatter target per posting, and the bounds and norms
    are computed a slice at a time, so the allocations live at the build's peak exceed those
    it keeps by < 14 bytes a posting (the chunk's token ids and its sorted pieces; the old
    path needed ~18). Traced in a child process (see ``_traced``)."""
    got = traced(
        """
        import tracemalloc
        import numpy as np
        from rankwise.bm25 import BM25Index

        rng = np.random.default_rng(0)
        n = 20_000
        ranks = np.minimum(rng.zipf(1.2, n * 30), 50_000).tolist()
        texts = [" ".join(f"t{r}" for r in ranks[i * 30 : (i + 1) * 30]) for i in range(n)]
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        tracemalloc.start()
        ix.add(texts, ids=[str(i) for i in range(n)])
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result = {"held": held, "peak": peak, "nnz": sum(s.nnz for s in ix._state.segments)}
        """
    )
    nnz = got["nnz"]
    assert nnz > 300_000
    assert (got["peak"] - got["held"]) / nnz < 14, (got["peak"] - got["held"]) / nnz


@pytest.mark.parametrize("avgdl", [0.0, 7.3, 61.25])
def test_norms_in_steps_equal_one_float64_pass(
    monkeypatch: pytest.MonkeyPatch, avgdl: float
) -> None:
    """``doc_norms`` computes 64k documents at a time (no float64 copy of all of them at the
    top of a build); the float32 norms must equal one float64 pass bit for bit."""
    from rankwise.bm25 import snapshot

    doc_len = np.random.default_rng(2).integers(0, 5000, 1001).astype(np.uint32)
    k1, b = 1.2, 0.75
    avg = avgdl if avgdl > 0 else 1.0
    one_pass = doc_len.astype(np.float64)  # the arithmetic of the one-pass version
    one_pass *= b / avg
    one_pass += 1.0 - b
    one_pass *= k1
    want = one_pass.astype(np.float32)
    monkeypatch.setattr(snapshot, "_NORM_STEP", 7)
    got = snapshot.doc_norms(doc_len, k1, b, avgdl)
    assert got.dtype == np.float32
    assert got.tobytes() == want.tobytes()
