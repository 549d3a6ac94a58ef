"""Sparse BM25 vectors (pymilvus-model ``BM25EmbeddingFunction`` usage): doc row . query row
equals the BM25 score of the document under this index's statistics. The functions take the
statistics they use (vocabulary, document frequencies, lengths) as arguments."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt


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


def encode_documents(
    texts: list[str],
    *,
    analyze: Callable[[str], list[str]],
    vocab: Mapping[str, int],
    df: npt.NDArray[np.int64],
    n_live: int,
    avgdl: float,
    k1: float,
    b: float,
) -> Any:
    """Rows ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` over the columns of
    the ``df.size`` terms of a snapshot (terms outside it are dropped)."""
    if n_live == 0:
        raise ValueError("texts: the index is empty; add documents before encode_documents")
    if avgdl <= 0:  # every indexed document is empty: the index's norms use 1.0 too
        avgdl = 1.0
    n_cols = int(df.size)
    rows: list[dict[int, float]] = []
    for text in texts:
        tokens = analyze(text)
        norm = k1 * (1.0 - b + b * len(tokens) / avgdl)
        counts = Counter(tokens)
        row: dict[int, float] = {}
        for tok, tf in counts.items():
            t = vocab.get(tok)
            if t is not None and t < n_cols:
                row[t] = tf * (k1 + 1.0) / (tf + norm)
        rows.append(row)
    return _csr(rows, n_cols)


def encode_queries(
    texts: list[str],
    *,
    analyze: Callable[[str], list[str]],
    vocab: Mapping[str, int],
    df: npt.NDArray[np.int64],
    n_live: int,
) -> Any:
    """Rows ``n_t * idf_t`` with ``idf_t = log(1 + (N - df_t + 0.5) / (df_t + 0.5))``."""
    n_cols = int(df.size)
    n_live_f = float(n_live)
    rows: list[dict[int, float]] = []
    for text in texts:
        row: dict[int, float] = {}
        for tok, n in Counter(analyze(text)).items():
            t = vocab.get(tok)
            if t is None or t >= n_cols:
                continue
            d = float(df[t])
            if d <= 0:
                continue
            row[t] = n * float(np.log1p((n_live_f - d + 0.5) / (d + 0.5)))
        rows.append(row)
    return _csr(rows, n_cols)


__all__ = ["encode_documents", "encode_queries"]
