"""Retrieve-then-rerank pipeline stages with per-stage timing.

A pipeline is a small tree of stages:

- :class:`Retrieve` wraps anything with ``search(query, k) -> list[Hit]`` (the BM25 index, the
  dense index, the Milvus store) — stage ``bm25`` / ``dense`` / any name you give it;
- :class:`Hybrid` fuses several pipelines with weighted reciprocal-rank fusion — stage ``fusion``;
- :class:`Rerank` reranks the first ``fetch_k`` candidates of a pipeline — stage ``rerank``.

``pipeline.run(query, k)`` returns the hits and the seconds spent in each stage.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rankwise._checks import positive_int
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


__all__ = [
    "Hybrid",
    "Memo",
    "Pipeline",
    "PipelineOutput",
    "Rerank",
    "Retrieve",
    "Searchable",
]
