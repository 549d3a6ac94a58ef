"""Where a multi-threaded ``BM25Index.search_many`` call spends its wall time (issue 14's
2-thread goal): the kernel calls (GIL released) against the rest of each task (analysis and
hits, GIL held), the start and end of the call, and the time a thread sits without a task.

    python benchmarks/bm25_threads_split.py --docs 20000 --threads 1 2

Same corpus and heavy queries as ``bm25_vs_peers.py`` (seed 42, queries seed 43) and the same
call as its thread probe (500 queries, k = 10). Each task (``_search_rows``) and each kernel
call is timed in place by wrapping it on this one index; the call printed is the fastest of
``--calls``. The wrappers cost a little; compare the threads with each other, not with the
sweep.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

from bm25_peers import rankwise as peer  # noqa: E402
from bm25_vs_peers import corpus_texts, make_queries  # noqa: E402

from rankwise.bm25 import BM25Index  # noqa: E402
from rankwise.bm25.index import _load_kernels  # noqa: E402
from rankwise.cli.main import _positive_int as positive_int  # noqa: E402

#: (thread, "task" or "kernel", start, end) of the call being timed
Event = tuple[int, str, float, float]


def _instrument(index: BM25Index, log: list[Event]) -> None:
    """Wrap this index's tasks and the kernels module's batch kernels so they log their times."""
    rows = index._search_rows

    def timed_rows(*args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return rows(*args)
        finally:
            log.append((threading.get_ident(), "task", t0, time.perf_counter()))

    index._search_rows = timed_rows  # type: ignore[method-assign,assignment]
    kernels = _load_kernels()
    for name in ("maxscore_batch", "wand_batch", "taat_batch"):
        kernel = getattr(kernels, name)

        def timed_kernel(*args: Any, _kernel: Any = kernel) -> Any:
            t0 = time.perf_counter()
            try:
                return _kernel(*args)
            finally:
                log.append((threading.get_ident(), "kernel", t0, time.perf_counter()))

        setattr(kernels, name, timed_kernel)


def split(
    index: BM25Index, log: list[Event], queries: list[str], k: int, threads: int, calls: int
) -> str:
    """One line: the fastest of ``calls`` calls on ``threads`` threads, split up."""
    runs: list[tuple[float, float, list[Event]]] = []
    for _ in range(calls):
        log.clear()
        t0 = time.perf_counter()
        index.search_many(queries, k, n_threads=threads)
        runs.append((time.perf_counter() - t0, t0, list(log)))
    wall, t0, events = min(runs, key=lambda run: run[0])
    kernel = sum(e - s for _, what, s, e in events if what == "kernel")
    tasks = sum(e - s for _, what, s, e in events if what == "task")
    per_thread: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for tid, what, s, e in events:
        if what == "task":
            per_thread[tid].append((s - t0, e - t0))
    starts = sorted(min(s for s, _ in spans) for spans in per_thread.values())
    ends = sorted(max(e for _, e in spans) for spans in per_thread.values())
    ms = 1e3
    return (
        f"{threads} thread(s): wall {wall * ms:.2f} ms, {len(per_thread)} thread(s) ran "
        f"{sum(map(len, per_thread.values()))} tasks; kernels {kernel * ms:.2f} ms, rest of the "
        f"tasks {(tasks - kernel) * ms:.2f} ms (all threads together); work / threads "
        f"{tasks / len(per_thread) * ms:.2f} ms; first task of each thread at "
        + ", ".join(f"{s * ms:.2f}" for s in starts)
        + " ms; last task of each thread ends at "
        + ", ".join(f"{e * ms:.2f}" for e in ends)
        + f" ms; after the last task {(wall - ends[-1]) * ms:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=positive_int, default=20_000)
    ap.add_argument("--threads", type=positive_int, nargs="+", default=[1, 2])
    ap.add_argument("--queries", type=positive_int, default=500)
    ap.add_argument("--k", type=positive_int, default=10)
    ap.add_argument("--calls", type=positive_int, default=15)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    index = peer.build(corpus_texts(args.docs, args.seed))  # as the sweep builds it
    heavy = make_queries(args.queries, args.seed + 1, skip=0)
    index.search_many(heavy[:50], args.k, n_threads=1)
    peer.settle(index)  # the compiled kernels, not the NumPy stand-in
    for threads in args.threads:  # warm every path (impact rows, thread start) before timing
        for _ in range(10):
            index.search_many(heavy, args.k, n_threads=threads)
    log: list[Event] = []
    _instrument(index, log)
    for threads in args.threads:
        print(split(index, log, heavy, args.k, threads, args.calls), flush=True)


if __name__ == "__main__":
    main()
