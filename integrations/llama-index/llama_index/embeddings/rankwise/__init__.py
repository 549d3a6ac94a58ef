"""rankwise's local sentence embeddings (bundled all-MiniLM-L6-v2 or any local model) for
LlamaIndex."""

from llama_index.embeddings.rankwise.base import RankwiseEmbedding

__all__ = ["RankwiseEmbedding"]
