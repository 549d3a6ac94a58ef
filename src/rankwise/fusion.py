"""Rank fusion shared by the hybrid retrievers of every integration.

Both functions take one ranked list per retriever (best first) and return ``(key, fused)``
pairs, best first. A key that appears more than once in one list counts once, at its best
rank, so chunks repeated by one retriever are never double-counted.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_RRF_C = 60


def _check_weights(n_lists: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * n_lists
    if len(weights) != n_lists:
        raise ValueError(f"weights has {len(weights)} entries for {n_lists} ranked lists")
    out = [float(w) for w in weights]
    if any(w < 0 for w in out):
        raise ValueError(f"weights must be non-negative, got {list(weights)}")
    return out


def _ordered(scores: dict[K, float], first_seen: dict[K, int]) -> list[tuple[K, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]],
    weights: Sequence[float] | None = None,
    c: float = DEFAULT_RRF_C,
) -> list[tuple[K, float]]:
    """Weighted reciprocal-rank fusion: ``sum(weight / (c + rank))``, ranks from 1."""
    if c < 0:
        raise ValueError(f"c must be >= 0, got {c}")
    ws = _check_weights(len(rankings), weights)
    fused: dict[K, float] = {}
    first_seen: dict[K, int] = {}
    order = 0
    for ranking, weight in zip(rankings, ws, strict=True):
        seen: set[K] = set()
        rank = 0
        for key in ranking:
            if key in seen:
                continue
            seen.add(key)
            rank += 1
            fused[key] = fused.get(key, 0.0) + weight / (c + rank)
            if key not in first_seen:
                first_seen[key] = order
                order += 1
    return _ordered(fused, first_seen)


def min_max_fusion(
    scored_lists: Sequence[Sequence[tuple[K, float]]],
    weights: Sequence[float] | None = None,
) -> list[tuple[K, float]]:
    """Weighted min-max score fusion: scores of each list scaled to [0, 1], then summed.

    A list whose scores are all equal maps them to 1.0 (each is that list's best).
    """
    ws = _check_weights(len(scored_lists), weights)
    fused: dict[K, float] = {}
    first_seen: dict[K, int] = {}
    order = 0
    for scored, weight in zip(scored_lists, ws, strict=True):
        best: dict[K, float] = {}
        for key, score in scored:
            if key not in best or score > best[key]:
                best[key] = float(score)
        if not best:
            continue
        lo, hi = min(best.values()), max(best.values())
        span = hi - lo
        for key, score in best.items():
            norm = 1.0 if span == 0 else (score - lo) / span
            fused[key] = fused.get(key, 0.0) + weight * norm
            if key not in first_seen:
                first_seen[key] = order
                order += 1
    return _ordered(fused, first_seen)


__all__ = ["DEFAULT_RRF_C", "min_max_fusion", "reciprocal_rank_fusion"]
