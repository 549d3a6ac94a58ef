"""Concurrent use of one BM25Index and of one index folder.

* Writes publish one snapshot per batch: a reader sees a batch all-old or all-new.
* Saves into one folder (threads or processes) are serialised: the folder always loads whole
  and holds the content of one of the saves (the last one wins).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rankwise.bm25 import BM25Index
from tests.guarantees._faults import content, make, own_entries

DURATION_S = float(os.environ.get("RANKWISE_STRESS_SECONDS", "10"))


# ------------------------------------------------------------------ one index, many threads


def test_upsert_never_shows_readers_a_gap() -> None:
    n = 5000
    ids = [f"d{i}" for i in range(n)]
    ix = BM25Index(show_progress=False)
    ix.add([f"common old{i % 7}" for i in range(n)], ids=ids)
    stop = threading.Event()
    bad: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            size = len(ix)
            got = ix.get(ids[:50])
            hits = ix.search("common", k=3)
            reads += 1
            if size != n or len(got) != 50 or len(hits) != 3:
                bad.append(f"len={size} get={len(got)} search={len(hits)}")

    t = threading.Thread(target=reader)
    t.start()
    try:
        for round_ in range(4):
            ix.upsert([f"common new{round_} {i}" for i in range(n)], ids=ids)
    finally:
        stop.set()
        t.join()
    assert reads > 0
    assert not bad, f"{len(bad)} of {reads} reads saw a gap, e.g. {bad[0]}"


def test_failed_upsert_keeps_the_original() -> None:
    def analyzer(text: str) -> list[str]:
        if "boom" in text:
            raise RuntimeError("analyzer failed")
        return text.split()

    ix = BM25Index(analyzer, show_progress=False)
    ix.add(["alpha beta", "gamma"], ids=["a", "b"], metadatas=[{"v": 1}, None])
    with pytest.raises(RuntimeError, match="analyzer failed"):
        ix.upsert(["fine text", "boom"], ids=["a", "b"], metadatas=[{"v": 2}, None])
    assert len(ix) == 2
    assert [(h.id, h.text, h.metadata) for h in ix.get(["a", "b"])] == [
        ("a", "alpha beta", {"v": 1}),
        ("b", "gamma", {}),
    ]
    assert [h.id for h in ix.search("alpha")] == ["a"]
    assert ix.search("fine") == []
    ix.upsert(["fine text"], ids=["a"])  # the index still takes writes
    assert [h.text for h in ix.get(["a"])] == ["fine text"]


class _Model:
    """What readers may see: the upserted group's version range, the add/delete batches."""

    GROUP: ClassVar[list[str]] = [f"g{j}" for j in range(20)]
    BATCH = 5

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version_started = 0
        self.version_done = 0
        self.batch_add_started: set[int] = set()
        self.batch_added: set[int] = set()
        self.batch_delete_started: set[int] = set()
        self.batch_deleted: set[int] = set()

    def before(self) -> tuple[int, frozenset[int], frozenset[int]]:
        """Taken before a read: what had completed by then."""
        with self.lock:
            return self.version_done, frozenset(self.batch_added), frozenset(self.batch_deleted)

    def after(self) -> tuple[int, frozenset[int], frozenset[int]]:
        """Taken after a read: what had started by then."""
        with self.lock:
            return (
                self.version_started,
                frozenset(self.batch_add_started),
                frozenset(self.batch_delete_started),
            )

    @staticmethod
    def batch_ids(b: int) -> list[str]:
        return [f"b{b}-{j}" for j in range(_Model.BATCH)]

    def check(self, where: str, docs: list[tuple[str, str, dict[str, Any]]], window: Any) -> None:
        """``docs`` (id, text, metadata) is everything one read returned."""
        (v_lo, added, deleted), (v_hi, may_have, deleting) = window
        must_have = added - deleting  # added before the read, not deleted during it
        group = [d for d in docs if d[0].startswith("g")]
        assert sorted(d[0] for d in group) == sorted(self.GROUP), f"{where}: partial group"
        versions = {d[2]["v"] for d in group}
        assert len(versions) == 1, f"{where}: a mixed upsert {sorted(versions)}"
        (v,) = versions
        assert v_lo <= v <= v_hi, f"{where}: version {v} outside [{v_lo}, {v_hi}]"
        for doc_id, text, meta in group:
            assert text == f"common ver{v} {doc_id}", where
            assert meta == {"v": v, "id": doc_id}, where
        by_batch: dict[int, set[str]] = {}
        for doc_id, text, meta in docs:
            if doc_id.startswith("b"):
                b = int(doc_id[1:].split("-")[0])
                assert meta == {"batch": b}, where
                assert text == f"common batch{b} {doc_id}", where
                by_batch.setdefault(b, set()).add(doc_id)
        for b, got in by_batch.items():
            assert got == set(self.batch_ids(b)), f"{where}: partial batch {b}"
            assert b in may_have, f"{where}: batch {b} was never added"
            assert b not in deleted, f"{where}: batch {b} was already deleted"
        assert must_have <= set(by_batch), f"{where}: added batches missing"


def _docs_of_hits(hits: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(h.id, h.text, h.metadata) for h in hits]


@pytest.mark.slow
def test_four_threads_read_only_allowed_states(tmp_path: Path) -> None:
    model = _Model()
    ix = BM25Index(show_progress=False)
    group = model.GROUP
    ix.add(
        [f"common ver0 {g}" for g in group], ids=group, metadatas=[{"v": 0, "id": g} for g in group]
    )
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"read": 0, "save": 0, "upsert": 0, "add": 0, "delete": 0}

    def run(body: Any) -> Any:
        def loop() -> None:
            try:
                while not stop.is_set():
                    body()
            except BaseException as exc:
                errors.append(exc)
                stop.set()

        return threading.Thread(target=loop)

    def upserter() -> None:
        with model.lock:
            model.version_started += 1
            v = model.version_started
        ix.upsert(
            [f"common ver{v} {g}" for g in group],
            ids=group,
            metadatas=[{"v": v, "id": g} for g in group],
        )
        with model.lock:
            model.version_done = v
        counts["upsert"] += 1

    next_batch = [0]

    def adder_deleter() -> None:
        b = next_batch[0]
        next_batch[0] += 1
        ids = model.batch_ids(b)
        with model.lock:
            model.batch_add_started.add(b)
        ix.add([f"common batch{b} {i}" for i in ids], ids=ids, metadatas=[{"batch": b}] * len(ids))
        with model.lock:
            model.batch_added.add(b)
        counts["add"] += 1
        if b >= 3:
            old = b - 3
            with model.lock:
                model.batch_delete_started.add(old)
            assert ix.delete(model.batch_ids(old)) == model.BATCH
            with model.lock:
                model.batch_deleted.add(old)
            counts["delete"] += 1

    def reader() -> None:
        window_before = model.before()
        kind = ("search", "get", "len")[counts["read"] % 3]
        if kind == "search":
            docs = _docs_of_hits(ix.search("common", k=1000))
        elif kind == "get":
            with model.lock:
                known = [*group, *(i for b in model.batch_add_started for i in model.batch_ids(b))]
            docs = _docs_of_hits(ix.get(known))
        else:
            size = len(ix)
            assert size >= len(group), size
            assert (size - len(group)) % model.BATCH == 0, f"len() {size}: a partial batch"
            docs = _docs_of_hits(ix.get(ix.ids()))
        model.check(kind, docs, (window_before, model.after()))
        counts["read"] += 1

    folder = tmp_path / "ix"

    def saver() -> None:
        window_before = model.before()
        ix.save(folder)
        loaded = BM25Index.load(folder)
        model.check(
            "save+load", _docs_of_hits(loaded.get(loaded.ids())), (window_before, model.after())
        )
        counts["save"] += 1

    threads = [run(f) for f in (upserter, adder_deleter, reader, saver)]
    for t in threads:
        t.start()
    time.sleep(DURATION_S)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert min(counts[k] for k in ("read", "save", "upsert", "add", "delete")) > 0, counts


# ------------------------------------------------------------------ one folder, many savers


def _save_after(
    ix: BM25Index, root: Path, barrier: threading.Barrier, errors: list[BaseException]
) -> None:
    try:
        barrier.wait()
        ix.save(root)
    except BaseException as exc:
        errors.append(exc)


def test_saves_from_two_threads_into_one_folder_leave_a_loadable_folder(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    a, b = make(1), make(2, n=40)
    allowed = {content(a), content(b)}
    for _ in range(12):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_save_after, args=(ix, root, barrier, errors)) for ix in (a, b)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert content(BM25Index.load(root)) in allowed
        assert own_entries(root) == set()


_SAVER = textwrap.dedent(
    """
    import sys
    from tests.guarantees._faults import make

    version, root, rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ix = make(version, n=10 + 30 * version)
    for _ in range(rounds):
        ix.save(root)
    print("saved", rounds)
    """
)


def test_saves_from_two_processes_into_one_folder_leave_a_loadable_folder(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(v), str(root), "15"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for v in (1, 2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
        assert b"saved 15" in out
    assert content(BM25Index.load(root)) in {content(make(1, n=40)), content(make(2, n=70))}
    assert own_entries(root) == set()


@pytest.mark.parametrize("mmap", [True, False])
def test_loads_racing_saves_always_load_whole(tmp_path: Path, mmap: bool) -> None:
    root = tmp_path / "ix"
    a, b = make(1), make(2, n=60)
    a.save(root)
    allowed = {content(a), content(b)}
    done = threading.Event()
    errors: list[BaseException] = []

    def saver() -> None:
        try:
            for i in range(30):
                (a, b)[i % 2].save(root)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    t = threading.Thread(target=saver)
    t.start()
    loads = 0
    try:
        while not done.is_set() or loads == 0:
            assert content(BM25Index.load(root, mmap=mmap)) in allowed
            loads += 1
    finally:
        done.wait()
        t.join()
    assert not errors, errors
    assert loads > 0
