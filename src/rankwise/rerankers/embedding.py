"""Embedding-similarity reranker: cosine similarity of bi-encoder embeddings.

This is a *bi-encoder*, not a cross-encoder: the query and each document are embedded
separately and scored by cosine similarity. It is cheap (and free for documents already
embedded for dense retrieval, thanks to the shared embedding cache) and runs offline with the
bundled all-MiniLM-L6-v2, but it judges relevance less finely than a cross-encoder
(``cross-encoder:<model>``), which reads query and document together.

Spec for :func:`rankwise.rerankers.load`: ``"embedding:<name-or-path>"``; ``"embedding:"`` or
``"embedding:default"`` is the bundled all-MiniLM-L6-v2.

Scores are cosine similarities in ``[-1, 1]``.
"""

from __future__ import annotations

import os

import numpy as np

from rankwise._deprecation import renamed_argument
from rankwise.embeddings import SentenceEmbedder, shared_embedder
from rankwise.rerankers.base import BaseReranker


class EmbeddingReranker(BaseReranker):
    """Rerank by cosine similarity of sentence embeddings (a bi-encoder).

    Args:
        model_name: the embedding model (local folder or id); ``None`` or
            ``"default"`` = the bundled all-MiniLM-L6-v2 (or ``$RANKWISE_EMBEDDING_MODEL``).
            ``model_name_or_path=`` is its deprecated name.
        embedder: use this :class:`SentenceEmbedder` instead (shares its cache).
        device: torch device for a model this reranker loads itself.
        batch_size, max_length: passed to a model this reranker loads itself; when both are
            left unset the process-wide shared embedder of the model is used, so documents
            embedded for dense retrieval are not embedded again.
    """

    def __init__(
        self,
        model_name: str | os.PathLike[str] | None = None,
        *,
        embedder: SentenceEmbedder | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
        model_name_or_path: str | os.PathLike[str] | None = None,
    ) -> None:
        model_name = renamed_argument(
            "EmbeddingReranker",
            "model_name_or_path",
            "model_name",
            model_name_or_path,
            model_name,
            None,
        )
        if embedder is not None and model_name is not None:
            raise ValueError("model_name: give either a model or an embedder, not both")
        if embedder is None:
            name = None if model_name in (None, "") else model_name
            if batch_size is None and max_length is None:
                embedder = shared_embedder(name, device=device)
            else:
                embedder = SentenceEmbedder(
                    name, device=device, batch_size=batch_size or 32, max_length=max_length
                )
        self.embedder = embedder

    @property
    def name(self) -> str:
        return f"embedding:{self.embedder.name}"

    def _score(self, query: str, documents: list[str]) -> list[float]:
        q = self.embedder.encode([query])[0]
        d = self.embedder.encode(documents)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        norms = np.linalg.norm(d, axis=1)
        norms[norms == 0] = 1.0
        return [float(s) for s in (d @ q) / norms]


__all__ = ["EmbeddingReranker"]
