"""The query kernels of another commit against this tree's, in one process: per-query CPU
microseconds of ``BM25Index.search_many_ids`` with each in turn on one build.

    python benchmarks/bm25_kernel_ab.py --rev HEAD~1 --docs 20000 200000 --k 10 100
    python benchmarks/bm25_kernel_ab.py --old /tmp/kernels.py --docs 1000000 --skip 100
    python benchmarks/bm25_kernel_ab.py --set IMPACT_DOCS=0 --docs 20000   # a setting's effect

Separate processes of one build differ by about ±5% on a small machine (memory layout, the
neighbours of a VM), which hides or invents a kernel change's gain. Here the other
``kernels.py`` (``--rev``: taken from git; ``--old``: a file) is loaded as a second module
beside this tree's, the index is pointed at one and then the other, and the two are timed in
turn on the same batches (the order alternating), best of ``--repeats``. Same corpus and queries
as ``bm25_vs_peers.py`` (seed 42, queries seed 43; ``--skip 100`` for the skip100 set). Only
the kernels module is swapped: the rest of the package is this tree's, so the other kernels
must take the arguments this tree's index passes them. ``--set NAME=VALUE`` (repeatable) sets a
kernels constant on the other side (without ``--rev``/``--old``, a second copy of this tree's
kernels): the index reads the IMPACT_* constants when it makes a snapshot's impact tables, so
those are dropped at each switch and made again, outside the timing (the others are read at
each call, or compiled in).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]

from bm25_peers import rankwise as peer  # noqa: E402
from bm25_query_cost import BATCH, cost_us  # noqa: E402
from bm25_vs_peers import corpus_texts, make_queries  # noqa: E402

import rankwise.bm25.index as index_module  # noqa: E402
from rankwise.bm25 import kernels as this_tree  # noqa: E402

KERNELS = "src/rankwise/bm25/kernels.py"


def load_kernels(path: Path) -> ModuleType:
    """``path`` as a module of its own (numba caches it beside the file, by its path)."""
    spec = importlib.util.spec_from_file_location("rankwise.bm25.kernels_other", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name in ("APPROX_MAX_VALUE",):  # constants this tree's index reads, older kernels lack
        if not hasattr(module, name):
            setattr(module, name, getattr(this_tree, name))
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    other = ap.add_mutually_exclusive_group()
    other.add_argument("--rev", help="a git revision whose kernels.py to compare")
    other.add_argument("--old", type=Path, help="a kernels.py file to compare")
    ap.add_argument("--docs", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--skip", type=int, default=0, help="0: heavy queries, 100: skip100")
    ap.add_argument("--algo", default="DAAT_MAXSCORE")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a kernels constant (an int) on the other side")  # fmt: skip
    args = ap.parse_args()
    settings = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(this_tree, name) or not value.lstrip("-").isdigit():
            ap.error(f"--set takes NAME=INT for a constant of the kernels: {item!r}")
        settings[name] = int(value)
    if args.rev is None and args.old is None and not settings:
        ap.error("one of --rev, --old or --set is needed")
    with tempfile.TemporaryDirectory(prefix="kernel-ab-") as tmp:
        path = args.old
        if path is None and args.rev is None:  # --set alone: a copy of this tree's kernels
            # (in a file of its own: numba keys its cache by the file, so the two modules
            # must not share one)
            path = Path(tmp) / "kernels.py"
            path.write_text(Path(this_tree.__file__).read_text(encoding="utf-8"), encoding="utf-8")
        if args.rev is not None:
            path = Path(tmp) / "kernels.py"
            text = subprocess.run(
                ["git", "show", f"{args.rev}:{KERNELS}"],
                cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            path.write_text(text, encoding="utf-8")
        sides = {"other": load_kernels(path), "this": this_tree}
        for name, value in settings.items():
            setattr(sides["other"], name, value)

        def use(index: object, module: ModuleType) -> None:
            index_module._kernels = module
            # made again by the next search, from the counts of queries the plan keeps
            index._state.cache.pop("impact_tables", None)  # type: ignore[attr-defined]

        queries = make_queries(args.queries, 43, skip=args.skip)
        for n_docs in args.docs:
            index = peer.build(corpus_texts(n_docs, 42))
            index.inverted_index_algo = args.algo
            for module in sides.values():  # compile (or load) each side's kernels first
                use(index, module)
                index.search_many_ids(queries[:BATCH], max(args.k), n_threads=1)
            index_module._warmup.wait()
            for module in sides.values():  # now through the kernels, not the NumPy stand-in
                use(index, module)
                index.search_many_ids(queries[:BATCH], max(args.k), n_threads=1)
            for k in args.k:
                best = dict.fromkeys(sides, float("inf"))
                for rep in range(args.repeats):
                    order = list(sides) if rep % 2 == 0 else list(sides)[::-1]
                    for name in order:
                        use(index, sides[name])
                        index.search_many_ids(queries[:BATCH], k, n_threads=1)  # plan made
                        best[name] = min(best[name], cost_us(index, queries, k, 1))
                print(
                    f"{n_docs:>10,} docs  top-{k:<4} other {best['other']:8.1f}  this "
                    f"{best['this']:8.1f} us a query  ({best['other'] / best['this']:.3f}x)",
                    flush=True,
                )
        index_module._kernels = this_tree


if __name__ == "__main__":
    main()
