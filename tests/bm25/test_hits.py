"""The Hit behaviour the search path relies on, checked on hits the index itself builds.

``BM25Index._hits`` builds ``Hit`` through its slot setters rather than ``Hit(...)`` (half the
cost per hit) and copies flat metadata with one ``dict()``; these tests pin what that must
keep: a frozen slots dataclass equal, repr-identical and pickle-identical to one made by its
constructor, and metadata that is the hit's own (changing it never reaches the index).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from rankwise._checks import copy_metadata
from rankwise.bm25 import BM25Index
from rankwise.bm25.index import _HITS
from rankwise.types import Hit

FLAT = {"source": "a.pdf", "page": 3, "score": 0.5, "draft": False, "note": None}
NESTED = {"tags": ["x", "y"], "where": {"shelf": [1, 2]}, "n": 1}
DOCS = ["alpha beta", "alpha gamma", "beta gamma delta", "alpha"]


@pytest.fixture
def index() -> BM25Index:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(DOCS, ids=["flat", "nested", "plain", "empty"], metadatas=[FLAT, NESTED, None, {}])
    return ix


def _every_kind_of_hit(ix: BM25Index) -> Iterator[tuple[str, Hit]]:
    """Hits from each path that builds them: one query, a batch, a large k, filters, get."""
    for hit in ix.search("alpha beta", k=10):
        yield "search", hit
    for row in ix.search_many(["alpha", "beta gamma"], k=10, n_threads=1):
        for hit in row:
            yield "search_many", hit
    for hit in ix.search("alpha beta gamma delta", k=500):  # k above the live count
        yield "search k=500", hit
    for hit in ix.search("alpha", filter={"page": 3}):
        yield "mapping filter", hit
    for hit in ix.search("alpha gamma", filter={"flat", "nested"}):
        yield "id filter", hit
    for hit in ix.get(["flat", "nested", "plain", "empty"]):
        yield "get", hit


def _stored(ix: BM25Index) -> dict[str, dict[str, Any]]:
    return {h.id: h.metadata for h in ix.get(ix.ids())}


def test_index_hits_are_the_hits_the_constructor_makes(index: BM25Index) -> None:
    seen = set()
    for path, hit in _every_kind_of_hit(index):
        seen.add(hit.id)
        twin = Hit(id=hit.id, score=hit.score, text=hit.text, metadata=dict(hit.metadata))
        assert type(hit) is Hit, path
        assert hit == twin, path
        assert not hit.__ne__(twin), path
        assert repr(hit) == repr(twin), path
        assert isinstance(hit.score, float), path
        assert isinstance(hit.id, str), path
        assert not hasattr(hit, "__dict__"), path  # still a slots class
        assert dataclasses.asdict(hit) == dataclasses.asdict(twin), path
        assert dataclasses.replace(hit, score=1.5) == dataclasses.replace(twin, score=1.5), path
    assert seen == {"flat", "nested", "plain", "empty"}


def test_hits_are_immutable(index: BM25Index) -> None:
    for _path, hit in _every_kind_of_hit(index):
        for name, value in (("id", "other"), ("score", 9.0), ("text", "t"), ("metadata", {})):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(hit, name, value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            del hit.score
        with pytest.raises((AttributeError, TypeError)):
            hit.extra = 1  # type: ignore[attr-defined]
        assert [f.name for f in dataclasses.fields(hit)] == ["id", "score", "text", "metadata"]


def test_hits_compare_by_value_not_as_tuples(index: BM25Index) -> None:
    hit = index.search("alpha", k=1)[0]
    assert hit == index.search("alpha", k=1)[0]
    assert hit != (hit.id, hit.score, hit.text, hit.metadata)
    assert hit != dataclasses.replace(hit, score=hit.score + 1.0)
    assert hit != dataclasses.replace(hit, metadata={**hit.metadata, "extra": 1})
    with pytest.raises(TypeError):
        _ = hit < hit  # type: ignore[operator]
    with pytest.raises(TypeError):
        hash(hit)  # its metadata is a dict
    with pytest.raises(TypeError):
        iter(hit)  # type: ignore[call-overload]


def test_hits_pickle_and_copy_to_equal_hits(index: BM25Index) -> None:
    for path, hit in _every_kind_of_hit(index):
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            back = pickle.loads(pickle.dumps(hit, protocol))
            assert type(back) is Hit, (path, protocol)
            assert back == hit, (path, protocol)
        deep = copy.deepcopy(hit)
        assert deep == hit, path
        assert deep.metadata is not hit.metadata, path
        assert copy.copy(hit) == hit, path


def test_each_hit_owns_its_metadata(index: BM25Index) -> None:
    """Changing any hit's metadata, flat or nested, never reaches the index or another hit."""
    before = _stored(index)
    assert before == {"flat": FLAT, "nested": NESTED, "plain": {}, "empty": {}}
    hits = [hit for _, hit in _every_kind_of_hit(index)]
    for hit in hits:
        if hit.metadata == NESTED:
            hit.metadata["tags"].append("hit")
            hit.metadata["where"]["shelf"].clear()
            hit.metadata["where"]["new"] = 1
        hit.metadata["page"] = 99
        hit.metadata.pop("source", None)
    assert _stored(index) == before
    again = [hit for _, hit in _every_kind_of_hit(index)]
    assert [h.metadata for h in again] == [before[h.id] for h in again]
    # every hit got its own dict, even for documents stored without metadata
    assert len({id(h.metadata) for h in hits}) == len(hits)


def test_predicate_filter_gets_a_copy_too(index: BM25Index) -> None:
    def spoil(meta: dict[str, Any]) -> bool:
        meta["page"] = -1
        meta.setdefault("tags", []).append("predicate")
        return True

    before = _stored(index)
    assert {h.id for h in index.search("alpha beta gamma", filter=spoil)} == set(before)
    assert _stored(index) == before


@pytest.mark.parametrize("enabled", [True, False])
def test_search_leaves_the_collector_as_it_found_it(index: BM25Index, enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        index.search("alpha", k=1)
        assert gc.isenabled() is enabled
        index.search("alpha beta gamma", k=1000)
        assert gc.isenabled() is enabled
        index.search_many(["alpha", "beta"] * 50, k=10, n_threads=1)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("meta", [FLAT, NESTED, {}, {"a": True, "b": [{"c": [1]}]}])
def test_copy_metadata_is_a_fresh_plain_deep_copy(meta: dict[str, Any]) -> None:
    source = copy.deepcopy(meta)
    got = copy_metadata(source)
    assert got == meta
    assert type(got) is dict
    assert got is not source

    def containers(value: Any) -> Iterator[int]:
        if isinstance(value, (list, dict)):
            yield id(value)
            for item in value.values() if isinstance(value, dict) else value:
                yield from containers(item)

    assert not set(containers(got)) & set(containers(source))
    got["added"] = 1
    assert source == meta


def test_copy_metadata_returns_a_plain_dict_for_a_dict_subclass() -> None:
    class Meta(dict[str, Any]):
        pass

    got = copy_metadata(Meta(a=1, b="x"))
    assert type(got) is dict
    assert got == {"a": 1, "b": "x"}


def test_make_hits_builds_the_hits_the_constructor_makes() -> None:
    """The fast builder (a twin of Hit's slots that turns itself into a Hit) gives real Hits."""
    from rankwise import types

    assert types._HIT is types._HitBuilder  # the fast path is the one CPython takes
    ids, scores, texts = ["a", "b", "c"], [3.0, 2.5, 1.0], ["x", "y", "z"]
    metas = [copy.deepcopy(FLAT), {}, copy.deepcopy(NESTED)]
    for hits, want_metas in (
        (types.make_hits(ids, scores, texts, metas), metas),
        (types.make_hits(ids, scores, texts), [{}, {}, {}]),
        (types.make_hits(iter(ids), iter(scores), iter(texts)), [{}, {}, {}]),
    ):
        twins = [Hit(*row) for row in zip(ids, scores, texts, want_metas, strict=True)]
        assert [type(h) for h in hits] == [Hit] * 3
        assert hits == twins
        assert [repr(h) for h in hits] == [repr(t) for t in twins]
        assert [pickle.loads(pickle.dumps(h)) for h in hits] == twins
        for hit in hits:
            assert not hasattr(hit, "__dict__")
            with pytest.raises(dataclasses.FrozenInstanceError):
                hit.score = 0.0  # type: ignore[misc]
    empty = types.make_hits(ids, scores, texts)
    assert len({id(h.metadata) for h in empty}) == 3  # a new dict for each hit
    assert types.make_hits([], [], []) == []


def test_hits_of_a_loaded_index_are_those_of_the_index_it_saved(tmp_path: Any) -> None:
    """Texts of a memory-mapped index are decoded per batch from the saved block, also for
    documents added after the load and for non-ASCII text."""
    docs = ["alpha béta", "alpha ünïcode ∑ gamma", "beta gamma delta 😀", "alpha", "delta"]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(docs, ids=[f"d{i}" for i in range(len(docs))], metadatas=[FLAT, None, NESTED, {}, None])
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", mmap=True, show_progress=False)
    queries = ["alpha", "gamma delta", "béta ∑", "delta 😀 alpha", "nothing"]
    for target in (ix, loaded):
        target.add(["alpha après", "gamma"], ids=["n0", "n1"], metadatas=[{"new": [1]}, None])
    for k in (1, 2, 10):
        want = [ix.search(q, k=k) for q in queries]
        assert loaded.search_many(queries, k=k, n_threads=1) == want
        assert [loaded.search(q, k=k) for q in queries] == want
    texts = {h.id: h.text for h in loaded.search_many(queries, k=10, n_threads=1)[3]}
    assert texts["d2"] == docs[2]
    assert texts["n0"] == "alpha après"


def test_metadata_added_after_searches_reaches_the_hits(tmp_path: Any) -> None:
    """Hits skip the metadata column while no document has metadata (a scan remembered per
    index); documents added later with metadata, an upsert, a load and an older snapshot
    still read each hit's own metadata."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["alpha beta", "alpha"], ids=["a", "b"])
    assert [h.metadata for h in ix.search("alpha")] == [{}, {}]
    old = ix._state
    ix.add(["alpha alpha gamma"], ids=["c"], metadatas=[{"tag": ["x"]}])
    assert {h.id: h.metadata for h in ix.search("alpha")} == {"a": {}, "b": {}, "c": {"tag": ["x"]}}
    assert [h.metadata for h in ix._search_rows(old, ["alpha"], 10, None, _HITS)[0]] == [{}, {}]
    ix.upsert(["alpha beta"], ids=["a"], metadatas=[{"v": 2}])
    rows = ix.search_many(["alpha", "gamma", "beta"], k=10, n_threads=1)
    assert [{h.id: h.metadata for h in row} for row in rows] == [
        {"a": {"v": 2}, "b": {}, "c": {"tag": ["x"]}},
        {"c": {"tag": ["x"]}},
        {"a": {"v": 2}},
    ]
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", show_progress=False)
    assert loaded.search_many(["alpha", "gamma", "beta"], k=10, n_threads=1) == rows


def test_flat_metadata_copies_are_the_hits_own_until_nested_metadata_arrives() -> None:
    """An index whose metadata is all flat copies it with dict(); once a document with
    nested metadata is added, hits get deep copies. Either way no change to a hit's
    metadata reaches the index."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["alpha", "alpha beta", "beta"], ids=["f", "g", "n"], metadatas=[FLAT, {"x": 1}, None])

    def spoil_all() -> None:
        for row in ix.search_many(["alpha", "beta", "alpha beta"], k=10, n_threads=1):
            for hit in row:
                hit.metadata["page"] = -1
                for value in hit.metadata.values():
                    if isinstance(value, list):
                        value.append("spoiled")
                    elif isinstance(value, dict):
                        value.clear()

    spoil_all()
    assert _stored(ix) == {"f": FLAT, "g": {"x": 1}, "n": {}}
    assert ix._metadata_kind(ix._state) == 1
    ix.add(["alpha gamma"], ids=["deep"], metadatas=[copy.deepcopy(NESTED)])
    spoil_all()
    assert _stored(ix) == {"f": FLAT, "g": {"x": 1}, "n": {}, "deep": NESTED}
    assert ix._metadata_kind(ix._state) == 2
