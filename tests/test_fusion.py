from __future__ import annotations

import pytest

from rankwise.fusion import check_weights, fuse, min_max_fusion, reciprocal_rank_fusion


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


@pytest.mark.parametrize(
    "weights", [[0.0, 0.0], [0, 0], [1.0, float("nan")], [1.0, float("inf")], [True, 1.0], "ab"]
)
def test_check_weights_refuses_all_zero_and_non_numbers(weights: object) -> None:
    with pytest.raises(ValueError, match="weights"):
        check_weights(weights, 2)
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=weights)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weights"):
        min_max_fusion([[("a", 1.0)], [("b", 1.0)]], weights=weights)  # type: ignore[arg-type]


def test_check_weights_names_the_lists() -> None:
    assert check_weights(None, 3) == [1.0, 1.0, 1.0]
    assert check_weights((1, 0.5), 2) == [1.0, 0.5]
    with pytest.raises(ValueError, match="1 entries for 2 retrievers"):
        check_weights([1.0], 2, "retrievers")


def test_fuse_keeps_the_first_seen_item_per_key() -> None:
    first = [("a", "A from list 0"), ("b", "B from list 0")]
    second = [("b", "B from list 1"), ("c", "C from list 1")]
    fused = fuse([first, second], key=lambda item: item[0], weights=[1.0, 2.0])
    by_key = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=[1.0, 2.0]))
    assert [(item[0], s) for item, s in fused] == sorted(by_key.items(), key=lambda kv: -kv[1])
    assert dict((item[0], item[1]) for item, _ in fused)["b"] == "B from list 0"


def test_fuse_min_max_uses_the_score_callback() -> None:
    lists = [[("a", 10.0), ("b", 5.0), ("c", 0.0)], [("b", 0.9), ("c", 0.1)]]
    seen: list[int] = []

    def score(item: tuple[str, float], list_index: int) -> float:
        seen.append(list_index)
        return item[1]

    fused = fuse(lists, key=lambda item: item[0], fusion="min_max", score=score)
    assert [(item[0], s) for item, s in fused] == min_max_fusion(lists)
    assert seen == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="score"):
        fuse(lists, key=lambda item: item[0], fusion="min_max")
    with pytest.raises(ValueError, match="fusion"):
        fuse(lists, key=lambda item: item[0], fusion="max")  # type: ignore[arg-type]
