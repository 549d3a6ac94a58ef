"""Retrieve / Hybrid / Rerank pipelines, shared-stage evaluation and the embedding disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rankwise.evaluation import evaluate
from rankwise.fusion import reciprocal_rank_fusion
from rankwise.pipeline import Hybrid, Rerank, Retrieve, embed_corpus, evaluate_pipelines
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Hit


class ListStore:
    """Returns a fixed ranking for every query; counts calls."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.calls: list[tuple[str, int]] = []

    def search(self, query: str, k: int = 10) -> list[Hit]:
        self.calls.append((query, k))
        return [
            Hit(i, 1.0 / (r + 1), f"text {i}", {"src": id(self)})
            for r, i in enumerate(self.ids[:k])
        ]


class LengthReranker(BaseReranker):
    """Scores a document by the number in its text (bigger is better)."""

    name = "length:test"

    def _score(self, query: str, documents: list[str]) -> list[float]:
        return [float(d.split()[-1]) for d in documents]


def test_hybrid_is_rrf_of_children() -> None:
    a = Retrieve(ListStore(["1", "2", "3"]), stage="bm25")
    b = Retrieve(ListStore(["3", "4", "1"]), stage="dense")
    hyb = Hybrid([a, b], fetch_k=3)
    out = hyb.run("q", k=4)
    expected = reciprocal_rank_fusion([["1", "2", "3"], ["3", "4", "1"]])
    assert [(h.id, h.score) for h in out.hits] == [(k, pytest.approx(s)) for k, s in expected[:4]]
    assert out.hits[0].text == "text 1"
    assert set(out.timings) == {"bm25", "dense", "fusion"}
    assert hyb.stages == ["bm25", "dense", "fusion"]
    with pytest.raises(ValueError, match="at least two"):
        Hybrid([a])


@pytest.mark.parametrize("weights", [[0.0, 0.0], [1.0], [1.0, -1.0], [1.0, float("nan")]])
def test_hybrid_refuses_bad_weights_when_built(weights: list[float]) -> None:
    a = Retrieve(ListStore(["1"]), stage="bm25")
    b = Retrieve(ListStore(["2"]), stage="dense")
    with pytest.raises(ValueError, match="weights"):
        Hybrid([a, b], weights=weights)


def test_rerank_head_then_retrieval_tail() -> None:
    base = Retrieve(ListStore(["1", "2", "3", "4", "5"]), stage="bm25")
    pipe = Rerank(base, LengthReranker(), fetch_k=3)
    out = pipe.run("q", k=5)
    assert [h.id for h in out.hits] == ["3", "2", "1", "4", "5"]
    assert [h.score for h in out.hits[:3]] == [3.0, 2.0, 1.0]
    assert out.hits[3].score == pytest.approx(1 / 4)  # the tail keeps retrieval scores
    assert [h.id for h in pipe.search("q", k=2)] == ["3", "2"]
    assert set(out.timings) == {"bm25", "rerank"}


def test_memo_runs_shared_stages_once_and_reports_them_per_pipeline() -> None:
    s1, s2 = ListStore(["1", "2", "3"]), ListStore(["3", "9", "1"])
    bm25 = Retrieve(s1, stage="bm25", name="BM25")
    dense = Retrieve(s2, stage="dense", name="dense")
    hyb = Hybrid([bm25, dense], fetch_k=10, name="hybrid")
    rer = Rerank(hyb, LengthReranker(), fetch_k=2, name="hybrid + rerank")
    queries = {"q1": "first", "q2": "second"}
    qrels = {"q1": {"3": 2, "1": 1}, "q2": {"9": 1}}
    reports = evaluate_pipelines(
        [bm25, dense, hyb, rer], queries, qrels, ["ndcg@10", "recall@10", "mrr@10"]
    )
    assert len(s1.calls) == 2  # once per query, shared by all four rows
    assert len(s2.calls) == 2
    by_name = {r.name: r for r in reports}
    assert set(by_name["hybrid + rerank"].latency) == {"bm25", "dense", "fusion", "rerank", "total"}
    assert by_name["hybrid"].latency["bm25"] == by_name["BM25"].latency["bm25"]
    assert by_name["BM25"].stages == ["bm25"]
    # metrics are the evaluator's on the runs the pipelines produce
    run = {qid: [h.id for h in bm25.run(q, 10).hits] for qid, q in queries.items()}
    assert (
        by_name["BM25"].metrics == evaluate(run, qrels, ["ndcg@10", "recall@10", "mrr@10"]).metrics
    )
    assert by_name["dense"].metrics["mrr@10"] == pytest.approx((1.0 + 0.5) / 2)
    d = by_name["hybrid + rerank"].as_dict()
    assert set(d) == {"name", "stages", "metrics", "latency_ms"}
    assert set(d["latency_ms"]["rerank"]) == {"mean_ms", "p95_ms"}


class CountingEmbedder:
    def __init__(self) -> None:
        self.encoded = 0
        self.remembered: list[str] = []

    def fingerprint(self) -> str:
        return "fake-v1"

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    def remember(self, texts: list[str], vecs: np.ndarray) -> None:
        self.remembered.extend(texts)


def test_embed_corpus_disk_cache(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    a = embed_corpus(emb, ["x", "yy"], cache_dir=tmp_path)
    assert emb.encoded == 2
    emb2 = CountingEmbedder()
    b = embed_corpus(emb2, ["x", "yy"], cache_dir=tmp_path)
    assert emb2.encoded == 0  # loaded from disk
    assert emb2.remembered == ["x", "yy"]  # and put in the memory cache
    np.testing.assert_array_equal(a, b)
    embed_corpus(emb2, ["x", "zz"], cache_dir=tmp_path)  # other texts: no stale reuse
    assert emb2.encoded == 2
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2
    embed_corpus(emb2, ["x"], cache_dir=None)
    assert emb2.encoded == 3


def test_pipeline_split_into_stages_reports_and_cache_keeps_old_imports() -> None:
    # Issue 17 item 7: stages, evaluation reports and the embedding disk cache are separate
    # modules; everything stays importable from rankwise.pipeline.
    import ast
    import inspect

    import rankwise.pipeline as facade
    from rankwise import embedding_cache
    from rankwise.pipeline import reports, stages

    for name in ("Hybrid", "Pipeline", "PipelineOutput", "Rerank", "Retrieve"):
        assert getattr(facade, name) is getattr(stages, name)
    for name in ("LatencyStats", "PipelineReport", "evaluate_pipelines"):
        assert getattr(facade, name) is getattr(reports, name)
    for name in ("default_cache_dir", "embed_corpus"):
        assert getattr(facade, name) is getattr(embedding_cache, name)
    tree = ast.parse(inspect.getsource(stages))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not imported & {"numpy", "hashlib", "rankwise.evaluation", "rankwise.embedding_cache"}
