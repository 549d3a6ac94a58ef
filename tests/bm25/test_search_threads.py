"""The parked helper threads of search_many: reused across calls, never shared by two calls in
flight, never keeping a call's results alive, errors handed back, idle helpers capped, and a
forked child that does not wait for its parent's threads."""

from __future__ import annotations

import gc
import multiprocessing
import sys
import threading
import weakref

import pytest

from rankwise.bm25 import BM25Index
from rankwise.bm25.search_threads import HelperPool, search_helpers


def _helper_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("rankwise-search-")}


def _index() -> BM25Index:
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    docs = [" ".join(f"w{(i * j) % 97}" for j in range(1, 9)) for i in range(600)]
    ix.add(docs, ids=[str(i) for i in range(600)])
    return ix


QUERIES = [f"w{i % 97} w{(i * 7) % 97} w{(i * 13) % 97}" for i in range(200)]


def test_search_many_reuses_its_helper_threads() -> None:
    """Threads are started on first need and parked, not started per call (on the old code
    each call started, and ended, a thread of its own)."""
    ix = _index()
    want = [ix.search(q, k=10) for q in QUERIES]
    seen: list[set[threading.Thread]] = []  # the thread objects, kept alive: never reused
    real = BM25Index._search_rows

    def spy(self: BM25Index, *args: object) -> object:
        seen[-1].add(threading.current_thread())
        return real(self, *args)  # type: ignore[arg-type]

    BM25Index._search_rows = spy  # type: ignore[method-assign,assignment]
    try:
        for _ in range(3):
            seen.append(set())
            assert ix.search_many(QUERIES, k=10, n_threads=2) == want
    finally:
        BM25Index._search_rows = real  # type: ignore[method-assign]
    helpers = [s - {threading.main_thread()} for s in seen]
    used = set().union(*helpers)
    assert len(used) == 1  # one helper thread served every call that used one
    (helper,) = used
    assert helper.is_alive()  # parked, not ended
    assert helper.daemon


def test_a_parked_helper_does_not_keep_the_results_of_the_last_call() -> None:
    """The results are freed when the caller drops them, not when a helper runs its next job
    (on the old version of the pool the helper held the last job's closure while parked)."""
    pool = HelperPool()

    class Result:
        pass

    def make_job() -> tuple[weakref.ref[Result], object]:
        result = Result()
        both = threading.Barrier(2, timeout=10)  # the caller's copy and the helper's

        def job() -> None:
            assert result is not None
            both.wait()

        return weakref.ref(result), job

    ref, job = make_job()
    pool.run(job, 1)  # type: ignore[arg-type]
    del job
    gc.collect()
    assert ref() is None
    assert pool.idle() == 1


def test_concurrent_calls_never_share_a_helper() -> None:
    """Two calls in flight at once each get their own helper (all four copies of the jobs run
    at the same time), so neither waits for the other's tasks."""
    pool = HelperPool()
    inside = threading.Barrier(4, timeout=10)  # two callers and their two helpers, at once
    ran: list[int] = []

    def call() -> None:
        def job() -> None:
            ran.append(threading.get_ident())
            inside.wait()

        pool.run(job, 1)

    callers = [threading.Thread(target=call) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(10)
    assert len(set(ran)) == 4
    assert pool.idle() == 2


def test_an_error_in_a_helper_reaches_the_caller_and_the_helper_serves_again() -> None:
    pool = HelperPool()

    def failing() -> None:
        if threading.current_thread() is not threading.main_thread():
            raise LookupError("in the helper")

    with pytest.raises(LookupError, match="in the helper"):
        pool.run(failing, 1)
    assert pool.idle() == 1
    ran: list[str] = []
    pool.run(lambda: ran.append(threading.current_thread().name), 1)
    assert len(ran) == 2


def test_idle_helpers_beyond_keep_end() -> None:
    pool = HelperPool(keep=1)
    before = _helper_threads()
    pool.run(lambda: None, 3)
    assert pool.idle() == 1
    for _ in range(100):  # the two extra helpers end their threads
        extra = _helper_threads() - before
        if len(extra) <= 1:
            break
        threading.Event().wait(0.01)
    assert len(_helper_threads() - before) == 1


def _search_in_child(queue: multiprocessing.Queue[object]) -> None:
    ix = _index()
    queue.put([[h.id for h in row] for row in ix.search_many(QUERIES, k=5, n_threads=2)])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_starts_its_own_helpers() -> None:
    """The parent's parked helpers do not exist in a forked child: its search_many must not
    hand them work (it would wait forever) but start its own."""
    ix = _index()
    want = [[h.id for h in row] for row in ix.search_many(QUERIES, k=5, n_threads=2)]
    assert search_helpers.idle() >= 1  # the parent has a parked helper to forget
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[object] = ctx.Queue()
    child = ctx.Process(target=_search_in_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=30)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert got == want
    assert child.exitcode == 0


def test_a_helper_idle_for_idle_seconds_ends_and_a_later_call_starts_another() -> None:
    pool = HelperPool(idle_seconds=0.05)
    before = _helper_threads()
    pool.run(lambda: None, 1)
    (helper,) = _helper_threads() - before
    helper.join(10)
    assert not helper.is_alive()
    assert pool.idle() == 0
    ran: list[threading.Thread] = []
    pool.run(lambda: ran.append(threading.current_thread()), 1)
    assert len(set(ran)) == 2
    assert helper not in ran


def test_a_call_runs_on_fewer_threads_when_no_thread_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = HelperPool()

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    ran: list[threading.Thread] = []
    pool.run(lambda: ran.append(threading.current_thread()), 3)
    assert ran == [threading.current_thread()]
    assert pool.idle() == 0


def test_when_the_callers_copy_raises_the_helpers_are_stopped_and_waited_for() -> None:
    pool = HelperPool()
    stopped = threading.Event()
    finished: list[str] = []

    def job() -> None:
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt
        assert stopped.wait(10)  # returns only once the caller has asked it to stop
        finished.append("helper")

    with pytest.raises(KeyboardInterrupt):
        pool.run(job, 1, stop=stopped.set)
    assert finished == ["helper"]  # raised only after the helper's copy returned
    assert pool.idle() == 1


class _InterruptOnce:
    """A lock whose first acquire raises KeyboardInterrupt, as a signal handler would."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.interrupted = False

    def acquire(self) -> bool:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return self.lock.acquire()

    def release(self) -> None:
        self.lock.release()


def test_an_interrupted_wait_stops_the_helper_and_waits_on_before_raising() -> None:
    """A Ctrl-C while the caller waits for a helper: the helper is told to stop and waited for,
    so it is never lent to another call while still running this one's job."""
    pool = HelperPool()
    pool.run(lambda: None, 1)  # one parked helper
    (helper,) = pool._idle
    helper._done = _InterruptOnce(helper._done)  # type: ignore[assignment]
    stopped = threading.Event()
    finished: list[str] = []

    def job() -> None:
        if threading.current_thread() is not threading.main_thread():
            assert stopped.wait(10)
            finished.append("helper")

    with pytest.raises(KeyboardInterrupt):
        pool.run(job, 1, stop=stopped.set)
    assert finished == ["helper"]
    assert pool._idle == [helper]
    ran: list[threading.Thread] = []
    pool.run(lambda: ran.append(threading.current_thread()), 1)  # lent again, in step
    assert len(ran) == 2
    assert threading.main_thread() in ran


def test_many_concurrent_callers_get_search_s_answers_and_leave_at_most_keep_helpers() -> None:
    """Eight threads calling search_many on three threads each, over and over: every answer is
    search's, and once they are done at most ``keep`` helpers stay parked."""
    ix = _index()
    want = [ix.search(q, k=5) for q in QUERIES]
    failures: list[BaseException] = []
    start = threading.Barrier(8, timeout=10)

    def caller() -> None:
        try:
            start.wait()
            for _ in range(10):
                assert ix.search_many(QUERIES, k=5, n_threads=3) == want
        except BaseException as exc:  # reported below
            failures.append(exc)

    callers = [threading.Thread(target=caller) for _ in range(8)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(60)
    assert not failures
    assert not any(t.is_alive() for t in callers)
    assert search_helpers.idle() <= search_helpers.keep
