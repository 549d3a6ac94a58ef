"""Voyage AI reranking through the official SDK (``voyageai.Client`` / ``AsyncClient``).

Score convention: ``score`` is Voyage's ``relevance_score``, unchanged. The SDK's own retries
are off (``max_retries=0``); rankwise's retry policy is the only one. Voyage accepts at most
1,000 documents per request; longer lists are split and merged into one global ranking.
``base_url`` is the API root including ``/v1`` (the SDK posts to ``{base_url}/rerank``).
"""

from __future__ import annotations

from typing import Any

from rankwise._optional import require
from rankwise.rerankers._http import (
    ApiReranker,
    MalformedResponse,
    failure_from_status,
    message_from_body,
    scores_from_results,
)
from rankwise.rerankers._retry import AttemptFailure, RetryPolicy

__all__ = ["VoyageReranker"]


class VoyageReranker(ApiReranker):
    """Rerank with Voyage AI (``rerank-2.5`` by default).

    ``api_key`` defaults to ``$VOYAGE_API_KEY``. ``truncation=True`` lets Voyage cut
    over-long inputs (its default); ``False`` makes such requests fail instead.
    """

    provider = "voyage"
    env_var = "VOYAGE_API_KEY"
    default_max_documents = 1000

    def __init__(
        self,
        model: str = "rerank-2.5",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_documents_per_request: int | None = None,
        max_concurrency: int = 4,
        truncation: bool = True,
    ) -> None:
        voyageai = require("voyageai", "voyage", feature="VoyageReranker")
        super().__init__(
            model,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            max_documents_per_request=max_documents_per_request,
            max_concurrency=max_concurrency,
        )
        self.truncation = bool(truncation)
        kwargs: dict[str, Any] = {"max_retries": 0, "timeout": self.timeout}
        if base_url is not None:
            kwargs["base_url"] = base_url.rstrip("/")
        self._client = voyageai.Client(api_key=self._api_key, **kwargs)
        self._client_kwargs = kwargs
        self._voyageai = voyageai
        self._errors = voyageai.error

    def _parse(self, call: Any, n: int) -> list[float]:
        return scores_from_results(getattr(call, "results", None), n)

    def _request(self, query: str, documents: list[str]) -> list[float]:
        try:
            response = self._client.rerank(
                query, documents, self.model, top_k=len(documents), truncation=self.truncation
            )
        except (IndexError, KeyError, AttributeError, TypeError) as exc:
            # the SDK indexes documents by the returned indices before we can check them
            raise MalformedResponse(f"the SDK could not read the response ({exc!r})") from None
        return self._parse(response, len(documents))

    async def _arequest(self, query: str, documents: list[str]) -> list[float]:
        try:
            response = await self._async_client().rerank(
                query, documents, self.model, top_k=len(documents), truncation=self.truncation
            )
        except (IndexError, KeyError, AttributeError, TypeError) as exc:
            raise MalformedResponse(f"the SDK could not read the response ({exc!r})") from None
        return self._parse(response, len(documents))

    def _make_async_client(self) -> Any:
        return self._voyageai.AsyncClient(api_key=self._api_key, **self._client_kwargs)

    def _classify(self, exc: BaseException) -> AttemptFailure | None:
        errors = self._errors
        if not isinstance(exc, errors.VoyageError):
            return None
        if isinstance(exc, errors.Timeout):
            return AttemptFailure(None, f"request timed out: {exc}", retryable=True)
        status = getattr(exc, "http_status", None)
        if isinstance(exc, errors.APIConnectionError) and status is None:
            return AttemptFailure(None, f"connection error: {exc}", retryable=True)
        body = getattr(exc, "json_body", None) or getattr(exc, "http_body", None)
        message = message_from_body(body) if body else str(exc)
        if status is not None and 200 <= status < 300:
            return MalformedResponse(f"undecodable body: {message[:200]}", status)
        return failure_from_status(status, message, getattr(exc, "headers", None))
