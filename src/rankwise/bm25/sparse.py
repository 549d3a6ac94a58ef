"""Sparse BM25 vectors (pymilvus-model ``BM25EmbeddingFunction`` usage): doc row . query row
equals the BM25 score of the document under this index's statistics."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rankwise.bm25.index import BM25Index


def _csr(rows: list[dict[int, float]], n_cols: int) -> Any:
    from scipy.sparse import csr_array

    indptr = np.zeros(len(rows) + 1, np.int64)
    for i, row in enumerate(rows):
        indptr[i + 1] = indptr[i] + len(row)
    indices = np.empty(int(indptr[-1]), np.int64)
    data = np.empty(int(indptr[-1]), np.float32)
    for i, row in enumerate(rows):
        cols = sorted(row)
        lo = int(indptr[i])
        indices[lo : lo + len(cols)] = cols
        data[lo : lo + len(cols)] = [row[c] for c in cols]
    return csr_array((data, indices, indptr), shape=(len(rows), n_cols))


def encode_documents(index: BM25Index, texts: list[str]) -> Any:
    state = index._state
    if state.n_live == 0:
        raise ValueError("texts: the index is empty; add documents before encode_documents")
    k1, b, avgdl = index.k1, index.b, state.avgdl
    if avgdl <= 0:  # every indexed document is empty: the index's norms use 1.0 too
        avgdl = 1.0
    vocab = index._vocab
    n_cols = int(state.df.size)
    rows: list[dict[int, float]] = []
    for text in texts:
        tokens = index.analyzer.analyze(text)
        norm = k1 * (1.0 - b + b * len(tokens) / avgdl)
        counts = Counter(tokens)
        row: dict[int, float] = {}
        for tok, tf in counts.items():
            t = vocab.get(tok)
            if t is not None and t < n_cols:
                row[t] = tf * (k1 + 1.0) / (tf + norm)
        rows.append(row)
    return _csr(rows, n_cols)


def encode_queries(index: BM25Index, texts: list[str]) -> Any:
    state = index._state
    n_cols = int(state.df.size)
    n_live_f = float(state.n_live)
    vocab = index._vocab
    rows: list[dict[int, float]] = []
    for text in texts:
        row: dict[int, float] = {}
        for tok, n in Counter(index.analyzer.analyze(text)).items():
            t = vocab.get(tok)
            if t is None or t >= n_cols:
                continue
            df = float(state.df[t])
            if df <= 0:
                continue
            row[t] = n * float(np.log1p((n_live_f - df + 0.5) / (df + 0.5)))
        rows.append(row)
    return _csr(rows, n_cols)


__all__ = ["encode_documents", "encode_queries"]
