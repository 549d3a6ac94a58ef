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
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from rankwise.rerankers.errors import RerankError

__all__ = [
    "AttemptFailure",
    "RetryPolicy",
    "is_retryable_status",
    "parse_retry_after",
    "redact",
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
    """

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

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


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text``."""
    if secret:
        text = text.replace(secret, "***")
    return text


def _final_error(
    provider: str, failure: AttemptFailure, attempts: int, secret: str | None
) -> RerankError:
    return RerankError(
        provider, redact(failure.message, secret), status=failure.status, attempts=attempts
    )


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
            if not failure.retryable or attempt >= policy.max_attempts:
                raise _final_error(provider, failure, attempt, secret) from None
            wait = policy.delay(attempt, failure.retry_after)
            logger.warning(
                "%s rerank attempt %d/%d failed (%s); retrying in %.2fs",
                provider,
                attempt,
                policy.max_attempts,
                f"HTTP {failure.status}" if failure.status is not None else "no response",
                wait,
            )
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
            if not failure.retryable or attempt >= policy.max_attempts:
                raise _final_error(provider, failure, attempt, secret) from None
            wait = policy.delay(attempt, failure.retry_after)
            logger.warning(
                "%s rerank attempt %d/%d failed (%s); retrying in %.2fs",
                provider,
                attempt,
                policy.max_attempts,
                f"HTTP {failure.status}" if failure.status is not None else "no response",
                wait,
            )
        await sleep(wait)
