"""search_ids / search_many_ids: the results of search / search_many as columns (ids, scores),
and the collector pause of the hit-building path."""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.bm25 import ALGORITHMS, BM25Index
from rankwise.bm25 import index as bm25_index
from rankwise.bm25.index import _warmup
from rankwise.evaluation import evaluate
from rankwise.types import Ranking
from tests.bm25.test_properties import _apply, doc_text, ops, query_text
from tests.bm25.test_search_many import corpus, queries

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# the filter forms BM25Index takes, built from a seed over the ids "d<n>" / "u<n>"
filters = st.one_of(
    st.none(),
    st.sets(st.sampled_from([f"d{i}" for i in range(40)] + ["u1", "u2", "nope"])),
    st.sampled_from([{"parity": 0}, {"parity": 1}, {}, {"missing": 1}]),
    st.sampled_from(["even", "has-u"]),  # predicates, made below
)


def _filter(spec: Any) -> Any:
    if spec == "even":
        return lambda meta: meta.get("parity") == 0
    if spec == "has-u":
        return lambda meta: "parity" not in meta
    return spec


def _hit_pairs(rows: list[list[Any]]) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in row] for row in rows]


def _pairs(ranking: Ranking) -> list[tuple[str, float]]:
    return list(zip(ranking.ids, ranking.scores.tolist(), strict=True))


def _with_parity(ix: BM25Index) -> None:
    """Metadata on the documents added as d<n> (upserted u<n> keep none)."""
    ids = [i for i in ix.ids() if i.startswith("d")]
    docs = {h.id: h.text for h in ix.get(ids)}
    ix.upsert([docs[i] for i in ids], ids=ids, metadatas=[{"parity": int(i[1:]) % 2} for i in ids])


def _check_same(ix: BM25Index, qs: list[str], k: int, flt: Any) -> None:
    for n_threads in (1, 2):
        hits = ix.search_many(qs, k=k, filter=flt, n_threads=n_threads)
        rankings = ix.search_many_ids(qs, k=k, filter=flt, n_threads=n_threads)
        assert all(type(r) is Ranking for r in rankings)
        assert [_pairs(r) for r in rankings] == _hit_pairs(hits)
        for r in rankings:
            assert r.scores.dtype == np.float64
            assert len(r) == len(r.ids) == r.scores.size
    for q in qs:
        assert _pairs(ix.search_ids(q, k=k, filter=flt)) == _hit_pairs([ix.search(q, k, flt)])[0]


@SETTINGS
@given(
    operations=ops,
    qs=st.lists(query_text, min_size=1, max_size=6),
    k=st.integers(1, 12),
    spec=filters,
    algo=st.sampled_from(ALGORITHMS),
)
def test_search_many_ids_equals_the_ids_and_scores_of_search_many(
    operations: list[Any], qs: list[str], k: int, spec: Any, algo: str
) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, inverted_index_algo=algo, show_progress=False)
    _apply(ix, [], operations, [0])
    _with_parity(ix)
    _check_same(ix, qs, k, _filter(spec))


@SETTINGS
@given(
    docs=st.lists(doc_text, min_size=1, max_size=40),
    later=st.lists(doc_text, max_size=5),
    dead=st.sets(st.integers(0, 45), max_size=8),
    qs=st.lists(query_text, min_size=1, max_size=5),
    k=st.integers(1, 50),
    spec=filters,
)
def test_search_many_ids_of_an_mmap_loaded_index(
    docs: list[str],
    later: list[str],
    dead: set[int],
    qs: list[str],
    k: int,
    spec: Any,
) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=[f"d{i}" for i in range(len(docs))])
    _with_parity(ix)
    with tempfile.TemporaryDirectory() as tmp:
        ix.save(tmp)
        loaded = BM25Index.load(tmp, mmap=True, show_progress=False)
        # documents past the mapped block, and deletions on top of it
        loaded.add(later, ids=[f"d{len(docs) + i}" for i in range(len(later))])
        loaded.delete([f"d{i}" for i in dead])
        _check_same(loaded, qs, k, _filter(spec))
        del loaded


def test_search_many_ids_over_many_batches_segments_and_deletions() -> None:
    docs = corpus(900, 1)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    for lo, hi in ((0, 500), (500, 800), (800, 900)):
        ix.add(docs[lo:hi], ids=[str(i) for i in range(lo, hi)])
    ix.delete([str(i) for i in range(0, 900, 7)])
    qs = queries(300, 2)  # several batches of 64, and blank / unknown queries
    for k in (1, 10, 1000):
        want = _hit_pairs(ix.search_many(qs, k=k, n_threads=1))
        for n_threads in (1, 2, None):
            assert [_pairs(r) for r in ix.search_many_ids(qs, k, n_threads=n_threads)] == want


def test_an_empty_index_and_empty_query_lists() -> None:
    ix = BM25Index(show_progress=False)
    assert ix.search_many_ids([]) == []
    empty = ix.search_ids("anything")
    assert empty == Ranking([], np.zeros(0))
    assert not empty
    assert ix.search_many_ids(["a", ""], filter={"x": 1}) == [empty, empty]


def _error(call: Callable[[], object]) -> tuple[type, str]:
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"queries": "one string"},
        {"queries": ["ok", 3]},
        {"queries": ["ok", "\ud800"]},
        {"k": 0},
        {"k": 2.0},
        {"k": True},
        {"filter": 'metadata["a"] == 1'},
        {"filter": 42},
        {"filter": {"a": np.zeros(2)}},
        {"n_threads": 0},
        {"n_threads": "2"},
    ],
)
def test_search_many_ids_refuses_what_search_many_refuses(kwargs: dict[str, Any]) -> None:
    ix = BM25Index(show_progress=False)
    ix.add(["alpha beta", "beta gamma"])
    args: dict[str, Any] = {"queries": ["alpha"], **kwargs}
    assert _error(lambda: ix.search_many_ids(**args)) == _error(lambda: ix.search_many(**args))


@pytest.mark.parametrize(
    ("query", "kwargs"),
    [
        (3, {}),
        ("\ud800", {}),
        ("alpha", {"k": 0}),
        ("alpha", {"k": 2.0}),
        ("alpha", {"filter": 'metadata["a"] == 1'}),
        ("alpha", {"filter": 42}),
    ],
)
def test_search_ids_refuses_what_search_refuses(query: Any, kwargs: dict[str, Any]) -> None:
    ix = BM25Index(show_progress=False)
    ix.add(["alpha beta", "beta gamma"])
    assert _error(lambda: ix.search_ids(query, **kwargs)) == _error(
        lambda: ix.search(query, **kwargs)
    )


def test_rankings_own_their_columns() -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(300, 3), ids=[f"x{i}" for i in range(300)])
    first, second = ix.search_many_ids(["w1 w2", "w1 w3"], k=50, n_threads=1)
    assert first.scores.flags.owndata
    assert second.scores.flags.owndata
    kept = (list(first.ids), first.scores.copy())
    second.scores[:] = -1.0
    second.ids.clear()
    assert (first.ids, first.scores.tolist()) == (kept[0], kept[1].tolist())
    assert ix.search_many_ids(["w1 w3"], k=50)[0] != second
    # ids are str, scores best first
    assert all(type(i) is str for i in first.ids)
    assert np.all(np.diff(first.scores) <= 0)


def test_make_rankings_builds_the_rankings_the_constructor_makes() -> None:
    """The fast builder (a twin of Ranking's slots that turns itself into a Ranking) gives
    real, frozen Rankings holding the columns it was given."""
    from rankwise import types

    assert types._RANKING is types._RankingBuilder  # the fast path is the one CPython takes
    names = [["a", "b"], [], ["c"]]
    scores = [np.array([2.0, 1.0]), np.zeros(0), np.array([0.5])]
    built = types.make_rankings(names, iter(scores))
    assert [type(r) for r in built] == [Ranking] * 3
    assert built == [Ranking(n, s) for n, s in zip(names, scores, strict=True)]
    assert all(r.ids is n and r.scores is s for r, n, s in zip(built, names, scores, strict=True))
    assert repr(built[0]) == repr(Ranking(names[0], scores[0]))
    assert pickle.loads(pickle.dumps(built[0])) == built[0]
    assert not hasattr(built[0], "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].ids = []  # type: ignore[misc]
    assert types.make_rankings([], []) == []


def test_ranking_value_semantics() -> None:
    a = Ranking(["x", "y"], np.array([2.0, 1.0]))
    assert a == Ranking(["x", "y"], np.array([2.0, 1.0]))
    assert a != Ranking(["y", "x"], np.array([2.0, 1.0]))
    assert a != Ranking(["x", "y"], np.array([2.0, 0.5]))
    assert a != ["x", "y"]
    # the sequence of its ids, best first
    assert len(a) == 2
    assert list(a) == ["x", "y"]
    assert (a[0], a[-1], a[:1]) == ("x", "y", ["x"])
    assert "y" in a
    assert "z" not in a
    assert a.index("y") == 1
    assert not Ranking([], np.zeros(0))
    with pytest.raises(TypeError):
        hash(a)
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.deepcopy(a) == a


def test_a_run_of_rankings_evaluates_as_a_run_of_id_lists() -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(400, 9), ids=[f"x{i}" for i in range(400)])
    qs = {f"q{i}": q for i, q in enumerate(queries(30, 10))}
    rankings = dict(zip(qs, ix.search_many_ids(list(qs.values()), k=100), strict=True))
    id_lists = {qid: [h.id for h in ix.search(q, k=100)] for qid, q in qs.items()}
    qrels = {
        qid: {ids[j]: 1 + j % 2 for j in range(0, len(ids), 3)} for qid, ids in id_lists.items()
    }
    qrels["q0"] = {"x1": 1, "x2": 2}
    metrics = ("ndcg@10", "recall@100", "mrr@10", "map@100", "p@5")
    assert evaluate(rankings, qrels, metrics) == evaluate(id_lists, qrels, metrics)
    assert evaluate(rankings, qrels, metrics).metrics["recall@100"] > 0


def _new_tracked(make: Callable[[], object]) -> int:
    """Objects the cyclic collector tracks that ``make``'s result keeps alive."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        result = make()
        after = len(gc.get_objects())
        del result
    finally:
        if was:
            gc.enable()
    return after - before


def test_search_many_ids_allocates_per_query_not_per_result() -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(2000, 4), ids=[f"x{i}" for i in range(2000)])
    qs = ["w1 w2 w3"] * 100  # each matches far more than k documents
    ix.search_many_ids(qs[:2], k=200, n_threads=1)  # warm caches and kernels
    _warmup.wait()  # a kernel compiling in the background allocates plenty
    assert sum(map(len, ix.search_many_ids(qs, k=200, n_threads=1))) == 100 * 200
    tracked = _new_tracked(lambda: ix.search_many_ids(qs, k=200, n_threads=1))
    assert tracked <= 3 * len(qs) + 20
    hits = _new_tracked(lambda: ix.search_many(qs, k=200, n_threads=1))
    assert hits >= 100 * 200  # the path it is an alternative to: an object per result


@contextmanager
def _young_collections() -> Iterator[list[int]]:
    """The generations collected while the block runs (with the collector enabled)."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)
        if not was:
            gc.disable()


def test_search_many_hits_pause_the_collector_for_the_whole_call() -> None:
    """A batch's hits used to be traversed by a young collection as soon as the next batch of
    the same call allocated, and every tenth of those traversed all the hits of the call so
    far: the pause now spans the call, so a 1,000-query top-100 call collects nothing while
    it runs (its hits are traversed once, after it returns)."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(3000, 5), ids=[f"x{i}" for i in range(3000)])
    qs = queries(1000, 6)
    ix.search_many(qs[:5], k=100, n_threads=1)
    _warmup.wait()
    gc.collect()
    with _young_collections() as seen:
        rows = ix.search_many(qs, k=100, n_threads=1)
    assert sum(map(len, rows)) > 20_000  # enough hits for dozens of young collections
    assert seen == []
    assert gc.isenabled()


@pytest.mark.parametrize("n_threads", [1, 2])
def test_a_long_search_many_lets_the_collector_run_between_pauses(
    monkeypatch: pytest.MonkeyPatch, n_threads: int
) -> None:
    """The pause covers at most _PAUSE_RESULTS hits: a call that builds many more lets the
    collector run in between (other threads' cyclic garbage is not held for the whole call)."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(3000, 5), ids=[f"x{i}" for i in range(3000)])
    qs = queries(1000, 6)
    want = ix.search_many(qs, k=100, n_threads=n_threads)
    _warmup.wait()
    monkeypatch.setattr(bm25_index, "_PAUSE_RESULTS", 3000)
    gc.collect()
    with _young_collections() as seen:
        rows = ix.search_many(qs, k=100, n_threads=n_threads)
    assert rows == want
    assert seen  # collections ran during the call
    assert gc.isenabled()
    predicate = ix.search_many(qs[:200], k=100, filter=lambda meta: True, n_threads=n_threads)
    assert predicate == want[:200]


def test_concurrent_searches_leave_the_collector_enabled() -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(corpus(1000, 7))
    qs = queries(200, 8)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(15):
                if (seed + i) % 3 == 0:
                    ix.search(qs[i], k=50)
                else:
                    ix.search_many(qs, k=20, n_threads=1 + (seed + i) % 2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    was = gc.isenabled()
    gc.enable()
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert gc.isenabled()
        gc.disable()  # a caller that turned it off keeps it off
        ix.search_many(qs, k=20, n_threads=2)
        ix.search("w1", k=10)
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
