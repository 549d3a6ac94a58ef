"""rankwise BM25 vs bm25s (numba, numpy), tantivy, rank_bm25 (and Milvus Lite) on a Zipf corpus.

    python benchmarks/bm25_vs_peers.py                      # the sweep: 20k, 200k, 1M documents
    python benchmarks/bm25_vs_peers.py --docs 20000 200000 1000000 10000000
    python benchmarks/bm25_vs_peers.py --docs 100000 --peers rankwise bm25s_numba tantivy rank_bm25

The sweep ends with one table of ratios per size against the goals (heavy top-10/top-100 vs
bm25s-numba, skip100 top-10/top-100 vs tantivy, build vs bm25s, peak RSS vs tantivy, disk vs
bm25s, load(mmap) and +1k documents), and the cold start: the first search in a new process with
an empty numba cache, then with a warm one. Sizes whose corpus would not fit in the memory
available now are skipped with the estimate that says why.

Corpus: vocabulary 200k, token ranks drawn from a Zipf law (p(r) ~ 1/r^s, s=1), document
lengths lognormal with mean ~60; queries of 2-6 terms from the same law ("heavy") and from the
law restricted to ranks > 100 ("skip100"). Everything is seeded. Texts are whitespace-separated
tokens ("t<rank>") so every peer sees identical tokens.

Peak RSS of the build is the high-water mark (VmHWM) from just after the corpus is read to the
end of the build: every peer holds the same list of texts, and the transient of reading the file
is not counted (it peaked above any build). "build RSS above corpus" subtracts the RSS before the
build (interpreter, imports, corpus). "disk w/o texts" leaves out the documents rankwise stores to
return with hits (texts, ids, metadata), which the peers as run here do not store.

rankwise is timed twice, on the same batches of 50 queries in turn: ``search_many`` returning
full hits (the "top10 q/s" columns and the goal rows without a prefix) and ``search_many_ids``
returning ids and a score array per query (the "ids" columns and rows): the like-for-like
comparison, as the peers' timed parts return positions (bm25s: index and score arrays; tantivy:
(score, address) pairs, stored fields fetched outside the timing). Each timed batch ends with one
tracked allocation, so that a young collection its result objects made due runs inside its
timing (every peer alike); results stay alive until the next batch replaces them.

Each peer runs in its own subprocess (honest peak RSS), single-threaded queries
(NUMBA_NUM_THREADS=1 etc.). Measured: build seconds, peak RSS (and RSS of the corpus alone),
on-disk size, top-10 and top-100 queries per CPU-second on both query sets (each measurement
runs for --budget CPU seconds, over the query set again where one pass is quicker), top-10
agreement with an independent brute-force scorer (scipy), and the time to add 1,000 documents
and search again (peers without incremental adds: rebuild from scratch, measured only with
--rebuild-peers).
Results go to benchmarks/results/ (JSON) and a table with ratios is printed.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: children import this tree's rankwise (src/) before any installed copy, and the peer adapters
CHILD_PATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
RESULTS = ROOT / "benchmarks" / "results"
VOCAB = 200_000
MEAN_LEN = 60.0
SIGMA = 0.5
ZIPF_S = 1.0
N_ADD = 1000
K1, B = 1.2, 0.75
PEER_MODULES = {
    "rankwise": "rankwise",
    "bm25s_numba": "bm25s_numba",
    "bm25s_numpy": "bm25s_numpy",
    "tantivy": "tantivy_peer",
    "rank_bm25": "rank_bm25_peer",
    "milvus_lite": "milvus_lite",
}
DEFAULT_PEERS = ["rankwise", "bm25s_numba", "tantivy"]
DEFAULT_SIZES = [20_000, 200_000, 1_000_000]
#: measured peak RSS per document of the hungriest default peer (bm25s, ~2.9 GB at 1M), with slack
RSS_PER_DOC = 4_000
#: the same for rankwise and tantivy, measured at 1M (build peak with the corpus: ~1.1 KB/doc)
RSS_PER_DOC_LEAN = 1_300


def _rss_per_doc(peers: list[str]) -> int:
    """Memory per document the hungriest of ``peers`` needs (decides which sizes fit)."""
    lean = {"rankwise", "tantivy"}
    return RSS_PER_DOC_LEAN if set(peers) <= lean else RSS_PER_DOC


SINGLE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# --------------------------------------------------------------------------- data


def zipf_cdf(vocab: int = VOCAB, s: float = ZIPF_S, skip: int = 0) -> np.ndarray:
    p = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** s
    p[:skip] = 0.0
    return np.cumsum(p / p.sum())


def draw_ranks(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, cdf.size - 1).astype(np.int32)


def make_corpus(n_docs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat token ranks, offsets) of n_docs documents."""
    rng = np.random.default_rng(seed)
    mu = np.log(MEAN_LEN) - SIGMA**2 / 2
    lengths = np.maximum(1, np.rint(rng.lognormal(mu, SIGMA, n_docs))).astype(np.int64)
    offsets = np.zeros(n_docs + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = draw_ranks(rng, zipf_cdf(), int(offsets[-1]))
    return flat, offsets


def make_queries(n: int, seed: int, skip: int) -> list[str]:
    rng = np.random.default_rng(seed)
    cdf = zipf_cdf(skip=skip)
    out = []
    for _ in range(n):
        m = int(rng.integers(2, 7))
        out.append(" ".join(f"t{r}" for r in draw_ranks(rng, cdf, m).tolist()))
    return out


def corpus_texts(n_docs: int, seed: int) -> list[str]:
    """The documents of ``make_corpus`` as strings (token rank r written ``t{r}``), in memory:
    for the benchmarks that build in-process (the sweep itself reads them from a file)."""
    flat, offsets = make_corpus(n_docs, seed)
    names = [f"t{i}" for i in range(VOCAB)]
    return [
        " ".join(map(names.__getitem__, flat[offsets[d] : offsets[d + 1]].tolist()))
        for d in range(n_docs)
    ]


def write_texts(path: Path, flat: np.ndarray, offsets: np.ndarray) -> None:
    names = [f"t{i}" for i in range(VOCAB)]
    with path.open("w", encoding="utf-8") as fh:
        step = 20_000
        for lo in range(0, offsets.size - 1, step):
            hi = min(lo + step, offsets.size - 1)
            chunk = flat[offsets[lo] : offsets[hi]].tolist()
            base = int(offsets[lo])
            lines = []
            for d in range(lo, hi):
                a, b = int(offsets[d]) - base, int(offsets[d + 1]) - base
                lines.append(" ".join(map(names.__getitem__, chunk[a:b])))
            fh.write("\n".join(lines))
            fh.write("\n")


def write_corpus_streamed(work: Path, n_docs: int, seed: int, step: int = 200_000) -> None:
    """``corpus.txt`` and ``extra.txt`` exactly as ``make_corpus`` + ``write_texts`` make them
    (the same draws in the same order), generated in chunks so memory stays flat at 10M."""
    rng = np.random.default_rng(seed)
    mu = np.log(MEAN_LEN) - SIGMA**2 / 2
    total = n_docs + N_ADD
    lengths = np.maximum(1, np.rint(rng.lognormal(mu, SIGMA, total))).astype(np.int64)
    offsets = np.zeros(total + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cdf = zipf_cdf()
    bounds = [*range(0, n_docs, step), n_docs, total]
    for lo, hi in itertools.pairwise(bounds):
        flat = draw_ranks(rng, cdf, int(offsets[hi] - offsets[lo]))
        path = work / ("corpus.txt" if hi <= n_docs else "extra.txt")
        part = work / "part.txt"
        write_texts(part, flat, offsets[lo : hi + 1] - offsets[lo])
        with path.open("ab") as out, part.open("rb") as src:
            shutil.copyfileobj(src, out)
        part.unlink()


# --------------------------------------------------------------------------- brute force


class BruteForce:
    """Independent exact BM25 (Lucene IDF, Milvus formula) over a scipy CSC matrix."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        from scipy.sparse import csc_array

        n = offsets.size - 1
        rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets))
        m = csc_array(
            (np.ones(flat.size, np.float32), (rows, flat)), shape=(n, VOCAB), dtype=np.float32
        )
        m.sum_duplicates()
        self.m = m
        self.n = n
        dl = np.diff(offsets).astype(np.float64)
        self.norm = K1 * (1 - B + B * dl / dl.mean())
        self.df = np.diff(m.indptr)

    def scores(self, query: str) -> np.ndarray:
        acc = np.zeros(self.n, np.float64)
        terms: dict[int, int] = {}
        for tok in query.split():
            t = int(tok[1:])
            terms[t] = terms.get(t, 0) + 1
        for t, mult in terms.items():
            lo, hi = self.m.indptr[t], self.m.indptr[t + 1]
            if lo == hi:
                continue
            docs = self.m.indices[lo:hi]
            tf = self.m.data[lo:hi].astype(np.float64)
            df = float(hi - lo)
            idf = np.log1p((self.n - df + 0.5) / (df + 0.5))
            acc[docs] += mult * idf * tf * (K1 + 1) / (tf + self.norm[docs])
        return acc


def agreement(bf: BruteForce, queries: list[str], results: list[list[int]], k: int = 10) -> float:
    """Mean fraction of the exact top-k found (ties at the k-th score count as found)."""
    fracs = []
    for q, got in zip(queries[: len(results)], results, strict=True):
        s = bf.scores(q)
        positive = int((s > 0).sum())
        want = min(k, positive)
        if want == 0:
            fracs.append(1.0 if not got else 0.0)
            continue
        kth = np.partition(-s, want - 1)[want - 1] * -1
        ok = sum(1 for d in got[:k] if s[d] >= kth * (1 - 1e-6) and s[d] > 0)
        fracs.append(min(ok, want) / want)
    return float(np.mean(fracs))


# --------------------------------------------------------------------------- child


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs``), so a later ``_peak_rss_since_reset_mb``
    measures one phase only; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _peak_rss_since_reset_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _peak_rss_mb()  # pragma: no cover - not Linux


#: files of a rankwise index folder that store the documents (texts, ids, metadata), not the index
_STORED_DOCS = ("text_data.npy", "text_offsets.npy", "ids.json", "metadata.json")


def _disk_without_stored_docs(peer: str, path: Path) -> float:
    """MB on disk minus the stored documents (rankwise keeps texts, ids and metadata to return
    them with hits; bm25s and tantivy as benchmarked store neither)."""
    stored = sum(f.stat().st_size for f in path.rglob("*") if f.name in _STORED_DOCS)
    return (_dir_size(path) - (stored if peer == "rankwise" else 0)) / 2**20


def _disk_with_texts(peer: str, obj: Any, texts: list[str], saved: Path) -> float | None:
    """MB on disk of an index that can return its documents' texts: rankwise always stores
    them; bm25s saved with ``corpus=texts`` (its way to keep them); None for the others."""
    if peer == "rankwise":
        return _dir_size(saved) / 2**20
    if not peer.startswith("bm25s"):
        return None
    target = Path(tempfile.mkdtemp(prefix="bm25bench-corpus-")) / "index"
    try:
        obj.save(str(target), corpus=texts, show_progress=False)
        return _dir_size(target) / 2**20
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


def _dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _timed_queries(
    peer: Any, obj: Any, queries: list[str], k: int, budget: float
) -> tuple[float, int, list[list[int]]]:
    """(queries per CPU-second, number run, results of the first pass over ``queries``).
    Runs until the CPU budget is used, going over the queries again if one pass is quicker
    (small corpora: a pass of 1,000 queries takes a few tenths of a second, too short to time
    on a shared machine)."""
    batch = getattr(peer, "search_many", None)
    fast = getattr(peer, "search_addresses", None)
    results: list[list[int]] = []
    done = 0
    cpu = 0.0
    step = 50 if batch is not None else 1
    raw: Any = None
    while cpu < budget or done < 3:
        pos = done % len(queries)
        chunk = queries[pos : pos + step]
        t0 = time.process_time()
        if batch is not None:
            raw = batch(obj, chunk, k)
        elif fast is not None:
            raw = fast(obj, chunk[0], k)
        else:
            raw = peer.search(obj, chunk[0], k)
        _collect_due(raw)
        cpu += time.process_time() - t0
        if done < len(queries):  # positions of the first pass (untimed)
            if batch is not None:
                results.extend(raw)
            elif fast is not None:
                results.append(peer.search(obj, chunk[0], k))
            else:
                results.append(raw)
        done += len(chunk)
    return done / cpu if cpu > 0 else float("inf"), done, results


def _collect_due(result: Any) -> list[Any]:
    """One tracked allocation inside the timing: if a search left Python's young collection
    due (its result objects pushed the allocation count past the threshold), the collection
    runs here, counted against the search that made the objects, instead of in the untimed
    conversion to positions that follows. Applied to every peer alike."""
    return [result]


def _timed_paths(
    paths: list[tuple[Callable[[Any, list[str], int], Any], Callable[[Any], list[list[int]]]]],
    obj: Any,
    queries: list[str],
    k: int,
    budget: float,
) -> tuple[list[float], int, list[list[list[int]]]]:
    """Queries per CPU-second of each of several batch paths (``(timed search, positions of
    its result)``) of one engine, run round-robin on the same batches of 50 queries until the
    slowest has used the CPU budget (over the queries again if need be, as _timed_queries);
    (q/s per path, queries run, positions per path from the first pass).

    Each path's result stays alive until its next batch replaces it (inside that timing), as a
    caller's would; the conversion to positions is not timed (tantivy's stored-field
    look-ups are not either)."""
    results: list[list[list[int]]] = [[] for _ in paths]
    cpu = [0.0] * len(paths)
    held: list[Any] = [None] * len(paths)
    done = 0
    while min(cpu) < budget or done < 3:
        pos = done % len(queries)
        chunk = queries[pos : pos + 50]
        for i, (search, positions) in enumerate(paths):
            t0 = time.process_time()
            held[i] = search(obj, chunk, k)
            _collect_due(held[i])
            cpu[i] += time.process_time() - t0
            if done < len(queries):
                results[i].extend(positions(held[i]))
        done += len(chunk)
    return [done / c if c > 0 else float("inf") for c in cpu], done, results


def child(args: argparse.Namespace) -> None:
    work = Path(args.work)
    peer = importlib.import_module(f"benchmarks.bm25_peers.{PEER_MODULES[args.peer]}")
    texts = (work / "corpus.txt").read_text(encoding="utf-8").split("\n")[: args.n_docs]
    extra = (work / "extra.txt").read_text(encoding="utf-8").split("\n")[:N_ADD]
    qsets = json.loads((work / "queries.json").read_text())
    rss_corpus = _rss_now_mb()
    out: dict[str, Any] = {"peer": peer.NAME, "n_docs": len(texts), "rss_corpus_mb": rss_corpus}

    # the build's peak: reading the corpus (file text + split) peaks higher than holding it,
    # so the peak is reset after reading; imports and the corpus list stay counted
    exact_peak = _reset_peak_rss()
    t0 = time.perf_counter()
    obj = peer.build(texts)
    out["build_s"] = time.perf_counter() - t0
    out["peak_rss_build_mb"] = _peak_rss_since_reset_mb() if exact_peak else _peak_rss_mb()
    out["build_rss_added_mb"] = out["peak_rss_build_mb"] - rss_corpus

    # warm-up (JIT compilation, caches) outside the timings
    for q in qsets["heavy"][:5]:
        peer.search(obj, q, 10)
    settle = getattr(peer, "settle", None)
    if settle is not None:
        settle(obj)
    probe_threads = getattr(peer, "threads_probe", None)
    if probe_threads is not None:
        out["threads"] = probe_threads(obj, qsets["heavy"][:500])

    for name, queries in qsets.items():
        for k in (10, 100):
            if getattr(peer, "search_hits", None) is None:
                qps, n_run, res = _timed_queries(peer, obj, queries, k, args.budget)
            else:  # rankwise: full hits (the row kept) and ids + scores, side by side
                paths = [(peer.search_hits, peer.positions), (peer.search_ids, peer.id_positions)]
                both, n_run, (res, res_ids) = _timed_paths(paths, obj, queries, k, args.budget)
                qps = both[0]
                out[f"qps_ids_top{k}_{name}"] = both[1]
                out[f"ids_equal_hits_top{k}_{name}"] = res_ids == res
            out[f"qps_top{k}_{name}"] = qps
            out[f"n_top{k}_{name}"] = n_run
            if k == 10:
                out[f"results_{name}"] = res

    save = getattr(peer, "save", None)
    disk_path = getattr(peer, "disk_path", None)
    if save is not None:
        target = Path(tempfile.mkdtemp(prefix="bm25bench-save-")) / "index"
        t0 = time.perf_counter()
        save(obj, str(target))
        out["save_s"] = time.perf_counter() - t0
        out["disk_mb"] = _dir_size(target) / 2**20
        out["disk_index_mb"] = _disk_without_stored_docs(args.peer, target)
        out["disk_with_texts_mb"] = _disk_with_texts(args.peer, obj, texts, target)
        load = getattr(peer, "load", None)
        if load is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            loaded = load(str(target))
            out["load_s"] = time.perf_counter() - t0
            out["load_cpu_s"] = time.process_time() - c0
            t0 = time.perf_counter()
            peer.search(loaded, qsets["heavy"][0], 10)
            out["load_first_search_s"] = time.perf_counter() - t0
            del loaded
        shutil.rmtree(target.parent, ignore_errors=True)
    elif disk_path is not None:
        out["disk_mb"] = _dir_size(Path(disk_path(obj))) / 2**20
        out["disk_index_mb"] = _disk_without_stored_docs(args.peer, Path(disk_path(obj)))

    add = getattr(peer, "add", None)
    probe = qsets["heavy"][0]
    if add is not None:
        t0 = time.perf_counter()
        obj = add(obj, extra, len(texts))
        hits = peer.search(obj, probe, 10)
        out["add_search_s"] = time.perf_counter() - t0
        out["add_kind"] = "incremental"
    elif args.rebuild_peers:
        del obj
        t0 = time.perf_counter()
        obj = peer.build(texts + extra)
        hits = peer.search(obj, probe, 10)
        out["add_search_s"] = time.perf_counter() - t0
        out["add_kind"] = "rebuild"
    else:
        hits = None
        out["add_search_s"] = out["build_s"]
        out["add_kind"] = "rebuild (estimated = build time)"
    out["add_probe"] = hits
    out["peak_rss_mb"] = _peak_rss_mb()
    (work / f"result-{args.peer}.json").write_text(json.dumps(out))


COLD_SCRIPT = """
import sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from benchmarks.bm25_peers import {module} as peer
texts = [" ".join(f"t{{(i * 7 + j * 13) % 300}}" for j in range(20)) for i in range(1000)]
obj = peer.build(texts)
t1 = time.perf_counter()
peer.search(obj, "t1 t7 t99", 10)
t2 = time.perf_counter()
print(t2 - t0, t2 - t1, time.process_time() - c0)
"""


def cold_start(peer: str) -> dict[str, float]:
    """First search in a new process (import + build 1k docs + search): with an empty numba
    cache, then again with the cache that run left (warm)."""
    out: dict[str, float] = {}
    cache = Path(tempfile.mkdtemp(prefix="bm25bench-numba-"))
    try:
        for label in ("cold", "warm"):
            env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONPATH": CHILD_PATH}
            env["NUMBA_CACHE_DIR"] = str(cache)
            code = COLD_SCRIPT.format(module=PEER_MODULES[peer])
            proc = subprocess.run(
                [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
            )
            if proc.returncode != 0:
                print(f"  {peer} cold start: FAILED\n{proc.stderr[-2000:]}", flush=True)
                return out
            total, search, cpu = map(float, proc.stdout.split()[-3:])
            out[f"{label}_total_s"] = total
            out[f"{label}_search_s"] = search
            out[f"{label}_cpu_s"] = cpu
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


def _mem_available_mb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


# --------------------------------------------------------------------------- parent


def run_size(n_docs: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix=f"bm25bench-{n_docs}-"))
    try:
        t0 = time.perf_counter()
        qsets = {
            "heavy": make_queries(args.queries, args.seed + 1, skip=0),
            "skip100": make_queries(args.queries, args.seed + 2, skip=100),
        }
        (work / "queries.json").write_text(json.dumps(qsets))
        bf: BruteForce | None = None
        if n_docs >= args.no_oracle_from:
            write_corpus_streamed(work, n_docs, args.seed)
            print(f"[{n_docs:,} docs] corpus ready in {time.perf_counter() - t0:.1f}s "
                  "(no brute-force oracle at this size)", flush=True)  # fmt: skip
        else:
            flat, offsets = make_corpus(n_docs + N_ADD, args.seed)
            write_texts(work / "corpus.txt", flat, offsets[: n_docs + 1])
            extra_off = offsets[n_docs:] - offsets[n_docs]
            write_texts(work / "extra.txt", flat[offsets[n_docs] :], extra_off)
            bf = BruteForce(flat[: offsets[n_docs]], offsets[: n_docs + 1])
            del flat
            postings = [
                float(np.mean([sum(int(bf.df[int(t[1:])]) for t in q.split()) for q in qs]))
                for qs in qsets.values()
            ]
            print(
                f"[{n_docs:,} docs] corpus ready in {time.perf_counter() - t0:.1f}s; mean postings "
                f"per query: heavy {postings[0]:,.0f}, skip100 {postings[1]:,.0f}",
                flush=True,
            )
        rows = []
        for peer in args.peers:
            cmd = [
                sys.executable, str(Path(__file__).resolve()), "--child", "--peer", peer,
                "--work", str(work), "--n-docs", str(n_docs), "--budget", str(args.budget),
            ]  # fmt: skip
            if args.rebuild_peers:
                cmd.append("--rebuild-peers")
            env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONPATH": CHILD_PATH}
            t1 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {peer}: FAILED\n{proc.stderr[-3000:]}", flush=True)
                continue
            row = json.loads((work / f"result-{peer}.json").read_text())
            for name in qsets:
                got = row.pop(f"results_{name}")
                row[f"agree_{name}"] = None if bf is None else agreement(bf, qsets[name], got)
            row["load1"] = os.getloadavg()[0]
            rows.append(row)
            print(
                f"  {peer}: done in {time.perf_counter() - t1:.0f}s "
                f"(build {row['build_s']:.1f}s, heavy top-10 {row['qps_top10_heavy']:,.0f} q/s)",
                flush=True,
            )
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt_table(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("peer", "peer", "{}"),
        ("build_s", "build s", "{:.1f}"),
        ("peak_rss_build_mb", "build peak RSS MB", "{:,.0f}"),
        ("peak_rss_mb", "run peak RSS MB", "{:,.0f}"),
        ("rss_corpus_mb", "corpus RSS MB", "{:,.0f}"),
        ("disk_mb", "disk MB", "{:,.0f}"),
        ("disk_index_mb", "disk w/o texts MB", "{:,.0f}"),
        ("qps_top10_heavy", "top10 q/s heavy", "{:,.1f}"),
        ("qps_top10_skip100", "top10 q/s skip100", "{:,.1f}"),
        ("qps_top100_heavy", "top100 q/s heavy", "{:,.1f}"),
        ("qps_top100_skip100", "top100 q/s skip100", "{:,.1f}"),
        ("qps_ids_top10_heavy", "ids top10 q/s heavy", "{:,.1f}"),
        ("qps_ids_top10_skip100", "ids top10 q/s skip100", "{:,.1f}"),
        ("qps_ids_top100_heavy", "ids top100 q/s heavy", "{:,.1f}"),
        ("qps_ids_top100_skip100", "ids top100 q/s skip100", "{:,.1f}"),
        ("agree_heavy", "agree@10 heavy", "{:.3f}"),
        ("agree_skip100", "agree@10 skip100", "{:.3f}"),
        ("add_search_s", "add 1k+search s", "{:.2f}"),
        ("load_s", "load s", "{:.2f}"),
    ]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _, f in cols:
            v = r.get(key)
            cell = "-" if v is None else f.format(v)
            if key == "add_search_s" and "estimated" in str(r.get("add_kind", "")):
                cell = f"~{cell} (rebuild)"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    ours = next((r for r in rows if r["peer"] == "rankwise"), None)
    if ours is not None:
        lines.append("")
        lines.append(
            "rankwise vs peer (q/s: ours/theirs, higher is better; build, RSS: ours/theirs)"
        )
        for r in rows:
            if r is ours:
                continue
            parts = []
            for key in ("qps_top10_heavy", "qps_top10_skip100", "qps_top100_heavy",
                        "qps_top100_skip100"):  # fmt: skip
                if r.get(key):
                    parts.append(f"{key[4:]} x{ours[key] / r[key]:.2f}")
                    if ours.get(f"qps_ids_{key[4:]}"):
                        parts[-1] += f" (ids x{ours[f'qps_ids_{key[4:]}'] / r[key]:.2f})"
            parts.append(f"build x{ours['build_s'] / r['build_s']:.2f}")
            parts.append(
                f"build peak RSS x{ours['peak_rss_build_mb'] / r['peak_rss_build_mb']:.2f}"
            )
            lines.append(f"  vs {r['peer']}: " + ", ".join(parts))
    return "\n".join(lines)


GOALS = [
    # (label, our key, peer, their key, goal, higher is better)
    ("heavy top-10 vs bm25s", "qps_top10_heavy", "bm25s-numba", "qps_top10_heavy", 2.0, True),
    ("heavy top-100 vs bm25s", "qps_top100_heavy", "bm25s-numba", "qps_top100_heavy", 1.5, True),
    ("skip100 top-10 vs tantivy", "qps_top10_skip100", "tantivy", "qps_top10_skip100", 1.2, True),
    (
        "skip100 top-100 vs tantivy",
        "qps_top100_skip100",
        "tantivy",
        "qps_top100_skip100",
        1.0,
        True,
    ),
    # the same four goals for search_many_ids (ids + float64 scores, no Hit objects): the
    # like-for-like comparison, as the peers' timed parts return positions, not documents
    (
        "ids: heavy top-10 vs bm25s",
        "qps_ids_top10_heavy",
        "bm25s-numba",
        "qps_top10_heavy",
        2.0,
        True,
    ),
    (
        "ids: heavy top-100 vs bm25s",
        "qps_ids_top100_heavy",
        "bm25s-numba",
        "qps_top100_heavy",
        1.5,
        True,
    ),
    (
        "ids: skip100 top-10 vs tantivy",
        "qps_ids_top10_skip100",
        "tantivy",
        "qps_top10_skip100",
        1.2,
        True,
    ),
    (
        "ids: skip100 top-100 vs tantivy",
        "qps_ids_top100_skip100",
        "tantivy",
        "qps_top100_skip100",
        1.0,
        True,
    ),
    ("heavy top-10 vs tantivy", "qps_top10_heavy", "tantivy", "qps_top10_heavy", None, True),
    (
        "skip100 top-10 vs bm25s",
        "qps_top10_skip100",
        "bm25s-numba",
        "qps_top10_skip100",
        None,
        True,
    ),
    ("build vs bm25s", "build_s", "bm25s-numba", "build_s", 0.5, False),
    ("peak RSS vs tantivy", "peak_rss_build_mb", "tantivy", "peak_rss_build_mb", 1.0, False),
    (
        "build RSS above corpus vs tantivy",
        "build_rss_added_mb",
        "tantivy",
        "build_rss_added_mb",
        None,
        False,
    ),
    (
        "disk vs bm25s (ours with texts, theirs without)",
        "disk_mb",
        "bm25s-numba",
        "disk_mb",
        None,
        False,
    ),
    ("disk w/o texts vs bm25s", "disk_index_mb", "bm25s-numba", "disk_index_mb", 1.0, False),
    (
        "disk with texts vs bm25s saved with its corpus",
        "disk_with_texts_mb",
        "bm25s-numba",
        "disk_with_texts_mb",
        1.0,
        False,
    ),
]


def fmt_sweep(sizes: dict[str, list[dict[str, Any]]], cold: dict[str, dict[str, float]]) -> str:
    """Ratios rankwise/peer per size against the goals (q/s: higher is better; build, RSS,
    disk: lower is better), then load(mmap), +1k docs and the cold start."""
    names = list(sizes)
    head = "| ratio (goal) | " + " | ".join(f"{int(n):,} docs" for n in names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 1)]
    for label, ours_key, peer, key, goal, higher in GOALS:
        cells = []
        for n in names:
            rows = {r["peer"]: r for r in sizes[n]}
            ours, theirs = rows.get("rankwise"), rows.get(peer)
            if not ours or not theirs or not ours.get(ours_key) or not theirs.get(key):
                cells.append("-")
                continue
            ratio = ours[ours_key] / theirs[key]
            ok = "" if goal is None else (" ✓" if (ratio >= goal if higher else ratio <= goal)
                                          else " ✗")  # fmt: skip
            cells.append(f"{ratio:.2f}×{ok}")
        want = "" if goal is None else (f" (≥ {goal}×)" if higher else f" (≤ {goal}×)")
        lines.append(f"| {label}{want} | " + " | ".join(cells) + " |")
    for label, key, fmt in (
        ("rankwise load(mmap) s (< 1 s at 1M)", "load_s", "{:.2f}"),
        ("rankwise load(mmap) CPU s", "load_cpu_s", "{:.2f}"),
        ("rankwise +1k docs & search s (< 1 s)", "add_search_s", "{:.2f}"),
        ("rankwise agreement@10 heavy / skip100", None, ""),
        ("rankwise search_many_ids = search_many (ids, all runs)", "ids_equal", ""),
        ("search_many 2 threads vs 1 / vs search loop (≥ 1.6×)", "threads", ""),
    ):
        cells = []
        for n in names:
            ours = next((r for r in sizes[n] if r["peer"] == "rankwise"), None)
            if ours is None:
                cells.append("-")
            elif key is None:
                agree = (ours["agree_heavy"], ours["agree_skip100"])
                cells.append("-" if None in agree else "{:.3f} / {:.3f}".format(*agree))
            elif key == "ids_equal":
                same = [v for f, v in ours.items() if f.startswith("ids_equal_hits_")]
                cells.append("-" if not same else ("yes" if all(same) else "NO"))
            elif key == "threads":
                th = ours.get("threads")
                cells.append("-" if not th else f"{th['many_1_s'] / th['many_2_s']:.2f}× / "
                             f"{th['loop_s'] / th['many_2_s']:.2f}×")  # fmt: skip
            else:
                cells.append("-" if ours.get(key) is None else fmt.format(ours[key]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if cold:
        lines.append("")
        lines.append("cold start (new process: import, build 1k docs, first search), seconds:")
        for peer, c in cold.items():
            if c:
                lines.append(
                    f"  {peer}: empty numba cache {c['cold_total_s']:.2f} s wall "
                    f"({c['cold_cpu_s']:.2f} s CPU; first search {c['cold_search_s']:.2f} s), "
                    f"warm cache {c['warm_total_s']:.2f} s ({c['warm_cpu_s']:.2f} s CPU; "
                    f"first search {c['warm_search_s']:.3f} s)"
                )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=DEFAULT_SIZES)
    ap.add_argument("--no-cold-start", action="store_true", help="skip the cold-start runs")
    ap.add_argument("--queries", type=int, default=1000, help="queries per query set")
    ap.add_argument("--peers", nargs="+", default=DEFAULT_PEERS, choices=list(PEER_MODULES))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--budget", type=float, default=20.0, help="CPU seconds per q/s measurement")
    ap.add_argument("--rebuild-peers", action="store_true", help="measure rebuild-after-add")
    ap.add_argument(
        "--no-oracle-from",
        type=int,
        default=5_000_000,
        help="from this many documents on, skip the brute-force oracle (agreement) and generate "
        "the corpus in chunks, so that 10M fits in memory",
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--n-docs", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    all_rows: dict[str, Any] = {
        "started": stamp,
        "load_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "args": {k: v for k, v in vars(args).items() if k not in ("child", "out")},
        "sizes": {},
    }
    out = args.out or RESULTS / f"bm25_vs_peers-{stamp}.json"
    cold: dict[str, dict[str, float]] = {}
    if not args.no_cold_start:
        for peer in args.peers:
            if peer in ("rankwise", "bm25s_numba", "tantivy"):
                cold[peer] = cold_start(peer)
        all_rows["cold_start"] = cold
    for n in args.docs:
        need = n * _rss_per_doc(args.peers) / 2**20
        have = _mem_available_mb()
        if need > have:
            print(f"\n## {n:,} documents: skipped (the hungriest peer needs ~{need:,.0f} MB, "
                  f"{have:,.0f} MB available now)", flush=True)  # fmt: skip
            all_rows["sizes"][str(n)] = []
            all_rows.setdefault("skipped", {})[str(n)] = {"need_mb": need, "available_mb": have}
            continue
        rows = run_size(n, args)
        all_rows["sizes"][str(n)] = rows
        print(f"\n## {n:,} documents (load avg now {os.getloadavg()[0]:.2f})")
        print(fmt_table(rows), flush=True)
        out.write_text(json.dumps(all_rows, indent=1, default=str))
    all_rows["load_at_end"] = os.getloadavg()
    out.write_text(json.dumps(all_rows, indent=1, default=str))
    sizes = {n: rows for n, rows in all_rows["sizes"].items() if rows}
    print(f"\n## sweep (load average {all_rows['load_at_start'][0]:.2f} at start, "
          f"{all_rows['load_at_end'][0]:.2f} at end; {os.cpu_count()} CPUs)")  # fmt: skip
    print(fmt_sweep(sizes, cold))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
