"""rankwise on Milvus: the ``TextStore`` contract over a Milvus collection.

``MilvusBM25Store`` stores documents in a Milvus collection and searches them by BM25 with the
embedded index's answers: with Milvus's own analyzer and BM25 function on a server, through the
exact route (:mod:`rankwise.milvus.exact`) on Milvus Lite; ``uri="./file.db"`` runs embedded
Milvus Lite, ``http://host:19530`` (or a Zilliz Cloud URI + token) a server — same code.
Install with ``pip install "rankwise[milvus]"``.

``MilvusSparseStore`` is the client-side route: BM25 sparse vectors from a fitted
``rankwise.BM25Index`` in a plain sparse field (metric IP), for Milvus deployments without the
BM25 function or analyses Milvus cannot run.

Importing this package does not import pymilvus: it is loaded (through
``rankwise._optional.require``, which names the extra to install) when a store or a sparse
collection is created.
"""

from __future__ import annotations

from rankwise.milvus.analyzers import analyzer_params_for, encode_tokens, is_lite_uri
from rankwise.milvus.filters import filter_to_expr, quote
from rankwise.milvus.schema import CollectionSpec, SchemaMismatchError
from rankwise.milvus.sparse import MilvusSparseStore
from rankwise.milvus.store import MilvusBM25Store, rerank

__all__ = [
    "CollectionSpec",
    "MilvusBM25Store",
    "MilvusSparseStore",
    "SchemaMismatchError",
    "analyzer_params_for",
    "encode_tokens",
    "filter_to_expr",
    "is_lite_uri",
    "quote",
    "rerank",
]
