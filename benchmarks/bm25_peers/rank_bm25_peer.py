"""rank_bm25 BM25Okapi (LangChain's BM25Retriever backend); its IDF differs from Lucene's."""

from __future__ import annotations

from typing import Any

import numpy as np

NAME = "rank_bm25"


def build(texts: list[str]) -> Any:
    from rank_bm25 import BM25Okapi

    return BM25Okapi([t.split() for t in texts], k1=1.2, b=0.75)


def search(obj: Any, query: str, k: int) -> list[int]:
    scores = obj.get_scores(query.split())
    k = min(k, scores.size)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [int(i) for i in top if scores[i] > 0]
