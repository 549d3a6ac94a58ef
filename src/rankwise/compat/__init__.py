"""Drop-in replacements for other libraries' APIs, backed by rankwise's own backends.

- :mod:`rankwise.compat.pymilvus`: pymilvus-model's rerank functions (``pymilvus.model.reranker``)
  and its ``BM25EmbeddingFunction``: change the import line, keep the rest of the code.
"""
