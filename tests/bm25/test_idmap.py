"""The id map of a BM25Index (issue 14, build memory): ids are found through sorted hashes and
confirmed against the ids column, so it answers exactly like a dict, with hash collisions,
upserts, merges of its write dict and undone writes, at a fraction of a dict's memory."""

from __future__ import annotations

import gc
import random
import tracemalloc
from pathlib import Path

import pytest

from rankwise.bm25 import BM25Index, idmap
from rankwise.bm25.idmap import DuplicateIdError, IdMap


@pytest.fixture(params=["python hash", "colliding hash"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Python's str hash, or one where many ids share a hash (collisions must not matter)."""
    if request.param == "colliding hash":
        monkeypatch.setattr(idmap, "hash", lambda s: len(s) % 3 - 1, raising=False)
    monkeypatch.setattr(idmap, "_MERGE_MIN", 5)  # merge the write dict often
    return str(request.param)


def test_lookups_match_a_dict_through_assigns_and_merges(hashing: str) -> None:
    rng = random.Random(7)
    column: list[str] = []
    m = IdMap(column)
    oracle: dict[str, int] = {}
    pool = [f"id{i}" for i in range(300)] + ["", "é", "x" * 40]
    for _ in range(60):
        batch = rng.sample(pool, rng.randint(1, 25))  # unique in a batch; may repeat old ids
        base = len(column)
        column.extend(batch)
        m.assign(batch, base)
        oracle.update(zip(batch, range(base, base + len(batch)), strict=True))
        probe = [*rng.sample(pool, 80), "absent", "id"]
        assert [m.get(p) for p in probe] == [oracle.get(p) for p in probe]
        assert m.get_many(probe) == [oracle.get(p) for p in probe]
    assert len(m) >= len(oracle)
    assert m._frozen[0].size > 0  # merged into the arrays along the way
    assert all(d in m for d in oracle)
    assert "absent" not in m
    assert 3 not in m


def test_a_loaded_column_is_mapped_and_duplicates_refused(hashing: str) -> None:
    column = [f"doc-{i}" for i in range(200)]
    m = IdMap.of(column)
    assert m.get_many(column) == list(range(200))
    assert m.get("doc-200") is None
    with pytest.raises(DuplicateIdError, match="'doc-3'"):
        IdMap.of([*column, "doc-3"])


def test_an_undone_write_restores_the_map(hashing: str) -> None:
    """What ``BM25Index._publish`` does when the switch to the new snapshot fails."""
    column = [f"a{i}" for i in range(10)]
    m = IdMap.of(column)
    for ids in (["a1", "new0"], [f"n{i}" for i in range(30)] + ["a2"]):  # no merge, merge
        saved = m.save()
        before = {d: m.get(d) for d in [*column, *ids]}
        base = len(column)
        column.extend(ids)
        m.assign(ids, base)
        assert m.get(ids[0]) == base
        m.restore(saved)
        m.drop(d for d in ids if before[d] is None)
        for d in ids:
            if before[d] is not None:
                m.put(d, before[d])  # type: ignore[arg-type]
        del column[base:]
        assert {d: m.get(d) for d in before} == before


def test_an_id_stays_visible_at_every_step_of_an_undo(hashing: str) -> None:
    """A reader running between any two bytecodes of ``restore`` still finds an id that is
    mapped both before and after it (one in the write dict when the undone write merged it
    into new arrays): the dict must be put back before the arrays."""
    import sys

    column = [f"a{i}" for i in range(10)]
    m = IdMap.of(column)
    column.append("late")
    m.assign(["late"], 10)  # in the write dict
    saved = m.save()
    new = [f"n{i}" for i in range(30)]
    column.extend(new)
    m.assign(new, 11)  # merges "late" into new arrays and empties the dict
    assert not m._recent
    seen: list[int | None] = []

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        if frame.f_code is IdMap.restore.__code__:
            frame.f_trace_opcodes = True
            return reader
        return None

    def reader(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "opcode":
            sys.settrace(None)  # the reader's own calls run untraced
            seen.append(m.get("late"))
            seen.append(m.get_many(["late"] * 64)[0])
            sys.settrace(tracer)
        return reader

    sys.settrace(tracer)
    try:
        m.restore(saved)
    finally:
        sys.settrace(None)
    assert len(seen) > 4  # the reader ran between the bytecodes
    assert set(seen) == {10}


def test_the_index_keeps_its_id_semantics_across_merges(hashing: str) -> None:
    """add / upsert / delete / get / id filters against a dict oracle, the map merging often."""
    rng = random.Random(3)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    live: dict[str, str] = {}
    for step in range(40):
        kind = rng.choice(["add", "upsert", "delete"])
        ids = rng.sample([f"k{i}" for i in range(120)], rng.randint(1, 12))
        if kind == "add":
            ids = [d for d in ids if d not in live]
            texts = [f"w{step} w{rng.randint(0, 5)}" for _ in ids]
            ix.add(texts, ids=ids)
            live.update(zip(ids, texts, strict=True))
        elif kind == "upsert":
            texts = [f"u{step} w{rng.randint(0, 5)}" for _ in ids]
            ix.upsert(texts, ids=ids)
            live.update(zip(ids, texts, strict=True))
        else:
            assert ix.delete(ids) == sum(d in live for d in ids)
            for d in ids:
                live.pop(d, None)
        probe = [f"k{i}" for i in range(120)]
        assert [h.id for h in ix.get(probe)] == [d for d in probe if d in live]
        assert [h.text for h in ix.get(probe)] == [live[d] for d in probe if d in live]
        assert all((d in ix) == (d in live) for d in probe)
    if live:
        some = set(rng.sample(sorted(live), min(5, len(live))))
        hits = ix.search("w1 w2 w3 w4 w5 w0", k=200, filter=some)
        assert {h.id for h in hits} <= some
    ix.add(["last"], ids=["fresh"])
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(["again"], ids=["fresh"])


def test_a_saved_folder_with_a_repeated_id_is_refused(tmp_path: Path) -> None:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add(["a b", "b c", "c d"], ids=["x", "y", "z"])
    ix.save(tmp_path / "ix")
    gen = next((tmp_path / "ix").glob("gen-*"))
    (gen / "ids.json").write_text('["x", "y", "x"]')
    with pytest.raises(ValueError, match="not unique"):
        BM25Index.load(tmp_path / "ix", verify=False)


def test_the_id_map_costs_a_fraction_of_a_dict() -> None:
    """The id map of 50k documents holds < 24 bytes a document (a dict of str -> int with its
    int objects: ~75); measured as what dropping it frees, once a lookup has built it."""
    n = 50_000
    texts = [f"t{i % 97} t{i % 13}" for i in range(n)]
    ids = [f"{i}" for i in range(n)]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    tracemalloc.start()
    try:
        ix.add(texts, ids=ids)
        assert "49999" in ix  # the first lookup hashes the bulk build's ids
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        ix._id_to_int = None  # type: ignore[assignment]
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert 0 < freed < 24 * n, freed


def test_a_bulk_build_is_hashed_on_the_first_lookup(
    hashing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first large batch into an empty map is only noted (no hashes, no sort scratch at
    the top of a build); the first lookup or write hashes it, and it answers like a dict from
    then on, across further writes and undone ones."""
    column = [f"doc-{i}" for i in range(40)]
    m = IdMap(column)
    m.assign(column, 0)
    assert m._frozen[0].size == 0  # deferred: nothing hashed yet
    assert not m._recent
    assert len(m) == 40
    merges = []
    real = IdMap._merged
    monkeypatch.setattr(
        IdMap, "_merged", lambda self, *a, **k: merges.append(1) or real(self, *a, **k)
    )
    assert m.get("doc-7") == 7
    assert m.get_many([*column, "nope"] * 2) == [*range(40), None] * 2
    assert len(merges) == 1  # hashed once
    saved = m.save()
    more = ["doc-3", "new"]  # an upsert of doc-3 and a new id, then undone
    column.extend(more)
    m.assign(more, 40)
    assert m.get_many(["doc-3", "new"]) == [40, 41]
    m.restore(saved)
    m.drop(["new"])
    m.put("doc-3", 3)
    del column[40:]
    assert [m.get(d) for d in ["doc-3", "new", "doc-39"]] == [3, None, 39]


def test_an_undone_bulk_build_leaves_the_map_empty(hashing: str) -> None:
    column: list[str] = []
    m = IdMap(column)
    saved = m.save()
    ids = [f"x{i}" for i in range(30)]
    column.extend(ids)
    m.assign(ids, 0)
    m.restore(saved)
    m.drop(ids)
    del column[:]
    assert len(m) == 0
    assert m.get("x1") is None
    column.extend(["x1"])
    m.assign(["x1"], 0)
    assert m.get_many(["x1", "x2"] * 40)[:2] == [0, None]


def test_concurrent_first_lookups_hash_a_bulk_build_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    column = [f"id{i}" for i in range(20_000)]
    m = IdMap(column)
    m.assign(column, 0)
    merges = []
    real = IdMap._merged
    monkeypatch.setattr(
        IdMap, "_merged", lambda self, *a, **k: merges.append(1) or real(self, *a, **k)
    )
    start = threading.Barrier(8)
    wrong: list[str] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(200):
            i = rng.randrange(len(column))
            if m.get(column[i]) != i:
                wrong.append(column[i])
        probe = rng.sample(column, 100)
        if m.get_many(probe) != [int(p[2:]) for p in probe]:
            wrong.append("get_many")

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    assert len(merges) == 1


def test_an_index_built_in_one_batch_hashes_its_ids_when_first_asked() -> None:
    ids = [f"d{i}" for i in range(6000)]
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add([f"w{i % 7} w{i % 11}" for i in range(6000)], ids=ids)
    assert ix._id_to_int._frozen[0].size == 0  # not hashed by the build
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(["w1"], ids=["d5999"])
    assert ix.upsert(["zz w3"], ids=["d10"]) == ["d10"]
    assert ix.delete(["d11", "nope"]) == 1
    assert [h.id for h in ix.get(["d10", "d11", "d0"])] == ["d10", "d0"]
    assert [h.id for h in ix.search("zz")] == ["d10"]
    assert len(ix) == 5999
