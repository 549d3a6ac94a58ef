"""LangChain integration for rankwise: a reranking document compressor, a BM25 retriever,
a hybrid (fusion + rerank) retriever and local sentence embeddings."""

from __future__ import annotations

from importlib import metadata

from langchain_rankwise.bm25 import RankwiseBM25Retriever
from langchain_rankwise.embeddings import RankwiseEmbeddings
from langchain_rankwise.hybrid import RankwiseHybridRetriever
from langchain_rankwise.rerank import RankwiseRerank

try:
    __version__ = metadata.version("langchain-rankwise")
except metadata.PackageNotFoundError:  # pragma: no cover - not installed
    __version__ = "0.0.0"

__all__ = [
    "RankwiseBM25Retriever",
    "RankwiseEmbeddings",
    "RankwiseHybridRetriever",
    "RankwiseRerank",
    "__version__",
]
