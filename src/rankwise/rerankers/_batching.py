"""Batch planning and long-document windows for the local cross-encoders.

Padding is the waste of cross-encoder inference: every pair in a batch is padded to the
longest one. :func:`plan_batches` sorts pairs by token length and cuts the sorted run into
contiguous batches that minimise ``sum(batch_len * longest_in_batch) + overhead * n_batches``
(an exact dynamic programme, O(n * max_batch_size)), so long and short documents never share
a batch, while ``overhead`` (token-equivalents per forward call) keeps batches from becoming
needlessly small. :func:`token_windows` cuts a long document into overlapping token windows
(:func:`window_spans`: the same windows as character spans).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["padded_tokens", "plan_batches", "token_windows", "window_spans"]


def plan_batches(
    lengths: Sequence[int], max_batch_size: int, overhead: float = 0.0
) -> list[list[int]]:
    """Index batches (longest first) covering every position of ``lengths`` exactly once."""
    if max_batch_size <= 0:
        raise ValueError(f"max_batch_size must be positive, got {max_batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    n = len(order)
    if n == 0:
        return []
    if overhead == float("inf") or n > 20000:
        return [order[i : i + max_batch_size] for i in range(0, n, max_batch_size)]
    sorted_len = [lengths[i] for i in order]
    # best[j]: minimal cost of batching the first j sorted items; cut[j]: start of the last batch
    inf = float("inf")
    best = [0.0] + [inf] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        bj = inf
        cj = 0
        lo = max(0, j - max_batch_size)
        for i in range(j - 1, lo - 1, -1):
            # batch = sorted items i..j-1; its longest is sorted_len[i] (descending order)
            cost = best[i] + (j - i) * sorted_len[i] + overhead
            if cost < bj:
                bj, cj = cost, i
        best[j], cut[j] = bj, cj
    batches: list[list[int]] = []
    j = n
    while j > 0:
        i = cut[j]
        batches.append(order[i:j])
        j = i
    batches.reverse()
    return batches


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Token slots computed when each batch is padded to its longest member."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches if b)


def token_windows(n: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` token ranges of overlapping windows of ``window`` tokens (``overlap``
    shared) over ``n`` tokens; one range covering all of them when they fit."""
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    overlap = max(0, min(overlap, window - 1))
    if n <= window:
        return [(0, n)]
    stride = window - overlap
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + window, n)
        spans.append((start, end))
        if end >= n:
            break
        start += stride
    return spans


def window_spans(
    offsets: Sequence[tuple[int, int]], window: int, overlap: int
) -> list[tuple[int, int]]:
    """Character spans of overlapping windows of ``window`` tokens (``overlap`` shared).

    ``offsets`` are the (start, end) character offsets of a document's tokens. A document
    that fits in one window gives one span covering it all.
    """
    if not offsets:
        token_windows(0, window, overlap)  # the same argument check
        return [(0, 0)]
    return [
        (offsets[s][0], offsets[e - 1][1]) for s, e in token_windows(len(offsets), window, overlap)
    ]
