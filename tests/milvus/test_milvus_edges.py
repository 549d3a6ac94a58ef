"""Milvus stores at their edges: ids that look like expressions, bad arguments, settings drift.

Ids reach Milvus only inside an escaped ``id in [...]`` expression (or as row values), so any
text is an id and nothing else: deleting ``a'] or id not in ['zzz`` deletes that one row.
Milvus Lite is slow, so the hypothesis runs reuse one collection and keep example counts small.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rankwise.milvus import MilvusBM25Store, MilvusSparseStore, SchemaMismatchError

pytestmark = pytest.mark.milvus

#: The ids issue 12 found mishandled by pymilvus' ``delete(ids=...)`` quoting, and friends.
NASTY_IDS = [
    "a'] or id not in ['zzz",
    'a"] or id not in ["zzz',
    "O'Reilly",
    "ends with \\",
    'a\\"b',
    "tab\tx",
    "c:\\new",
    "line\nbreak",
    "cr\rhere",
    "nul\x00byte",
    "\\u0041 not an escape",
    "ünïcødé ✓ 日本語 🙂",
    "\u2028sep",
    '" or 1==1 or "',
    "'",
    '"',
    "\\",
]

_id_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_ids = st.lists(
    st.one_of(st.sampled_from(NASTY_IDS), _id_text), min_size=2, max_size=8, unique=True
)


def _store(tmp_path: Path, name: str = "edges.db", **kw: Any) -> MilvusBM25Store:
    kw.setdefault("show_progress", False)
    return MilvusBM25Store(uri=str(tmp_path / name), **kw)


def _reset(store: MilvusBM25Store) -> None:
    store.client.delete(store.collection, filter='id != ""')


def _texts(store: MilvusBM25Store) -> dict[str, str]:
    return {h.id: h.text for h in store.get(store.ids())}


def test_nasty_ids_delete_get_upsert_exactly_themselves(tmp_path: Path) -> None:
    bystanders = ["keep-1", "keep-2", "zzz"]
    with _store(tmp_path) as store:
        ids = NASTY_IDS + bystanders
        store.add([f"doc {i}" for i in range(len(ids))], ids=ids)
        assert sorted(store.ids()) == sorted(ids)
        assert [h.id for h in store.get(NASTY_IDS)] == NASTY_IDS
        store.upsert(["changed doc"] * len(NASTY_IDS), ids=NASTY_IDS)
        texts = _texts(store)
        assert len(texts) == len(ids)
        assert all(texts[i] == "changed doc" for i in NASTY_IDS)
        assert [texts[i] for i in bystanders] == [f"doc {len(NASTY_IDS) + j}" for j in range(3)]
        hits = store.search("doc", k=50, filter=set(NASTY_IDS[:3]))
        assert {h.id for h in hits} == set(NASTY_IDS[:3])
        # one at a time: each delete removes its own row and nothing else
        remaining = set(ids)
        for doc_id in NASTY_IDS:
            assert store.delete([doc_id]) == 1, doc_id
            remaining.discard(doc_id)
            assert set(store.ids()) == remaining, doc_id
            assert store.get([doc_id]) == []
        assert sorted(store.ids()) == sorted(bystanders)


def test_arbitrary_text_ids_touch_exactly_the_named_rows(tmp_path: Path) -> None:
    store = _store(tmp_path)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(ids=_ids, data=st.data())
    def check(ids: list[str], data: st.DataObject) -> None:
        _reset(store)
        store.add([f"doc {i}" for i in range(len(ids))], ids=ids)
        assert sorted(store.ids()) == sorted(ids)
        picked = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids) - 1))
        others = [i for i in ids if i not in picked]

        assert sorted(h.id for h in store.get(picked)) == sorted(picked)
        store.upsert(["upserted doc"] * len(picked), ids=picked)
        texts = _texts(store)
        assert set(texts) == set(ids)
        assert all(texts[i] == "upserted doc" for i in picked)
        assert all(texts[i] == f"doc {ids.index(i)}" for i in others)
        if picked:
            found = {h.id for h in store.search("doc", k=50, filter=set(picked))}
            assert found == set(picked)

        assert store.delete(picked) == len(picked)
        assert sorted(store.ids()) == sorted(others)
        assert sorted(h.id for h in store.get(ids)) == sorted(others)

    try:
        check()
    finally:
        store.close()


def test_none_and_wrong_types_name_the_argument(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.add(["a doc"], ids=["a"])
        with pytest.raises(TypeError, match="ids"):
            store.delete(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="ids"):
            store.get(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="texts"):
            store.add(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="texts"):
            store.upsert(None, ids=["a"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"ids\[1\]"):
            store.delete(["a", 7])  # type: ignore[list-item]
        with pytest.raises(TypeError, match=r"ids\[0\]"):
            store.get([None])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="queries"):
            store.search_many(None)  # type: ignore[arg-type]
        assert len(store) == 1


def test_lone_surrogates_and_non_json_metadata_are_refused_at_add(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    with _store(tmp_path) as store:
        with pytest.raises(ValueError, match=r"texts\[0\].*lone surrogate"):
            store.add(["bad \ud800 text"])
        with pytest.raises(ValueError, match=r"ids\[0\].*lone surrogate"):
            store.add(["text"], ids=["id\udc00"])
        with pytest.raises(ValueError, match=r"metadatas\[0\].*lone surrogate"):
            store.add(["text"], metadatas=[{"k": "v\ud800"}])
        with pytest.raises(ValueError, match=r"query.*lone surrogate"):
            store.search("q \ud800")
        with pytest.raises(ValueError, match=r"ids\[0\].*lone surrogate"):
            store.delete(["\ud800"])
        with pytest.raises(TypeError, match=r"metadatas\[0\]\['t'\].*tuple"):
            store.add(["text"], metadatas=[{"t": (1, 2)}])
        with pytest.raises(ValueError, match=r"metadatas\[0\]\['x'\].*finite"):
            store.add(["text"], metadatas=[{"x": float("nan")}])
        assert len(store) == 0
        store.add(["text"], ids=["n"], metadatas=[{"n": np.int64(3), "f": np.float32(0.5)}])
        got = store.get(["n"])[0].metadata
        assert got == {"n": 3, "f": 0.5}
        assert type(got["n"]) is int


def test_sparse_store_refuses_surrogate_queries(tmp_path: Path) -> None:
    from rankwise.bm25 import BM25Index

    index = BM25Index(analyzer="standard", show_progress=False)
    index.add(["alpha beta", "beta gamma"], ids=["1", "2"])
    with MilvusSparseStore(index, uri=str(tmp_path / "s.db"), show_progress=False) as store:
        store.add(["alpha beta"], ids=["a'] or id not in ['zzz"])
        store.add(["beta gamma"], ids=["zzz"])
        assert store.delete(["a'] or id not in ['zzz"]) == 1
        assert store.ids() == ["zzz"]
        with pytest.raises(ValueError, match=r"queries\[1\].*lone surrogate"):
            store.search_many(["beta", "\udfff"])
        with pytest.raises(TypeError, match="queries"):
            store.search_many(None)  # type: ignore[arg-type]


def test_reopening_with_other_algo_or_text_length_is_a_schema_mismatch(tmp_path: Path) -> None:
    _store(tmp_path, inverted_index_algo="DAAT_WAND", max_text_length=1000).close()
    with pytest.raises(SchemaMismatchError, match="inverted_index_algo 'DAAT_WAND'"):
        _store(tmp_path, inverted_index_algo="DAAT_MAXSCORE", max_text_length=1000)
    with pytest.raises(SchemaMismatchError, match=r"max_length 1000.*max_text_length=2000"):
        _store(tmp_path, inverted_index_algo="DAAT_WAND", max_text_length=2000)
    with _store(tmp_path, inverted_index_algo="DAAT_WAND", max_text_length=1000) as same:
        assert len(same) == 0


def test_sparse_store_reopen_with_other_text_length_is_a_schema_mismatch(tmp_path: Path) -> None:
    from rankwise.bm25 import BM25Index

    index = BM25Index(analyzer="standard", show_progress=False)
    index.add(["alpha beta"], ids=["1"])
    uri = str(tmp_path / "s.db")
    MilvusSparseStore(index, uri=uri, max_text_length=500, show_progress=False).close()
    with pytest.raises(SchemaMismatchError, match="max_text_length=600"):
        MilvusSparseStore(index, uri=uri, max_text_length=600, show_progress=False)
    MilvusSparseStore(index, uri=uri, max_text_length=500, show_progress=False).close()


def test_a_bare_stop_filter_name_is_a_value_error_not_an_assertion() -> None:
    from rankwise.milvus.analyzers import analyzer_params_for

    with pytest.raises(ValueError, match="'stop' filter needs a dict"):
        analyzer_params_for({"tokenizer": "standard", "filter": ["lowercase", "stop"]}, "lite")


def test_filters_with_lone_surrogates_are_refused_before_milvus() -> None:
    from rankwise.milvus.filters import filter_to_expr

    with pytest.raises(ValueError, match="lone surrogate"):
        filter_to_expr({"\ud800"})
    with pytest.raises(ValueError, match="lone surrogate"):
        filter_to_expr({"lang": "e\udc00n"})
    assert filter_to_expr({"a'] or id not in ['zzz"}) == "id in [\"a'] or id not in ['zzz\"]"


def test_searches_that_find_the_store_dirty_together_flush_once(tmp_path: Path) -> None:
    """Milvus Lite fails a flush that overlaps another ("current_seq is monotonic"), which the
    contract suite's searches-during-writes test hit once in CI: searches that find a Lite store
    dirty at the same moment flush it once, one at a time, and all see the write."""
    store = _store(tmp_path)
    store.add(["laminar wing panels", "boundary layer flow"], ids=["a", "b"])
    real_flush = store._client.flush
    active = 0
    calls: list[int] = []  # flushes in flight as each one starts
    guard = threading.Lock()

    def slow_flush(*args: Any, **kwargs: Any) -> Any:
        nonlocal active
        with guard:
            active += 1
            calls.append(active)
        try:
            time.sleep(0.05)  # wide enough for every searcher to arrive
            return real_flush(*args, **kwargs)
        finally:
            with guard:
                active -= 1

    store._client.flush = slow_flush
    try:
        start = threading.Barrier(4)
        results: list[list[str]] = []

        def search() -> None:
            start.wait()
            results.append([h.id for h in store.search("wing panels", k=5)])

        threads = [threading.Thread(target=search) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert calls == [1]
        assert results == [["a"]] * 4
    finally:
        store._client.flush = real_flush
        store.close()
