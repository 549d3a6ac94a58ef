"""Rerankers: one interface over local cross-encoders, BGE, Cohere, Voyage and Jina.

Every backend is a :class:`BaseReranker`: ``reranker(query, documents, top_k=None)`` returns
``list[RerankResult(text, score, index)]`` best first (``index`` = input position), as
pymilvus-model's rerank functions do; ``arerank`` is the async twin and ``rerank_many``
handles several queries.

Score conventions (``score`` field):

- :class:`CrossEncoderReranker`: the raw logit (``activation="sigmoid"`` for a probability).
- :class:`LLMReranker`: the raw log-odds ``logit(yes) - logit(no)`` (``logit(yes)`` for
  single-token families); ``activation="sigmoid"`` for the official probability.
- :class:`BGEReranker`: FlagEmbedding's ``compute_score``: sigmoid-normalised by default
  (``normalize=True``), raw logit with ``normalize=False``.
- :class:`CohereReranker`, :class:`VoyageReranker`, :class:`JinaReranker`: the provider's
  ``relevance_score``.

Classes load lazily: importing this package imports no torch, transformers, SDK or httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.errors import RerankError

if TYPE_CHECKING:
    from rankwise.rerankers._retry import RetryPolicy
    from rankwise.rerankers.bge import BGEReranker
    from rankwise.rerankers.cohere import CohereReranker
    from rankwise.rerankers.cross_encoder import CrossEncoderReranker
    from rankwise.rerankers.embedding import EmbeddingReranker
    from rankwise.rerankers.jina import JinaReranker
    from rankwise.rerankers.llm import LLMReranker
    from rankwise.rerankers.tei import TEIReranker
    from rankwise.rerankers.voyage import VoyageReranker

_LAZY = {
    "CrossEncoderReranker": "rankwise.rerankers.cross_encoder",
    "BGEReranker": "rankwise.rerankers.bge",
    "CohereReranker": "rankwise.rerankers.cohere",
    "VoyageReranker": "rankwise.rerankers.voyage",
    "JinaReranker": "rankwise.rerankers.jina",
    "EmbeddingReranker": "rankwise.rerankers.embedding",
    "LLMReranker": "rankwise.rerankers.llm",
    "RetryPolicy": "rankwise.rerankers._retry",
    "TEIReranker": "rankwise.rerankers.tei",
}

#: Spec prefix -> (module, class name).
_SPECS = {
    "cross-encoder": ("rankwise.rerankers.cross_encoder", "CrossEncoderReranker"),
    "bge": ("rankwise.rerankers.bge", "BGEReranker"),
    "cohere": ("rankwise.rerankers.cohere", "CohereReranker"),
    "voyage": ("rankwise.rerankers.voyage", "VoyageReranker"),
    "jina": ("rankwise.rerankers.jina", "JinaReranker"),
    "embedding": ("rankwise.rerankers.embedding", "EmbeddingReranker"),
    "tei": ("rankwise.rerankers.tei", "TEIReranker"),
    "llm": ("rankwise.rerankers.llm", "LLMReranker"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rankwise.rerankers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load(spec: str, **kwargs: Any) -> BaseReranker:
    """Build a reranker from a ``"<kind>:<model>"`` spec (for config files and the CLI).

    Kinds: ``cross-encoder:<name-or-path>``, ``bge:<name-or-path>``, ``cohere:<model>``,
    ``voyage:<model>``, ``jina:<model>``, ``embedding:<name-or-path>``, ``llm:<name-or-path>``
    (decoder-only rerankers such as Qwen3-Reranker), ``tei:<url>`` (a text-embeddings-inference
    server, e.g. ``tei:http://localhost:8080``). Keyword arguments go
    to the backend's constructor. An empty model part uses the backend's default model.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(
            f"spec must look like '<kind>:<model>' with kind one of {sorted(_SPECS)}, got {spec!r}"
        )
    kind, _, model = spec.partition(":")
    kind = kind.strip().lower()
    model = model.strip()
    if kind not in _SPECS:
        raise ValueError(
            f"unknown reranker kind {kind!r} in spec {spec!r}; known: {sorted(_SPECS)}"
        )
    module_name, class_name = _SPECS[kind]
    cls = getattr(importlib.import_module(module_name), class_name)
    reranker: BaseReranker = cls(model, **kwargs) if model else cls(**kwargs)
    return reranker


__all__ = [
    "BGEReranker",
    "BaseReranker",
    "CohereReranker",
    "CrossEncoderReranker",
    "EmbeddingReranker",
    "JinaReranker",
    "LLMReranker",
    "RerankError",
    "RetryPolicy",
    "TEIReranker",
    "VoyageReranker",
    "load",
]
