"""rankwise: retrieve-then-rerank search.

Importing this package is cheap: the BM25 engine and the rerankers load on first use, and
heavy backends (torch, transformers, API SDKs, pymilvus) only when a backend needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rankwise._version import __version__
from rankwise.types import Hit, Ranking, RerankResult, TextStore

if TYPE_CHECKING:
    from rankwise.bm25 import Analyzer, BM25Index

_LAZY = {
    "BM25Index": "rankwise.bm25",
    "Analyzer": "rankwise.bm25",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rankwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Analyzer", "BM25Index", "Hit", "Ranking", "RerankResult", "TextStore", "__version__"]
