"""Batch planning, retry policy, fake server, lazy imports, extras hints and the factory."""

from __future__ import annotations

import email.utils
import itertools
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from rankwise.rerankers import load
from rankwise.rerankers._batching import padded_tokens, plan_batches, window_spans
from rankwise.rerankers._retry import (
    AttemptFailure,
    RetryPolicy,
    parse_retry_after,
    redact,
    run_with_retry,
)
from rankwise.rerankers.errors import RerankError
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score


# --- batching -----------------------------------------------------------------------------
def _brute_force(lengths: list[int], max_batch: int, overhead: float) -> float:
    order = sorted(lengths, reverse=True)
    n = len(order)
    best = float("inf")
    for cuts in itertools.product([0, 1], repeat=n - 1):
        batches, start = [], 0
        for i, c in enumerate(cuts, start=1):
            if c:
                batches.append(order[start:i])
                start = i
        batches.append(order[start:])
        if any(len(b) > max_batch for b in batches):
            continue
        best = min(best, sum(len(b) * max(b) + overhead for b in batches))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_plan_batches_is_optimal_and_complete(seed: int) -> None:
    import random

    rng = random.Random(seed)
    lengths = [rng.randint(5, 300) for _ in range(rng.randint(1, 10))]
    for max_batch, overhead in [(3, 0.0), (4, 64.0), (10, 500.0)]:
        batches = plan_batches(lengths, max_batch, overhead)
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(len(lengths)))
        assert all(1 <= len(b) <= max_batch for b in batches)
        cost = padded_tokens(lengths, batches) + overhead * len(batches)
        assert cost == pytest.approx(_brute_force(lengths, max_batch, overhead))


def test_plan_batches_fixed_size_when_overhead_infinite() -> None:
    lengths = [10, 300, 20, 250, 30]
    batches = plan_batches(lengths, 2, float("inf"))
    assert batches == [[1, 3], [4, 2], [0]]
    assert plan_batches([], 4) == []
    with pytest.raises(ValueError, match="max_batch_size"):
        plan_batches([1], 0)


def test_window_spans_overlap_and_cover() -> None:
    offsets = [(i * 4, i * 4 + 3) for i in range(10)]  # 10 tokens of 3 chars + space
    spans = window_spans(offsets, window=4, overlap=1)
    assert spans == [(0, 15), (12, 27), (24, 39)]
    assert window_spans(offsets, window=20, overlap=5) == [(0, 39)]
    assert window_spans([], window=3, overlap=0) == [(0, 0)]


# --- retry ------------------------------------------------------------------------------
def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_backoff_grows_with_jitter_and_caps() -> None:
    import random

    policy = RetryPolicy(initial_backoff=1.0, multiplier=2.0, max_backoff=5.0, jitter=0.5)
    rng = random.Random(0)
    for n, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = {policy.delay(n, rng=rng) for _ in range(50)}
        assert all(0.5 * base <= d <= 1.5 * base for d in delays)
        assert len(delays) > 1  # jittered
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert RetryPolicy(max_retry_after=2.0).delay(1, retry_after=100.0) == 2.0
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2.0)


def test_run_with_retry_sleeps_as_told() -> None:
    waits: list[float] = []
    outcomes: list[Any] = [
        AttemptFailure(503, "busy", retry_after=1.25, retryable=True),
        AttemptFailure(None, "timeout", retryable=True),
        "ok",
    ]

    def call() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return str(item)

    policy = RetryPolicy(max_attempts=5, initial_backoff=0.1, jitter=0.0)
    assert run_with_retry("p", call, lambda e: None, policy, sleep=waits.append) == "ok"
    assert waits == [1.25, 0.2]


def test_run_with_retry_reraises_unknown_errors() -> None:
    def call() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_with_retry("p", call, lambda e: None, RetryPolicy(), sleep=lambda s: None)


def test_error_message_and_redaction() -> None:
    err = RerankError("cohere", "nope", status=429, attempts=4)
    assert "cohere" in str(err)
    assert "HTTP 429" in str(err)
    assert "4 attempts" in str(err)
    assert redact("key abc123 bad", "abc123") == "key *** bad"


# --- fake server ---------------------------------------------------------------------------
def _post(url: str, body: Any) -> tuple[int, Any, dict[str, str]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def test_fake_server_shapes_and_script(fake_api: FakeRerankServer) -> None:
    docs = ["a b c", "x y", "a"]
    status, body, _ = _post(
        f"{fake_api.url}/v2/rerank", {"query": "a b", "documents": docs, "top_n": 2}
    )
    assert status == 200
    assert [r["index"] for r in body["results"]] == [0, 2]
    assert body["results"][0]["relevance_score"] == overlap_score("a b", "a b c")
    status, body, _ = _post(
        f"{fake_api.base_url('voyage')}/rerank", {"query": "a", "documents": docs, "top_k": 1}
    )
    assert [d["index"] for d in body["data"]] == [2]
    assert "total_tokens" in body["usage"]
    status, body, _ = _post(
        f"{fake_api.base_url('jina')}/v1/rerank", {"query": "a", "documents": docs}
    )
    assert len(body["results"]) == 3
    fake_api.script(Reply.rate_limited(retry_after=2), Reply.error(418, "teapot"))
    status, body, headers = _post(f"{fake_api.url}/v2/rerank", {"query": "a", "documents": docs})
    assert (status, headers["Retry-After"]) == (429, "2")
    status, body, _ = _post(f"{fake_api.url}/v2/rerank", {"query": "a", "documents": docs})
    assert (status, body["message"]) == (418, "teapot")
    status, _, _ = _post(f"{fake_api.url}/nowhere", {})
    assert status == 404
    assert [r.provider for r in fake_api.requests] == [
        "cohere",
        "voyage",
        "jina",
        "cohere",
        "cohere",
        "",
    ]
    assert fake_api.requests[0].json["top_n"] == 2
    assert fake_api.pending == 0


def test_fake_server_binds_loopback_only() -> None:
    with FakeRerankServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = server.port


# --- lazy imports, extras, factory ------------------------------------------------------
def test_import_is_light() -> None:
    code = (
        "import sys, rankwise, rankwise.rerankers, rankwise.rerankers.base, rankwise.testing;"
        "heavy = [m for m in ('torch','transformers','cohere','voyageai','httpx',"
        "'FlagEmbedding','pymilvus','tokenizers') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("spec", "module", "extra"),
    [
        ("cohere:rerank-v3.5", "cohere", "cohere"),
        ("voyage:rerank-2.5", "voyageai", "voyage"),
        ("jina:jina-reranker-v2-base-multilingual", "httpx", "jina"),
        ("cross-encoder:some/model", "transformers", "transformers"),
        ("bge:some/model", "transformers", "bge"),
    ],
)
def test_missing_extra_names_the_pip_line(
    spec: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import of it now raises ImportError
    monkeypatch.setenv("COHERE_API_KEY", "k")
    monkeypatch.setenv("VOYAGE_API_KEY", "k")
    monkeypatch.setenv("JINA_API_KEY", "k")
    with pytest.raises(ImportError, match=rf'pip install "rankwise\[{extra}\]"'):
        load(spec)


@pytest.mark.parametrize("spec", ["nope", "unknown:model", "", 5])
def test_load_rejects_bad_specs(spec: Any) -> None:
    with pytest.raises(ValueError, match=r"spec|kind"):
        load(spec)


def test_load_embedding_spec_goes_to_embedding_reranker(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    seen: dict[str, Any] = {}

    class FakeEmbeddingReranker:
        def __init__(self, model: str | None = None, **kwargs: Any) -> None:
            seen["args"] = (model, kwargs)

    fake = types.ModuleType("rankwise.rerankers.embedding")
    fake.EmbeddingReranker = FakeEmbeddingReranker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rankwise.rerankers.embedding", fake)
    r = load("embedding:/models/minilm", batch_size=8)
    assert isinstance(r, FakeEmbeddingReranker)
    assert seen["args"] == ("/models/minilm", {"batch_size": 8})
