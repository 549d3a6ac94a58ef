"""One retry policy for every API reranker: exponential backoff with jitter, Retry-After.

Retried: HTTP 408, 429 and 5xx, timeouts and connection errors (status ``None``). Not
retried: any other 4xx and malformed responses. A ``Retry-After`` header (seconds or an HTTP
date) replaces the computed backoff for that wait, capped at ``max_retry_after``. After the
last attempt a :class:`~rankwise.rerankers.errors.RerankError` names the provider, the HTTP
status, the attempts made and the provider's message, with the API key redacted.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from rankwise._checks import number_arg, positive_int
from rankwise.rerankers.errors import RerankError

__all__ = [
    "AttemptFailure",
    "RetryPolicy",
    "excerpt",
    "is_retryable_status",
    "parse_retry_after",
    "redact",
    "register_secret",
    "run_with_retry",
    "run_with_retry_async",
]

logger = logging.getLogger("rankwise.rerankers")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed API call.

    ``max_attempts`` counts the first try (1 = never retry). The n-th retry waits
    ``min(max_backoff, initial_backoff * multiplier**(n-1))`` scaled by a random factor in
    ``[1 - jitter, 1 + jitter]``, unless the server sent ``Retry-After``.

    The policy bounds a whole call: each attempt ends at the reranker's ``timeout`` (a deadline
    for the attempt end to end, not per read), so a call lasts at most ``max_attempts *
    timeout`` plus ``max_attempts - 1`` waits of at most ``max(max_backoff * (1 + jitter),
    max_retry_after)`` each (per request; long document lists are split into several).
    """

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        positive_int(self.max_attempts, "max_attempts")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            number_arg(getattr(self, name), name, minimum=0.0)
        number_arg(self.multiplier, "multiplier", minimum=1.0)
        number_arg(self.jitter, "jitter", minimum=0.0, maximum=1.0)

    def delay(
        self, retry_number: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry_number - 1))
        factor = 1.0 + self.jitter * (2.0 * (rng or random).random() - 1.0)
        return max(0.0, base * factor)


@dataclass
class AttemptFailure(Exception):  # noqa: N818 - a classified failure, not raised to users
    """One failed attempt, classified: HTTP status (None: timeout/connection), message."""

    status: int | None
    message: str
    retry_after: float | None = None
    retryable: bool = False

    def __str__(self) -> str:
        return self.message


def is_retryable_status(status: int | None) -> bool:
    """429, 408, 5xx and no status at all (timeouts, connection errors) are worth retrying."""
    return status is None or status in (408, 429) or 500 <= status <= 599


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header value (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


#: Longest provider message a :class:`RerankError` carries (cut *after* redaction).
MAX_MESSAGE_CHARS = 500


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` (also as JSON/repr escaped it).

    Always redact the whole text before cutting it: cutting first could leave a prefix of the
    key that no longer matches it (see :func:`excerpt`).
    """
    if secret:
        for form in dict.fromkeys((secret, json.dumps(secret)[1:-1], repr(secret)[1:-1])):
            if form:
                text = text.replace(form, "***")
    return text


def excerpt(text: str | bytes, secret: str | None, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` redacted, *then* cut to ``limit`` characters (bytes decoded leniently first)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = redact(text, secret)
    return text if len(text) <= limit else text[:limit] + "..."


#: Loggers that may print a provider's answer (the SDKs' own, httpx's, ours).
_SDK_LOGGERS = ("voyage", "cohere", "cohere.client", "fern", "httpx", "rankwise.rerankers")
_secrets: set[str] = set()


class _RedactingFilter(logging.Filter):
    """Redacts every registered API key from a log record before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            redacted = message
            for secret in sorted(_secrets, key=len, reverse=True):
                redacted = redact(redacted, secret)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


_filter = _RedactingFilter()


def register_secret(secret: str) -> None:
    """Redact ``secret`` from the SDK loggers' records too (e.g. Voyage logs error bodies)."""
    if secret:
        _secrets.add(secret)
        for name in _SDK_LOGGERS:
            target = logging.getLogger(name)
            if _filter not in target.filters:
                target.addFilter(_filter)


def _final_error(
    provider: str, failure: AttemptFailure, attempts: int, secret: str | None
) -> RerankError:
    return RerankError(
        provider, excerpt(failure.message, secret), status=failure.status, attempts=attempts
    )


def _wait_or_fail(
    provider: str, failure: AttemptFailure, attempt: int, policy: RetryPolicy, secret: str | None
) -> float:
    """Seconds to wait before the next attempt, or the final :class:`RerankError` raised."""
    if not failure.retryable or attempt >= policy.max_attempts:
        raise _final_error(provider, failure, attempt, secret)
    wait = policy.delay(attempt, failure.retry_after)
    logger.warning(
        "%s rerank attempt %d/%d failed (%s); retrying in %.2fs",
        provider,
        attempt,
        policy.max_attempts,
        f"HTTP {failure.status}" if failure.status is not None else "no response",
        wait,
    )
    return wait


def run_with_retry(
    provider: str,
    call: Callable[[], T],
    classify: Callable[[BaseException], AttemptFailure | None],
    policy: RetryPolicy,
    *,
    secret: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` under ``policy``. ``classify`` maps an exception to a failure (or None:
    not an API failure, re-raise it unchanged)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except RerankError:
            raise
        except Exception as exc:
            failure = exc if isinstance(exc, AttemptFailure) else classify(exc)
            if failure is None:
                raise
        # Decided here, outside the ``except`` block: a final error has neither ``__cause__``
        # nor ``__context__``, so no unredacted provider exception travels with it.
        wait = _wait_or_fail(provider, failure, attempt, policy, secret)
        sleep(wait)


async def run_with_retry_async(
    provider: str,
    call: Callable[[], Awaitable[T]],
    classify: Callable[[BaseException], AttemptFailure | None],
    policy: RetryPolicy,
    *,
    secret: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Async twin of :func:`run_with_retry` (waits without blocking the event loop)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except RerankError:
            raise
        except Exception as exc:
            failure = exc if isinstance(exc, AttemptFailure) else classify(exc)
            if failure is None:
                raise
        # Decided here, outside the ``except`` block: a final error has neither ``__cause__``
        # nor ``__context__``, so no unredacted provider exception travels with it.
        wait = _wait_or_fail(provider, failure, attempt, policy, secret)
        await sleep(wait)
