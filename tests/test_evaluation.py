"""Ranking metrics against hand-computed examples (trec_eval / pytrec_eval conventions)."""

from __future__ import annotations

import math

import pytest

from rankwise.evaluation import (
    evaluate,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    parse_metric,
    precision_at_k,
    recall_at_k,
)

QRELS = {"a": 3, "b": 2, "c": 0, "d": 1}


def test_ndcg_graded_gains_and_log2_discount() -> None:
    # ranked b, x, a: DCG = 2/log2(2) + 0/log2(3) + 3/log2(4) = 2 + 1.5 = 3.5
    # ideal a, b, d:  IDCG = 3/1 + 2/log2(3) + 1/2
    ideal = 3 + 2 / math.log2(3) + 0.5
    assert ndcg_at_k(["b", "x", "a", "d"], QRELS, k=3) == pytest.approx(3.5 / ideal)
    assert ndcg_at_k(["b", "x", "a", "d"], QRELS, k=3) == pytest.approx(0.735007, abs=1e-6)


def test_ndcg_perfect_ranking_is_one_and_empty_is_zero() -> None:
    assert ndcg_at_k(["a", "b", "d"], QRELS, k=10) == pytest.approx(1.0)
    assert ndcg_at_k([], QRELS, k=10) == 0.0
    assert ndcg_at_k(["c", "x"], QRELS, k=10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, k=10) == 0.0


def test_ndcg_ideal_uses_all_judged_documents_not_only_retrieved() -> None:
    # only "d" (gain 1) retrieved at rank 1: DCG = 1; IDCG@2 = 3 + 2/log2(3)
    assert ndcg_at_k(["d"], QRELS, k=2) == pytest.approx(1 / (3 + 2 / math.log2(3)))


def test_duplicate_ids_count_once_at_first_position() -> None:
    # b, b, a -> b, a: DCG = 2 + 3/log2(3); IDCG@2 = 3 + 2/log2(3)
    got = ndcg_at_k(["b", "b", "a"], QRELS, k=2)
    assert got == pytest.approx((2 + 3 / math.log2(3)) / (3 + 2 / math.log2(3)))
    assert recall_at_k(["a", "a", "a"], QRELS, k=3) == pytest.approx(1 / 3)


def test_recall_counts_relevant_found_over_all_relevant() -> None:
    ranked = ["b", "x", "a", "d"]
    assert recall_at_k(ranked, QRELS, k=1) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, QRELS, k=3) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, QRELS, k=100) == pytest.approx(1.0)
    assert recall_at_k(["c"], QRELS, k=10) == 0.0  # gain 0 is not relevant
    assert recall_at_k(["a"], {}, k=10) == 0.0


def test_mrr_first_relevant_within_cutoff() -> None:
    assert mrr_at_k(["x", "c", "d", "a"], QRELS, k=10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "c", "d"], QRELS, k=2) == 0.0
    assert mrr_at_k(["a"], QRELS, k=1) == 1.0


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(["a"], QRELS, k=k)  # type: ignore[arg-type]


def test_parse_metric() -> None:
    assert parse_metric("nDCG@10") == ("ndcg", 10)
    assert parse_metric("recall@100") == ("recall", 100)
    for bad in ("ap@10", "ndcg", "ndcg@0", "ndcg@x"):
        with pytest.raises(ValueError, match="unknown metric"):
            parse_metric(bad)


def test_evaluate_means_over_judged_queries_missing_run_scores_zero() -> None:
    qrels = {
        "q1": {"a": 2, "b": 1},
        "q2": {"c": 1},
        "q3": {"d": 0},  # no relevant document: not averaged
        "q4": {"e": 1},  # judged but missing from the run: counts as 0
    }
    run = {"q1": ["b", "a"], "q2": ["x", "c"], "q3": ["d"], "zz": ["a"]}
    rep = evaluate(run, qrels, ["ndcg@10", "recall@1", "mrr@10"])
    assert rep.num_queries == 3
    q1 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    q2 = (1 / math.log2(3)) / 1
    assert rep.per_query["q1"]["ndcg@10"] == pytest.approx(q1)
    assert rep.per_query["q2"]["ndcg@10"] == pytest.approx(q2)
    assert rep.per_query["q4"] == {"ndcg@10": 0.0, "recall@1": 0.0, "mrr@10": 0.0}
    assert rep.metrics["ndcg@10"] == pytest.approx((q1 + q2) / 3)
    assert rep.metrics["recall@1"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert rep.metrics["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_evaluate_rejects_bad_metric_names() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate({}, {}, ["prec@5"])
    with pytest.raises(ValueError, match="metrics"):
        evaluate({}, {}, [])


# -- MAP@k and P@k, against hand-computed values -----------------------------------------------
RANKED = ["a", "b", "c", "d", "e"]
QRELS_3 = {"a": 1, "c": 2, "f": 1, "x": 0}  # three relevant (f never retrieved); x judged 0


def test_precision_at_k_divides_by_k() -> None:
    assert precision_at_k(RANKED, QRELS_3, 1) == 1.0
    assert precision_at_k(RANKED, QRELS_3, 2) == 0.5
    assert precision_at_k(RANKED, QRELS_3, 5) == pytest.approx(2 / 5)
    # fewer retrieved than k still divides by k (trec_eval P_10)
    assert precision_at_k(RANKED, QRELS_3, 10) == pytest.approx(2 / 10)
    assert precision_at_k(["a", "a", "b"], QRELS_3, 2) == 0.5  # a duplicate counts once
    assert precision_at_k(RANKED, {"x": 0}, 5) == 0.0


def test_map_at_k_divides_by_all_relevant() -> None:
    # a at rank 1 (precision 1/1), c at rank 3 (precision 2/3), f never: (1 + 2/3) / 3
    assert map_at_k(RANKED, QRELS_3, 5) == pytest.approx((1 + 2 / 3) / 3)
    assert map_at_k(RANKED, QRELS_3, 2) == pytest.approx(1 / 3)  # c is cut off
    assert map_at_k(["b", "c"], QRELS_3, 10) == pytest.approx((1 / 2) / 3)
    assert map_at_k(["a", "a", "c"], QRELS_3, 3) == pytest.approx((1 + 2 / 2) / 3)
    assert map_at_k(RANKED, {"x": 0}, 5) == 0.0
    assert map_at_k(["a", "c", "f"], QRELS_3, 3) == pytest.approx(1.0)


def test_map_and_precision_by_name_and_in_evaluate() -> None:
    assert parse_metric("MAP@100") == ("map", 100)
    assert parse_metric("P@10") == ("p", 10)
    assert parse_metric("precision@5") == ("p", 5)
    rep = evaluate({"q": RANKED}, {"q": QRELS_3}, ["map@5", "p@5"])
    assert rep.metrics == pytest.approx({"map@5": (1 + 2 / 3) / 3, "p@5": 0.4})
