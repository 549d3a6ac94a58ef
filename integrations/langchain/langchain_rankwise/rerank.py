"""``RankwiseRerank``: any rankwise reranker as a LangChain document compressor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from rankwise._checks import optional_int
from rankwise.rerankers.base import BaseReranker, pair_results
from rankwise.types import RerankResult


class RankwiseRerank(BaseDocumentCompressor):
    """Rerank retrieved documents with a rankwise reranker (local model or rerank API).

    Returns copies of the input documents, best first, that keep ``id`` and all metadata and
    add the reranker's score as ``metadata["relevance_score"]``.

    Example:
        ```python
        from langchain_rankwise import RankwiseRerank

        compressor = RankwiseRerank(reranker="cross-encoder:cross-encoder/ms-marco-MiniLM-L6-v2")
        best = compressor.compress_documents(docs, "what is bm25?")
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    reranker: BaseReranker
    """The rankwise reranker. A spec string such as ``"cohere:rerank-v3.5"`` or
    ``"cross-encoder:<name-or-path>"`` is loaded with ``rankwise.rerankers.load``."""

    top_n: int | None = 3
    """How many documents to return; ``None`` returns all of them, reranked."""

    score_threshold: float | None = None
    """If set, documents whose relevance score is below it are dropped."""

    reranker_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for ``rankwise.rerankers.load`` when ``reranker`` is a spec string
    (e.g. ``batch_size``, ``device``, ``base_url``)."""

    api_key: SecretStr | None = None
    """API key for an API reranker given as a spec string. When unset, the backend reads its
    provider's environment variable (e.g. ``COHERE_API_KEY``)."""

    if TYPE_CHECKING:
        # What callers may pass (validators turn a spec string into a reranker and a str
        # into a SecretStr); the fields above are what the model holds.
        def __init__(
            self,
            *,
            reranker: BaseReranker | str,
            top_n: int | None = 3,
            score_threshold: float | None = None,
            reranker_kwargs: dict[str, Any] | None = None,
            api_key: SecretStr | str | None = None,
        ) -> None: ...

    @model_validator(mode="before")
    @classmethod
    def _load_spec(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if not isinstance(data.get("reranker"), str):
            extras = [key for key in ("reranker_kwargs", "api_key") if data.get(key)]
            if extras and data.get("reranker") is not None:
                raise ValueError(
                    f"{' and '.join(extras)} only apply when reranker is a spec string; "
                    "configure the reranker instance directly instead"
                )
            return data
        data = dict(data)
        data["reranker"] = _load_reranker(
            data["reranker"], data.get("reranker_kwargs"), data.get("api_key")
        )
        return data

    @field_validator("reranker_kwargs", mode="before")
    @classmethod
    def _none_kwargs(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("top_n", mode="before")
    @classmethod
    def _check_top_n(cls, value: object) -> int | None:
        return optional_int(value, "top_n")

    def _select(self, documents: Sequence[Document], results: list[RerankResult]) -> list[Document]:
        out = []
        for doc, score in pair_results(documents, results):
            if self.score_threshold is not None and score < self.score_threshold:
                continue
            out.append(
                doc.model_copy(update={"metadata": {**doc.metadata, "relevance_score": score}})
            )
        return out

    def rerank_documents(
        self, documents: Sequence[Document], query: str, top_n: int | None = None
    ) -> list[Document]:
        """Rerank ``documents`` keeping at most ``top_n`` (None: all) above ``score_threshold``.

        :meth:`compress_documents` with the compressor's own ``top_n``; composite retrievers
        (:class:`~langchain_rankwise.RankwiseHybridRetriever`) call it with theirs.
        """
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        return self._select(documents, self.reranker.rerank(query, texts, top_k=top_n))

    async def arerank_documents(
        self, documents: Sequence[Document], query: str, top_n: int | None = None
    ) -> list[Document]:
        """Async twin of :meth:`rerank_documents`."""
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        return self._select(documents, await self.reranker.arerank(query, texts, top_k=top_n))

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Rerank ``documents`` for ``query``; best first, at most ``top_n`` of them."""
        return self.rerank_documents(documents, query, self.top_n)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async twin of :meth:`compress_documents`, on the reranker's async path."""
        return await self.arerank_documents(documents, query, self.top_n)


def _load_reranker(spec: str, kwargs: Any, api_key: Any) -> BaseReranker:
    from rankwise.rerankers import load

    kw: dict[str, Any] = dict(kwargs or {})
    if api_key is not None:
        kw["api_key"] = (
            api_key.get_secret_value() if isinstance(api_key, SecretStr) else str(api_key)
        )
    return load(spec, **kw)


__all__ = ["RankwiseRerank"]
