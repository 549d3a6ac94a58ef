from __future__ import annotations

import pytest

from rankwise.fusion import min_max_fusion, reciprocal_rank_fusion


def test_rrf_matches_hand_computed_values() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], weights=[1.0, 0.5]))
    assert fused["a"] == pytest.approx(1 / 61 + 0.5 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 0.5 / 61)


def test_rrf_orders_best_first_and_counts_repeats_once() -> None:
    fused = reciprocal_rank_fusion([["x", "x", "y"], ["y"]], c=0)
    # "x" repeated within one list keeps rank 1; "y" is rank 2 there and rank 1 in the other
    assert fused == [("y", pytest.approx(0.5 + 1.0)), ("x", pytest.approx(1.0))]


def test_rrf_ties_keep_first_seen_order() -> None:
    assert [k for k, _ in reciprocal_rank_fusion([["p"], ["q"]])] == ["p", "q"]


def test_min_max_scales_each_list() -> None:
    fused = dict(min_max_fusion([[("a", 10.0), ("b", 5.0), ("c", 0.0)], [("b", 0.9), ("c", 0.1)]]))
    assert fused == pytest.approx({"a": 1.0, "b": 0.5 + 1.0, "c": 0.0})
    assert min_max_fusion([[("only", 3.0)]]) == [("only", 1.0)]


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0]])
def test_bad_weights_are_rejected(weights: list[float]) -> None:
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=weights)
