"""The client-side route: BM25 sparse vectors from a fitted rankwise index, scored by Milvus IP.

:class:`rankwise.BM25Index` can turn text into sparse vectors whose dot product is its BM25
score (``encode_documents`` rows hold ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``,
``encode_queries`` rows ``n_t * idf_t``). :class:`MilvusSparseStore` stores the document rows in
a plain ``SPARSE_FLOAT_VECTOR`` field indexed with metric ``IP`` and searches it with the query
rows, so Milvus returns the embedded index's BM25 ranking. Use it

* with Milvus versions or deployments without the BM25 function (before 2.5, some managed
  offerings), or
* to keep an analysis Milvus cannot run (English stemming on Milvus Lite, a Python callable,
  custom stop lists), with no text analysis in Milvus at all.

The statistics (N, document frequencies, average length) are those of the fitted index at
encode time, like pymilvus-model's ``BM25EmbeddingFunction``: fit the index on the corpus (or a
representative sample) first, and re-encode when the corpus drifts far from it. Documents added
here are *not* added to the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankwise._checks import int_arg, text_arg, texts_arg
from rankwise.milvus._base import MAX_TOP_K, MilvusCollectionStore
from rankwise.milvus.exact import SETTINGS_PROPERTY
from rankwise.milvus.filters import filter_to_expr
from rankwise.milvus.schema import (
    ID_FIELD,
    METADATA_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    SchemaMismatchError,
)
from rankwise.types import Filter, Hit

__all__ = ["EMPTY_ROW_DIMENSION", "MilvusSparseStore", "csr_rows"]

#: Milvus refuses an all-zero sparse vector, so a document with no indexed term is stored with
#: weight 1 on this dimension, which no query vector ever uses (vocabulary ids are far smaller):
#: it scores 0 for every query, as in the embedded index.
EMPTY_ROW_DIMENSION = 2**32 - 2


def csr_rows(matrix: Any) -> list[dict[int, float]]:
    """Rows of a ``scipy.sparse`` matrix as ``{column: value}`` dicts (zeros dropped), the form
    pymilvus takes for ``SPARSE_FLOAT_VECTOR`` values."""
    csr = matrix.tocsr() if hasattr(matrix, "tocsr") else matrix
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    rows: list[dict[int, float]] = []
    for i in range(csr.shape[0]):
        lo, hi = int(indptr[i]), int(indptr[i + 1])
        rows.append(
            {
                int(c): float(v)
                for c, v in zip(indices[lo:hi].tolist(), data[lo:hi].tolist(), strict=True)
                if v != 0.0
            }
        )
    return rows


class MilvusSparseStore(MilvusCollectionStore):
    """Documents with BM25 sparse vectors from ``index`` (a fitted :class:`rankwise.BM25Index`),
    searched by inner product in Milvus; the same ``TextStore`` interface as the other stores.

    Args:
        index: a fitted ``BM25Index`` (anything with ``encode_documents``/``encode_queries``).
        uri, collection, token, db_name: as for :class:`~rankwise.milvus.MilvusBM25Store`.
    """

    def __init__(
        self,
        index: Any,
        uri: str = "./rankwise_milvus.db",
        collection: str = "rankwise_sparse",
        token: str | None = None,
        *,
        show_progress: bool = True,
        batch_size: int = 512,
        max_text_length: int = 65535,
        db_name: str = "",
    ) -> None:
        if not (hasattr(index, "encode_documents") and hasattr(index, "encode_queries")):
            raise ValueError("index must be a fitted rankwise BM25Index")
        int_arg(max_text_length, "max_text_length", maximum=65535)
        self.index = index
        self.max_text_length = max_text_length
        self._connect(
            uri, collection, token, db_name, show_progress, batch_size, feature="MilvusSparseStore"
        )

    def _open_or_create(self) -> None:
        if self._client.has_collection(self.collection):
            description, indexes = self._describe()
            self._validate(description, indexes)
            self._client.load_collection(self.collection)
            return
        dt = self._pymilvus.DataType
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, dt.VARCHAR, is_primary=True, max_length=self.max_id_length)
        schema.add_field(TEXT_FIELD, dt.VARCHAR, max_length=self.max_text_length)
        schema.add_field(METADATA_FIELD, dt.JSON)
        schema.add_field(SPARSE_FIELD, dt.SPARSE_FLOAT_VECTOR)
        index_params = self._client.prepare_index_params()
        index_params.add_index(
            field_name=SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="IP"
        )
        self._create(schema, index_params)

    def _validate(
        self, description: Mapping[str, Any], indexes: Mapping[str, Mapping[str, Any]]
    ) -> None:
        fields = {str(f.get("name")): f for f in description.get("fields", [])}
        problems = []
        for name, want in (
            (ID_FIELD, "VARCHAR"),
            (TEXT_FIELD, "VARCHAR"),
            (METADATA_FIELD, "JSON"),
            (SPARSE_FIELD, "SPARSE_FLOAT_VECTOR"),
        ):
            f = fields.get(name)
            got = None if f is None else getattr(f.get("type"), "name", str(f.get("type")))
            if got != want:
                problems.append(f"field {name!r} is {got or 'missing'}, expected {want}")
        text_params = (fields.get(TEXT_FIELD) or {}).get("params") or {}
        length = text_params.get("max_length") if isinstance(text_params, Mapping) else None
        if length is not None and str(length) != str(self.max_text_length):
            problems.append(
                f"field {TEXT_FIELD!r} has max_length {length!r}, "
                f"expected max_text_length={self.max_text_length}"
            )
        if description.get("functions"):
            problems.append("the collection computes its vectors with a Milvus function")
        if SETTINGS_PROPERTY in (description.get("properties") or {}):
            problems.append("it is a MilvusBM25Store exact route collection (hashed terms)")
        metric = (indexes.get(SPARSE_FIELD) or {}).get("metric_type")
        if metric != "IP":
            problems.append(f"sparse index metric is {metric!r}, expected 'IP'")
        if problems:
            raise SchemaMismatchError(
                f"collection {self.collection!r} exists with a different shape: "
                + "; ".join(problems)
                + ". Use another collection name."
            )

    def _prepare(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        rows = csr_rows(self.index.encode_documents(list(texts)))
        return [{SPARSE_FIELD: row or {EMPTY_ROW_DIMENSION: 1.0}} for row in rows]

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-``k`` documents by the index's BM25 (computed by Milvus as an inner product)."""
        return self.search_many([text_arg(query, "query")], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """:meth:`search` for several queries, sent to Milvus in batches."""
        queries = texts_arg(queries, "queries")
        k = int_arg(k, "k", maximum=MAX_TOP_K)
        expr = filter_to_expr(filter, store=type(self).__name__)
        out: list[list[Hit]] = [[] for _ in queries]
        if isinstance(filter, (set, frozenset)) and not filter:
            return out
        vectors = csr_rows(self.index.encode_queries(list(queries))) if queries else []
        todo = [i for i, v in enumerate(vectors) if v]
        if not todo:
            return out
        for i, hits in self._search_batches(vectors, todo, k=k, expr=expr, metric="IP").items():
            out[i] = hits
        return out

    def __repr__(self) -> str:
        return f"MilvusSparseStore(uri={self.uri!r}, collection={self.collection!r})"
