"""Hugging Face text-embeddings-inference (TEI) rerank servers over HTTP, with httpx.

A TEI server runs one cross-encoder (``--model-id BAAI/bge-reranker-base``, ...) and answers
``POST {url}/rerank`` with ``{query, texts, truncate, raw_scores}`` by a list of
``{index, score}``. Score convention: ``score`` is TEI's ``score``, unchanged: the model's
sigmoid probability by default, the raw logit with ``raw_scores=True``.

The same rules as the Cohere, Voyage and Jina backends apply (they share
:class:`~rankwise.rerankers._http.ApiReranker`): retries on 408/429/5xx, timeouts and dropped
connections under :class:`~rankwise.rerankers._retry.RetryPolicy`, ``Retry-After`` honoured,
no retry on other 4xx or malformed answers, strict validation of every reply, the API key
redacted from errors. TEI refuses requests with more texts than its
``--max-client-batch-size`` (32 unless the server was started otherwise), so longer lists are
split into requests of ``max_documents_per_request`` texts and merged into one ranking (the
scores of one model are comparable across requests).

An API key is optional (TEI's ``--api-key``): ``api_key=`` or ``$TEI_API_KEY`` is sent as a
bearer token when set.

TEI speaks plain JSON over HTTP like Jina's API, so :class:`TEIReranker` reuses
:class:`~rankwise.rerankers.jina.JinaReranker`'s httpx transport (clients, error
classification, closing) and replaces only the route, the request body and the parsing.
"""

from __future__ import annotations

import os
from typing import Any

from rankwise._optional import require
from rankwise.rerankers._http import ApiOptions, ApiReranker, MalformedResponse, scores_from_results
from rankwise.rerankers._retry import RetryPolicy
from rankwise.rerankers.jina import JinaReranker

__all__ = ["TEIReranker"]

#: TEI's default ``--max-client-batch-size``.
TEI_MAX_CLIENT_BATCH = 32

# ApiReranker insists on a key (the hosted APIs all need one); a TEI server usually has none.
_NO_KEY = "tei-without-api-key"


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"url must be the TEI server's base URL, got {url!r}")
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    return url.removesuffix("/rerank")


class TEIReranker(JinaReranker):
    """Rerank with a text-embeddings-inference server at ``url`` (``tei:<url>`` spec).

    Args:
        url: the server's base URL, e.g. ``"http://localhost:8080"`` (``/rerank`` is added).
        api_key: bearer token for a server started with ``--api-key`` (else ``$TEI_API_KEY``;
            none is needed otherwise).
        timeout, retry, max_concurrency: as for the other API rerankers.
        max_documents_per_request: texts per request (TEI's default client batch limit, 32).
        truncate: ask the server to cut inputs longer than the model's limit (TEI's own
            default refuses them with HTTP 413/422); default True, like the local
            cross-encoders.
        raw_scores: raw logits instead of sigmoid probabilities.
    """

    provider = "tei"
    env_var = "TEI_API_KEY"
    default_max_documents = TEI_MAX_CLIENT_BATCH

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_documents_per_request: int | None = None,
        max_concurrency: int = 4,
        truncate: bool = True,
        raw_scores: bool = False,
    ) -> None:
        httpx = require("httpx", "tei", feature="TEIReranker")
        base = _check_url(url)
        if api_key is not None and not isinstance(api_key, str):
            raise ValueError(f"api_key must be a string, got {type(api_key).__name__}")
        if not isinstance(truncate, bool):
            raise ValueError(f"truncate must be True or False, got {truncate!r}")
        if not isinstance(raw_scores, bool):
            raise ValueError(f"raw_scores must be True or False, got {raw_scores!r}")
        key = (api_key or os.environ.get(self.env_var) or "").strip()
        # Jina's constructor only adds its default URL and route, both replaced here
        ApiReranker.__init__(
            self, base, ApiOptions.pick(locals(), api_key=key or _NO_KEY, base_url=base)
        )
        self._httpx = httpx
        self._api_key = key
        self.truncate = truncate
        self.raw_scores = raw_scores
        self._url = f"{base}/rerank"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _payload(self, query: str, documents: list[str]) -> dict[str, Any]:
        return {
            "query": query,
            "texts": documents,
            "truncate": self.truncate,
            "raw_scores": self.raw_scores,
            "return_text": False,
        }

    def _parse(self, status: int, body: bytes, headers: Any, n: int) -> list[float]:
        """TEI answers a bare list of ``{index, score}`` (errors: ``{error, error_type}``)."""
        data = self._json_body(status, body, headers)
        if not isinstance(data, list):
            raise MalformedResponse("the response body is not a list of ranks", status)
        results = []
        for item in data:
            if not isinstance(item, dict):
                raise MalformedResponse(f"rank {item!r} is not an object", status)
            results.append({"index": item.get("index"), "relevance_score": item.get("score")})
        return scores_from_results(results, n)

    def __repr__(self) -> str:
        return f"TEIReranker(url={self.base_url!r}, timeout={self.timeout!r})"
