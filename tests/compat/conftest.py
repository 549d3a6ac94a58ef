"""Fixtures of the pymilvus-model compatibility tests: tiny models and the fake rerank API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rankwise.testing.fake_api import FakeRerankServer
from rankwise.testing.tiny_models import save_tiny_model


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("bert1"), "bert", num_labels=1, seed=1)


@pytest.fixture(scope="session")
def xlmr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("xlmr"), "xlm-roberta", num_labels=1, seed=3)


@pytest.fixture
def fake_api() -> Iterator[FakeRerankServer]:
    with FakeRerankServer() as server:
        yield server
