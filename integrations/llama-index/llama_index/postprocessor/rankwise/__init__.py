"""Rerank retrieved LlamaIndex nodes with rankwise rerankers (local models or rerank APIs)."""

from llama_index.postprocessor.rankwise.base import RankwiseRerank

__all__ = ["RankwiseRerank"]
