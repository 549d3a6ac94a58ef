"""Cohere Rerank through the official SDK (``cohere.AsyncClientV2``).

Every attempt, sync or async, runs on the SDK's async client under rankwise's deadline:
``timeout`` bounds one whole attempt (connect, headers and body), where the SDK's own timeout
bounds each socket read only (see :mod:`rankwise.rerankers._http`).

Score convention: ``score`` is Cohere's ``relevance_score`` (in [0, 1], comparable across
requests), unchanged. The SDK's own retries are off (``max_retries=0``); rankwise's
:class:`~rankwise.rerankers._retry.RetryPolicy` is the only retry layer. Cohere accepts at most
1,000 documents per request; longer lists are split and merged into one global ranking.
"""

from __future__ import annotations

import importlib
from typing import Any

from rankwise._optional import require
from rankwise.rerankers._http import (
    ApiOptions,
    ApiReranker,
    MalformedResponse,
    failure_from_status,
    httpx_failure,
    message_from_body,
    scores_from_results,
)
from rankwise.rerankers._retry import AttemptFailure, RetryPolicy

__all__ = ["CohereReranker"]


class CohereReranker(ApiReranker):
    """Rerank with Cohere (``rerank-v3.5`` by default).

    ``api_key`` defaults to ``$COHERE_API_KEY``; ``base_url`` to Cohere's endpoint.
    ``max_tokens_per_doc`` is passed through when given.
    """

    provider = "cohere"
    env_var = "COHERE_API_KEY"
    default_max_documents = 1000

    def __init__(
        self,
        model: str = "rerank-v3.5",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_documents_per_request: int | None = None,
        max_concurrency: int = 4,
        max_tokens_per_doc: int | None = None,
    ) -> None:
        cohere = require("cohere", "cohere", feature="CohereReranker")
        super().__init__(model, ApiOptions.pick(locals()))
        self.max_tokens_per_doc = max_tokens_per_doc
        kwargs: dict[str, Any] = {"timeout": self.timeout, "max_retries": 0}
        if base_url is not None:
            kwargs["base_url"] = base_url.rstrip("/")
        self._client_kwargs = kwargs
        self._cohere = cohere
        api_error = importlib.import_module("cohere.core.api_error")
        self._api_error: type[BaseException] = api_error.ApiError

    def _kwargs(self, query: str, documents: list[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": documents,
            "top_n": len(documents),
        }
        if self.max_tokens_per_doc is not None:
            kwargs["max_tokens_per_doc"] = self.max_tokens_per_doc
        return kwargs

    def _parse(self, response: Any, n: int) -> list[float]:
        results = getattr(response, "results", None)
        if results is None:
            raise MalformedResponse("no 'results' in the response body")
        return scores_from_results(results, n)

    async def _arequest(self, query: str, documents: list[str]) -> list[float]:
        response = await self._async_client().rerank(**self._kwargs(query, documents))
        return self._parse(response, len(documents))

    def _make_async_client(self) -> Any:
        return self._cohere.AsyncClientV2(api_key=self._api_key, **self._client_kwargs)

    async def _close_client(self, client: Any) -> None:
        # AsyncClientV2 has no close(); its connection pool is the httpx(-compatible) client
        # the SDK made, two wrappers down.
        wrapper = getattr(getattr(client, "_client_wrapper", None), "httpx_client", None)
        await super()._close_client(getattr(wrapper, "httpx_client", None))

    def _classify(self, exc: BaseException) -> AttemptFailure | None:
        if isinstance(exc, self._api_error):
            status = getattr(exc, "status_code", None)
            body = getattr(exc, "body", None)
            if status is not None and 200 <= status < 300:
                return MalformedResponse(f"undecodable body: {message_from_body(body)}", status)
            return failure_from_status(
                status, message_from_body(body), getattr(exc, "headers", None)
            )
        if _is_validation_error(exc):
            return MalformedResponse(f"response does not match the schema ({type(exc).__name__})")
        return httpx_failure(exc)


def _is_validation_error(exc: BaseException) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, pydantic.ValidationError)
