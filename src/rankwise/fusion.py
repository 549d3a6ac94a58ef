"""Rank fusion shared by the core pipeline and the hybrid retrievers of every integration.

:func:`fuse` is what a hybrid retriever calls: it takes one ranked list of items per retriever
(hits, LangChain documents, LlamaIndex nodes), keys them, fuses and returns the first-seen
item of each key with its fused score. :func:`reciprocal_rank_fusion` and
:func:`min_max_fusion` are the two fusions over keys. Every list of weights goes through
:func:`check_weights`. A key that appears more than once in one list counts once, at its best
rank, so chunks repeated by one retriever are never double-counted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Literal, TypeVar

from rankwise._checks import number_arg

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

DEFAULT_RRF_C = 60

#: ``"rrf"``: weighted reciprocal-rank fusion. ``"min_max"``: each list's scores scaled to
#: [0, 1], weighted and summed.
FusionMethod = Literal["rrf", "min_max"]


def check_weights(weights: object, n_lists: int, what: str = "ranked lists") -> list[float]:
    """The weights as floats: one finite, non-negative number per list (``what`` names the
    lists in the message, e.g. ``"retrievers"``), not all zero; ``None`` means all 1.0.

    All-zero weights are refused: every fused score would be 0 and the order meaningless.
    """
    if weights is None:
        return [1.0] * n_lists
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise ValueError(f"weights must be a sequence of numbers, got {type(weights).__name__}")
    if len(weights) != n_lists:
        raise ValueError(f"weights has {len(weights)} entries for {n_lists} {what}")
    out: list[float] = []
    for i, w in enumerate(weights):
        out.append(number_arg(w, f"weights[{i}]", minimum=0.0))
    if out and not any(out):
        raise ValueError(f"weights must not all be zero, got {list(weights)}")
    return out


def _check_weights(n_lists: int, weights: Sequence[float] | None) -> list[float]:
    return check_weights(weights, n_lists)


def _ordered(scores: dict[K, float], first_seen: dict[K, int]) -> list[tuple[K, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]],
    weights: Sequence[float] | None = None,
    c: float = DEFAULT_RRF_C,
) -> list[tuple[K, float]]:
    """Weighted reciprocal-rank fusion: ``sum(weight / (c + rank))``, ranks from 1."""
    number_arg(c, "c", minimum=0.0)
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


def fuse(
    lists: Sequence[Sequence[T]],
    key: Callable[[T], Hashable],
    *,
    fusion: FusionMethod = "rrf",
    weights: Sequence[float] | None = None,
    c: float = DEFAULT_RRF_C,
    score: Callable[[T, int], float] | None = None,
) -> list[tuple[T, float]]:
    """Fuse one ranked list of items per retriever into ``(item, fused score)``, best first.

    ``key`` says which items are the same document; each key is represented by the first
    item seen (lists in order, each best first), so text and metadata come from the first
    retriever that returned it. ``fusion="min_max"`` needs ``score(item, list_index)``, the
    item's retrieval score (it may raise a ValueError naming the list). Ties keep first-seen
    order.
    """
    if fusion not in ("rrf", "min_max"):
        raise ValueError(f"fusion must be 'rrf' or 'min_max', got {fusion!r}")
    first: dict[Hashable, T] = {}
    keyed: list[list[Hashable]] = []
    for items in lists:
        keys = []
        for item in items:
            k = key(item)
            first.setdefault(k, item)
            keys.append(k)
        keyed.append(keys)
    fused: list[tuple[Hashable, float]]
    if fusion == "rrf":
        fused = reciprocal_rank_fusion(keyed, weights, c)
    else:
        if score is None:
            raise ValueError('fusion="min_max" needs score=, the retrieval score of an item')
        scored = [
            [(k, score(item, i)) for k, item in zip(keys, items, strict=True)]
            for i, (keys, items) in enumerate(zip(keyed, lists, strict=True))
        ]
        fused = min_max_fusion(scored, weights)
    return [(first[k], fused_score) for k, fused_score in fused]


__all__ = [
    "DEFAULT_RRF_C",
    "FusionMethod",
    "check_weights",
    "fuse",
    "min_max_fusion",
    "reciprocal_rank_fusion",
]
