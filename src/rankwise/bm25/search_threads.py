"""Parked helper threads for ``BM25Index.search_many``: started once, woken per call.

A new ``threading.Thread`` costs a call ~0.1 ms before its first task (the thread must be
scheduled and take the GIL to report that it started, then the caller takes it back) and its
end ~0.1 ms more, which a 500-query call of ~5 ms on two threads feels (issue 14's 2-thread
goal). A helper here is started on first need; afterwards it waits on a lock of its own. A call
borrows the helpers it wants, hands each one job (the call's shared task loop), waits for
them and gives them back.

Why not ``concurrent.futures.ThreadPoolExecutor``: a call needs its helpers at once and to
itself. Jobs queued in a shared executor wait behind other callers' jobs (the call would
wait for them, or cancel them, and a cancelled item still counts as an idle worker there, so
later calls would get fewer threads than they asked for). Here a caller that finds too few
idle helpers starts new ones, so concurrent callers never queue behind each other. At most
``keep`` idle helpers stay parked, and a helper idle for ``idle_seconds`` ends its thread: a
process that searched a while ago holds no extra threads (Python 3.12+ warns when a process
with several threads forks).

A helper drops its job as soon as it has run it: the job's closure holds the call's results,
which are the caller's to free (a parked helper must not keep them alive until the next call).
The threads are daemons (they never hold up interpreter exit), and a forked child forgets
the parent's helpers (their threads do not exist in the child).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from rankwise._cores import usable_cores

Job = Callable[[], None]


class _Helper:
    """One parked thread: ``start`` hands it a job (``None`` ends the thread), ``wait`` blocks
    until the job has returned and gives back what it raised."""

    __slots__ = ("_done", "_error", "_go", "_job", "_pool")

    def __init__(self, pool: HelperPool, number: int) -> None:
        self._pool = pool
        self._job: Job | None = None
        self._error: BaseException | None = None
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        name = f"rankwise-search-{number}"
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def start(self, job: Job | None) -> None:
        self._job = job
        self._go.release()

    def wait(self, on_interrupt: Callable[[BaseException], None]) -> BaseException | None:
        """Block until the job has returned; what it raised, if anything. An exception raised
        into the wait itself (a signal handler's ``KeyboardInterrupt``) goes to
        ``on_interrupt`` and the wait goes on: the helper may be lent again only once its
        job is over."""
        while True:
            try:
                self._done.acquire()
            except BaseException as exc:
                on_interrupt(exc)
                continue
            error, self._error = self._error, None
            return error

    def _serve(self) -> None:
        while True:
            if not self._go.acquire(timeout=self._pool.idle_seconds):
                if self._pool._retire(self):
                    return
                self._go.acquire()  # lent out as it timed out: its job is on the way
            job, self._job = self._job, None
            if job is None:
                return
            try:
                job()
            except BaseException as exc:  # handed to the caller by wait()
                self._error = exc
            finally:
                job = None  # the call's closure (its results) is the caller's to free
                self._done.release()


class HelperPool:
    """Idle helpers, each lent to one call at a time (``run``)."""

    def __init__(self, keep: int | None = None, idle_seconds: float = 2.0) -> None:
        #: the most idle helpers kept parked (the default: two per usable core)
        self.keep = 2 * usable_cores() if keep is None else keep
        #: a helper idle this long ends its thread
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []
        self._numbered = 0

    def idle(self) -> int:
        """Helpers parked now (for tests and diagnostics)."""
        return len(self._idle)

    def run(self, job: Job, helpers: int, stop: Callable[[], None] | None = None) -> None:
        """Run ``job`` in the calling thread and in up to ``helpers`` helpers side by side
        (fewer if no more threads can be started); return once every copy has returned, then
        raise the first exception one raised. If the caller's copy raises, or its wait for
        the helpers is interrupted, ``stop`` is called so that the helpers' copies return
        soon, and the exception is raised once they have."""
        lent = self._borrow(helpers)
        errors: list[BaseException] = []

        def interrupted(exc: BaseException) -> None:
            errors.append(exc)
            if stop is not None:
                stop()

        try:
            for helper in lent:
                helper.start(job)
            job()
        except BaseException as exc:
            interrupted(exc)
        for helper in lent:  # each is waited for before anything is raised or lent again
            error = helper.wait(interrupted)
            if error is not None:
                errors.append(error)
        self._give_back(lent)
        if errors:
            raise errors[0]

    def forget(self) -> None:
        """Drop every idle helper without waking it (a forked child, where their threads do
        not exist)."""
        self._lock = threading.Lock()
        self._idle = []

    def _borrow(self, n: int) -> list[_Helper]:
        with self._lock:
            take = min(n, len(self._idle))
            lent = self._idle[len(self._idle) - take :]
            del self._idle[len(self._idle) - take :]
            first = self._numbered
            self._numbered += n - take
        for number in range(first, first + n - take):
            try:
                lent.append(_Helper(self, number))
            except RuntimeError:  # "can't start new thread": the call runs on fewer threads
                break
        return lent

    def _retire(self, helper: _Helper) -> bool:
        """Take an idle helper whose wait timed out off the idle list: False if a caller has
        just borrowed it."""
        with self._lock:
            if helper in self._idle:
                self._idle.remove(helper)
                return True
            return False

    def _give_back(self, helpers: list[_Helper]) -> None:
        with self._lock:
            room = max(0, self.keep - len(self._idle))
            self._idle.extend(helpers[:room])
        for helper in helpers[room:]:
            helper.start(None)  # ends its thread


#: the helpers of every index's ``search_many`` in this process
search_helpers = HelperPool()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=search_helpers.forget)

__all__ = ["HelperPool", "search_helpers"]
