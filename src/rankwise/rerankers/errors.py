"""Typed errors of the rerankers."""

from __future__ import annotations


class RerankError(RuntimeError):
    """A reranking API call failed for good.

    Carries the provider, the HTTP status (None for timeouts and connection errors), how many
    attempts were made, whether the call was retried, and the provider's own message. The API
    key is never part of it.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.provider = provider
        self.status = status
        self.attempts = attempts
        self.retried = attempts > 1
        self.provider_message = message
        status_text = f"HTTP {status}" if status is not None else "no HTTP status"
        retry_text = f"after {attempts} attempts (retried)" if attempts > 1 else "not retried"
        super().__init__(f"{provider} rerank failed: {status_text}, {retry_text}: {message}")
