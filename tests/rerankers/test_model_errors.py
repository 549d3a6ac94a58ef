"""Errors a user meets first: a mistyped model folder, a CUDA device on a CPU machine, and the
tokenizer warning that long_documents="window" used to trigger."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from rankwise.compat.pymilvus import BGERerankFunction, CrossEncoderRerankFunction
from rankwise.embeddings import SentenceEmbedder
from rankwise.rerankers import load
from rankwise.rerankers.bge import BGEReranker
from rankwise.rerankers.cross_encoder import CrossEncoderReranker
from rankwise.rerankers.embedding import EmbeddingReranker
from rankwise.testing.tiny_models import WORDS

Factory = Callable[[str], Any]

FACTORIES: dict[str, Factory] = {
    "cross-encoder": lambda p: CrossEncoderReranker(p),
    "bge": lambda p: BGEReranker(p),
    "embedder": lambda p: SentenceEmbedder(p),
    "embedding-reranker": lambda p: EmbeddingReranker(p),
    "spec": lambda p: load(f"cross-encoder:{p}"),
    "pymilvus-ce": lambda p: CrossEncoderRerankFunction(p),
    "pymilvus-bge": lambda p: BGERerankFunction(p),
}


@pytest.mark.parametrize("factory", FACTORIES.values(), ids=list(FACTORIES))
@pytest.mark.parametrize("shape", ["absolute", "relative", "home", "file"])
def test_missing_model_folder_is_named_not_a_hub_error(
    factory: Factory, shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"")
    path = {
        "absolute": str(tmp_path / "models" / "my-reranker"),
        "relative": "./models/my-reranker",
        "home": "~/no-such-rankwise-model-folder",
        "file": str(tmp_path / "weights.bin"),
    }[shape]
    with pytest.raises(ValueError, match="no such model folder: ") as info:
        factory(path)
    assert path in str(info.value)
    assert "repo" not in str(info.value).lower()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("factory", FACTORIES.values(), ids=list(FACTORIES))
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_a_value_error_saying_so(
    factory: Factory, device: str, bert_dir: Path
) -> None:
    make: dict[Factory, Callable[[], Any]] = {
        FACTORIES["cross-encoder"]: lambda: CrossEncoderReranker(str(bert_dir), device=device),
        FACTORIES["bge"]: lambda: BGEReranker(str(bert_dir), device=device),
        FACTORIES["embedder"]: lambda: SentenceEmbedder(str(bert_dir), device=device),
        FACTORIES["embedding-reranker"]: lambda: EmbeddingReranker(str(bert_dir), device=device),
        FACTORIES["spec"]: lambda: load(f"cross-encoder:{bert_dir}", device=device),
        FACTORIES["pymilvus-ce"]: lambda: CrossEncoderRerankFunction(str(bert_dir), device),
        FACTORIES["pymilvus-bge"]: lambda: BGERerankFunction(str(bert_dir), device=device),
    }
    with pytest.raises(ValueError, match="CUDA is not available") as info:
        make[factory]()
    assert device in str(info.value)


@pytest.fixture
def transformers_warnings() -> Iterator[list[str]]:
    """Warnings logged by transformers (its loggers do not propagate to the root logger)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def test_window_mode_does_not_warn_about_sequence_length(
    bert_dir: Path, transformers_warnings: list[str]
) -> None:
    rng = random.Random(3)
    long_doc = " ".join(rng.choice(WORDS) for _ in range(900))  # > 512 tokens
    long_query = " ".join(rng.choice(WORDS) for _ in range(700))
    reranker = CrossEncoderReranker(str(bert_dir), long_documents="window", max_length=512)
    assert reranker.tokenizer.model_max_length == 512
    results = reranker.rerank(long_query, [long_doc, "short document"])
    assert len(results) == 2
    assert not [m for m in transformers_warnings if "sequence length" in m], transformers_warnings
