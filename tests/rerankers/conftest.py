"""Shared fixtures of the reranker tests: tiny local models and the fake rerank API."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from rankwise.testing.fake_api import FakeRerankServer, overlap_score
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
