"""BM25 and hybrid retrievers for LlamaIndex, backed by rankwise."""

from llama_index.retrievers.rankwise.bm25 import RankwiseBM25Retriever
from llama_index.retrievers.rankwise.filters import (
    metadata_filters_to_expr,
    metadata_filters_to_mapping,
    metadata_filters_to_predicate,
    store_filter_kinds,
    to_store_filter,
)
from llama_index.retrievers.rankwise.hybrid import RankwiseHybridRetriever

__all__ = [
    "RankwiseBM25Retriever",
    "RankwiseHybridRetriever",
    "metadata_filters_to_expr",
    "metadata_filters_to_mapping",
    "metadata_filters_to_predicate",
    "store_filter_kinds",
    "to_store_filter",
]
