"""What the Cohere, Voyage and Jina rerankers share: keys, limits, splitting, validation.

A subclass implements one request (``_arequest``: documents in, one score per document out, in
input order, on the provider's async client) and ``_classify`` (provider exception ->
:class:`AttemptFailure`). This base adds the API key lookup, the deadline of each attempt, the
retry policy, splitting of large document lists into several requests (merged into one global
ranking by the absolute relevance scores), bounded concurrency for the async path, and strict
validation of every response.

Time limits:

* ``timeout`` is the deadline of **one attempt, end to end** (connect, headers and the whole
  body): the attempt is cancelled when it runs out, however the server paces its bytes
  (:mod:`rankwise.rerankers._deadline`). Sync calls run the same attempt on a private event
  loop, so they get the same deadline.
* The :class:`~rankwise.rerankers._retry.RetryPolicy` bounds the **whole call**: at most
  ``max_attempts`` attempts of at most ``timeout`` each, with waits between them of at most
  ``max_backoff`` (or a server's ``Retry-After``, capped at ``max_retry_after``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import math
import os
import weakref
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rankwise._checks import number_arg, positive_int
from rankwise.rerankers._deadline import DeadlineExceeded, run_sync, within
from rankwise.rerankers._retry import (
    AttemptFailure,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
    register_secret,
    run_with_retry,
    run_with_retry_async,
)
from rankwise.rerankers.base import BaseReranker

__all__ = [
    "ApiOptions",
    "ApiReranker",
    "MalformedResponse",
    "httpx_failure",
    "resolve_api_key",
    "scores_from_results",
]


class MalformedResponse(AttemptFailure):
    """A 2xx answer that cannot be trusted (never retried)."""

    def __init__(self, message: str, status: int | None = 200) -> None:
        super().__init__(status=status, message=f"malformed response: {message}")


def resolve_api_key(api_key: str | None, env_var: str, provider: str) -> str:
    """The key from the argument, else from ``env_var``; ValueError when neither is set."""
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError(f"api_key must be a string, got {type(api_key).__name__}")
    key = api_key or os.environ.get(env_var)
    if not key or not key.strip():
        raise ValueError(
            f"{provider} reranker needs an API key: pass api_key=... or set the {env_var} "
            "environment variable"
        )
    return key.strip()


def scores_from_results(results: Iterable[Any] | None, n_documents: int) -> list[float]:
    """Scores in input order from ``[{index, relevance_score}, ...]`` (dicts or objects).

    Every document must appear exactly once with a finite numeric score; anything else
    raises :class:`MalformedResponse` rather than returning a partial or misordered result.
    """
    if results is None:
        raise MalformedResponse("no results in the response body")
    scores: list[float | None] = [None] * n_documents
    count = 0
    for item in results:
        count += 1
        if isinstance(item, dict):
            index, score = item.get("index"), item.get("relevance_score")
        else:
            index = getattr(item, "index", None)
            score = getattr(item, "relevance_score", None)
        if isinstance(index, bool) or not isinstance(index, int):
            raise MalformedResponse(f"result index {index!r} is not an integer")
        if not 0 <= index < n_documents:
            raise MalformedResponse(
                f"result index {index} out of range for {n_documents} documents"
            )
        if scores[index] is not None:
            raise MalformedResponse(f"document {index} appears twice in the results")
        if (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not math.isfinite(score)
        ):
            raise MalformedResponse(
                f"relevance_score {score!r} of document {index} is not a number"
            )
        scores[index] = float(score)
    if count != n_documents:
        raise MalformedResponse(f"{count} results for {n_documents} documents")
    return [s for s in scores if s is not None]


def failure_from_status(status: int | None, message: str, headers: Any = None) -> AttemptFailure:
    """Classify an HTTP failure; reads ``Retry-After`` from ``headers`` when present."""
    retry_after = None
    if headers is not None:
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            value = None
        retry_after = parse_retry_after(value) if isinstance(value, str) else None
    return AttemptFailure(
        status=status,
        message=message,
        retry_after=retry_after,
        retryable=is_retryable_status(status),
    )


def httpx_failure(exc: BaseException) -> AttemptFailure | None:
    """Timeouts and connection errors of httpx (which the Cohere SDK, Jina and TEI sit on) as
    retryable failures; ``None`` for anything else."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - every httpx-based backend depends on it
        return None
    if isinstance(exc, httpx.TimeoutException):
        return AttemptFailure(None, f"request timed out ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return AttemptFailure(None, f"connection error ({type(exc).__name__})", retryable=True)
    return None


def message_from_body(body: Any) -> str:
    """The provider's own error message out of a decoded (or raw) error body, uncut.

    Never cut here: the message may echo the API key, and it must be redacted whole before it
    is shortened (:func:`~rankwise.rerankers._retry.excerpt` does both, in that order).
    """
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                inner = value.get("message")
                if isinstance(inner, str):
                    return inner
        return str(body)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "").strip()
    return text if text else "(empty body)"


@dataclasses.dataclass(frozen=True)
class ApiOptions:
    """The settings every API reranker takes, in one place (checked by :class:`ApiReranker`).

    Each provider's constructor keeps them in its own explicit signature (typed, documented,
    completed by IDEs, with these defaults; a test holds every signature to this class) and
    hands them on in one line: ``ApiOptions.pick(locals())``.

    Attributes:
        api_key: the provider's key (``None``: its environment variable).
        base_url: the API root (``None``: the provider's endpoint).
        timeout: deadline of one attempt, end to end, in seconds.
        retry: the retry policy of the whole call (``None``: ``RetryPolicy()``).
        max_documents_per_request: documents per request (``None``: the provider's limit).
        max_concurrency: requests in flight at once on the async path.
    """

    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 30.0
    retry: RetryPolicy | None = None
    max_documents_per_request: int | None = None
    max_concurrency: int = 4

    @classmethod
    def pick(cls, arguments: Mapping[str, Any], **overrides: Any) -> ApiOptions:
        """The options out of a constructor's ``locals()``, with ``overrides`` replacing some."""
        chosen = {f.name: arguments[f.name] for f in dataclasses.fields(cls) if f.name in arguments}
        return cls(**{**chosen, **overrides})


class ApiReranker(BaseReranker):
    """Base of the HTTP API rerankers. ``score`` is the provider's ``relevance_score``.

    ``timeout`` (seconds) is the deadline of one attempt end to end: connect, headers and the
    whole body, however slowly the server sends them. ``retry`` bounds the whole call (see
    :class:`~rankwise.rerankers._retry.RetryPolicy`). Error messages are redacted of the API
    key before they are cut to length, and the SDKs' loggers are redacted too.
    """

    provider: str = "api"
    env_var: str = ""
    default_max_documents: int = 1000

    def __init__(self, model: str, options: ApiOptions | None = None) -> None:
        options = options or ApiOptions()
        timeout = options.timeout
        max_documents_per_request = options.max_documents_per_request
        max_concurrency = options.max_concurrency
        if not isinstance(model, str) or not model.strip():
            raise ValueError("model must be a non-empty string")
        number_arg(timeout, "timeout", minimum=0.0, exclusive_minimum=True)
        limit = (
            self.default_max_documents
            if max_documents_per_request is None
            else max_documents_per_request
        )
        positive_int(limit, "max_documents_per_request")
        positive_int(max_concurrency, "max_concurrency")
        self.model = model
        self._api_key = resolve_api_key(options.api_key, self.env_var, self.provider)
        register_secret(self._api_key)
        self.base_url = options.base_url
        self.timeout = float(timeout)
        self.retry = options.retry or RetryPolicy()
        self.max_documents_per_request = limit
        self.max_concurrency = max_concurrency
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r}, "
            f"timeout={self.timeout!r})"
        )

    def _async_client(self) -> Any:
        """The provider's async client for the running event loop (made on first use per
        loop: HTTP connection pools cannot be shared between event loops; sync calls all run
        on one private loop, so they share one client)."""
        loop = asyncio.get_running_loop()
        clients = self._aclients
        client = clients.get(loop)
        if client is None:
            client = clients[loop] = self._make_async_client()
        return client

    def _make_async_client(self) -> Any:
        raise NotImplementedError

    # closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool of the sync calls (the async ones: :meth:`aclose`).

        The reranker stays usable: a later call opens a new pool.
        """
        run_sync(self.aclose())

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop."""
        clients = getattr(self, "_aclients", None)
        client = None if clients is None else clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await self._close_client(client)

    async def _close_client(self, client: Any) -> None:
        """Release one async client (provider hook): its ``aclose()``, else its ``close()``;
        an SDK client that keeps no connections has neither."""
        aclose = getattr(client, "aclose", None)
        if callable(aclose):
            await aclose()
            return
        close = getattr(client, "close", None)
        if callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result

    # provider hooks --------------------------------------------------------------------
    @abstractmethod
    async def _arequest(self, query: str, documents: list[str]) -> list[float]:
        """One API call on the provider's async client; one score per document in input
        order. Sync calls run it too (on a private loop), under the same deadline."""

    @abstractmethod
    def _classify(self, exc: BaseException) -> AttemptFailure | None:
        """Map a provider/transport exception to a failure; None re-raises it unchanged."""

    # scoring ---------------------------------------------------------------------------
    def _chunks(self, documents: Sequence[str]) -> list[list[str]]:
        size = self.max_documents_per_request
        return [list(documents[i : i + size]) for i in range(0, len(documents), size)]

    async def _attempt(self, query: str, documents: list[str]) -> list[float]:
        """One attempt, cancelled ``timeout`` seconds after it began (a retryable timeout)."""
        try:
            scores = await within(self._arequest(query, documents), self.timeout)
        except DeadlineExceeded as exc:
            raise AttemptFailure(None, str(exc), retryable=True) from None
        return self._checked(scores, len(documents))

    def _score(self, query: str, documents: list[str]) -> list[float]:
        scores: list[float] = []
        for chunk in self._chunks(documents):

            def call(chunk: list[str] = chunk) -> list[float]:
                return run_sync(self._attempt(query, chunk))

            scores.extend(
                run_with_retry(
                    self.provider, call, self._classify, self.retry, secret=self._api_key
                )
            )
        return scores

    async def _ascore(self, query: str, documents: list[str]) -> list[float]:
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def one(chunk: list[str]) -> list[float]:
            async def call() -> list[float]:
                return await self._attempt(query, chunk)

            async with semaphore:
                return await run_with_retry_async(
                    self.provider, call, self._classify, self.retry, secret=self._api_key
                )

        parts = await asyncio.gather(*(one(c) for c in self._chunks(documents)))
        return [s for part in parts for s in part]

    @staticmethod
    def _checked(scores: list[float], n: int) -> list[float]:
        if len(scores) != n:
            raise MalformedResponse(f"{len(scores)} scores for {n} documents")
        return scores
