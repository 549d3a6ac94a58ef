"""Shared fixtures of the reranker tests: tiny local models and the fake rerank API."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rankwise.rerankers._http import ApiReranker
from rankwise.rerankers.cohere import CohereReranker
from rankwise.rerankers.jina import JinaReranker
from rankwise.rerankers.voyage import VoyageReranker
from rankwise.testing.fake_api import FakeRerankServer, Reply, overlap_score
from rankwise.testing.tiny_models import random_text, save_tiny_model


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("bert1"), "bert", num_labels=1, seed=1)


@pytest.fixture(scope="session")
def bert2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("bert2"), "bert", num_labels=2, seed=2)


@pytest.fixture(scope="session")
def xlmr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("xlmr"), "xlm-roberta", num_labels=1, seed=3)


@pytest.fixture(scope="session")
def docs() -> list[str]:
    rng = random.Random(7)
    return [random_text(rng, 3, 60) for _ in range(37)]


@pytest.fixture
def fake_api() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as server:
        yield server


@dataclass(frozen=True)
class ApiCase:
    """The query and documents the API reranker tests send to the fake API, and the order its
    word-overlap scores give them (ties keep input order)."""

    query: str
    docs: list[str]

    def order(self, docs: Sequence[str] | None = None) -> list[int]:
        docs = self.docs if docs is None else docs
        scores = [overlap_score(self.query, d) for d in docs]
        return sorted(range(len(docs)), key=lambda i: (-scores[i], i))


@pytest.fixture(scope="session")
def api_case() -> ApiCase:
    return ApiCase(
        query="capital of france",
        docs=[
            "berlin is the capital of germany",
            "paris is the capital of france",
            "the seine flows through paris",
            "france has many rivers",
            "bananas are yellow",
        ],
    )


#: The hosted-API rerankers, by provider (the ``provider`` fixture runs a test once for each).
API_CLASSES: dict[str, type[ApiReranker]] = {
    "cohere": CohereReranker,
    "voyage": VoyageReranker,
    "jina": JinaReranker,
}

ApiFactory = Callable[..., ApiReranker]


@pytest.fixture(params=list(API_CLASSES))
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_api(fake_api: FakeRerankServer, provider: str) -> ApiFactory:
    """``make_api(**kwargs)``: the provider's reranker pointed at the fake API (2 s timeout)."""

    def factory(**kwargs: Any) -> ApiReranker:
        kwargs.setdefault("base_url", fake_api.base_url(provider))
        kwargs.setdefault("timeout", 2.0)
        return API_CLASSES[provider](**kwargs)

    return factory


def malformed_replies(*own: tuple[str, Reply]) -> Any:
    """``pytest.param`` per malformed 2xx answer every rerank API must refuse (not JSON, no
    results, a wrong count, an index out of range or twice), then the backend's ``own``."""
    common = [
        ("not-json", Reply.malformed_json()),
        ("missing", Reply.missing_results()),
        ("count", Reply.wrong_count()),
        ("range", Reply.index_out_of_range()),
        ("duplicate", Reply.duplicate_index()),
    ]
    return [pytest.param(reply, id=name) for name, reply in [*common, *own]]
