"""search_many: batches, threads and the per-token analysis cache give the answers of search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankwise.bm25 import ALGORITHMS, Analyzer, BM25Index
from rankwise.bm25.index import _Warmup
from tests.bm25._brute import brute_force

ROOT = Path(__file__).resolve().parents[2]


def corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=(n, 12)), 400)
    return [" ".join(f"w{r}" for r in row[: rng.integers(1, 13)]) for row in ranks]


def queries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = [" ".join(f"w{r}" for r in np.minimum(rng.zipf(1.2, size=rng.integers(1, 7)), 450))
           for _ in range(n)]  # fmt: skip
    return [*out, "", "unknown words only", "w1 w1 w1 w2"]


def segmented_index(algo: str) -> tuple[BM25Index, list[tuple[str, str]]]:
    """Several segments (three adds), deleted documents, a snapshot older than the vocabulary."""
    ix = BM25Index({"tokenizer": "whitespace"}, inverted_index_algo=algo, show_progress=False)
    docs = corpus(900, 1)
    for lo, hi in ((0, 500), (500, 800), (800, 900)):
        ix.add(docs[lo:hi], ids=[str(i) for i in range(lo, hi)])
    dead = [str(i) for i in range(0, 900, 7)]
    ix.delete(dead)
    live = [(str(i), t) for i, t in enumerate(docs) if str(i) not in set(dead)]
    return ix, live


@pytest.mark.parametrize("algo", ALGORITHMS)
@pytest.mark.parametrize("k", [1, 10, 1000])
def test_search_many_equals_search_and_brute_force(algo: str, k: int) -> None:
    ix, live = segmented_index(algo)
    qs = queries(150, 2)
    one_by_one = [ix.search(q, k=k) for q in qs]
    for n_threads in (1, 2, 3, None):
        assert ix.search_many(qs, k=k, n_threads=n_threads) == one_by_one
    for q, hits in list(zip(qs, one_by_one, strict=True))[:40]:
        want = brute_force(live, q, k)
        assert [h.id for h in hits] == [d for d, _ in want]
        assert [h.score for h in hits] == pytest.approx(
            [s for _, s in want], rel=1e-6
        )  # float32 length norms


def test_search_many_with_filters_equals_search() -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    docs = corpus(300, 3)
    ix.add(docs, ids=[str(i) for i in range(300)], metadatas=[{"p": i % 3} for i in range(300)])
    qs = queries(40, 4)
    for flt in ({"p": 1}, {str(i) for i in range(0, 300, 2)}, lambda m: m["p"] != 2):
        want = [ix.search(q, k=5, filter=flt) for q in qs]
        assert ix.search_many(qs, k=5, filter=flt, n_threads=2) == want


def test_search_many_runs_on_several_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    ix, _ = segmented_index("DAAT_MAXSCORE")
    seen: set[int] = set()
    gate = threading.Barrier(2, timeout=10)
    threaded = True
    real = BM25Index._search_rows

    def spy(self: BM25Index, *args: object) -> object:
        ident = threading.get_ident()
        if ident not in seen:
            seen.add(ident)
            if threaded and len(seen) <= 2:
                gate.wait()  # two tasks must be in flight at once for this to return
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(BM25Index, "_search_rows", spy)
    qs = queries(200, 5)
    assert ix.search_many(qs, k=10, n_threads=2) == [ix.search(q, k=10) for q in qs]
    assert len(seen) >= 2
    seen.clear()
    threaded = False
    caller = threading.get_ident()
    ix.search_many(qs, k=10, n_threads=1)
    assert seen == {caller}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_n_threads_is_checked(bad: object) -> None:
    ix, _ = segmented_index("DAAT_MAXSCORE")
    with pytest.raises(ValueError, match="n_threads"):
        ix.search_many(["w1"], n_threads=bad)  # type: ignore[arg-type]


def _chain(analyzer: Analyzer, text: str) -> list[str]:
    """The filter chain applied list-wise, as the analyzer did before its per-token cache."""
    tokens = analyzer._tokenizer(text)
    for f in analyzer._filters:
        tokens = f(tokens)
    return [t for t in tokens if t]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["Running", "runs", "the", "ÉCOLE", "naïve", "x", "ÿ", "a"])
                | st.text(), min_size=0, max_size=6))  # fmt: skip
def test_token_cache_gives_the_filter_chain(parts: list[str]) -> None:
    text = " ".join(parts)
    folding = ["asciifolding", "lowercase", {"type": "length", "max": 4}]
    alnum = ["alphanumonly", {"type": "stop", "stop_words": ["a"]}]
    params: list[object] = [
        "english",
        "standard",
        {"tokenizer": "standard", "filter": folding},
        {"tokenizer": "whitespace", "filter": alnum},
    ]
    for p in params:
        analyzer = Analyzer(p)  # type: ignore[arg-type]
        first = analyzer.analyze(text)
        assert first == _chain(analyzer, text)
        assert analyzer.analyze(text) == first  # served from the cache


COLD = """
import json, os, select, signal, sys
from rankwise.bm25 import BM25Index, kernels
from rankwise.bm25.index import _kernel_cached, _warmup
ix = BM25Index({"tokenizer": "whitespace"}, inverted_index_algo=sys.argv[1], show_progress=False)
ix.add(["a b c", "b c d", "c d e"])
cached_before = _kernel_cached(sys.argv[1])
hits = ix.search("c d", k=2)  # served at once: exhaustively while the kernel compiles
child = None
if hasattr(os, "fork"):  # a fork while the kernel compiles: the child must not hang
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        rows = ix.search_many(["c d", "b"], k=2, n_threads=2)
        os.write(write, json.dumps([[h.id for h in row] for row in rows]).encode())
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 120)
    child = json.loads(os.read(read, 1 << 16)) if ready else "hung"
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
_warmup.wait()
cached_after = _kernel_cached(sys.argv[1])
assert [h.id for h in ix.search("c d", k=2)] == [h.id for h in hits]
compiled = [n for n in ("maxscore_batch", "wand_batch", "taat_batch")
            if getattr(kernels, n).signatures]
want = [[h.id for h in ix.search(q, k=2)] for q in ("c d", "b")]
print(json.dumps({"hits": [h.id for h in hits], "compiled": compiled,
                  "cached": [cached_before, cached_after], "child": child, "want": want}))
"""


@pytest.mark.parametrize(
    ("algo", "kernel"),
    [
        ("DAAT_MAXSCORE", "maxscore_batch"),
        ("DAAT_WAND", "wand_batch"),
        ("TAAT_NAIVE", "taat_batch"),
    ],
)
def test_a_process_compiles_only_the_kernel_its_algorithm_needs(
    algo: str, kernel: str, tmp_path: Path
) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", COLD, algo], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["compiled"] == [kernel]
    assert len(result["hits"]) == 2
    # an empty cache is seen as such (the first search does not wait), a written one as written
    assert result["cached"] == [False, True]
    # a child forked while the kernel compiled searched (the fork waited for the compilation:
    # before, the child inherited the compiling thread's locks and hung)
    if hasattr(os, "fork"):
        assert result["child"] == result["want"]


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_searches_while_the_kernel_compiles_give_the_kernels_answers(
    algo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ix, _ = segmented_index(algo)
    ix.add(["w1 w2 w3 w1"] * 3, metadatas=[{"p": 1}] * 3)
    qs = queries(120, 6)
    flt = {"p": 1}
    want = [ix.search_many(qs, k=k, n_threads=1) for k in (1, 7, 2000)]
    want_filtered = ix.search_many(qs, k=5, filter=flt)
    monkeypatch.setattr(_Warmup, "ready", lambda self, *args: False)
    got = [ix.search_many(qs, k=k, n_threads=1) for k in (1, 7, 2000)]
    assert got == want  # ids, texts, metadata and scores (bit for bit)
    assert ix.search_many(qs, k=5, filter=flt) == want_filtered


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_found(enabled: bool) -> None:
    import gc

    ix, _ = segmented_index("DAAT_MAXSCORE")
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        hits = ix.search_many(queries(30, 7), k=50, n_threads=2)
        assert gc.isenabled() is enabled
        assert sum(map(len, hits)) > 0
    finally:
        gc.enable() if was else gc.disable()


def test_a_loaded_index_gets_its_own_kernel_warm_up(tmp_path: Path) -> None:
    from rankwise.bm25.index import _warmup

    ix, _ = segmented_index("DAAT_MAXSCORE")
    qs = queries(20, 8)
    want = ix.search_many(qs, k=5)
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", mmap=True, show_progress=False)
    assert loaded.search_many(qs, k=5) == want
    if not loaded._state.segments[0].docs.flags.writeable:  # memory-mapped read-only arrays
        kinds = list(_warmup._threads)
        assert any(not writeable for kind in kinds for _, writeable in kind[3])  # type: ignore[index]
    _warmup.wait()
    assert loaded.search_many(qs, k=5) == want


def test_an_id_filter_is_resolved_once_per_call_and_batched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """search_many with an id set resolves the ids once (not once per query) and gives the
    answers of search and of brute force over the allowed live documents, upserts and
    deletions included."""
    ix, live = segmented_index("DAAT_MAXSCORE")
    ix.upsert(["w1 w2 w3", "w2 w2"], ids=["3", "10"])  # new versions of two allowed ids
    live = [(i, t) for i, t in live if i not in {"3", "10"}] + [("3", "w1 w2 w3"), ("10", "w2 w2")]
    allowed = {"3", "10", "0", "7", "unknown", *(str(i) for i in range(1, 900, 5))}
    qs = queries(120, 6)
    calls: list[int] = []
    real = BM25Index._id_mask

    def counting(self: BM25Index, *args: object) -> object:
        calls.append(1)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(BM25Index, "_id_mask", counting)
    one_by_one = [ix.search(q, k=7, filter=allowed) for q in qs]
    calls.clear()
    for n_threads in (1, 2):
        assert ix.search_many(qs, k=7, filter=allowed, n_threads=n_threads) == one_by_one
    assert len(calls) == 2  # once per call, not per query
    for q, hits in list(zip(qs, one_by_one, strict=True))[:40]:
        ranked = [d for d, _ in brute_force(live, q, len(live)) if d in allowed]
        assert [h.id for h in hits] == ranked[:7]


def test_a_predicate_is_tried_once_per_document_in_a_call() -> None:
    """The queries of one search_many call share the predicate's verdicts (and still get the
    answers of search); a mapping filter gives the same hits as the equal predicate."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    docs = corpus(400, 7)
    ix.add(docs, ids=[str(i) for i in range(400)], metadatas=[{"p": i % 4} for i in range(400)])
    qs = queries(60, 8)
    tried: list[int] = []

    def pred(meta: dict[str, object]) -> bool:
        tried.append(id(meta))
        return meta["p"] == 1

    want = [ix.search(q, k=5, filter=lambda m: m["p"] == 1) for q in qs]
    assert ix.search_many(qs, k=5, filter={"p": 1}) == want
    for n_threads in (1, 2):
        tried.clear()
        assert ix.search_many(qs, k=5, filter=pred, n_threads=n_threads) == want
        per_query = sum(len(ix.search(q, k=5, filter=lambda m: True)) > 0 for q in qs)
        assert 0 < len(tried) <= 400 < per_query * 64  # once per document, not per query


def test_search_many_uses_every_core_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """n_threads=None (the default, what the LangChain and LlamaIndex batch paths pass) runs
    on as many threads as the process may use cores."""
    ix, _ = segmented_index("DAAT_MAXSCORE")
    qs = queries(300, 9)
    want = [ix.search(q, k=10) for q in qs]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    seen: set[int] = set()
    gate = threading.Barrier(3, timeout=10)
    real = BM25Index._search_rows

    def spy(self: BM25Index, *args: object) -> object:
        ident = threading.get_ident()
        if ident not in seen:
            seen.add(ident)
            gate.wait()  # returns only once three threads run batches at the same time
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(BM25Index, "_search_rows", spy)
    assert ix.search_many(qs, k=10) == want
    assert len(seen) == 3
