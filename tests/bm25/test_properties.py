"""Property tests: every algorithm equals a brute-force BM25, incremental equals rebuild."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.bm25 import ALGORITHMS, BM25Index, kernels
from tests.bm25._brute import brute_force

WORDS = [f"w{i}" for i in range(12)]
# skewed vocabulary so that frequent terms, rare terms and ties all occur
doc_text = st.lists(
    st.sampled_from(WORDS[:3] * 6 + WORDS[3:8] * 2 + WORDS[8:]), min_size=0, max_size=14
).map(" ".join)
query_text = st.lists(st.sampled_from([*WORDS, "unknown"]), min_size=1, max_size=5).map(" ".join)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(doc_text, min_size=1, max_size=25)),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 200), max_size=10)),
        st.tuples(st.just("upsert"), st.integers(0, 5), doc_text),
    ),
    min_size=1,
    max_size=6,
)

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _apply(
    ix: BM25Index, live: list[tuple[str, str]], operations: list, counter: list[int]
) -> None:
    """Apply ops to ``ix`` and mirror them on the reference list ``live``."""
    for op in operations:
        if op[0] == "add":
            ids = []
            for _ in op[1]:
                counter[0] += 1
                ids.append(f"d{counter[0]}")
            ix.add(op[1], ids=ids)
            live.extend(zip(ids, op[1], strict=True))
        elif op[0] == "delete":
            victims = {f"d{i}" for i in op[1]} | {f"u{i}" for i in op[1]}
            expected = sum(1 for doc_id, _ in live if doc_id in victims)
            assert ix.delete(sorted(victims)) == expected
            live[:] = [(i, t) for i, t in live if i not in victims]
        else:
            doc_id = f"u{op[1]}"
            ix.upsert([op[2]], ids=[doc_id])
            live[:] = [(i, t) for i, t in live if i != doc_id]
            live.append((doc_id, op[2]))


def _check_against_brute(
    ix: BM25Index, live: list[tuple[str, str]], queries: list[str], k: int
) -> None:
    for q in queries:
        expected = brute_force(live, q, k, k1=ix.k1, b=ix.b)
        results = {}
        for algo in ALGORITHMS:
            ix.inverted_index_algo = algo
            results[algo] = [(h.id, h.score) for h in ix.search(q, k)]
        # the three algorithms agree exactly, ties included
        assert results["TAAT_NAIVE"] == results["DAAT_WAND"] == results["DAAT_MAXSCORE"]
        got = results["DAAT_MAXSCORE"]
        assert len(got) == len(expected)
        brute_scores = dict(brute_force(live, q, len(live) + 1, k1=ix.k1, b=ix.b))
        for (gid, gs), (_, es) in zip(got, expected, strict=True):
            assert math.isclose(gs, es, rel_tol=1e-5)
            assert math.isclose(brute_scores[gid], gs, rel_tol=1e-5)
        # best first, ties by insertion order
        order = {doc_id: pos for pos, (doc_id, _) in enumerate(live)}
        for (ia, sa), (ib, sb) in itertools.pairwise(got):
            assert sa > sb or (sa == sb and order[ia] < order[ib])


class _BlockSize:
    """Small posting blocks make tiny corpora exercise the multi-block pruning paths."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __enter__(self) -> None:
        self.saved = kernels.BLOCK_SIZE
        kernels.BLOCK_SIZE = self.size

    def __exit__(self, *exc: object) -> None:
        kernels.BLOCK_SIZE = self.saved


@SETTINGS
@given(
    docs=st.lists(doc_text, min_size=1, max_size=60),
    queries=st.lists(query_text, min_size=1, max_size=4),
    k=st.integers(1, 12),
    k1=st.sampled_from([0.0, 0.9, 1.2, 2.0]),
    b=st.sampled_from([0.0, 0.5, 0.75, 1.0]),
    block=st.sampled_from([2, 3, 8, 128]),
)
def test_algorithms_equal_brute_force(docs, queries, k, k1, b, block) -> None:
    with _BlockSize(block):
        ix = BM25Index({"tokenizer": "whitespace"}, k1=k1, b=b, show_progress=False)
        ids = [f"d{i}" for i in range(len(docs))]
        ix.add(docs, ids=ids)
        _check_against_brute(ix, list(zip(ids, docs, strict=True)), queries, k)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 2**32 - 1),
    n_docs=st.integers(100, 600),
    block=st.sampled_from([4, 16, 128]),
    k=st.sampled_from([1, 5, 10, 30]),
)
def test_algorithms_agree_on_larger_zipf_corpora(seed, n_docs, block, k) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    docs = [
        " ".join(f"w{int(x)}" for x in rng.zipf(1.3, size=int(rng.integers(1, 30))) if x < 40)
        for _ in range(n_docs)
    ]
    queries = [
        " ".join(f"w{int(x)}" for x in rng.zipf(1.3, size=int(rng.integers(1, 6))) if x < 40)
        for _ in range(8)
    ]
    with _BlockSize(block):
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ids = [f"d{i}" for i in range(n_docs)]
        ix.add(docs[: n_docs // 2], ids=ids[: n_docs // 2])
        ix.add(docs[n_docs // 2 :], ids=ids[n_docs // 2 :])
        dead = {f"d{i}" for i in rng.choice(n_docs, size=n_docs // 10, replace=False)}
        ix.delete(sorted(dead))
        live = [(i, t) for i, t in zip(ids, docs, strict=True) if i not in dead]
        _check_against_brute(ix, live, queries, k)


@SETTINGS
@given(operations=ops, queries=st.lists(query_text, min_size=1, max_size=3), k=st.integers(1, 10))
def test_incremental_equals_brute_force_and_rebuild(operations, queries, k) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    live: list[tuple[str, str]] = []
    with _BlockSize(2):
        _apply(ix, live, operations, [0])
    assert len(ix) == len(live)
    assert ix.ids() == [i for i, _ in live]
    _check_against_brute(ix, live, queries, k)
    rebuilt = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    if live:
        rebuilt.add([t for _, t in live], ids=[i for i, _ in live])
    for q in queries:
        a = ix.search(q, k)
        r = rebuilt.search(q, k)
        assert [h.id for h in a] == [h.id for h in r]
        for ha, hr in zip(a, r, strict=True):
            assert math.isclose(ha.score, hr.score, rel_tol=1e-5)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=ops, queries=st.lists(query_text, min_size=1, max_size=3))
def test_save_load_after_updates_equals_brute_force(tmp_path: Path, operations, queries) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    live: list[tuple[str, str]] = []
    counter = [0]
    _apply(ix, live, operations, counter)
    target = tmp_path / "ix"
    ix.save(target)
    loaded = BM25Index.load(target)
    assert len(loaded) == len(live)
    assert loaded.ids() == [i for i, _ in live]
    _check_against_brute(loaded, live, queries, 10)
    # keep updating the loaded (memory-mapped) index
    _apply(loaded, live, [("add", ["w0 w9 w9", "w11"]), ("delete", [1, 2])], counter)
    _check_against_brute(loaded, live, queries, 10)


def test_maxscore_scans_and_probes_non_essential_terms() -> None:
    """Rare and mid-frequency terms next to a very frequent one: in some windows the frequent
    term is scanned into the candidates, in others it is probed per candidate; with deletions."""
    import numpy as np

    rng = np.random.default_rng(7)
    docs = []
    for _ in range(3000):
        words = [f"f{int(x)}" for x in rng.integers(0, 50, size=int(rng.integers(1, 12)))]
        for word, p in (("common", 0.9), ("mid", 0.2), ("rare", 0.01)):
            if rng.random() < p:
                words += [word] * int(rng.integers(1, 4))
        rng.shuffle(words)
        docs.append(" ".join(words))
    queries = ["rare common", "rare mid common", "mid common", "common f3", "rare rare mid"]
    with _BlockSize(2):
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ids = [f"d{i}" for i in range(len(docs))]
        ix.add(docs, ids=ids)
        dead = {f"d{i}" for i in range(0, len(docs), 7)}
        ix.delete(sorted(dead))
        live = [(i, t) for i, t in zip(ids, docs, strict=True) if i not in dead]
        for k in (1, 10, 40):
            _check_against_brute(ix, live, queries, k)


def test_maxscore_counts_the_touched_window_slots_exactly() -> None:
    """The touched-document count that picks scanning over probing is a popcount of the
    window bitmap (the touched bits are set without a test); it counts every set bit."""
    import numpy as np

    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**63, size=40, dtype=np.uint64) | np.uint64(1 << 63)
    words[::7] = 0
    words[5] = np.uint64(2**64 - 1)
    for n in (0, 1, 17, 40):
        want = sum(bin(int(w)).count("1") for w in words[:n])
        assert kernels._count_bits(words, n) == want
