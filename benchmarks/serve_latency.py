"""`rankwise serve` latency and throughput: /v1/search (BM25 top 50 + rerank, top 10) on Cranfield.

For each reranker (the bundled all-MiniLM-L6-v2 `embedding:` reranker and a tiny random
cross-encoder built here) and each ``--workers`` count, the script starts
`python -m rankwise serve` as a subprocess and measures:

- 1 client: the requests one after another -> p50 / p95 latency and requests/s;
- 8 clients: the same requests spread over 8 concurrent clients -> requests/s, and the ratio to
  the sequential client (goal >= 1.5x);
- cold: `rankwise search INDEX QUERY --rerank SPEC` in a fresh process (torch and the model
  load every time) against the warm server's p50 (goal >= 50x).

The clients are as light as a client can be, so that they leave the cores to the server: each
is its own process (no GIL shared with another client) holding one keep-alive connection of
the standard library's ``http.client``. Every phase also reports where the CPU went, from
/proc: the server's processes (all its threads and workers), the clients', and everything else
on the machine (other users of a shared machine), in CPU-milliseconds per request and as a
share of the machine's cores. On a 2-core machine 8 clients can at best use both cores: the
ratio is bounded by (server + client CPU per request) / (CPU of the busier side), and by what
other processes leave; the table shows each term so the bound can be checked.

Every request set is sent once before timing (the server's steady state: the bi-encoder caches
document embeddings, so a warm server on a fixed corpus embeds only the query; the
cross-encoder keeps documents' token ids, so it tokenizes only the query and still runs the
model on every (query, document) pair). Each timed
request is new to the server, as an agent's questions are: its query carries a tag that is no
word of the corpus (BM25 answers as without it), so no cache of query embeddings can answer
it and the model works on every request. The load average is printed before and after.

    python benchmarks/serve_latency.py [--queries 48] [--rounds 3] [--cold-runs 2]
        [--workers 1,2] [--clients 8] [--only embedding|cross-encoder] [--model-workers N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


# -- CPU accounting from /proc ----------------------------------------------------------------
def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU-seconds of the whole machine since boot (every core)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU-seconds) of one process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / CLOCK_TICKS


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant (uvicorn's worker processes)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            got = _stat(int(name))
            if got is not None:
                parents[int(name)] = got[0]
    out = []
    for pid in parents:
        p = pid
        while p > 1:
            if p == root:
                out.append(pid)
                break
            p = parents.get(p, 0)
    return out


def tree_cpu_s(root: int) -> float:
    """CPU-seconds of ``root`` and its descendants."""
    return sum(got[1] for pid in tree_pids(root) if (got := _stat(pid)) is not None)


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- the client processes ------------------------------------------------------------------------
def client_main(url: str, queries_file: str) -> int:
    """One client: a keep-alive connection, its queries in order after the 'go' line on stdin;
    prints ``{"times", "cpu_s"}``."""
    queries = json.loads(Path(queries_file).read_text(encoding="utf-8"))
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    headers = {"Content-Type": "application/json"}
    conn.request("GET", "/health")
    conn.getresponse().read()  # the connection is open before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0 = time.process_time()
    times = []
    for q in queries:
        body = json.dumps({"query": q, "k": 10})
        t0 = time.perf_counter()
        conn.request("POST", "/v1/search", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        times.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")
        if b'"results": [{' not in data and b'"results":[{' not in data:
            raise RuntimeError(f"no results: {data[:300]!r}")
    report = {"times": times, "cpu_s": time.process_time() - cpu0, "done": time.monotonic()}
    print(json.dumps(report), flush=True)
    return 0


@dataclass
class Phase:
    """One timed phase: wall time, latencies and CPU-seconds by owner."""

    requests: int
    wall_s: float
    times: list[float]
    server_cpu_s: float
    client_cpu_s: float
    other_cpu_s: float
    machine_cpu_s: float  # every core's seconds in the wall time

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s


def run_phase(url: str, server_pid: int, shares: list[list[str]], tmp: Path) -> Phase:
    """Start one client process per share, release them at once, wait for all."""
    procs = []
    for i, share in enumerate(shares):
        qfile = tmp / f"client-{i}.json"
        qfile.write_text(json.dumps(share), encoding="utf-8")
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--client", url, str(qfile)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a client did not connect")
    server0 = tree_cpu_s(server_pid)
    busy0, total0 = machine_cpu_s()
    t0 = time.monotonic()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:  # each report line comes as the client's last answer is in
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"a client failed (exit {p.wait(timeout=60)})")
        reports.append(json.loads(line))
    # the phase ends with the last answer; the clients' interpreters exiting after it is
    # neither the server's work nor its time (CLOCK_MONOTONIC is one clock for all processes)
    wall = max(r["done"] for r in reports) - t0
    busy1, total1 = machine_cpu_s()
    server = tree_cpu_s(server_pid) - server0
    for p in procs:
        if p.wait(timeout=60) != 0:
            raise RuntimeError(f"a client failed (exit {p.returncode})")
    clients = sum(r["cpu_s"] for r in reports)
    return Phase(
        requests=sum(len(s) for s in shares),
        wall_s=wall,
        times=[t for r in reports for t in r["times"]],
        server_cpu_s=server,
        client_cpu_s=clients,
        other_cpu_s=max(0.0, (busy1 - busy0) - server - clients),
        machine_cpu_s=total1 - total0,
    )


# -- the server ----------------------------------------------------------------------------------
def start_server(
    index: Path, spec: str, workers: int, model_workers: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "rankwise", "serve", str(index), "--rerank", spec]
    cmd += ["--port", "0", "-q", "--workers", str(workers)]
    if model_workers is not None:
        cmd += ["--model-workers", str(model_workers)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    seen = []
    while True:  # model loaders may print progress first
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("rankwise serve: ") and " on http" in line:
            break
        if not line:
            proc.kill()
            raise RuntimeError("server did not start:\n" + "".join(seen))
    url = line.rsplit(" on ", 1)[1].strip()
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
    parts = urllib.parse.urlsplit(url)
    # every worker process up (each has loaded the model): fresh connections until as many
    # process ids have answered /v1/info as there are workers
    pids: set[int] = set()
    for _ in range(6000):
        try:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
            conn.request("GET", "/v1/info")
            resp = conn.getresponse()
            if resp.status == 200:
                pids.add(json.loads(resp.read())["pid"])
            conn.close()
            if len(pids) >= workers:
                return proc, url
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{workers - len(pids)} of {workers} server workers did not answer")


def get_json(url: str, path: str) -> Any:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())


def requests_per_worker(url: str, workers: int) -> list[int]:
    """Rerank requests each worker process served over the whole run (warm-up included):
    fresh connections ask /v1/info until every worker has answered."""
    seen: dict[int, int] = {}
    for _ in range(200):
        info = get_json(url, "/v1/info")
        seen[info["pid"]] = (info.get("reranker") or {}).get("requests", 0)
        if len(seen) >= workers:
            break
    return sorted(seen.values(), reverse=True)


def cold_search(index: Path, spec: str, query: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rankwise", "search", str(index), query, "--rerank", spec,
         "-q", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return wall


def vocabulary(ds: Any, size: int = 8000) -> list[str]:
    """The ``size`` most frequent lowercase words of the corpus."""
    import re
    from collections import Counter

    counts = Counter(w for t in ds.doc_texts() for w in re.findall(r"[a-z]+", t.lower()))
    return [w for w, _ in counts.most_common(size)]


def tagged(queries: list[str], label: str) -> list[str]:
    """``queries``, each with a tag that is no word of the corpus (the BM25 answer stays the
    same) and differs per query and per round, so the server has seen none of them."""
    letters = "bcdfghjklmnpqrstvwxz"

    def tag(n: int) -> str:
        out = ""
        for _ in range(4):
            n, d = divmod(n, len(letters))
            out += letters[d]
        return out

    return [f"{q} xq{tag(i)}{label}" for i, q in enumerate(queries)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    name: str,
    index: Path,
    spec: str,
    queries: list[str],
    *,
    workers: int,
    clients: int,
    rounds: int,
    tmp: Path,
    model_workers: int | None = None,
) -> dict[str, Any]:
    proc, url = start_server(index, spec, workers, model_workers)
    try:
        # steady state: every query on each of `clients` connections, so that every worker
        # process (each accepts some of the connections) has embedded every candidate document
        run_phase(url, proc.pid, [queries] * clients, tmp)
        # alternate the two modes and keep each one's best round: on a shared machine the
        # background load changes between rounds, and the best round is the least disturbed
        seq: Phase | None = None
        conc: Phase | None = None
        for r in range(rounds):
            fresh = tagged(queries, f"s{r}")
            s = run_phase(url, proc.pid, [fresh], tmp)
            if seq is None or s.wall_s < seq.wall_s:
                seq = s
            fresh = tagged(queries, f"c{r}")
            c = run_phase(url, proc.pid, [fresh[i::clients] for i in range(clients)], tmp)
            if conc is None or c.wall_s < conc.wall_s:
                conc = c
        assert seq is not None
        assert conc is not None
        info = get_json(url, "/v1/info")
        per_worker = requests_per_worker(url, workers)
        rss = sorted((rss_mb(p) for p in tree_pids(proc.pid)), reverse=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    row: dict[str, Any] = {
        "reranker": name,
        "spec": spec,
        "workers": workers,
        "clients": clients,
        "p50_ms": statistics.median(seq.times) * 1000,
        "p95_ms": pct(seq.times, 0.95) * 1000,
        "seq_rps": seq.rps,
        "conc_rps": conc.rps,
        "rss_mb": rss[: max(1, workers)],  # the largest: the serving processes
        "batching": (info.get("reranker") or {}).get("batching"),
        "model_calls": (info.get("reranker") or {}).get("model_calls"),
        "rerank_requests": (info.get("reranker") or {}).get("requests"),
        "requests_per_worker": per_worker,
    }
    for label, ph in (("seq", seq), ("conc", conc)):
        n = ph.requests
        row[f"{label}_server_ms"] = ph.server_cpu_s / n * 1000
        row[f"{label}_client_ms"] = ph.client_cpu_s / n * 1000
        row[f"{label}_other_ms"] = ph.other_cpu_s / n * 1000
        # the share of the machine's cores each owner used during the phase
        row[f"{label}_cores"] = {
            "server": ph.server_cpu_s / ph.wall_s,
            "clients": ph.client_cpu_s / ph.wall_s,
            "others": ph.other_cpu_s / ph.wall_s,
            "idle": max(0.0, ph.machine_cpu_s - ph.server_cpu_s - ph.client_cpu_s - ph.other_cpu_s)
            / ph.wall_s,
        }
    row["ratio"] = row["conc_rps"] / row["seq_rps"]
    # what free cores would allow: the sequential client's CPU per request (server + client:
    # on an idle machine it waits for nothing else) over the concurrent run's CPU per request
    # spread over every core. An upper bound: one server process runs its Python code on one
    # core at a time (the GIL), only torch and the tokenizer run beside it.
    seq_cpu = row["seq_server_ms"] + row["seq_client_ms"]
    conc_cpu = row["conc_server_ms"] + row["conc_client_ms"]
    row["cpu_bound_ratio"] = (os.cpu_count() or 1) * seq_cpu / conc_cpu
    row["seq_wall_ms"] = seq.wall_s / seq.requests * 1000
    row["seq_cpu_ms"] = seq_cpu
    return row


def print_rows(rows: list[dict[str, Any]], n_queries: int) -> None:
    print(f"\n/v1/search: BM25 top 50 -> rerank -> top 10, {n_queries} Cranfield queries per run\n")
    head = (
        f"{'reranker':30} {'wk':>2} {'p50 ms':>7} {'p95 ms':>7} {'1 client r/s':>12} "
        f"{'8 clients r/s':>13} {'8 vs 1':>7} {'cold CLI s':>10} {'cold/warm':>9} "
        f"{'calls/requests':>14}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        cold = f"{r['cold_s']:10.2f} {r['cold_over_warm']:8.0f}x" if "cold_s" in r else " " * 20
        print(
            f"{r['reranker']:30} {r['workers']:2d} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} "
            f"{r['seq_rps']:12.1f} {r['conc_rps']:13.1f} {r['ratio']:6.2f}x {cold} "
            f"{r['model_calls']:>6}/{r['rerank_requests']:<7}"
        )
    print(
        "\nwhere the CPU went, per request (CPU-ms) and as cores in use (the machine has "
        f"{os.cpu_count()}):"
    )
    head = (
        f"{'reranker':30} {'wk':>2} {'mode':>9} {'server ms':>9} {'clients ms':>10} "
        f"{'others ms':>9} {'cores: server':>13} {'clients':>7} {'others':>7} {'idle':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        for label, mode in (("seq", "1 client"), ("conc", "8 clients")):
            c = r[f"{label}_cores"]
            print(
                f"{r['reranker']:30} {r['workers']:2d} {mode:>9} {r[f'{label}_server_ms']:9.2f} "
                f"{r[f'{label}_client_ms']:10.2f} {r[f'{label}_other_ms']:9.2f} "
                f"{c['server']:13.2f} {c['clients']:7.2f} {c['others']:7.2f} {c['idle']:6.2f}"
            )
    print(
        "\n1 client: wall ms per request against its CPU-ms (server + client; the rest is "
        "waiting, for a core when the machine is busy), and the ratio the CPU per request "
        "would allow on free cores:"
    )
    for r in rows:
        print(
            f"  {r['reranker']:30} workers {r['workers']}: {r['seq_wall_ms']:.2f} ms wall, "
            f"{r['seq_cpu_ms']:.2f} CPU-ms -> at most {r['cpu_bound_ratio']:.2f}x "
            f"(measured {r['ratio']:.2f}x); resident memory "
            + " + ".join(f"{m:.0f}" for m in r["rss_mb"])
            + " MiB; requests per worker "
            + "/".join(str(n) for n in r["requests_per_worker"])
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=48, help="requests per run (default 48)")
    parser.add_argument("--cold-runs", type=int, default=2, help="cold CLI runs (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating timed rounds per mode (default 3)"
    )
    parser.add_argument(
        "--workers",
        default="1,2",
        help="server worker processes to measure, comma-separated (default 1,2)",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--only", choices=("embedding", "cross-encoder"), default=None)
    parser.add_argument(
        "--model-workers",
        type=int,
        default=None,
        help="the server's --model-workers (default: the server's own default)",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument("--client", nargs=2, metavar=("URL", "QUERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(*args.client)
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]

    from rankwise.cli import main as cli
    from rankwise.datasets import bundled_path, load_beir
    from rankwise.testing.tiny_models import save_tiny_model

    print(f"load average before: {load()}", flush=True)
    ds = load_beir("cranfield")
    queries = list(ds.judged_queries().values())[: args.queries]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rankwise-serve-bench-") as tmp_name:
        tmp = Path(tmp_name)
        index = tmp / "cranfield-index"
        assert cli(["index", str(bundled_path("cranfield")), "--out", str(index), "-q"]) == 0
        specs = []
        if args.only in (None, "embedding"):
            specs.append(("embedding:default (MiniLM-L6)", "embedding:default"))
        if args.only in (None, "cross-encoder"):
            # its vocabulary is Cranfield's words, so a document is about as many tokens as
            # words (as with a real model), not one token per character
            tiny = save_tiny_model(tmp / "tiny-cross-encoder", words=vocabulary(ds))
            specs.append(("tiny cross-encoder (2x32)", f"cross-encoder:{tiny}"))
        for name, spec in specs:
            for workers in worker_counts:
                row = measure(
                    name,
                    index,
                    spec,
                    queries,
                    workers=workers,
                    clients=args.clients,
                    rounds=args.rounds,
                    tmp=tmp,
                    model_workers=args.model_workers,
                )
                print(
                    f"  {name}, {workers} worker(s): {row['ratio']:.2f}x, load {load()}",
                    flush=True,
                )
                rows.append(row)
            if args.cold_runs:
                colds = [
                    cold_search(index, spec, queries[i % len(queries)])
                    for i in range(args.cold_runs)
                ]
                for row in rows:
                    if row["spec"] == spec:
                        row["cold_s"] = statistics.median(colds)
                        row["cold_over_warm"] = row["cold_s"] / (row["p50_ms"] / 1000)
    print(f"load average after:  {load()}")
    print_rows(rows, len(queries))
    print(
        f"\ngoals: {args.clients} clients >= 1.5x one sequential client; "
        "warm request >= 50x faster than cold"
    )
    for r in rows:
        cold = f", cold/warm {r['cold_over_warm']:.0f}x" if "cold_over_warm" in r else ""
        verdict = "met" if r["ratio"] >= 1.5 else "NOT met"
        print(
            f"  {r['reranker']:30} workers {r['workers']}: {args.clients} vs 1 "
            f"{r['ratio']:.2f}x ({verdict}){cold}"
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
