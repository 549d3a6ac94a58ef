"""Jina AI reranking over HTTP (``POST {base_url}/v1/rerank``) with httpx.

Score convention: ``score`` is Jina's ``relevance_score``, unchanged. Every attempt, sync or
async, runs on an ``httpx.AsyncClient`` under rankwise's deadline: ``timeout`` bounds one whole
attempt (connect, headers and body), where httpx's own timeout bounds each read only (see
:mod:`rankwise.rerankers._http`). The request is
``{model, query, documents, top_n, return_documents: false}``; the answer's
``results[].{index, relevance_score}`` is validated strictly. Requests carry at most
``max_documents_per_request`` documents (default 1,000, configurable); longer lists are split
and merged into one global ranking.
"""

from __future__ import annotations

import json
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

__all__ = ["JinaReranker"]

DEFAULT_BASE_URL = "https://api.jina.ai"


class _HttpStatusError(Exception):
    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers


class JinaReranker(ApiReranker):
    """Rerank with Jina AI (``jina-reranker-v2-base-multilingual`` by default).

    ``api_key`` defaults to ``$JINA_API_KEY``; ``base_url`` to ``https://api.jina.ai``.
    """

    provider = "jina"
    env_var = "JINA_API_KEY"
    default_max_documents = 1000

    def __init__(
        self,
        model: str = "jina-reranker-v2-base-multilingual",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_documents_per_request: int | None = None,
        max_concurrency: int = 4,
    ) -> None:
        httpx = require("httpx", "jina", feature="JinaReranker")
        super().__init__(model, ApiOptions.pick(locals(), base_url=base_url or DEFAULT_BASE_URL))
        self._httpx = httpx
        self._url = f"{(self.base_url or DEFAULT_BASE_URL).rstrip('/')}/v1/rerank"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _payload(self, query: str, documents: list[str]) -> dict[str, Any]:
        return {
            "model": self.model,
            "query": query,
            "documents": documents,
            "top_n": len(documents),
            "return_documents": False,
        }

    @staticmethod
    def _json_body(status: int, body: bytes, headers: Any) -> Any:
        """The decoded body of a 2xx answer; an HTTP error status or a body that is not JSON
        raises (the body whole: it is cut after redaction, by the retry layer)."""
        if not 200 <= status < 300:
            raise _HttpStatusError(status, body, headers)
        try:
            return json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace")
            raise MalformedResponse(f"body is not JSON: {text!r}", status) from None

    def _parse(self, status: int, body: bytes, headers: Any, n: int) -> list[float]:
        data = self._json_body(status, body, headers)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise MalformedResponse("no 'results' list in the response body", status)
        return scores_from_results(data["results"], n)

    async def _arequest(self, query: str, documents: list[str]) -> list[float]:
        response = await self._async_client().post(
            self._url, json=self._payload(query, documents), headers=self._headers()
        )
        return self._parse(response.status_code, response.content, response.headers, len(documents))

    def _classify(self, exc: BaseException) -> AttemptFailure | None:
        if isinstance(exc, _HttpStatusError):
            try:
                body: Any = json.loads(exc.body)
            except ValueError:
                body = exc.body
            return failure_from_status(exc.status, message_from_body(body), exc.headers)
        return httpx_failure(exc)

    def _make_async_client(self) -> Any:
        return self._httpx.AsyncClient(timeout=self.timeout)
