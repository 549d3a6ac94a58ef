"""Retrieve-then-rerank pipelines with per-stage timing, and their evaluation on a dataset.

A pipeline is a small tree of stages:

- :class:`Retrieve` wraps anything with ``search(query, k) -> list[Hit]`` (the BM25 index, the
  dense index, the Milvus store) — stage ``bm25`` / ``dense`` / any name you give it;
- :class:`Hybrid` fuses several pipelines with weighted reciprocal-rank fusion — stage ``fusion``;
- :class:`Rerank` reranks the first ``fetch_k`` candidates of a pipeline — stage ``rerank``.

``pipeline.run(query, k)`` returns the hits and the seconds spent in each stage.
:func:`evaluate_pipelines` runs several pipelines over a dataset's queries, sharing the work of
common stages (the BM25 results of the BM25 row are the ones the hybrid row fuses), and reports
nDCG / Recall / MRR with mean and p95 latency per stage.
"""

from __future__ import annotations

import hashlib
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rankwise._checks import positive_int
from rankwise.evaluation import evaluate, parse_metric
from rankwise.fusion import DEFAULT_RRF_C, check_weights, fuse
from rankwise.rerankers.base import BaseReranker, rescored_hit
from rankwise.types import Hit

Memo = dict[tuple[int, str, int], "PipelineOutput"]


class Searchable(Protocol):
    def search(self, query: str, k: int = 10) -> list[Hit]: ...


@dataclass
class PipelineOutput:
    """Hits best first, and seconds spent per stage (child stages included)."""

    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)


class Pipeline(ABC):
    """A retrieval pipeline; ``name`` labels it in reports."""

    name: str

    @abstractmethod
    def _run(self, query: str, k: int, memo: Memo | None) -> PipelineOutput: ...

    def run(self, query: str, k: int = 10, *, memo: Memo | None = None) -> PipelineOutput:
        """Run the pipeline for ``query`` and return the top ``k`` hits with stage timings.

        ``memo`` shares stage results between pipelines run on the same queries.
        """
        positive_int(k, "k")
        if memo is None:
            return self._run(query, k, None)
        key = (id(self), query, k)
        out = memo.get(key)
        if out is None:
            out = self._run(query, k, memo)
            memo[key] = out
        return out

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The hits of :meth:`run`."""
        return self.run(query, k).hits

    @property
    def stages(self) -> list[str]:
        """Stage names, in execution order."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Retrieve(Pipeline):
    """One retriever: any object with ``search(query, k)`` returning ``Hit``s."""

    def __init__(self, retriever: Searchable, stage: str = "retrieve", name: str | None = None):
        if not hasattr(retriever, "search"):
            raise ValueError("retriever must have a search(query, k) method")
        self.retriever = retriever
        self.stage = stage
        self.name = name or stage

    @property
    def stages(self) -> list[str]:
        return [self.stage]

    def _run(self, query: str, k: int, memo: Memo | None) -> PipelineOutput:
        t0 = time.perf_counter()
        hits = self.retriever.search(query, k=k)
        return PipelineOutput(list(hits)[:k], {self.stage: time.perf_counter() - t0})


def _hit_id(hit: Hit) -> str:
    return hit.id


class Hybrid(Pipeline):
    """Weighted reciprocal-rank fusion (``weight / (c + rank)``) of several pipelines.

    Each child is asked for ``fetch_k`` hits; fused hits carry the fused score and the text and
    metadata of the first child that returned them.
    """

    def __init__(
        self,
        children: Sequence[Pipeline],
        *,
        weights: Sequence[float] | None = None,
        c: float = DEFAULT_RRF_C,
        fetch_k: int = 100,
        name: str = "hybrid",
    ) -> None:
        if len(children) < 2:
            raise ValueError("children must hold at least two pipelines")
        positive_int(fetch_k, "fetch_k")
        self.children = list(children)
        self.weights = (
            None if weights is None else check_weights(weights, len(children), "children")
        )
        self.c = c
        self.fetch_k = fetch_k
        self.name = name

    @property
    def stages(self) -> list[str]:
        out: list[str] = []
        for child in self.children:
            out.extend(s for s in child.stages if s not in out)
        return [*out, "fusion"]

    def _run(self, query: str, k: int, memo: Memo | None) -> PipelineOutput:
        depth = max(k, self.fetch_k)
        timings: dict[str, float] = {}
        lists: list[list[Hit]] = []
        for child in self.children:
            out = child.run(query, depth, memo=memo)
            lists.append(out.hits)
            for stage, sec in out.timings.items():
                timings[stage] = timings.get(stage, 0.0) + sec
        t0 = time.perf_counter()
        fused = fuse(lists, _hit_id, weights=self.weights, c=self.c)
        result = [rescored_hit(hit, score) for hit, score in fused[:k]]
        timings["fusion"] = time.perf_counter() - t0
        return PipelineOutput(result, timings)


class Rerank(Pipeline):
    """Rerank the first ``fetch_k`` hits of ``base`` with a rankwise reranker.

    Hits beyond ``fetch_k`` (when ``k > fetch_k``) follow the reranked ones in their retrieval
    order with their retrieval scores, so deep metrics such as Recall@100 stay comparable.
    """

    def __init__(
        self,
        base: Pipeline,
        reranker: BaseReranker,
        *,
        fetch_k: int = 50,
        name: str | None = None,
    ) -> None:
        positive_int(fetch_k, "fetch_k")
        self.base = base
        self.reranker = reranker
        self.fetch_k = fetch_k
        self.name = name or f"{base.name} + rerank"

    @property
    def stages(self) -> list[str]:
        return [*self.base.stages, "rerank"]

    def _run(self, query: str, k: int, memo: Memo | None) -> PipelineOutput:
        depth = max(k, self.fetch_k)
        out = self.base.run(query, depth, memo=memo)
        timings = dict(out.timings)
        head, tail = out.hits[: self.fetch_k], out.hits[self.fetch_k :]
        t0 = time.perf_counter()
        reranked = self.reranker.rerank_hits(query, head) if head else []
        timings["rerank"] = time.perf_counter() - t0
        return PipelineOutput((reranked + tail)[:k], timings)


# -- document embeddings, cached on disk ------------------------------------------------------
def default_cache_dir() -> Path:
    """``$RANKWISE_CACHE_DIR``, else ``$XDG_CACHE_HOME/rankwise``, else ``~/.cache/rankwise``."""
    env = os.environ.get("RANKWISE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rankwise"


def embed_corpus(
    embedder: Any,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    show_progress: bool = False,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Embed ``texts`` with ``embedder`` (a SentenceEmbedder), reusing a disk cache if given.

    The cache file is keyed by the embedder's fingerprint and a digest of the texts, so a
    changed model or corpus never reuses stale vectors. Loaded vectors are also put in the
    embedder's memory cache, so reranking these documents later costs nothing.
    """
    path: Path | None = None
    if cache_dir is not None:
        h = hashlib.sha256(embedder.fingerprint().encode())
        for t in texts:
            h.update(hashlib.sha256(t.encode("utf-8")).digest())
        path = Path(cache_dir) / "embeddings" / f"{h.hexdigest()[:32]}.npy"
        if path.is_file():
            try:
                vecs = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                vecs = None
            if vecs is not None and vecs.shape[0] == len(texts):
                loaded: np.ndarray[Any, np.dtype[np.float32]] = vecs.astype(np.float32)
                embedder.remember(list(texts), loaded)
                return loaded
    vecs = np.asarray(embedder.encode(list(texts), show_progress=show_progress), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, vecs, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache is not an error: the vectors are in memory
    return vecs


# -- evaluation -------------------------------------------------------------------------------
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


__all__ = [
    "Hybrid",
    "LatencyStats",
    "Pipeline",
    "PipelineOutput",
    "PipelineReport",
    "Rerank",
    "Retrieve",
    "default_cache_dir",
    "embed_corpus",
    "evaluate_pipelines",
]
