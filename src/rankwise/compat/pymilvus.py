"""Drop-in for pymilvus-model: ``from rankwise.compat.pymilvus import BGERerankFunction``.

Replace ``pymilvus.model.reranker`` (or ``pymilvus.model.sparse``) with
``rankwise.compat.pymilvus`` in an import line and the rest of the code runs unchanged: the
same class names, constructor parameters and defaults, the same environment variables
(``JINAAI_API_KEY``, ``CO_API_KEY``, ``VOYAGE_API_KEY``), the same results
(``RerankResult(text, score, index)``, best first, ``top_k=5`` by default; sparse
``csr_array`` from BM25). Underneath run rankwise's backends, so the functions also get
length-sorted batching, retries with backoff, strict response checks and ``arerank``.

Extensions: the API functions take ``base_url=`` (compatible servers, proxies); every class
passes further rankwise keywords to its backend; :class:`TEIRerankFunction` honours ``top_k``.
"""

from __future__ import annotations

from rankwise.compat._bm25_function import BM25EmbeddingFunction, build_default_analyzer
from rankwise.compat._rerank_functions import (
    BaseRerankFunction,
    BGERerankFunction,
    CohereRerankFunction,
    CrossEncoderRerankFunction,
    JinaRerankFunction,
    RerankResult,
    TEIRerankFunction,
    VoyageRerankFunction,
)

__all__ = [
    "BGERerankFunction",
    "BM25EmbeddingFunction",
    "BaseRerankFunction",
    "CohereRerankFunction",
    "CrossEncoderRerankFunction",
    "JinaRerankFunction",
    "RerankResult",
    "TEIRerankFunction",
    "VoyageRerankFunction",
    "build_default_analyzer",
]
