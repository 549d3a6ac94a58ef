"""A deliberately naive BM25 scorer (the reference the tests compare against)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence


def brute_force(
    docs: Sequence[tuple[str, str]],
    query: str,
    k: int,
    *,
    analyze: Callable[[str], list[str]] = str.split,
    k1: float = 1.2,
    b: float = 0.75,
) -> list[tuple[str, float]]:
    """Top-k (id, score) over ``docs`` (id, text), score > 0, ties by position in ``docs``."""
    toks = [analyze(text) for _, text in docs]
    n = len(toks)
    if n == 0:
        return []
    avgdl = sum(map(len, toks)) / n
    df: Counter[str] = Counter(t for ts in toks for t in set(ts))
    q = Counter(analyze(query))
    scored = []
    for pos, ((doc_id, _), ts) in enumerate(zip(docs, toks, strict=True)):
        tf = Counter(ts)
        s = 0.0
        for term, mult in q.items():
            if term in tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                norm = k1 * (1 - b + b * len(ts) / avgdl) if avgdl > 0 else k1
                s += mult * idf * tf[term] * (k1 + 1) / (tf[term] + norm)
        if s > 0:
            scored.append((-s, pos, doc_id))
    scored.sort()
    return [(doc_id, -neg) for neg, _, doc_id in scored[:k]]
