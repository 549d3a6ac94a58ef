"""A micro-batcher: rerank requests that arrive while the model is busy share its next call.

One worker task takes the first waiting request, adds every other request already waiting (up
to ``max_pairs`` query-document pairs), and scores them in one model call on a worker thread.
A lone request never waits for company; under load, batches form by themselves. Local models
(cross-encoders, bi-encoders) gain from the larger forward passes; API rerankers are called
directly and concurrently instead, since their requests cannot be merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankwise.rerankers.base import BaseReranker


@dataclass
class _Job:
    query: str
    documents: list[str]
    future: asyncio.Future[list[float]] = field(repr=False)


def _embedding_scores(reranker: BaseReranker, jobs: Sequence[_Job]) -> list[list[float]]:
    """Cosine scores of several queries: one encode call for all queries, one for all
    documents (each distinct text once)."""
    embedder = reranker.embedder  # type: ignore[attr-defined]
    queries = embedder.encode([j.query for j in jobs])
    texts = list(dict.fromkeys(d for j in jobs for d in j.documents))
    position = {t: i for i, t in enumerate(texts)}
    docs = embedder.encode(texts)
    norms = np.linalg.norm(docs, axis=1)
    norms[norms == 0] = 1.0
    out = []
    for q, job in zip(queries, jobs, strict=True):
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        rows = [position[d] for d in job.documents]
        out.append([float(s) for s in (docs[rows] @ q) / norms[rows]])
    return out


def _cross_encoder_scores(reranker: BaseReranker, jobs: Sequence[_Job]) -> list[list[float]]:
    """The cross-encoder's own steps (tokens of the query and of each document, pairs, query
    cut, windows, length-sorted batches, forward, max over windows, activation) with the pairs
    of every job in one batch plan."""
    from rankwise.rerankers._batching import plan_batches
    from rankwise.rerankers.cross_encoder import _sigmoid

    ce: Any = reranker
    merged: dict[str, list[Any]] = {}
    owners: list[tuple[int, int]] = []  # (job, document) of each pair
    for j, job in enumerate(jobs):
        encoded, owner = ce._pairs(job.query, job.documents)
        for key, rows in encoded.items():
            merged.setdefault(key, []).extend(rows)
        owners.extend((j, o) for o in owner)
    lengths = [len(x) for x in merged["input_ids"]]
    scores = ce._forward(merged, plan_batches(lengths, ce.batch_size, ce.batch_overhead))
    out = [[-math.inf] * len(job.documents) for job in jobs]
    for (j, d), s in zip(owners, scores, strict=True):
        if s > out[j][d]:
            out[j][d] = s
    if ce.activation == "sigmoid":
        out = [[_sigmoid(s) for s in row] for row in out]  # the reranker's own
    return out


def batch_scorer(reranker: BaseReranker) -> str:
    """How requests to ``reranker`` are merged: ``"embedding"``, ``"cross-encoder"``,
    ``"sequential"`` (one model call per request, still on the worker) or ``"direct"`` (API
    rerankers: no batching, concurrent calls)."""
    from rankwise.rerankers.cross_encoder import CrossEncoderReranker
    from rankwise.rerankers.embedding import EmbeddingReranker

    if isinstance(reranker, EmbeddingReranker):
        return "embedding"
    if isinstance(reranker, CrossEncoderReranker) and type(reranker)._score is (
        CrossEncoderReranker._score
    ):
        needed = ("_pairs", "_forward", "batch_size")
        if all(hasattr(reranker, a) for a in needed):
            return "cross-encoder"
        return "sequential"
    if getattr(reranker, "provider", None) is not None:  # an API reranker
        return "direct"
    return "sequential"


def score_jobs(reranker: BaseReranker, kind: str, jobs: Sequence[_Job]) -> list[list[float]]:
    """Scores of every job, in job order (runs on a worker thread)."""
    if kind == "embedding":
        return _embedding_scores(reranker, jobs)
    if kind == "cross-encoder":
        return _cross_encoder_scores(reranker, jobs)
    return [reranker._score(j.query, j.documents) for j in jobs]


class RerankBatcher:
    """Scores ``(query, documents)`` requests, merging the ones that wait at the same time."""

    def __init__(self, reranker: BaseReranker, *, max_pairs: int = 512, workers: int = 1) -> None:
        self.reranker = reranker
        self.max_pairs = max_pairs
        self.kind = batch_scorer(reranker)
        # several model calls at once only where the forward pass is the only shared state
        # (the cross-encoder serialises its own tokenizer calls); one worker otherwise
        self.workers = workers if self.kind == "cross-encoder" else 1
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: model calls made and requests served, for /v1/info and the benchmark
        self.calls = 0
        self.requests = 0
        self.pairs = 0
        self.busy_s = 0.0

    async def start(self) -> None:
        if self.kind == "direct" or self._tasks:
            return
        self._queue = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"rankwise-rerank-batcher-{i}")
            for i in range(self.workers)
        ]

    async def stop(self) -> None:
        """Finish the requests already queued, then stop the workers."""
        if self._queue is None or not self._tasks:
            return
        for _ in self._tasks:
            await self._queue.put(None)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)
        self._tasks = []

    async def score(self, query: str, documents: list[str]) -> list[float]:
        """One score per document (input order)."""
        self.requests += 1
        if not documents:
            return []
        if self.kind == "direct":
            self.calls += 1
            return await self.reranker._ascore(query, documents)
        if self._queue is None:
            raise RuntimeError("the rerank batcher is not running")
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(query, documents, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        stopping = False
        while not stopping:
            first = await queue.get()
            if first is None:
                break
            jobs = [first]
            pairs = len(first.documents)
            # with several workers, leave the others their share of what is waiting, so the
            # cores work side by side instead of one worker taking every request
            share = -(-(1 + queue.qsize()) // self.workers)
            while pairs < self.max_pairs and len(jobs) < share and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:  # this worker's stop signal: finish the batch, then stop
                    stopping = True
                    break
                jobs.append(nxt)
                pairs += len(nxt.documents)
            jobs = [j for j in jobs if not j.future.done()]  # callers that went away
            if not jobs:
                continue
            self.calls += 1
            self.pairs += sum(len(j.documents) for j in jobs)
            started = time.perf_counter()
            try:
                results = await asyncio.to_thread(score_jobs, self.reranker, self.kind, jobs)
            except Exception as exc:
                if len(jobs) == 1:
                    if not jobs[0].future.done():
                        jobs[0].future.set_exception(exc)
                    continue
                await self._one_by_one(jobs)  # one bad request must not fail its batch-mates
                continue
            finally:
                self.busy_s += time.perf_counter() - started
            for job, scores in zip(jobs, results, strict=True):
                if not job.future.done():
                    job.future.set_result(scores)

    async def _one_by_one(self, jobs: list[_Job]) -> None:
        for job in jobs:
            try:
                (scores,) = await asyncio.to_thread(score_jobs, self.reranker, self.kind, [job])
            except Exception as exc:
                if not job.future.done():
                    job.future.set_exception(exc)
            else:
                if not job.future.done():
                    job.future.set_result(scores)


__all__ = ["RerankBatcher", "batch_scorer", "score_jobs"]
