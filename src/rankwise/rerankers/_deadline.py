"""One deadline per API attempt, for the sync and the async path alike.

The SDKs' own ``timeout`` bounds each socket read, not a request: a server that sends its
headers and then one byte every 0.25 s keeps a ``timeout=1.0`` call alive for as long as it
drips. rankwise therefore runs every attempt as an asyncio task under
:func:`asyncio.wait_for`, which cancels it (closing its connection) when ``timeout`` seconds
have passed since the attempt began: connect, headers and the whole body included.

Sync calls run the same coroutine on one private event loop in a daemon thread
(:func:`run_sync`), so they get the same deadline and keep their connection pools between
calls; the calling thread only waits for the result.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

__all__ = ["DeadlineExceeded", "run_sync", "within"]

T = TypeVar("T")


class DeadlineExceeded(Exception):  # noqa: N818 - mapped to a timeout failure by the caller
    """An attempt got no complete answer within its ``timeout``."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"request timed out: no complete answer within timeout={timeout:g}s "
            "(connect, headers and body)"
        )
        self.timeout = timeout


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """``await awaitable``, cancelled after ``timeout`` seconds (:class:`DeadlineExceeded`)."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise DeadlineExceeded(timeout) from None


class _LoopThread:
    """A private event loop running forever in a daemon thread (one per process)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="rankwise-api-loop", daemon=True
        )
        self.thread.start()


_lock = threading.Lock()
_current: _LoopThread | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _current
    with _lock:
        # a forked child inherits the object but not the thread: start a new one there
        if _current is None or _current.pid != os.getpid() or not _current.thread.is_alive():
            _current = _LoopThread()
        return _current.loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the private loop and wait for it; cancelled if the wait is interrupted."""
    future = asyncio.run_coroutine_threadsafe(coro, _loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise
