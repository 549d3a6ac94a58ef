"""API rerankers at their edges: whole-attempt deadlines, key redaction before any cut,
``Retry-After`` without a ``detail`` — real SDKs against the loopback fake API."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.rerankers import RerankError, RetryPolicy
from rankwise.rerankers._http import ApiReranker
from rankwise.testing.fake_api import FakeRerankServer, Reply
from tests.rerankers.conftest import ApiFactory

KEY = "rk-Q7vX2pL9mZ4tW8nB3cY6hJ1"
QUERY = "capital of france"
DOCS = ["paris is the capital of france", "bananas are yellow", "berlin is in germany"]
Factory = ApiFactory


@pytest.fixture
def make(make_api: ApiFactory) -> Factory:
    def factory(**kwargs: Any) -> ApiReranker:
        return make_api(**{"api_key": KEY, "retry": RetryPolicy(max_attempts=1), **kwargs})

    return factory


# ------------------------------------------------------------------ timeout = one attempt


@pytest.mark.parametrize("attempts", [1, 2])
def test_timeout_bounds_a_whole_attempt_even_when_the_server_drips(
    make: Factory, fake_api: FakeRerankServer, attempts: int
) -> None:
    # Headers at once, then one byte every 0.25 s: each read is quick, the answer takes minutes.
    fake_api.script(*[Reply.drip(0.25)] * attempts)
    policy = RetryPolicy(max_attempts=attempts, initial_backoff=0.05, max_backoff=0.05, jitter=0)
    rr = make(timeout=1.0, retry=policy)
    start = time.monotonic()
    with pytest.raises(RerankError, match="timed out") as info:
        rr.rerank(QUERY, DOCS)
    elapsed = time.monotonic() - start
    assert info.value.status is None
    assert info.value.attempts == attempts
    assert len(fake_api.requests) == attempts
    # each attempt ends at its 1 s deadline; the retry policy bounds the whole call
    assert attempts * 1.0 - 0.05 <= elapsed < attempts * 1.0 + 0.05 * (attempts - 1) + 0.75
    # the reranker stays usable: the next call gets the normal answer
    assert rr.rerank(QUERY, DOCS)[0].index == 0


async def test_async_timeout_bounds_a_whole_attempt(
    make: Factory, fake_api: FakeRerankServer
) -> None:
    fake_api.script(Reply.drip(0.25))
    rr = make(timeout=1.0)
    start = time.monotonic()
    with pytest.raises(RerankError, match="timed out"):
        await rr.arerank(QUERY, DOCS)
    assert 0.95 <= time.monotonic() - start < 1.75
    assert (await rr.arerank(QUERY, DOCS))[0].index == 0


async def test_sync_rerank_works_inside_a_running_event_loop(
    make: Factory, fake_api: FakeRerankServer
) -> None:
    # e.g. a sync LangChain call in a notebook: the attempt runs on rankwise's own loop
    assert make().rerank(QUERY, DOCS)[0].index == 0


# ------------------------------------------------------------------ redaction before the cut


def _leaks(text: str) -> list[str]:
    """Every prefix of KEY of 6+ characters found in ``text``."""
    return [KEY[:n] for n in range(6, len(KEY) + 1) if KEY[:n] in text]


def _everything_said(err: BaseException, log: str) -> str:
    parts = [str(err), repr(err), log, "".join(traceback.format_exception(err))]
    parts.append(str(getattr(err, "provider_message", "")))
    seen = err.__cause__ or err.__context__
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    at=st.one_of(st.integers(150, 230), st.integers(440, 520)),
    kind=st.sampled_from(["error-json", "raw-200", "raw-500"]),
)
def test_an_echoed_key_never_leaks_even_partly_around_the_cut(
    make: Factory,
    fake_api: FakeRerankServer,
    caplog: pytest.LogCaptureFixture,
    at: int,
    kind: str,
) -> None:
    """The provider echoes ``Bearer <key>`` so that the key straddles the 200/500 cuts."""
    fake_api.clear()
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    text = "x" * at + f"Bearer {KEY} " + "y" * 40
    if kind == "error-json":
        fake_api.script(Reply.error(401, text))
    elif kind == "raw-200":
        fake_api.script(Reply.raw(text.encode(), 200, "text/html"))
    else:
        fake_api.script(Reply.raw(text.encode(), 500, "text/html"))
    with pytest.raises(RerankError) as info:
        make().rerank(QUERY, DOCS)
    said = _everything_said(info.value, caplog.text)
    assert _leaks(said) == []
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert "***" in str(info.value) or len(str(info.value)) >= 400


def test_redaction_helpers_redact_before_they_cut() -> None:
    from rankwise.rerankers._retry import MAX_MESSAGE_CHARS, excerpt

    for at in range(MAX_MESSAGE_CHARS - len(KEY) - 10, MAX_MESSAGE_CHARS + 2):
        text = "a" * at + "Bearer " + KEY + " tail"
        assert _leaks(excerpt(text, KEY)) == []
        assert _leaks(excerpt(text.encode(), KEY)) == []
    assert excerpt("short", KEY) == "short"
    assert excerpt('{"k": "' + KEY + '"}', KEY) == '{"k": "***"}'


# ------------------------------------------------------------------ Retry-After


def test_retry_after_is_honoured_when_the_429_body_has_no_detail(
    make: Factory, fake_api: FakeRerankServer
) -> None:
    fake_api.script(Reply.raw(b'{"error": "slow down"}', 429, retry_after=1), Reply.ok())
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02)
    results = make(retry=policy).rerank(QUERY, DOCS)
    assert results[0].index == 0
    first, second = fake_api.requests
    assert second.received_at - first.received_at >= 0.95  # not the 0.02 s backoff


def test_lone_surrogates_are_refused_before_anything_is_sent(
    make: Factory, fake_api: FakeRerankServer
) -> None:
    with pytest.raises(ValueError, match=r"documents\[1\] contains a lone surrogate"):
        make().rerank(QUERY, ["fine", "bad \ud800"])
    with pytest.raises(ValueError, match="query contains a lone surrogate"):
        make().rerank("q \udc00", DOCS)
    assert fake_api.requests == []
