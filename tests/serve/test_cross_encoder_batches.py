"""The server's cross-encoder batch path (the pairs of several requests in one batch plan)
gives each request the reranker's own scores."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")

from rankwise.rerankers import CrossEncoderReranker
from rankwise.serve.batching import _Job, batch_scorer, score_jobs
from rankwise.testing.tiny_models import random_text, save_tiny_model

QUERIES = ["lift wing", "heat transfer flow", "shock wave pressure", "boundary layer"]


@pytest.fixture(scope="module")
def two_logit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("ce2"), num_labels=2, seed=4)


def _jobs(queries: list[str], docs: list[list[str]]) -> list[_Job]:
    loop = asyncio.new_event_loop()
    try:
        return [_Job(q, d, loop.create_future()) for q, d in zip(queries, docs, strict=True)]
    finally:
        loop.close()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"activation": "sigmoid"},
        {"long_documents": "window", "max_length": 24, "window_overlap": 3},
        {"unpad": False, "batch_size": 5},
    ],
)
def test_merged_requests_get_the_reranker_s_own_scores(
    tiny_ce: Path, two_logit_dir: Path, options: dict[str, Any]
) -> None:
    rng = random.Random(3)
    docs = [[random_text(rng, 1, 50) for _ in range(3 + 4 * i)] for i in range(len(QUERIES))]
    docs[2][1] = docs[0][0]  # a document two requests share
    for path in (tiny_ce, two_logit_dir):
        ce = CrossEncoderReranker(str(path), device="cpu", **options)
        assert batch_scorer(ce) == "cross-encoder"
        got = score_jobs(ce, "cross-encoder", _jobs(QUERIES, docs))
        # other batch shapes than one request alone: the same math, float rounding apart
        for scores, q, d in zip(got, QUERIES, docs, strict=True):
            assert scores == pytest.approx(ce._score(q, d), abs=1e-6)


def test_sigmoid_of_extreme_logits_is_the_reranker_s_own(
    tiny_ce: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logit below -709 used to overflow ``math.exp`` in the server (a 500 for the request);
    the batch path now applies the reranker's own sigmoid."""
    ce = CrossEncoderReranker(str(tiny_ce), device="cpu", activation="sigmoid")

    def extreme(encoded: dict[str, Any], batches: list[list[int]]) -> list[float]:
        return [(-800.0, 800.0, 0.25)[i % 3] for i in range(len(encoded["input_ids"]))]

    monkeypatch.setattr(ce, "_forward", extreme)
    docs = ["wing", "flow", "heat"]
    (got,) = score_jobs(ce, "cross-encoder", _jobs(["lift"], [docs]))
    assert got == ce._score("lift", docs)
    assert got[0] < 1e-300
    assert got[1] == 1.0
