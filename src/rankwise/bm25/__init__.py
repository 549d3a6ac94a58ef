"""Embedded BM25 full-text search with Milvus semantics: analyzers, an incremental exact index,
three query algorithms, sparse vectors and atomic persistence.

numba kernels compile on first use (and are cached on disk), never at import time.
"""

from __future__ import annotations

from rankwise.bm25.analyzer import Analyzer, AnalyzerParams
from rankwise.bm25.index import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    DEFAULT_B,
    DEFAULT_K1,
    BM25Index,
)
from rankwise.bm25.persistence import FORMAT_VERSION
from rankwise.bm25.stopwords import ENGLISH_STOP_WORDS

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_B",
    "DEFAULT_K1",
    "ENGLISH_STOP_WORDS",
    "FORMAT_VERSION",
    "Analyzer",
    "AnalyzerParams",
    "BM25Index",
]
