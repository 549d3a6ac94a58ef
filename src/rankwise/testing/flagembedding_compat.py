"""Import FlagEmbedding under transformers 4 or 5 (kept for tests and benchmarks).

The import itself lives in :mod:`rankwise.rerankers._flagembedding`, which
:class:`~rankwise.rerankers.BGEReranker` uses for its FlagEmbedding hand-off.
"""

from __future__ import annotations

from rankwise.rerankers._flagembedding import import_flagembedding

__all__ = ["import_flagembedding"]
