"""Fuse several LlamaIndex retrievers (dense + BM25, ...) without an LLM, then optionally rerank."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import IndexNode, NodeWithScore, QueryBundle
from llama_index.core.settings import Settings
from llama_index.postprocessor.rankwise.base import RankwiseRerank
from llama_index.retrievers.rankwise._nodes import copy_node

from rankwise._checks import number_arg, optional_int
from rankwise._deprecation import renamed_argument, warn_renamed
from rankwise.fusion import DEFAULT_RRF_C, FusionMethod, check_weights, fuse
from rankwise.rerankers.base import BaseReranker

#: Deprecated: the values the old ``mode=`` took ("relative_score" is now ``"min_max"``).
FusionMode = Literal["rrf", "min_max", "relative_score"]
_FUSIONS = ("rrf", "min_max")


def _node_id(node: NodeWithScore) -> str:
    return node.node.node_id


def _node_score(node: NodeWithScore, list_index: int) -> float:
    """A node's retrieval score for ``min_max`` fusion (a missing score counts as 0)."""
    return 0.0 if node.score is None else float(node.score)


class RankwiseHybridRetriever(BaseRetriever):
    """Hybrid retrieval: run several retrievers, fuse their rankings, optionally rerank.

    Unlike ``QueryFusionRetriever`` it needs no LLM (no query generation), honours weights in
    reciprocal-rank fusion, ranks from 1, and runs the retrievers concurrently (a thread pool
    in ``retrieve``, ``asyncio.gather`` in ``aretrieve``).

    Args:
        retrievers: the LlamaIndex retrievers to fuse, e.g. ``index.as_retriever()`` and a
            ``RankwiseBM25Retriever``. Give each enough ``similarity_top_k`` to feed fusion.
        weights: one non-negative weight per retriever (default: all 1).
        fusion: ``"rrf"`` — weighted reciprocal-rank fusion, ``sum(w / (c + rank))`` — or
            ``"min_max"`` — each list's scores min-max scaled to [0, 1], weighted, summed
            (what ``QueryFusionRetriever`` calls ``"relative_score"``).
        c: the RRF constant (60, as in the RRF paper and Milvus's ``RRFRanker``).
        similarity_top_k: how many fused nodes to return (LlamaIndex's default, 2; ``None``
            returns every fused node).
        reranker: an optional last stage: a rankwise ``BaseReranker``, a spec string for
            ``rankwise.rerankers.load``, or any LlamaIndex node postprocessor (such as
            ``RankwiseRerank``). It sees the fused candidates and the result is cut to
            ``similarity_top_k``.
        fetch_k: how many fused candidates the reranker sees (default: all of them).
        max_concurrency: most retrievers run at once in the synchronous path (default: all).

    ``mode=`` (with ``"relative_score"``), ``candidate_k=`` and ``max_workers=`` are the
    deprecated names of ``fusion=`` (``"min_max"``), ``fetch_k=`` and ``max_concurrency=``.

    A fused node is a copy of the node as the first retriever returned it, with the fused
    score on ``NodeWithScore.score``; nodes are matched across retrievers by ``node_id``.
    """

    def __init__(
        self,
        retrievers: Sequence[BaseRetriever],
        *,
        weights: Sequence[float] | None = None,
        fusion: FusionMethod = "rrf",
        c: float = DEFAULT_RRF_C,
        similarity_top_k: int | None = DEFAULT_SIMILARITY_TOP_K,
        reranker: BaseReranker | BaseNodePostprocessor | str | None = None,
        fetch_k: int | None = None,
        max_concurrency: int | None = None,
        callback_manager: CallbackManager | None = None,
        objects: list[IndexNode] | None = None,
        object_map: dict[str, Any] | None = None,
        verbose: bool = False,
        mode: FusionMode | None = None,
        candidate_k: int | None = None,
        max_workers: int | None = None,
    ) -> None:
        where = "RankwiseHybridRetriever"
        if mode == "relative_score":  # one warning: the one for mode= below
            mode = "min_max"
        chosen: str = renamed_argument(where, "mode", "fusion", mode, fusion, "rrf")
        fetch_k = renamed_argument(where, "candidate_k", "fetch_k", candidate_k, fetch_k, None)
        max_concurrency = renamed_argument(
            where, "max_workers", "max_concurrency", max_workers, max_concurrency, None
        )
        if chosen == "relative_score":
            warn_renamed(where, 'fusion "relative_score"', '"min_max"')
            chosen = "min_max"
        if isinstance(retrievers, BaseRetriever) or not isinstance(retrievers, Sequence):
            raise ValueError("retrievers must be a sequence of llama_index retrievers")
        if not retrievers:
            raise ValueError("retrievers must hold at least one retriever")
        for i, r in enumerate(retrievers):
            if not isinstance(r, BaseRetriever):
                raise ValueError(
                    f"retrievers[{i}] must be a llama_index BaseRetriever, got {type(r).__name__}"
                )
        self._retrievers = list(retrievers)
        self._weights = check_weights(weights, len(self._retrievers), "retrievers")
        if chosen not in _FUSIONS:
            raise ValueError(f"fusion must be one of {list(_FUSIONS)}, got {chosen!r}")
        self._fusion: FusionMethod = "rrf" if chosen == "rrf" else "min_max"
        self._c = number_arg(c, "c", minimum=0.0)
        self._similarity_top_k = optional_int(similarity_top_k, "similarity_top_k")
        self._fetch_k = optional_int(fetch_k, "fetch_k")
        self._max_concurrency = optional_int(max_concurrency, "max_concurrency")
        self._owns_reranker = False
        self._reranker = self._make_reranker(reranker)
        if self._fetch_k is not None and self._reranker is None:
            raise ValueError("fetch_k only applies with a reranker")
        super().__init__(
            callback_manager=callback_manager or Settings.callback_manager,
            object_map=object_map,
            objects=objects,
            verbose=verbose,
        )

    def _owned_top_n(self) -> int:
        # What a reranker this retriever wrapped itself keeps: similarity_top_k, or every
        # candidate when that is None.
        return self._similarity_top_k or self._fetch_k or sys.maxsize

    def _make_reranker(self, reranker: object) -> BaseNodePostprocessor | None:
        if reranker is None or isinstance(reranker, BaseNodePostprocessor):
            return reranker
        if isinstance(reranker, (BaseReranker, str)):
            self._owns_reranker = True
            return RankwiseRerank(reranker, top_n=self._owned_top_n())
        raise ValueError(
            "reranker must be a rankwise BaseReranker, a spec string or a llama_index node "
            f"postprocessor, got {type(reranker).__name__}"
        )

    @property
    def retrievers(self) -> list[BaseRetriever]:
        return list(self._retrievers)

    @property
    def weights(self) -> list[float]:
        return list(self._weights)

    @property
    def fusion(self) -> FusionMethod:
        return self._fusion

    @property
    def mode(self) -> FusionMode:
        """Deprecated: :attr:`fusion`, ``"min_max"`` under its old name ``"relative_score"``."""
        warn_renamed("RankwiseHybridRetriever", "mode", "fusion")
        return "relative_score" if self._fusion == "min_max" else "rrf"

    @property
    def c(self) -> float:
        return self._c

    @property
    def similarity_top_k(self) -> int | None:
        return self._similarity_top_k

    @similarity_top_k.setter
    def similarity_top_k(self, value: int | None) -> None:
        self._similarity_top_k = optional_int(value, "similarity_top_k")
        if self._owns_reranker:
            assert isinstance(self._reranker, RankwiseRerank)
            self._reranker.top_n = self._owned_top_n()

    @property
    def reranker(self) -> BaseNodePostprocessor | None:
        return self._reranker

    # ------------------------------------------------------------------ fusion
    def fuse(self, results: Sequence[Sequence[NodeWithScore]]) -> list[NodeWithScore]:
        """Fuse one result list per retriever into one list, best first (no top-k cut)."""
        if len(results) != len(self._retrievers):
            raise ValueError(
                f"results has {len(results)} lists for {len(self._retrievers)} retrievers"
            )
        fused = fuse(
            results,
            _node_id,
            fusion=self._fusion,
            weights=self._weights,
            c=self._c,
            score=_node_score,
        )
        return [NodeWithScore(node=copy_node(n.node), score=score) for n, score in fused]

    def _cut(self, nodes: list[NodeWithScore], k: int | None) -> list[NodeWithScore]:
        return nodes if k is None else nodes[:k]

    # ------------------------------------------------------------------ retrieval
    def _run_children(self, query_bundle: QueryBundle) -> list[list[NodeWithScore]]:
        if len(self._retrievers) == 1:
            return [self._retrievers[0].retrieve(query_bundle)]
        workers = min(len(self._retrievers), self._max_concurrency or len(self._retrievers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rankwise-hybrid") as pool:
            # Each child runs in a copy of the caller's context, so instrumentation spans
            # and callbacks nest under this retrieval.
            futures = [
                pool.submit(contextvars.copy_context().run, r.retrieve, query_bundle)
                for r in self._retrievers
            ]
            return [f.result() for f in futures]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        fused = self.fuse(self._run_children(query_bundle))
        if self._reranker is not None and fused:
            candidates = self._cut(fused, self._fetch_k)
            fused = self._reranker.postprocess_nodes(candidates, query_bundle)
        return self._cut(fused, self._similarity_top_k)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        results = await asyncio.gather(*(r.aretrieve(query_bundle) for r in self._retrievers))
        fused = self.fuse(results)
        if self._reranker is not None and fused:
            candidates = self._cut(fused, self._fetch_k)
            fused = await self._reranker.apostprocess_nodes(candidates, query_bundle)
        return self._cut(fused, self._similarity_top_k)


__all__ = ["FusionMode", "RankwiseHybridRetriever"]
