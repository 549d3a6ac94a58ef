"""Cohere-compatible rerank servers (vLLM, Infinity, self-hosted gateways) through the
``cohere:`` backend with ``base_url=``, and through ``jina:`` for servers that only serve the
``/v1/rerank`` path. The replies are the servers' own shapes (extra fields, documents echoed,
no Cohere ``meta``), sent verbatim by the loopback fake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rankwise.rerankers import CohereReranker, JinaReranker, RetryPolicy, load
from rankwise.testing.fake_api import FakeRerankServer, Reply

QUERY = "capital of france"
DOCS = ["berlin is in germany", "paris is the capital of france", "france exports wine"]
SCORES = [0.02, 0.97, 0.41]
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01)


def vllm_body(*, echo_documents: bool) -> bytes:
    """What vLLM's ``/v1/rerank`` and ``/v2/rerank`` answer (Cohere/Jina shape + extras)."""
    order = sorted(range(len(DOCS)), key=lambda i: -SCORES[i])
    results: list[dict[str, Any]] = []
    for i in order:
        item: dict[str, Any] = {"index": i, "relevance_score": SCORES[i]}
        item["document"] = {"text": DOCS[i]} if echo_documents else None
        results.append(item)
    body = {
        "id": "rerank-5b1c",
        "model": "BAAI/bge-reranker-base",
        "usage": {"total_tokens": 42},
        "results": results,
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize("echo_documents", [True, False])
def test_cohere_backend_against_a_v2_compatible_server(
    fake_api: FakeRerankServer, echo_documents: bool
) -> None:
    fake_api.script(Reply.raw(vllm_body(echo_documents=echo_documents)))
    reranker = load(
        "cohere:BAAI/bge-reranker-base", api_key="unused", base_url=fake_api.url, retry=FAST
    )
    assert isinstance(reranker, CohereReranker)
    results = reranker.rerank(QUERY, DOCS)
    assert [r.index for r in results] == [1, 2, 0]
    assert [r.score for r in results] == [0.97, 0.41, 0.02]
    (request,) = fake_api.requests
    assert request.path == "/v2/rerank"
    assert request.json["model"] == "BAAI/bge-reranker-base"
    assert request.json["documents"] == DOCS


def test_jina_backend_against_a_v1_only_server(fake_api: FakeRerankServer) -> None:
    fake_api.script(Reply.raw(vllm_body(echo_documents=True)))
    reranker = JinaReranker(
        "BAAI/bge-reranker-base", api_key="unused", base_url=fake_api.url, retry=FAST
    )
    assert [r.index for r in reranker.rerank(QUERY, DOCS)] == [1, 2, 0]
    (request,) = fake_api.requests
    assert request.path == "/v1/rerank"
    assert set(request.json) >= {"model", "query", "documents", "top_n"}


async def test_cohere_backend_async_against_compatible_server(fake_api: FakeRerankServer) -> None:
    fake_api.script(Reply.raw(vllm_body(echo_documents=False)))
    reranker = CohereReranker("m", api_key="unused", base_url=fake_api.url, retry=FAST)
    results = await reranker.arerank(QUERY, DOCS, top_k=1)
    assert [(r.index, r.text) for r in results] == [(1, DOCS[1])]
