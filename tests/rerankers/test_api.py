"""Cohere, Voyage and Jina rerankers (real SDKs / httpx) against the loopback fake API."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
import traceback
import typing
from typing import Any

import pytest

from rankwise.rerankers import RerankError, RetryPolicy, load
from rankwise.rerankers._http import ApiOptions, ApiReranker
from rankwise.rerankers.cohere import CohereReranker
from rankwise.rerankers.jina import JinaReranker
from rankwise.rerankers.tei import TEIReranker
from rankwise.rerankers.voyage import VoyageReranker
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score
from tests.rerankers.conftest import API_CLASSES, ApiCase, ApiFactory, malformed_replies

KEY = "sk-test-SECRET-4f9a1c"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
CLASSES = API_CLASSES
ENV = {"cohere": "COHERE_API_KEY", "voyage": "VOYAGE_API_KEY", "jina": "JINA_API_KEY"}

Factory = ApiFactory


@pytest.fixture
def make(make_api: ApiFactory) -> Factory:
    def factory(**kwargs: Any) -> ApiReranker:
        return make_api(**{"api_key": KEY, "retry": FAST, **kwargs})

    return factory


def test_rerank_orders_by_relevance_score(
    make: Factory,
    fake_api: FakeRerankServer,
    provider: str,
    api_case: ApiCase,
) -> None:
    rr = make()
    results = rr.rerank(api_case.query, api_case.docs, top_k=3)
    assert [r.index for r in results] == api_case.order()[:3]
    assert [r.score for r in results] == [
        overlap_score(api_case.query, api_case.docs[r.index]) for r in results
    ]
    assert [r.text for r in results] == [api_case.docs[r.index] for r in results]
    (req,) = fake_api.requests
    assert req.provider == provider
    assert req.json["query"] == api_case.query
    assert req.json["documents"] == api_case.docs
    assert req.json["model"] == rr.model
    assert req.headers["authorization"] == f"Bearer {KEY}"


async def test_arerank_native_async(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    rr = make()
    results = await rr.arerank(api_case.query, api_case.docs, ids=[f"id{i}" for i in range(5)])
    assert [r.index for r in results] == api_case.order()
    assert all(r.id == f"id{r.index}" for r in results)
    assert len(fake_api.requests) == 1


async def test_concurrent_arerank_overlaps(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.default = Reply.ok(delay=0.6)
    rr = make()
    t0 = time.perf_counter()
    a, b = await asyncio.gather(
        rr.arerank(api_case.query, api_case.docs), rr.arerank("paris seine", api_case.docs)
    )
    elapsed = time.perf_counter() - t0
    assert len(a) == len(b) == 5
    assert len(fake_api.requests) == 2
    assert elapsed < 1.05, f"two concurrent calls took {elapsed:.2f}s (serial would be 1.2s)"


def test_empty_documents_send_nothing(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    rr = make()
    assert rr.rerank(api_case.query, []) == []
    assert asyncio.run(rr.arerank(api_case.query, [])) == []
    assert rr.rerank_many([api_case.query, api_case.query], [[], []]) == [[], []]
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("", ["a"]), "query"),
        (("paris", [1]), r"documents\[0\]"),
        (("paris", ["a"], 0), "top_k"),
    ],
)
def test_bad_input_sends_nothing(
    make: Factory,
    fake_api: FakeRerankServer,
    args: tuple[Any, ...],
    needle: str,
    api_case: ApiCase,
) -> None:
    with pytest.raises((TypeError, ValueError), match=needle):
        make().rerank(*args)
    assert fake_api.requests == []


def test_split_into_requests_and_merged_globally(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    docs = [
        f"doc {i} " + ("capital " * (i % 3)) + ("france" if i % 4 == 0 else "x") for i in range(11)
    ]
    rr = make(max_documents_per_request=4)
    results = rr.rerank(api_case.query, docs, top_k=6)
    assert [len(r.json["documents"]) for r in fake_api.requests] == [4, 4, 3]
    assert [r.index for r in results] == api_case.order(docs)[:6]
    fake_api.clear()
    async_results = asyncio.run(rr.arerank(api_case.query, docs, top_k=6))
    assert async_results == results
    assert sorted(len(r.json["documents"]) for r in fake_api.requests) == [3, 4, 4]


def test_retry_after_is_honoured(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(Reply.rate_limited(retry_after=0.4))
    t0 = time.perf_counter()
    results = make().rerank(api_case.query, api_case.docs)
    assert time.perf_counter() - t0 >= 0.38
    assert [r.index for r in results] == api_case.order()
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize(
    "first",
    [Reply.rate_limited(), Reply.server_error(), Reply.unavailable(), Reply.drop_connection()],
    ids=["429", "500", "503", "dropped"],
)
def test_transient_failures_are_retried(
    make: Factory,
    fake_api: FakeRerankServer,
    first: Reply,
    api_case: ApiCase,
) -> None:
    fake_api.script(first)
    results = make().rerank(api_case.query, api_case.docs)
    assert [r.index for r in results] == api_case.order()
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_gives_up_after_max_attempts(
    make: Factory,
    fake_api: FakeRerankServer,
    provider: str,
    status: int,
    api_case: ApiCase,
) -> None:
    fake_api.script(*[Reply.error(status, "the provider says no")] * 3)
    with pytest.raises(RerankError) as info:
        make().rerank(api_case.query, api_case.docs)
    err = info.value
    assert err.provider == provider
    assert err.status == status
    assert err.attempts == 3
    assert err.retried
    assert len(fake_api.requests) == 3
    assert provider in str(err)
    assert f"HTTP {status}" in str(err)
    assert "3 attempts" in str(err)
    if status != 500 or provider != "voyage":  # voyage's SDK replaces 500 bodies
        assert "the provider says no" in str(err)


async def test_async_gives_up_after_max_attempts(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(*[Reply.unavailable("down for maintenance")] * 3)
    with pytest.raises(RerankError) as info:
        await make().arerank(api_case.query, api_case.docs)
    assert info.value.status == 503
    assert info.value.attempts == 3
    assert len(fake_api.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_not_retried(
    make: Factory,
    fake_api: FakeRerankServer,
    provider: str,
    status: int,
    api_case: ApiCase,
) -> None:
    fake_api.script(Reply.error(status, "bad request: documents too long"))
    with pytest.raises(RerankError) as info:
        make().rerank(api_case.query, api_case.docs)
    assert info.value.status == status
    assert info.value.attempts == 1
    assert not info.value.retried
    assert "bad request: documents too long" in str(info.value)
    assert len(fake_api.requests) == 1


def test_timeout_is_retried_then_reported(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(Reply.slow(1.0), Reply.slow(1.0))
    rr = make(timeout=0.2, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01))
    with pytest.raises(RerankError) as info:
        rr.rerank(api_case.query, api_case.docs)
    assert info.value.status is None
    assert info.value.attempts == 2
    assert "timed out" in str(info.value)
    fake_api.script(Reply.slow(1.0))
    assert [r.index for r in rr.rerank(api_case.query, api_case.docs)] == api_case.order()


async def test_async_timeout_then_success(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(Reply.slow(1.0))
    rr = make(timeout=0.2)
    assert [r.index for r in await rr.arerank(api_case.query, api_case.docs)] == api_case.order()


@pytest.mark.parametrize(
    "reply",
    malformed_replies(
        ("score-type", Reply.raw(b'{"results": [{"index": 0, "relevance_score": "high"}]}'))
    ),
)
def test_malformed_body_is_an_error_not_a_partial_result(
    make: Factory,
    fake_api: FakeRerankServer,
    provider: str,
    reply: Reply,
    api_case: ApiCase,
) -> None:
    if provider == "voyage" and reply.body and b"results" in reply.body:
        reply = Reply.raw(
            b'{"data": [{"index": 0, "relevance_score": "high"}], "usage": {"total_tokens": 1}}'
        )
    fake_api.script(reply)
    with pytest.raises(RerankError) as info:
        make().rerank(api_case.query, api_case.docs)
    assert "malformed" in str(info.value)
    assert info.value.provider == provider
    assert len(fake_api.requests) == 1  # never retried


async def test_async_malformed(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(Reply.wrong_count())
    with pytest.raises(RerankError, match="malformed"):
        await make().arerank(api_case.query, api_case.docs)


def test_api_key_never_leaks(
    make: Factory,
    fake_api: FakeRerankServer,
    caplog: pytest.LogCaptureFixture,
    api_case: ApiCase,
) -> None:
    caplog.set_level(logging.DEBUG)  # includes the SDKs' and httpx's own debug logs
    rr = make()
    assert KEY not in repr(rr)
    assert KEY not in str(rr)
    fake_api.script(Reply.rate_limited(retry_after=0), Reply.error(401, "invalid api key"))
    with pytest.raises(RerankError) as info:
        rr.rerank(api_case.query, api_case.docs)
    assert "invalid api key" in str(info.value)
    assert "retrying" in caplog.text
    assert KEY not in caplog.text
    assert fake_api.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_key_echoed_by_provider_is_redacted(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.script(Reply.error(403, f"key {KEY} is not allowed to use this model"))
    with pytest.raises(RerankError) as info:
        make().rerank(api_case.query, api_case.docs)
    err = info.value
    assert KEY not in str(err)
    assert KEY not in repr(err)
    assert KEY not in err.provider_message
    assert KEY not in "".join(traceback.format_exception(err))
    assert "key *** is not allowed" in str(err)


def test_missing_key_fails_at_construction(
    provider: str, monkeypatch: pytest.MonkeyPatch, fake_api: FakeRerankServer
) -> None:
    monkeypatch.delenv(ENV[provider], raising=False)
    with pytest.raises(ValueError, match=ENV[provider]):
        CLASSES[provider](base_url=fake_api.base_url(provider))


def test_key_from_environment(
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
    fake_api: FakeRerankServer,
    api_case: ApiCase,
) -> None:
    monkeypatch.setenv(ENV[provider], "env-key-123")
    rr = load(f"{provider}:some-model", base_url=fake_api.base_url(provider), retry=FAST)
    assert isinstance(rr, CLASSES[provider])
    assert rr.name == f"{provider}:some-model"
    rr.rerank(api_case.query, api_case.docs[:2])
    assert fake_api.requests[0].headers["authorization"] == "Bearer env-key-123"
    assert fake_api.requests[0].json["model"] == "some-model"


def test_default_models(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV[provider], "k")
    defaults = {
        "cohere": "rerank-v3.5",
        "voyage": "rerank-2.5",
        "jina": "jina-reranker-v2-base-multilingual",
    }
    assert CLASSES[provider]().model == defaults[provider]
    assert load(f"{provider}:").model == defaults[provider]  # type: ignore[attr-defined]


def test_constructor_validation(make: Factory) -> None:
    for kwargs, needle in [
        ({"timeout": 0}, "timeout"),
        ({"max_documents_per_request": 0}, "max_documents_per_request"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"model": ""}, "model"),
    ]:
        with pytest.raises(ValueError, match=needle):
            make(**kwargs)


@pytest.mark.parametrize("cls", [CohereReranker, VoyageReranker, JinaReranker, TEIReranker])
def test_each_signature_takes_the_shared_options_as_declared_once(cls: type[ApiReranker]) -> None:
    """The shared settings are declared once (ApiOptions); every provider's explicit signature
    (what mypy and IDEs read) takes each of them keyword-only, with the same type and default,
    and hands every one on."""
    params = inspect.signature(cls).parameters
    hints = typing.get_type_hints(cls.__init__)
    declared = typing.get_type_hints(ApiOptions)
    given: dict[str, Any] = {
        "api_key": KEY,
        "timeout": 7.5,
        "retry": FAST,
        "max_documents_per_request": 3,
        "max_concurrency": 2,
    }
    for option in dataclasses.fields(ApiOptions):
        if cls is TEIReranker and option.name == "base_url":
            continue  # TEI's server URL is its first, positional argument
        param = params[option.name]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, option.name
        assert param.default == option.default, option.name
        assert hints[option.name] == declared[option.name], option.name
    first = "http://127.0.0.1:9" if cls is TEIReranker else "some-model"
    rr = (
        cls(first, base_url="http://127.0.0.1:9", **given)
        if cls is not TEIReranker
        else cls(first, **given)
    )
    assert (rr.timeout, rr.retry, rr.max_documents_per_request, rr.max_concurrency) == (
        7.5,
        FAST,
        3,
        2,
    )
    assert rr.base_url == "http://127.0.0.1:9"
    assert rr._api_key == KEY


async def test_arerank_many_runs_queries_concurrently(
    make: Factory,
    fake_api: FakeRerankServer,
    api_case: ApiCase,
) -> None:
    fake_api.default = Reply.ok(delay=0.4)
    rr = make()
    t0 = time.perf_counter()
    out = await rr.arerank_many(
        [api_case.query, "paris", "seine"], [api_case.docs, api_case.docs[:2], []], top_k=2
    )
    assert time.perf_counter() - t0 < 0.75  # serial would take 0.8 s
    assert [len(x) for x in out] == [2, 2, 0]
    assert [r.index for r in out[0]] == api_case.order()[:2]
    assert len(fake_api.requests) == 2


def test_rerank_many_validates_everything_first(
    make: Factory, fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    rr = make()
    with pytest.raises(ValueError, match="query"):
        rr.rerank_many([api_case.query, ""], [api_case.docs, api_case.docs])
    with pytest.raises(ValueError, match="queries"):
        rr.rerank_many([api_case.query], [api_case.docs, api_case.docs])
    assert fake_api.requests == []


def _pool(client: Any, provider: str) -> Any:
    """The connection pool behind one SDK client (Voyage's client keeps none)."""
    if provider == "jina":
        return client
    if provider == "cohere":
        return client._client_wrapper.httpx_client.httpx_client
    return None


def test_context_manager_closes_the_pool_of_every_provider(
    make: Factory,
    fake_api: FakeRerankServer,
    provider: str,
    api_case: ApiCase,
) -> None:
    with make() as rr:
        assert [r.index for r in rr.rerank(api_case.query, api_case.docs)] == api_case.order()
        (client,) = list(rr._aclients.values())
        pool = _pool(client, provider)
        assert pool is None or not pool.is_closed
    assert len(rr._aclients) == 0
    assert pool is None or pool.is_closed
    # closing twice is harmless, and a closed reranker opens a new pool when called again
    rr.close()
    assert [r.index for r in rr.rerank(api_case.query, api_case.docs)] == api_case.order()
    rr.close()


async def test_async_context_manager_closes_the_loops_pool(
    make: Factory, provider: str, api_case: ApiCase
) -> None:
    loop = asyncio.get_running_loop()
    async with make() as rr:
        assert [
            r.index for r in await rr.arerank(api_case.query, api_case.docs)
        ] == api_case.order()
        pool = _pool(rr._aclients[loop], provider)
    assert loop not in rr._aclients
    assert pool is None or pool.is_closed
