"""Evaluation reports of pipelines: quality metrics and per-stage latency on a dataset.

:func:`evaluate_pipelines` runs several pipelines over a dataset's queries, sharing the work of
common stages (the BM25 results of the BM25 row are the ones the hybrid row fuses), and reports
nDCG / Recall / MRR with mean and p95 latency per stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankwise.evaluation import evaluate, parse_metric
from rankwise.pipeline.stages import Memo, Pipeline


@dataclass
class LatencyStats:
    mean_ms: float
    p95_ms: float

    def as_dict(self) -> dict[str, float]:
        return {"mean_ms": self.mean_ms, "p95_ms": self.p95_ms}


@dataclass
class PipelineReport:
    """Quality and speed of one pipeline on one dataset."""

    name: str
    metrics: dict[str, float]
    latency: dict[str, LatencyStats]
    stages: list[str]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stages": list(self.stages),
            "metrics": dict(self.metrics),
            "latency_ms": {s: v.as_dict() for s, v in self.latency.items()},
        }


def _stats(values: Sequence[float]) -> LatencyStats:
    arr = np.asarray(values, dtype=np.float64) * 1000.0
    if arr.size == 0:
        return LatencyStats(0.0, 0.0)
    return LatencyStats(float(arr.mean()), float(np.percentile(arr, 95)))


def evaluate_pipelines(
    pipelines: Sequence[Pipeline],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str] = ("ndcg@10", "recall@100", "mrr@10"),
    *,
    show_progress: bool = False,
) -> list[PipelineReport]:
    """Run every pipeline on every query and score the runs.

    Metrics average over the given queries that have a relevant judgement in ``qrels``.

    Each pipeline is asked for as many hits as the deepest metric needs. Stages shared by
    several pipelines run once per query; their time counts in every pipeline that uses them
    (each row's latency is what that pipeline would cost on its own).
    """
    if not pipelines:
        raise ValueError("pipelines must hold at least one pipeline")
    depth = max(parse_metric(m)[1] for m in metrics)
    memo: Memo = {}
    qids: Iterable[str] = list(queries)
    reports = []
    for pipe in pipelines:
        run: dict[str, list[str]] = {}
        times: dict[str, list[float]] = {}
        it: Iterable[str] = qids
        if show_progress:
            from tqdm.auto import tqdm

            it = tqdm(qids, desc=pipe.name, unit="query", leave=False)
        for qid in it:
            out = pipe.run(queries[qid], depth, memo=memo)
            run[qid] = [h.id for h in out.hits]
            for stage, sec in out.timings.items():
                times.setdefault(stage, []).append(sec)
            times.setdefault("total", []).append(sum(out.timings.values()))
        rep = evaluate(run, {qid: qrels[qid] for qid in run if qid in qrels}, metrics)
        stages = [s for s in pipe.stages if s in times] or [s for s in times if s != "total"]
        latency = {s: _stats(times[s]) for s in [*stages, "total"] if s in times}
        reports.append(PipelineReport(pipe.name, rep.metrics, latency, stages, rep.per_query))
    return reports


__all__ = ["LatencyStats", "PipelineReport", "evaluate_pipelines"]
