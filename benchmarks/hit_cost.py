"""What one search result costs in Python: building a ``Hit``, copying its metadata, and
``BM25Index.search``/``search_many`` at k=100 — CPU time, best of several interleaved runs.

    python benchmarks/hit_cost.py                    # the Hit micro-benchmark and search at 20k
    python benchmarks/hit_cost.py --against main     # + the same searches through REF's index.py
                                                     #   and copy_metadata, in this process
    python benchmarks/hit_cost.py --mixes --against main [--loaded] [--docs 200000]
                                                     # only part 4: the peer benchmark's call

Part 1 times 100 hits built per call from warm lists (and freed), the way ``BM25Index._hits``
builds them (``rankwise.types.make_hits``) and through the alternatives weighed for it: the slot
setters it used before, the dataclass's generated ``__init__`` and a NamedTuple (a tuple-backed
type, which would change Hit's behaviour: it would unpack, index, order and equal plain tuples),
and two floors: a plain tuple with its metadata dict (the least an object per result costs) and
the ids list and score array ``search_many_ids`` returns per query.
Part 2 times ``copy_metadata``. Part 3 searches a synthetic Zipf corpus
(``bm25_vs_peers.make_corpus``) with no, flat and nested metadata per document; ``--against REF``
loads REF's ``src/rankwise/bm25/index.py`` and ``copy_metadata`` (via ``git show``) as a second
module and runs both on the same snapshot, interleaved. Part 4 times the peer benchmark's call
(``search_many`` over chunks of 50 queries, one thread) and a ``search`` loop for both query mixes
at k=10 and 100, next to the kernel alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bm25_vs_peers import corpus_texts, make_queries  # noqa: E402

from rankwise._checks import _SHARED_TYPES, copy_metadata  # noqa: E402
from rankwise.bm25 import BM25Index  # noqa: E402
from rankwise.bm25 import index as index_module  # noqa: E402
from rankwise.types import Hit, make_hits  # noqa: E402

N_HITS = 100


def best_cpu(run: Callable[[], object], reps: int, rounds: int = 7) -> float:
    """Best CPU seconds of ``rounds`` runs of ``reps`` calls each."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(reps):
            run()
        best = min(best, time.process_time() - t0)
    return best / reps


class TupleHit(NamedTuple):  # the tuple-backed alternative, for comparison only
    id: str
    score: float
    text: str
    metadata: dict[str, Any]


Builder = Callable[[list[str], list[float], list[str], list[Any]], Any]


def hit_builders(copy_metadata: Callable[[Any], Any] = copy_metadata) -> dict[str, Builder]:
    new = Hit.__new__
    set_id, set_score, set_text, set_meta = (
        getattr(Hit, name).__set__ for name in ("id", "score", "text", "metadata")
    )

    flat_columns: dict[int, bool] = {}  # the index scans its metadata column once, too

    def own(metas: list[Any]) -> list[dict[str, Any]] | None:
        """The copies BM25Index._hits makes: none, dict() for an index of flat metadata,
        copy_metadata where some is nested."""
        if not any(metas):
            return None
        flat = flat_columns.get(id(metas))
        if flat is None:
            values = [v for m in metas if m for v in m.values()]
            flat = flat_columns[id(metas)] = all(type(v) in _SHARED_TYPES for v in values)
        if flat:
            return [dict(m) if m else {} for m in metas]
        return [copy_metadata(m) if m else {} for m in metas]

    def fast(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        return make_hits(ids, scores, texts, own(metas))

    def setters(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        out = []
        for i, s, t, m in zip(ids, scores, texts, metas, strict=True):
            hit = new(Hit)
            set_id(hit, i)
            set_score(hit, s)
            set_text(hit, t)
            set_meta(hit, {} if m is None else copy_metadata(m))
            out.append(hit)
        return out

    def init(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        return [
            Hit(i, s, t, {} if m is None else copy_metadata(m))
            for i, s, t, m in zip(ids, scores, texts, metas, strict=True)
        ]

    def named_tuple(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        make = tuple.__new__
        return [
            make(TupleHit, (i, s, t, {} if m is None else copy_metadata(m)))
            for i, s, t, m in zip(ids, scores, texts, metas, strict=True)
        ]

    def plain_tuple(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        own_metas = [{} if m is None else copy_metadata(m) for m in metas]
        return list(zip(ids, scores, texts, own_metas, strict=True))

    def columns(ids: list[str], scores: list[float], texts: list[str], metas: list[Any]) -> Any:
        return list(ids), np.asarray(scores)

    return {
        "make_hits: slot twin turned into Hit (rankwise)": fast,
        "Hit.__new__ + slot setters (rankwise before)": setters,
        "frozen slots dataclass, Hit(...)": init,
        "NamedTuple via tuple.__new__ (not taken)": named_tuple,
        "plain tuple and its dict (no attribute access: the floor of an object per result)": (
            plain_tuple
        ),
        "ids list + score array (what search_many_ids returns)": columns,
    }


def part_hits(ref_copy: Callable[[Any], Any] | None, ref: str | None) -> None:
    ids = [f"doc{i}" for i in range(N_HITS)]
    scores = [float(i) for i in range(N_HITS)]
    texts = [f"text of document {i}" for i in range(N_HITS)]
    metas: dict[str, list[Any]] = {
        "no metadata": [None] * N_HITS,
        "flat 3 keys": [{"source": f"d{i}.pdf", "page": i, "lang": "en"} for i in range(N_HITS)],
        "nested": [{"source": f"d{i}.pdf", "tags": ["a", "b"]} for i in range(N_HITS)],
    }
    print("## one Hit (ns, CPU time, 100 built per call, best of 7)")
    print("| builder | " + " | ".join(metas) + " |")
    print("|---|" + "---|" * len(metas))
    builders = hit_builders()
    if ref_copy is not None:
        path = hit_builders(ref_copy)["make_hits: slot twin turned into Hit (rankwise)"]
        builders[f"make_hits with {ref}'s copy_metadata"] = path
    for name, build in builders.items():
        cells = [
            best_cpu(lambda m=m, b=build: b(ids, scores, texts, m), 2000) / N_HITS * 1e9
            for m in metas.values()
        ]
        print(f"| {name} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
    print("\n## copy_metadata (ns per dict)")
    copies = {"this tree": copy_metadata} | ({ref or "": ref_copy} if ref_copy else {})
    for name, m in metas.items():
        if m[0] is None:
            continue
        for tree, copy in copies.items():
            cost = best_cpu(lambda m=m, c=copy: [c(x) for x in m], 2000) / N_HITS * 1e9
            print(f"- {name}, {tree}: {cost:.0f}")


def load_ref(ref: str) -> ModuleType:
    """REF's index.py as a module of its own, using REF's copy_metadata."""

    def show(path: str) -> str:
        cmd = ["git", "-C", str(ROOT), "show", f"{ref}:{path}"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    spec = importlib.util.spec_from_loader(f"rankwise.bm25._index_{ref}", loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    exec(compile(show("src/rankwise/bm25/index.py"), f"{ref}:index.py", "exec"), mod.__dict__)
    mod.copy_metadata = ref_copy_metadata(ref)  # type: ignore[attr-defined]
    return mod


def ref_copy_metadata(ref: str) -> Callable[[Any], Any]:
    cmd = ["git", "-C", str(ROOT), "show", f"{ref}:src/rankwise/_checks.py"]
    source = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    checks: dict[str, Any] = {"__name__": f"rankwise._checks_{ref}"}
    exec(compile(source, f"{ref}:_checks.py", "exec"), checks)
    return checks["copy_metadata"]  # type: ignore[no-any-return]


def part_search(n_docs: int, against: str | None) -> None:
    texts = corpus_texts(n_docs, 42)
    cases: dict[str, list[dict[str, Any]] | None] = {
        "no metadata": None,
        "flat 3 keys": [
            {"source": f"d{i}.pdf", "page": i % 50, "lang": "en"} for i in range(n_docs)
        ],
        "nested": [{"source": f"d{i}.pdf", "tags": ["a", "b"]} for i in range(n_docs)],
    }
    ref = load_ref(against) if against else None
    load = os.getloadavg()
    print(f"\n## search at k=100, {n_docs:,} documents, skip100 queries (us per query, CPU time)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; 'ref' = {against or '-'}")
    print("| metadata | call | this tree | ref | this/ref | hits/query |")
    print("|---|---|---|---|---|---|")
    queries = make_queries(300, 8, 100)
    for label, metas in cases.items():
        ix = BM25Index({"tokenizer": "whitespace"}, k1=1.2, b=0.75, show_progress=False)
        ix.add(texts, ids=[str(i) for i in range(n_docs)], metadatas=metas)
        engines: list[tuple[str, Any]] = [("new", ix)]
        if ref is not None:
            old = object.__new__(ref.BM25Index)
            old.__dict__.update(ix.__dict__)
            engines.append(("ref", old))
        for _, e in engines + engines:
            e.search_many(queries[:3], 10)
            index_module._warmup.wait()
            if ref is not None:
                ref._warmup.wait()
            e.search(queries[0], 100)
        rows = [[dataclasses.astuple(h) for h in r] for r in ix.search_many(queries, 100)]
        hits_per_q = sum(map(len, rows)) / len(queries)
        for _, e in engines[1:]:
            assert [
                [dataclasses.astuple(h) for h in r] for r in e.search_many(queries, 100)
            ] == rows
        calls: dict[str, Callable[[Any], Callable[[], object]]] = {
            "search": lambda e: lambda: [e.search(q, 100) for q in queries],
            "search_many": lambda e: lambda: e.search_many(queries, 100, n_threads=1),
        }
        for call, make in calls.items():
            best = {name: float("inf") for name, _ in engines}
            for _ in range(5):  # interleaved
                for name, e in engines:
                    best[name] = min(best[name], best_cpu(make(e), 1, 3) / len(queries) * 1e6)
            ref_cell = f"{best['ref']:.1f}" if "ref" in best else "-"
            ratio = f"{best['new'] / best['ref']:.2f}" if "ref" in best else "-"
            cells = [label, call, f"{best['new']:.1f}", ref_cell, ratio, f"{hits_per_q:.0f}"]
            print("| " + " | ".join(cells) + " |")
        gc.collect()


def part_mixes(n_docs: int, against: str | None, loaded: bool) -> None:
    """The peer benchmark's timed call, ``search_many(chunk of 50, k, n_threads=1)`` with the
    previous chunk's hits freed on the next assignment (as ``bm25_vs_peers`` times it), and
    a loop of ``search``, for both query mixes at k=10 and 100; "kernel" is ``_topk_batch``
    alone (analysis and hits excluded), so "this tree - kernel" is the Python per query."""
    texts = corpus_texts(n_docs, 42)
    ix = BM25Index({"tokenizer": "whitespace"}, k1=1.2, b=0.75, show_progress=False)
    ix.add(texts, ids=[str(i) for i in range(n_docs)])
    if loaded:
        folder = Path(tempfile.mkdtemp(prefix="hit-cost-")) / "index"
        ix.save(folder)
        ix = BM25Index.load(folder, mmap=True, show_progress=False)
    engines: list[tuple[str, Any]] = [("new", ix)]
    ref = load_ref(against) if against else None
    if ref is not None:
        old = object.__new__(ref.BM25Index)
        old.__dict__.update(ix.__dict__)
        engines.append(("ref", old))
    mixes = {"heavy": make_queries(1000, 43, 0), "skip100": make_queries(1000, 44, 100)}
    for _, e in engines:
        e.search_many(mixes["heavy"][:5], 10, n_threads=1)
    index_module._warmup.wait()
    if ref is not None:
        ref._warmup.wait()

    def chunks(e: Any, qs: list[str], k: int) -> Callable[[], object]:
        def run() -> None:
            hits = None
            for lo in range(0, len(qs), 50):
                hits = e.search_many(qs[lo : lo + 50], k, n_threads=1)
            del hits

        return run

    def loop(e: Any, qs: list[str], k: int) -> Callable[[], object]:
        def run() -> None:
            for q in qs:
                e.search(q, k)

        return run

    def kernel_only(terms: list[list[int]], k: int) -> None:
        st = ix._state
        for lo in range(0, len(terms), 50):
            ix._topk_batch(st, terms[lo : lo + 50], k, st.alive, False)

    load = os.getloadavg()
    where = "loaded with mmap=True" if loaded else "in memory"
    print(f"\n## query mixes, {n_docs:,} documents {where} (us per query, CPU time, best of 4)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; 'ref' = {against or '-'}")
    print("| mix | k | call | this tree | ref | ref/this | kernel |")
    print("|---|---|---|---|---|---|---|")
    for mix, qs in mixes.items():
        for k in (10, 100):
            rows = [[dataclasses.astuple(h) for h in r] for r in ix.search_many(qs, k)]
            for _, e in engines[1:]:
                assert [[dataclasses.astuple(h) for h in r] for r in e.search_many(qs, k)] == rows
            terms = ix._term_lists(qs)
            kernel = best_cpu(partial(kernel_only, terms, k), 1, 3)
            for call, make in (("search_many(50)", chunks), ("search loop", loop)):
                best = {name: float("inf") for name, _ in engines}
                for _ in range(4):  # interleaved
                    for name, e in engines:
                        best[name] = min(best[name], best_cpu(make(e, qs, k), 1, 1))
                us = {name: t / len(qs) * 1e6 for name, t in best.items()}
                ref_cell = f"{us['ref']:.1f}" if "ref" in us else "-"
                ratio = f"{us['ref'] / us['new']:.2f}x" if "ref" in us else "-"
                kernel_us = f"{kernel / len(qs) * 1e6:.1f}"
                cells = [mix, str(k), call, f"{us['new']:.1f}", ref_cell, ratio, kernel_us]
                print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=20_000, help="corpus size for the search part")
    ap.add_argument("--against", metavar="REF", help="also run REF's index.py (e.g. main)")
    ap.add_argument("--no-search", action="store_true", help="only the Hit micro-benchmark")
    ap.add_argument("--mixes", action="store_true", help="only part 4 (both query mixes)")
    ap.add_argument("--loaded", action="store_true", help="part 4 on an index loaded with mmap")
    args = ap.parse_args()
    if not args.mixes:
        part_hits(ref_copy_metadata(args.against) if args.against else None, args.against)
    if not args.no_search:
        if not args.mixes:
            part_search(args.docs, args.against)
        part_mixes(args.docs, args.against, args.loaded)


if __name__ == "__main__":
    main()
