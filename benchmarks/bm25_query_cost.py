"""CPU microseconds per heavy query of ``BM25Index.search_many_ids`` at several sizes and k, in
one process: the quick A/B behind the query kernels' dispatch constants (``kernels.DENSE_*``),
which are compile-time constants, so each setting is its own run of this script.

    python benchmarks/bm25_query_cost.py --docs 20000 200000 1000000 --k 10 100

Same corpus and heavy queries as ``bm25_vs_peers.py`` (seed 42, queries seed 43), batches of
50 queries on one thread, process time of all 1,000 queries, best of ``--repeats``. Prints no
ratio against peers: the sweep does that; this one isolates rankwise's own path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

from bm25_peers import rankwise as peer  # noqa: E402
from bm25_vs_peers import corpus_texts, make_queries  # noqa: E402

from rankwise.bm25 import BM25Index  # noqa: E402
from rankwise.bm25.index import _warmup  # noqa: E402

BATCH = 50


def cost_us(index: BM25Index, queries: list[str], k: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for i in range(0, len(queries), BATCH):
            index.search_many_ids(queries[i : i + BATCH], k, n_threads=1)
        best = min(best, time.process_time() - t0)
    return best / len(queries) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    heavy = make_queries(args.queries, args.seed + 1, skip=0)
    for n_docs in args.docs:
        index = peer.build(corpus_texts(n_docs, args.seed))  # as the sweep builds it
        index.search_many_ids(heavy[:BATCH], max(args.k), n_threads=1)
        _warmup.wait()  # the compiled kernels, not the NumPy stand-in
        for k in args.k:
            us = cost_us(index, heavy, k, args.repeats)
            print(f"{n_docs:>10,} docs  heavy top-{k:<4} {us:8.1f} us a query", flush=True)


if __name__ == "__main__":
    main()
