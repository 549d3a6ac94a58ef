"""The TextStore contract (``rankwise.types.TextStore``), checked on every backend in
``conftest.BACKENDS``: the embedded indexes, the Milvus stores on Milvus Lite and the test double
the integrations use."""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from rankwise._checks import MAX_ID_BYTES
from rankwise.types import (
    FILTER_KINDS,
    FilterNotSupportedError,
    Hit,
    TextStore,
)

from .conftest import DOCS, Backend

QUERIES = ["supersonic wing flutter", "boundary layer heat transfer", "flow", "shells"]
META = {i: m for i, _, m in DOCS}
TEXT = {i: t for i, t, _ in DOCS}


def check_ranking(hits: list[Hit], k: int) -> None:
    """Best first, at most k, positive scores only, no id twice."""
    assert len(hits) <= k
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)
    assert len({h.id for h in hits}) == len(hits)


def test_is_a_text_store_with_declared_filter_kinds(store: TextStore) -> None:
    assert isinstance(store, TextStore)
    kinds = store.filter_kinds  # type: ignore[attr-defined]
    assert set(kinds) <= set(FILTER_KINDS)
    assert {"mapping", "ids"} <= set(kinds)


def test_documents_round_trip(store: TextStore) -> None:
    assert len(store) == len(DOCS)
    assert sorted(store.ids()) == sorted(TEXT)
    got = store.get(["n3", "missing", "n0"])
    assert [(h.id, h.text, h.score) for h in got] == [
        ("n3", TEXT["n3"], 0.0),
        ("n0", TEXT["n0"], 0.0),
    ]
    assert got[0].metadata == META["n3"]
    got[0].metadata["touched"] = True  # a fresh dict: the store is not changed through it
    assert store.get(["n3"])[0].metadata == META["n3"]
    assert store.get([]) == []


def test_add_generates_ids_and_refuses_duplicates(empty: TextStore) -> None:
    assert empty.add([]) == []
    ids = empty.add(["laminar wing panels"])
    assert len(ids) == 1
    assert isinstance(ids[0], str)
    assert ids[0]
    assert empty.get(ids)[0].text == "laminar wing panels"
    assert empty.get(ids)[0].metadata == {}
    with pytest.raises(ValueError, match="ids"):
        empty.add(["a", "b"], ids=["x", "x"])
    with pytest.raises(ValueError, match="upsert"):
        empty.add(["shells"], ids=ids)
    assert len(empty) == 1  # nothing written by the refused calls


def test_upsert_replaces_and_delete_counts(store: TextStore) -> None:
    assert store.upsert(["a replaced document about wing buckling"], ids=["n5"]) == ["n5"]
    assert len(store) == len(DOCS)
    assert store.get(["n5"])[0].text == "a replaced document about wing buckling"
    assert store.get(["n5"])[0].metadata == {}
    assert store.delete(["n0", "missing", "n0"]) == 1
    assert store.delete(["n0"]) == 0
    assert len(store) == len(DOCS) - 1
    assert "n0" not in store.ids()
    for query in QUERIES:
        assert "n0" not in {h.id for h in store.search(query, k=10)}


def test_search_ranks_best_first_with_positive_scores(store: TextStore, backend: Backend) -> None:
    for query in QUERIES:
        for k in (1, 3, 50):
            check_ranking(store.search(query, k=k), k)
    top = store.search("supersonic wing flutter", k=3)
    assert top
    assert top[0].id in {"n0", "n6"}
    assert top[0].text == TEXT[top[0].id]
    assert top[0].metadata == META[top[0].id]
    if backend.lexical:
        assert store.search("cooking pasta", k=10)[0].id == "n5"
        # a document sharing no term is not a hit, even when fewer than k remain
        assert {h.id for h in store.search("pasta", k=10)} == {"n5"}
        assert store.search("zyzzyva quokka", k=10) == []


def test_k_larger_than_the_store_returns_every_match(store: TextStore) -> None:
    everything = store.search("supersonic flow boundary", k=len(DOCS))
    assert store.search("supersonic flow boundary", k=10_000) == everything
    assert store.search("supersonic flow boundary", k=2) == everything[:2]


@pytest.mark.parametrize("bad_k", [0, -1, 2.5, True, "3"])
def test_bad_k_is_a_value_error(store: TextStore, bad_k: Any) -> None:
    with pytest.raises(ValueError, match="k"):
        store.search("wing", k=bad_k)


def test_k_may_be_a_numpy_integer(store: TextStore) -> None:
    assert store.search("wing", k=np.int64(2)) == store.search("wing", k=2)


#: Ids every store refuses (``rankwise._checks.id_arg``): empty, not a str (an int is never
#: turned into a string), a lone surrogate, longer than the Milvus primary key holds.
BAD_IDS = {
    "empty": "",
    "int": 7,
    "none": None,
    "lone-surrogate": "a\udc80",
    "too-long": "x" * (MAX_ID_BYTES + 1),
    "too-long-in-bytes": "é" * (MAX_ID_BYTES // 2 + 1),
}


@pytest.mark.parametrize("bad", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_the_id_rule_holds_on_every_call_that_takes_ids(store: TextStore, bad: Any) -> None:
    for write in (store.add, store.upsert):
        with pytest.raises(ValueError, match=r"^ids\[1\] ") as info:
            write(["laminar wing", "wing panels"], ids=["fresh", bad])
        if not isinstance(bad, str):
            assert isinstance(info.value, TypeError)  # both: callers may catch either
    for read in (store.get, store.delete):
        with pytest.raises(ValueError, match=r"^ids\[1\] "):
            read(["n0", bad])
    assert len(store) == len(DOCS)
    assert store.get(["fresh"]) == []


def test_upsert_without_ids_is_one_error_everywhere(empty: TextStore) -> None:
    with pytest.raises(ValueError, match=r"^ids must be given to upsert, got None$") as info:
        empty.upsert(["laminar wing"], ids=None)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert len(empty) == 0


def test_the_longest_id_is_accepted_everywhere(empty: TextStore) -> None:
    longest = "é" * (MAX_ID_BYTES // 2)  # exactly MAX_ID_BYTES bytes of UTF-8
    assert empty.add(["laminar wing"], ids=[longest]) == [longest]
    assert [h.id for h in empty.get([longest])] == [longest]
    assert [h.id for h in empty.search("wing", k=1)] == [longest]
    assert empty.delete([longest]) == 1


def test_lists_and_metadata_follow_one_rule(empty: TextStore) -> None:
    for call in (
        lambda: empty.add("laminar wing"),  # type: ignore[arg-type]
        lambda: empty.add(["laminar wing"], ids="x"),  # type: ignore[arg-type]
        lambda: empty.add(["laminar wing"], metadatas={"a": 1}),  # type: ignore[arg-type]
        lambda: empty.get("n0"),  # type: ignore[arg-type]
        lambda: empty.delete("n0"),  # type: ignore[arg-type]
        lambda: empty.add(["a", "b"], ids=["x"]),
        lambda: empty.add(["a"], metadatas=[{}, {}]),
    ):
        with pytest.raises(ValueError, match=r"^(texts|ids|metadatas) "):
            call()
    with pytest.raises(ValueError, match=r"^metadatas\[0\] must be a dict or None"):
        empty.add(["laminar wing"], metadatas=["topic"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"^texts\[1\] must be a str"):
        empty.add(["laminar wing", 3])  # type: ignore[list-item]
    # any mapping is metadata (a fresh dict is stored), and texts may come from a generator
    ids = empty.add((t for t in ["laminar wing"]), metadatas=[MappingProxyType({"n": 1})])
    assert empty.get(ids)[0].metadata == {"n": 1}
    assert len(empty) == 1


def test_blank_and_non_string_queries(store: TextStore) -> None:
    assert store.search("", k=3) == []
    assert store.search("  \n", k=3) == []
    with pytest.raises((TypeError, ValueError), match="quer"):
        store.search(None, k=3)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="quer"):
        store.search_many("wing", k=3)


def test_search_many_equals_single_searches(store: TextStore) -> None:
    queries = [*QUERIES, "", "supersonic"]
    assert store.search_many(queries, k=3) == [store.search(q, k=3) for q in queries]
    flt = {"topic": "aero"}
    assert store.search_many(queries, k=2, filter=flt) == [
        store.search(q, k=2, filter=flt) for q in queries
    ]


def _passes(doc_id: str, flt: object) -> bool:
    if isinstance(flt, (set, frozenset)):
        return doc_id in flt
    assert isinstance(flt, dict)
    return all(k in META[doc_id] and META[doc_id][k] == v for k, v in flt.items())


@pytest.mark.parametrize(
    "flt",
    [{"topic": "aero"}, {"topic": "heat", "year": 1959}, {"topic": "none"}, {"n1", "n6", "zz"}],
    ids=["one-key", "two-keys", "no-match", "id-set"],
)
def test_filters_apply_inside_the_top_k(store: TextStore, flt: Any) -> None:
    for query in QUERIES:
        full = store.search(query, k=len(DOCS))
        want = [h.id for h in full if _passes(h.id, flt)]
        for k in (1, 2, len(DOCS)):
            got = store.search(query, k=k, filter=flt)
            check_ranking(got, k)
            assert [h.id for h in got] == want[:k], (query, k)


def test_empty_filters(store: TextStore) -> None:
    assert store.search("wing", k=5, filter=set()) == []
    assert store.search("wing", k=5, filter=frozenset()) == []
    assert store.search("wing", k=5, filter={}) == store.search("wing", k=5)


def test_each_filter_form_is_applied_or_refused_with_one_error(store: TextStore) -> None:
    kinds = store.filter_kinds  # type: ignore[attr-defined]
    forms: dict[str, Any] = {
        "predicate": lambda meta: meta.get("year", 0) > 1960,
        "expression": 'metadata["year"] > 1960',
    }
    want = [
        h.id for h in store.search("wing flow supersonic", k=10) if h.metadata.get("year", 0) > 1960
    ]
    for kind, flt in forms.items():
        if kind in kinds:
            got = store.search("wing flow supersonic", k=10, filter=flt)
            assert [h.id for h in got] == want
        else:
            with pytest.raises(FilterNotSupportedError) as info:
                store.search("wing flow supersonic", k=10, filter=flt)
            message = str(info.value)
            assert message.startswith(f"{type(store).__name__} cannot apply a")
            assert f" {kind} filter; it takes " in message
            assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="filter"):
        store.search("wing", filter=42)  # type: ignore[arg-type]


def test_equal_scores_keep_insertion_order(empty: TextStore, backend: Backend) -> None:
    if not backend.insertion_ties:
        pytest.skip(f"{backend.name}: Milvus orders equal scores itself (documented)")
    text = "identical twin text about shells"
    empty.add([text, text, text], ids=["t1", "t2", "t3"])
    assert [h.id for h in empty.search("twin shells", k=3)] == ["t1", "t2", "t3"]
    empty.upsert([text], ids=["t1"])  # an upserted document is the newest
    assert [h.id for h in empty.search("twin shells", k=3)] == ["t2", "t3", "t1"]


def test_close_twice_is_harmless(empty: TextStore) -> None:
    empty.close()
    empty.close()


def test_searches_during_writes_see_whole_states(store: TextStore) -> None:
    errors: list[BaseException] = []
    results: list[list[Hit]] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                results.append(store.search("wing panels flow", k=20))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(4):
            store.add(["laminar wing panels"], ids=[f"w{i}"])
        store.delete(["w0"])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert results
    for hits in results:
        check_ranking(hits, 20)
        assert {h.id for h in hits} <= {*TEXT, "w0", "w1", "w2", "w3"}
    final = {h.id for h in store.search("wing panels flow", k=20)}
    assert {"w1", "w2", "w3"} <= final
    assert "w0" not in final
