"""The parts of ``rankwise eval``: the judged data, the indexes, the pipelines and the report.

``commands.cmd_eval`` strings them together; each part here does one of those jobs, so the
command reads as the five steps it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.cli.errors import CliError
from rankwise.cli.render import eval_plot, eval_table, metric_label
from rankwise.fusion import DEFAULT_RRF_C
from rankwise.pipeline import Hybrid, Pipeline, PipelineReport, Rerank, Retrieve
from rankwise.rerankers.base import BaseReranker

EVAL_SCHEMA = "rankwise.eval/v1"


def same_embedding_model(spec: str, args: argparse.Namespace) -> bool:
    """Whether ``spec`` is an ``embedding:`` reranker on the dense side's own model."""
    kind, _, model = spec.partition(":")
    if kind.strip().lower() != "embedding":
        return False
    retrievers = [r for group in (args.retriever or [["dense"]]) for r in group]
    if not any(r in ("dense", "hybrid") for r in retrievers):
        return False
    from rankwise.embeddings import resolve_model

    try:
        return resolve_model(model.strip() or None) == resolve_model(args.embedding_model)
    except ImportError:
        return False


def auto_threads() -> int:
    """Cores left idle by the 1-minute load average (at least 1, at most all of them)."""
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # pragma: no cover - platforms without getloadavg
        return cpus
    return max(1, min(cpus, int(cpus - load + 0.5)))


def set_torch_threads(n: int) -> None:
    """Set torch's intra-op threads if torch is already loaded (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


# -- data ------------------------------------------------------------------------------------
@dataclass
class EvalData:
    """The judged queries of a dataset, its documents and the metrics to report."""

    name: str
    queries: dict[str, str]
    qrels: Any
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    metrics: list[str]
    depth: int


def load_eval_data(args: argparse.Namespace) -> EvalData:
    """The dataset's judged queries (refused when qrels are inconsistent, unless allowed)."""
    from rankwise.datasets import load_beir
    from rankwise.evaluation import parse_metric

    ds = load_beir(args.dataset, split=args.split)
    check = ds.check_qrels()
    if not check.ok:
        if not args.allow_missing:
            raise CliError(
                f"{ds.name}: {check.describe()}. Fix the qrels (or the --split) or pass "
                "--allow-missing to evaluate anyway"
            )
        print(f"rankwise eval: warning: {ds.name}: {check.describe()}", file=sys.stderr)
    queries = ds.judged_queries()
    if not queries:
        raise CliError(f"{args.dataset}: no query has a relevance judgement (qrels {args.split})")
    if args.max_queries:
        queries = dict(list(queries.items())[: args.max_queries])
    metrics = args.metrics or [f"ndcg@{args.k}", f"recall@{args.recall_k}", f"mrr@{args.k}"]
    return EvalData(
        name=ds.name,
        queries=queries,
        qrels=ds.qrels,
        ids=ds.doc_ids(),
        texts=ds.doc_texts(),
        metadatas=[{"title": str(doc.get("title") or "")} for doc in ds.corpus.values()],
        metrics=metrics,
        depth=max(parse_metric(m)[1] for m in metrics),
    )


# -- indexes ---------------------------------------------------------------------------------
@dataclass
class EvalIndexes:
    """The BM25 and dense retrievers an evaluation needs, and what building them cost."""

    bm25: Pipeline | None = None
    dense: Pipeline | None = None
    embedder: Any = None
    threads_note: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def build_indexes(
    args: argparse.Namespace, data: EvalData, retrievers: list[str], analyzer: Any
) -> EvalIndexes:
    """Index the corpus for BM25 and/or dense retrieval, as ``retrievers`` need."""
    built = EvalIndexes()
    if any(r in ("bm25", "hybrid") for r in retrievers):
        from rankwise.bm25 import BM25Index

        t0 = time.perf_counter()
        index = BM25Index(analyzer=analyzer, k1=args.k1, b=args.b, show_progress=False)
        index.add(data.texts, ids=data.ids, metadatas=data.metadatas)
        index.search(next(iter(data.queries.values())), k=data.depth)  # warm-up (JIT)
        built.timings["bm25 index"] = time.perf_counter() - t0
        built.bm25 = Retrieve(index, stage="bm25", name="BM25")
    if any(r in ("dense", "hybrid") for r in retrievers):
        from rankwise.dense import DenseIndex
        from rankwise.embedding_cache import default_cache_dir, embed_corpus
        from rankwise.embeddings import SentenceEmbedder

        t0 = time.perf_counter()
        embedder = SentenceEmbedder(args.embedding_model, max_length=args.max_length)
        embedder.dim  # noqa: B018 - loads torch and the model
        threads = auto_threads() if args.threads == "auto" else int(args.threads)
        set_torch_threads(threads)
        built.threads_note = f"documents embedded with {threads} torch thread(s)"
        cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
        vecs = embed_corpus(embedder, data.texts, cache_dir=cache_dir, show_progress=not args.quiet)
        dindex = DenseIndex(embedder)
        dindex.add(data.texts, ids=data.ids, metadatas=data.metadatas, embeddings=vecs)
        embedder.encode(["warm-up query"])  # first forward pass pays one-off setup costs
        built.timings["dense index"] = time.perf_counter() - t0
        built.dense = Retrieve(dindex, stage="dense", name="dense")
        built.embedder = embedder
    return built


# -- pipelines -------------------------------------------------------------------------------
def build_pipelines(
    args: argparse.Namespace,
    retrievers: list[str],
    built: EvalIndexes,
    reranker: BaseReranker | None,
    depth: int,
) -> list[Pipeline]:
    """One pipeline per retriever, then reranked copies (of every row with ``--retriever``,
    of the hybrid row by default)."""
    pipelines: list[Pipeline] = []
    for r in retrievers:
        if r == "bm25":
            assert built.bm25 is not None
            base: Pipeline = built.bm25
        elif r == "dense":
            assert built.dense is not None
            base = built.dense
        else:
            assert built.bm25 is not None
            assert built.dense is not None
            base = Hybrid(
                [built.bm25, built.dense], c=DEFAULT_RRF_C, fetch_k=depth, name="hybrid RRF"
            )
        pipelines.append(base)
    if reranker is not None:
        label = reranker.name
        kind = "bi-encoder" if label.startswith("embedding:") else label.partition(":")[0]
        bases = (
            list(pipelines) if args.retriever else [p for p in pipelines if isinstance(p, Hybrid)]
        )
        for base in bases:
            pipelines.append(
                Rerank(base, reranker, fetch_k=args.fetch_k, name=f"{base.name} + rerank ({kind})")
            )
    return pipelines


# -- report ----------------------------------------------------------------------------------
def eval_notes(
    args: argparse.Namespace,
    built: EvalIndexes,
    pipelines: list[Pipeline],
    reranker: BaseReranker | None,
) -> list[str]:
    """One line per part of the setup, printed under the table and put in the JSON."""
    notes = []
    if built.bm25 is not None:
        notes.append(f"BM25: analyzer {args.analyzer}, k1={args.k1}, b={args.b}")
    if built.embedder is not None:
        notes.append(
            f"dense: {built.embedder.name} (bi-encoder, mean pooling, cosine; documents "
            f"truncated to {args.max_length} tokens, {built.threads_note}), exact search; "
            f"queries embedded one at a time with {args.query_threads} thread(s)"
        )
    hybrid = next((p for p in pipelines if isinstance(p, Hybrid)), None)
    if hybrid is not None:
        notes.append(
            f"hybrid: reciprocal-rank fusion (c={hybrid.c:g}) of BM25 and dense "
            f"top-{hybrid.fetch_k}"
        )
    if reranker is not None:
        what = (
            "cosine of bi-encoder embeddings, not a cross-encoder"
            if reranker.name.startswith("embedding:")
            else "reranker"
        )
        notes.append(f"rerank: {reranker.name} ({what}) over the top {args.fetch_k} candidates")
    return notes


def render_eval(
    args: argparse.Namespace,
    data: EvalData,
    reports: list[PipelineReport],
    built: EvalIndexes,
    reranker: BaseReranker | None,
    notes: list[str],
    timings: dict[str, float],
    wall: float,
) -> str:
    """The JSON payload (``--json``) or the table with its notes; writes ``--plot`` first."""
    title = f"{len(data.ids):,} documents, {len(data.queries):,}"
    if args.plot:
        eval_plot(
            reports, data.metrics, Path(args.plot), f"rankwise eval {data.name}: {title} queries"
        )
    if args.json:
        payload = {
            "schema": EVAL_SCHEMA,
            "dataset": {
                "name": data.name,
                "documents": len(data.ids),
                "queries": len(data.queries),
            },
            "metrics": data.metrics,
            "pipelines": [r.as_dict() for r in reports],
            "settings": {
                "k": args.k,
                "recall_k": args.recall_k,
                "fetch_k": args.fetch_k,
                "analyzer": args.analyzer,
                "k1": args.k1,
                "b": args.b,
                "embedding_model": None if built.embedder is None else built.embedder.name,
                "max_length": args.max_length,
                "reranker": None if reranker is None else reranker.name,
            },
            "notes": notes,
            "plot": args.plot,
            "setup_s": {k: v for k, v in timings.items() if k != "queries"},
            "wall_s": wall,
        }
        return json.dumps(payload, indent=2)
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    lines = [
        f"rankwise eval {data.name}: {title} judged queries; "
        f"{', '.join(metric_label(m) for m in data.metrics)}; latency per query in ms",
        "",
        eval_table(reports, data.metrics),
        "",
        *(f"  {note}" for note in notes),
        f"\nwall time {wall:.1f} s ({setup})",
    ]
    if args.plot:
        lines.append(f"plot written to {args.plot}")
    return "\n".join(lines)


__all__ = [
    "EVAL_SCHEMA",
    "EvalData",
    "EvalIndexes",
    "auto_threads",
    "build_indexes",
    "build_pipelines",
    "eval_notes",
    "load_eval_data",
    "render_eval",
    "same_embedding_model",
    "set_torch_threads",
]
