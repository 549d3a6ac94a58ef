"""Voyage AI reranking through the official SDK (``voyageai.AsyncClient``).

Every attempt, sync or async, runs on the SDK's async client under rankwise's deadline:
``timeout`` bounds one whole attempt (connect, headers and body); the SDK's sync client
(``requests``) could only bound each socket read (see :mod:`rankwise.rerankers._http`). Each
attempt gets its own ``aiohttp`` session (as the SDK makes by default) whose response headers
rankwise keeps, so a ``Retry-After`` is honoured even when the SDK drops the headers (a 429
whose body has no ``detail``).

Score convention: ``score`` is Voyage's ``relevance_score``, unchanged. The SDK's own retries
are off (``max_retries=0``); rankwise's retry policy is the only one. Voyage accepts at most
1,000 documents per request; longer lists are split and merged into one global ranking.
``base_url`` is the API root including ``/v1`` (the SDK posts to ``{base_url}/rerank``).
"""

from __future__ import annotations

from typing import Any

from rankwise._optional import require
from rankwise.rerankers._http import (
    ApiOptions,
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
        super().__init__(model, ApiOptions.pick(locals()))
        self.truncation = bool(truncation)
        kwargs: dict[str, Any] = {"max_retries": 0, "timeout": self.timeout}
        if base_url is not None:
            kwargs["base_url"] = base_url.rstrip("/")
        self._client_kwargs = kwargs
        self._voyageai = voyageai
        self._errors = voyageai.error

    def _parse(self, call: Any, n: int) -> list[float]:
        return scores_from_results(getattr(call, "results", None), n)

    async def _arequest(self, query: str, documents: list[str]) -> list[float]:
        import aiohttp

        seen: dict[str, Any] = {}

        async def keep_headers(session: Any, context: Any, params: Any) -> None:
            seen["headers"] = params.response.headers

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(keep_headers)
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            token = self._voyageai.aiosession.set(session)
            try:
                response = await self._async_client().rerank(
                    query, documents, self.model, top_k=len(documents), truncation=self.truncation
                )
            except self._errors.VoyageError as exc:
                if not getattr(exc, "headers", None) and "headers" in seen:
                    exc.headers = seen["headers"]  # the SDK drops them for some error bodies
                raise
            except (IndexError, KeyError, AttributeError, TypeError) as exc:
                # the SDK indexes documents by the returned indices before we can check them
                raise MalformedResponse(f"the SDK could not read the response ({exc!r})") from None
            finally:
                self._voyageai.aiosession.reset(token)
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
            return MalformedResponse(f"undecodable body: {message}", status)
        return failure_from_status(status, message, getattr(exc, "headers", None))
