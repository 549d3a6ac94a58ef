"""A LlamaIndex node postprocessor that reranks retrieved nodes with any rankwise reranker."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle

from rankwise._checks import positive_int
from rankwise.rerankers.base import BaseReranker, pair_results
from rankwise.types import RerankResult

dispatcher = get_dispatcher(__name__)

DEFAULT_TOP_N = 2


def copy_node(node: BaseNode, extra_metadata: Mapping[str, Any] | None = None) -> BaseNode:
    """A copy of ``node`` whose metadata and relationships can be changed safely.

    The text and embedding are shared (they are never mutated in place); the metadata dict
    and the relationships dict are new, so writing a score into the copy's metadata leaves
    the caller's node untouched.
    """
    metadata = dict(node.metadata)
    if extra_metadata:
        metadata.update(extra_metadata)
    return node.model_copy(update={"metadata": metadata, "relationships": dict(node.relationships)})


def _load_reranker(spec: str, kwargs: Mapping[str, Any]) -> BaseReranker:
    from rankwise.rerankers import load

    return load(spec, **dict(kwargs))


class RankwiseRerank(BaseNodePostprocessor):
    """Rerank retrieved nodes with a rankwise reranker (local model or rerank API).

    Args:
        reranker: a :class:`rankwise.rerankers.base.BaseReranker` instance, or a spec string
            for :func:`rankwise.rerankers.load` such as ``"cross-encoder:<name-or-path>"``,
            ``"bge:<...>"``, ``"cohere:rerank-v3.5"``, ``"voyage:<model>"``, ``"jina:<model>"``.
            May be omitted when ``model`` is a spec string.
        top_n: how many nodes to keep, best first (LlamaIndex's default is 2).
        model: label of the model, reported in rerank events and serialized by ``to_dict()``.
            Defaults to the spec string, or to the reranker's ``name``. ``from_dict()``
            reloads the reranker from it, so keep it a loadable spec when you serialize.
        keep_retrieval_score: store each node's previous score in
            ``node.metadata["retrieval_score"]`` of the returned copy.
        metadata_mode: which text of a node is scored; ``MetadataMode.EMBED`` (the default,
            as in LlamaIndex's own rerankers) is the text the embedding model sees: content
            plus non-excluded metadata. LangChain's ``RankwiseRerank`` scores
            ``page_content`` only; ``MetadataMode.NONE`` scores the same text here.
        score_threshold: drop nodes whose reranker score is below it (after ``top_n``), as
            LangChain's ``RankwiseRerank(score_threshold=...)`` does.
        reranker_kwargs: keyword arguments for :func:`rankwise.rerankers.load` (API key,
            base URL, device, batch size, ...). Never serialized.

    The input nodes are never mutated: the result holds new ``NodeWithScore`` objects whose
    nodes are copies with their own metadata dicts.
    """

    model: str = Field(description="The rankwise reranker spec or name.")
    top_n: int = Field(default=DEFAULT_TOP_N, description="Number of nodes to return.")
    keep_retrieval_score: bool = Field(
        default=False,
        description="Keep the retrieval score in metadata['retrieval_score'].",
    )
    metadata_mode: MetadataMode = Field(
        default=MetadataMode.EMBED, description="Which node content is scored."
    )
    score_threshold: float | None = Field(
        default=None, description="Drop nodes scored below this value."
    )

    _reranker: BaseReranker = PrivateAttr()

    def __init__(
        self,
        reranker: BaseReranker | str | None = None,
        *,
        top_n: int = DEFAULT_TOP_N,
        model: str | None = None,
        keep_retrieval_score: bool = False,
        metadata_mode: MetadataMode | str = MetadataMode.EMBED,
        score_threshold: float | None = None,
        reranker_kwargs: Mapping[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        top_n = positive_int(top_n, "top_n")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        if not isinstance(keep_retrieval_score, bool):
            raise ValueError(f"keep_retrieval_score must be a bool, got {keep_retrieval_score!r}")
        try:
            mode = MetadataMode(metadata_mode)
        except ValueError:
            raise ValueError(
                f"metadata_mode must be one of {[m.value for m in MetadataMode]}, "
                f"got {metadata_mode!r}"
            ) from None
        if score_threshold is not None and (
            isinstance(score_threshold, bool)
            or not isinstance(score_threshold, (int, float))
            or math.isnan(score_threshold)
        ):
            raise ValueError(f"score_threshold must be a number or None, got {score_threshold!r}")
        instance: BaseReranker
        if isinstance(reranker, BaseReranker):
            if reranker_kwargs:
                raise ValueError("reranker_kwargs only applies when reranker is a spec string")
            instance = reranker
            label = model or reranker.name
        elif isinstance(reranker, str):
            if not reranker.strip():
                raise ValueError("reranker must be a non-empty spec string")
            instance = _load_reranker(reranker, reranker_kwargs or {})
            label = model or reranker
        elif reranker is None:
            if model is None:
                raise ValueError("give reranker (an instance or a spec string) or model (a spec)")
            instance = _load_reranker(model, reranker_kwargs or {})
            label = model
        else:
            raise ValueError(
                "reranker must be a rankwise BaseReranker or a spec string, "
                f"got {type(reranker).__name__}"
            )
        fields: dict[str, Any] = {
            "model": label,
            "top_n": top_n,
            "keep_retrieval_score": keep_retrieval_score,
            "metadata_mode": mode,
            "score_threshold": None if score_threshold is None else float(score_threshold),
            "callback_manager": callback_manager or CallbackManager(),
        }
        super().__init__(**fields)
        self._reranker = instance

    @classmethod
    def class_name(cls) -> str:
        return "RankwiseRerank"

    @property
    def reranker(self) -> BaseReranker:
        """The wrapped rankwise reranker."""
        return self._reranker

    def _prepare(
        self, nodes: Sequence[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[str, list[str]]:
        if query_bundle is None:
            raise ValueError("query_bundle is required: RankwiseRerank needs the query to rerank")
        texts = [n.node.get_content(metadata_mode=self.metadata_mode) for n in nodes]
        return query_bundle.query_str, texts

    def _build(
        self, nodes: Sequence[NodeWithScore], results: Sequence[RerankResult]
    ) -> list[NodeWithScore]:
        out: list[NodeWithScore] = []
        for original, score in pair_results(nodes, results):
            if self.score_threshold is not None and score < self.score_threshold:
                continue
            extra = {"retrieval_score": original.score} if self.keep_retrieval_score else None
            out.append(NodeWithScore(node=copy_node(original.node, extra), score=score))
        return out

    def _start(self, query_bundle: QueryBundle, nodes: list[NodeWithScore]) -> dict[str, Any]:
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model
            )
        )
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query_bundle.query_str,
            EventPayload.TOP_K: self.top_n,
        }

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query, texts = self._prepare(nodes, query_bundle)
        if not nodes:
            return []
        assert query_bundle is not None
        payload = self._start(query_bundle, nodes)
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            results = self._reranker.rerank(query, texts, top_k=self.top_n)
            new_nodes = self._build(nodes, results)
            event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query, texts = self._prepare(nodes, query_bundle)
        if not nodes:
            return []
        assert query_bundle is not None
        payload = self._start(query_bundle, nodes)
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            results = await self._reranker.arerank(query, texts, top_k=self.top_n)
            new_nodes = self._build(nodes, results)
            event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes


__all__ = ["DEFAULT_TOP_N", "RankwiseRerank", "copy_node"]
