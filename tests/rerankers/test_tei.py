"""TEIReranker (text-embeddings-inference ``/rerank``) against the loopback fake server: the
same retry, deadline, validation and secrecy rules as the Cohere, Voyage and Jina backends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rankwise.rerankers import RerankError, RetryPolicy, TEIReranker, load
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score
from tests.rerankers.conftest import ApiCase, malformed_replies

KEY = "tei-SECRET-93bd1"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)


def make(server: FakeRerankServer, **kwargs: Any) -> TEIReranker:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 2.0)
    return TEIReranker(server.base_url("tei"), **kwargs)


def test_orders_by_tei_score_and_posts_tei_body(
    fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    results = make(fake_api).rerank(api_case.query, api_case.docs, top_k=3)
    assert [r.index for r in results] == api_case.order()[:3]
    assert [r.text for r in results] == [api_case.docs[i] for i in api_case.order()[:3]]
    assert results[0].score == pytest.approx(overlap_score(api_case.query, api_case.docs[1]))
    (request,) = fake_api.requests
    assert request.path == "/tei/rerank"
    assert request.json == {
        "query": api_case.query,
        "texts": api_case.docs,
        "truncate": True,
        "raw_scores": False,
        "return_text": False,
    }
    assert "authorization" not in request.headers  # no key configured, none sent


def test_spec_and_url_forms(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    reranker = load(f"tei:{fake_api.url}/", retry=FAST)
    assert isinstance(reranker, TEIReranker)
    assert reranker.name == f"tei:{fake_api.url}"
    assert [r.index for r in reranker.rerank(api_case.query, api_case.docs)] == api_case.order()
    assert fake_api.requests[-1].path == "/rerank"  # routed by the TEI body shape
    # a URL already ending in /rerank is accepted as well
    assert TEIReranker(f"{fake_api.url}/rerank").base_url == fake_api.url


async def test_async_path(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    reranker = make(fake_api)
    results = await reranker.arerank(api_case.query, api_case.docs)
    assert [r.index for r in results] == api_case.order()
    await reranker.aclose()


def test_split_at_tei_client_batch_limit_and_merged(
    fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    docs = [f"doc {i} capital" + (" of france" if i % 7 == 0 else "") for i in range(70)]
    results = make(fake_api).rerank(api_case.query, docs)
    sizes = [len(r.json["texts"]) for r in fake_api.requests]
    assert sizes == [32, 32, 6]  # TEI's default --max-client-batch-size
    assert [r.index for r in results] == api_case.order(docs)


def test_retry_after_and_transient_failures(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    fake_api.script(Reply.rate_limited(retry_after=0), Reply.unavailable(), Reply.ok())
    results = make(fake_api).rerank(api_case.query, api_case.docs)
    assert [r.index for r in results] == api_case.order()
    assert len(fake_api.requests) == 3


def test_gives_up_with_status_and_tei_message(
    fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    fake_api.default = Reply.error(503, "model is overloaded")
    with pytest.raises(RerankError) as info:
        make(fake_api).rerank(api_case.query, api_case.docs)
    assert info.value.status == 503
    assert info.value.attempts == 3
    assert "model is overloaded" in str(info.value)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_client_errors_not_retried(
    fake_api: FakeRerankServer, status: int, api_case: ApiCase
) -> None:
    fake_api.script(Reply.error(status, "batch size 70 > maximum allowed batch size 32"))
    with pytest.raises(RerankError) as info:
        make(fake_api).rerank(api_case.query, api_case.docs)
    assert info.value.status == status
    assert info.value.attempts == 1
    assert "maximum allowed batch size" in str(info.value)  # TEI's {"error": ...} body


@pytest.mark.parametrize(
    "reply",
    malformed_replies(
        ("score-type", Reply.raw(b'[{"index": 0, "score": "high"}]')),
        ("not-objects", Reply.raw(b"[1, 2, 3]")),
    ),
)
def test_malformed_replies_are_errors_not_partial_results(
    fake_api: FakeRerankServer,
    reply: Reply,
    api_case: ApiCase,
) -> None:
    fake_api.script(reply)
    with pytest.raises(RerankError, match="malformed") as info:
        make(fake_api).rerank(api_case.query, api_case.docs)
    assert info.value.attempts == 1


def test_timeout_is_retried_then_succeeds(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    fake_api.script(Reply.slow(1.0), Reply.ok())
    start = time.monotonic()
    results = make(fake_api, timeout=0.3).rerank(api_case.query, api_case.docs)
    assert [r.index for r in results] == api_case.order()
    assert time.monotonic() - start < 1.5


def test_dropped_connection_is_retried(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    fake_api.script(Reply.drop_connection(), Reply.ok())
    assert [
        r.index for r in make(fake_api).rerank(api_case.query, api_case.docs)
    ] == api_case.order()


def test_api_key_sent_as_bearer_and_redacted(
    fake_api: FakeRerankServer,
    monkeypatch: pytest.MonkeyPatch,
    api_case: ApiCase,
) -> None:
    monkeypatch.setenv("TEI_API_KEY", KEY)
    fake_api.script(Reply.error(401, f"invalid token {KEY}"))
    reranker = make(fake_api)
    with pytest.raises(RerankError) as info:
        reranker.rerank(api_case.query, api_case.docs)
    assert fake_api.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(info.value)
    assert KEY not in repr(reranker)


def test_concurrent_async_requests_overlap(fake_api: FakeRerankServer, api_case: ApiCase) -> None:
    fake_api.default = Reply.ok(delay=0.5)
    reranker = make(fake_api, max_documents_per_request=2, max_concurrency=3)

    async def run() -> float:
        start = time.monotonic()
        await reranker.arerank(api_case.query, api_case.docs)
        return time.monotonic() - start

    assert asyncio.run(run()) < 1.2  # three requests in flight together, not 1.5 s in a row


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"url": ""}, "url"),
        ({"url": "localhost:8080"}, "http"),
        ({"url": "http://x", "truncate": "yes"}, "truncate"),
        ({"url": "http://x", "raw_scores": 1}, "raw_scores"),
        ({"url": "http://x", "timeout": 0}, "timeout"),
        ({"url": "http://x", "max_documents_per_request": 0}, "max_documents_per_request"),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        TEIReranker(**kwargs)


def test_a_non_json_body_echoing_the_key_is_redacted_before_it_is_cut(
    fake_api: FakeRerankServer, api_case: ApiCase
) -> None:
    """The body goes into the error whole and is redacted, then cut: a key that straddles the
    cut never shows even in part (it used to be cut to 200 bytes first)."""
    body = b"<html>" + b"x" * 186 + KEY.encode() + b" is not a valid token</html>"  # key at 192
    fake_api.script(Reply.raw(body, 200, "text/html"))
    with pytest.raises(RerankError, match="not JSON") as info:
        make(fake_api, api_key=KEY, retry=RetryPolicy(max_attempts=1)).rerank(
            api_case.query, api_case.docs
        )
    said = str(info.value) + repr(info.value.__cause__)
    assert KEY[:6] not in said, said
