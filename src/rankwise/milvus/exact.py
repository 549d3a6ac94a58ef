"""The exact BM25 route of :class:`~rankwise.milvus.MilvusBM25Store`: rankwise analyses the text
and keeps the corpus statistics, Milvus stores BM25 sparse vectors and ranks by inner product.

Why it exists: Milvus Lite's BM25 function scores every segment with that segment's own
statistics (``milvus_lite/engine/collection.py``, ``_search_sparse``: "each segment currently
uses its own IDF statistics"; its write buffer is scored the same way). A document added on its
own after a bulk load lands in a one-document segment (N = 1, df = 1) and scores
``log(1 + 0.5 / 1.5) = 0.288`` per query term whatever the term — 0.288 instead of 11.4 for a
unique word in Cranfield. Lite has no manual compaction, and merges segments only by size
buckets, so rankwise cannot make its statistics global.

How it stays exact:

* Each stored row carries the document's BM25 term weights
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl_ref))`` (``sparse``, metric IP) computed
  with the collection's average length at write time (``bm25_avgdl``), and an insertion
  sequence number (``bm25_seq``) for the tie rule.
* This class keeps N, the document frequencies and the total length current under
  add/upsert/delete (rebuilt by reading the collection when a store opens it), so the query
  vector ``n_t * idf_t`` always uses the live statistics.
* Milvus returns candidates ranked with the stored weights; rankwise re-scores them exactly
  with the current average length. A stored weight differs from the current one by at most the
  factor ``U = max(1, avgdl / min avgdl_ref)``, so once the k-th exact score beats ``U`` times
  the lowest candidate score no unseen document can enter the top-k; otherwise a deeper
  candidate list is fetched. Scores and ranking equal :class:`rankwise.BM25Index`'s.

The statistics live in the store object: write to one collection through one store object at a
time (another process's writes are seen after reopening).

Term ids are a 32-bit BLAKE2b hash of the token. Two tokens sharing a hash only make the Milvus
candidate scores higher (weights are positive), never the exact scores wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.milvus.schema import (
    DENSE_FIELD,
    ID_FIELD,
    METADATA_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    CollectionSpec,
    SchemaMismatchError,
    recorded_settings,
)

__all__ = [
    "AVGDL_FIELD",
    "SEQ_FIELD",
    "SETTINGS_PROPERTY",
    "ClientBM25",
    "Stats",
    "build_index_params",
    "build_schema",
    "settings_property",
    "term_dimension",
    "validate_collection",
]

AVGDL_FIELD = "bm25_avgdl"
SEQ_FIELD = "bm25_seq"

#: Milvus refuses an all-zero sparse vector; a document without tokens gets weight 1 on this
#: dimension, which no query uses (term hashes stay below it).
EMPTY_DIMENSION = 2**32 - 2

Analyze = Callable[[str], Sequence[str]]


def term_dimension(token: str) -> int:
    """The sparse-vector dimension of ``token``: a stable 32-bit hash below EMPTY_DIMENSION."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") % EMPTY_DIMENSION


@dataclass(frozen=True)
class Stats:
    """One immutable snapshot of the corpus statistics (swapped whole on every write)."""

    n: int = 0
    total_len: int = 0
    df: dict[str, int] = field(default_factory=dict)
    #: Smallest average length any stored row was encoded with (bounds the drift).
    min_ref_avgdl: float = math.inf
    next_seq: int = 0

    @property
    def avgdl(self) -> float:
        return self.total_len / self.n if self.n else 0.0

    def changed(self, added: Iterable[Sequence[str]], removed: Iterable[Sequence[str]]) -> Stats:
        df = dict(self.df)
        n, total = self.n, self.total_len
        for tokens in removed:
            n -= 1
            total -= len(tokens)
            for t in set(tokens):
                left = df.get(t, 0) - 1
                if left > 0:
                    df[t] = left
                else:
                    df.pop(t, None)
        added_count = 0
        for tokens in added:
            added_count += 1
            n += 1
            total += len(tokens)
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        min_ref = self.min_ref_avgdl
        if added_count and n:  # the new rows are encoded with the new average length
            min_ref = min(min_ref, total / n)
        return Stats(n, total, df, min_ref, self.next_seq + added_count)


class ClientBM25:
    """Analysis, statistics and exact scoring for the exact route (see the module doc)."""

    def __init__(self, analyze: Analyze, k1: float, b: float) -> None:
        self.analyze = analyze
        self.k1 = float(k1)
        self.b = float(b)
        self.stats = Stats()
        self.write_lock = threading.RLock()

    def tokens(self, text: str) -> list[str]:
        out = self.analyze(text)
        if isinstance(out, str) or not all(isinstance(t, str) for t in out):
            raise ValueError("the analyzer must return a list of strings")
        return [t for t in out if t]

    # ------------------------------------------------------------------------------ writing

    def rebuild(self, rows: Iterable[tuple[str, float, int]]) -> None:
        """Statistics from every stored row ``(text, avgdl_ref, seq)``."""
        token_lists: list[list[str]] = []
        min_ref = math.inf
        last_seq = -1
        for text, ref, seq in rows:
            token_lists.append(self.tokens(text))
            min_ref = min(min_ref, float(ref))
            last_seq = max(last_seq, int(seq))
        fresh = Stats().changed(token_lists, [])
        self.stats = Stats(fresh.n, fresh.total_len, fresh.df, min_ref, last_seq + 1)

    def document_vector(self, tokens: Sequence[str], avgdl: float) -> dict[int, float]:
        """The row's sparse vector: BM25 term weights at average length ``avgdl``."""
        if not tokens:
            return {EMPTY_DIMENSION: 1.0}
        k1, b = self.k1, self.b
        norm = k1 * (1.0 - b + b * len(tokens) / avgdl) if avgdl > 0 else k1
        out: dict[int, float] = {}
        for token, tf in Counter(tokens).items():
            dim = term_dimension(token)
            out[dim] = out.get(dim, 0.0) + tf * (k1 + 1.0) / (tf + norm)
        return out

    # ------------------------------------------------------------------------------ reading

    def query_weights(self, stats: Stats, query: str) -> dict[str, float]:
        """``n_t * idf_t`` for every query token some stored document has."""
        counts = Counter(self.tokens(query))
        n = float(stats.n)
        out: dict[str, float] = {}
        for token, times in counts.items():
            df = stats.df.get(token)
            if df:
                out[token] = times * math.log1p((n - df + 0.5) / (df + 0.5))
        return out

    @staticmethod
    def query_vector(weights: dict[str, float]) -> dict[int, float]:
        out: dict[int, float] = {}
        for token, w in weights.items():
            dim = term_dimension(token)
            out[dim] = out.get(dim, 0.0) + w
        return out

    def score(self, stats: Stats, weights: dict[str, float], text: str) -> float:
        """The exact BM25 score of ``text`` for a query with these ``weights``."""
        tokens = self.tokens(text)
        if not tokens:
            return 0.0
        tf = Counter(tokens)
        k1, b = self.k1, self.b
        avgdl = stats.avgdl
        norm = k1 * (1.0 - b + b * len(tokens) / avgdl) if avgdl > 0 else k1
        total = 0.0
        for token, w in weights.items():
            f = tf.get(token)
            if f:
                total += w * f * (k1 + 1.0) / (f + norm)
        return total

    @staticmethod
    def drift_bound(stats: Stats) -> float:
        """How much larger than its stored-weight score any document's exact score can be."""
        if not math.isfinite(stats.min_ref_avgdl) or stats.min_ref_avgdl <= 0:
            return 1.0 + 1e-5
        return max(1.0, stats.avgdl / stats.min_ref_avgdl) * (1.0 + 1e-5)


# ------------------------------------------------------------------------------ collection shape

#: Collection property recording the exact route's settings (Milvus Lite keeps properties,
#: not schema descriptions).
SETTINGS_PROPERTY = "rankwise.bm25"


def settings_property(analyzer: dict[str, Any] | None, spec: CollectionSpec) -> dict[str, str]:
    """The collection properties that fix how the stored weights were computed."""
    settings = {
        "route": "exact",
        "version": 1,
        "analyzer": analyzer,
        "k1": float(spec.k1),
        "b": float(spec.b),
    }
    return {SETTINGS_PROPERTY: json.dumps(settings, sort_keys=True)}


def build_schema(client: Any, spec: CollectionSpec, pymilvus: Any) -> Any:
    """``id``, ``text``, ``metadata``, ``sparse`` (IP), ``bm25_avgdl``, ``bm25_seq`` [+ dense]."""
    dt = pymilvus.DataType
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, dt.VARCHAR, is_primary=True, max_length=spec.max_id_length)
    schema.add_field(TEXT_FIELD, dt.VARCHAR, max_length=spec.max_text_length)
    schema.add_field(METADATA_FIELD, dt.JSON)
    schema.add_field(SPARSE_FIELD, dt.SPARSE_FLOAT_VECTOR)
    schema.add_field(AVGDL_FIELD, dt.FLOAT)
    schema.add_field(SEQ_FIELD, dt.INT64)
    if spec.dense_dim is not None:
        schema.add_field(DENSE_FIELD, dt.FLOAT_VECTOR, dim=spec.dense_dim)
    return schema


def build_index_params(client: Any, spec: CollectionSpec) -> Any:
    index_params = client.prepare_index_params()
    index_params.add_index(
        field_name=SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="IP"
    )
    if spec.dense_dim is not None:
        index_params.add_index(
            field_name=DENSE_FIELD, index_type="AUTOINDEX", metric_type=spec.dense_metric
        )
    return index_params


def _type_name(value: object) -> str:
    name = getattr(value, "name", None)
    return str(name) if name is not None else str(value)


def validate_collection(
    name: str,
    description: Mapping[str, Any],
    indexes: Mapping[str, Mapping[str, Any]],
    spec: CollectionSpec,
    settings: Mapping[str, str],
) -> None:
    """Raise :class:`SchemaMismatchError` listing how ``name`` differs from the exact route's
    shape for ``spec`` (fields, index metric, and the analyzer/k1/b the weights were made with)."""
    problems: list[str] = []
    fields = {str(f.get("name")): f for f in description.get("fields", [])}
    wanted = {
        ID_FIELD: "VARCHAR",
        TEXT_FIELD: "VARCHAR",
        METADATA_FIELD: "JSON",
        SPARSE_FIELD: "SPARSE_FLOAT_VECTOR",
        AVGDL_FIELD: "FLOAT",
        SEQ_FIELD: "INT64",
    }
    if spec.dense_dim is not None:
        wanted[DENSE_FIELD] = "FLOAT_VECTOR"
    for fname, type_name in wanted.items():
        f = fields.get(fname)
        if f is None:
            problems.append(f"field {fname!r} ({type_name}) is missing")
        elif _type_name(f.get("type")) != type_name:
            problems.append(f"field {fname!r} is {_type_name(f.get('type'))}, expected {type_name}")
    if spec.dense_dim is None and DENSE_FIELD in fields:
        problems.append(f"the collection has a dense field {DENSE_FIELD!r}; pass dense_dim")
    text_params = fields.get(TEXT_FIELD, {}).get("params") or {}
    length = text_params.get("max_length") if isinstance(text_params, Mapping) else None
    if length is not None and str(length) != str(spec.max_text_length):
        problems.append(
            f"field {TEXT_FIELD!r} has max_length {length!r}, "
            f"expected max_text_length={spec.max_text_length}"
        )
    recorded_algo = recorded_settings(description).get("inverted_index_algo")
    if recorded_algo is not None and recorded_algo != spec.inverted_index_algo:
        problems.append(
            f"the collection was created with inverted_index_algo {recorded_algo!r}, "
            f"expected {spec.inverted_index_algo!r}"
        )
    if description.get("functions"):
        problems.append(
            "the collection scores with Milvus's BM25 function; open it with route='milvus'"
        )
    metric = (indexes.get(SPARSE_FIELD) or {}).get("metric_type")
    if metric != "IP":
        problems.append(f"sparse index metric is {metric!r}, expected 'IP'")
    properties = description.get("properties") or {}
    stored = properties.get(SETTINGS_PROPERTY)
    if stored is None:
        problems.append("the collection records no rankwise exact-route settings")
    else:
        try:
            got = json.loads(stored)
        except (TypeError, ValueError):
            got = {}
        want = json.loads(settings[SETTINGS_PROPERTY])
        if not isinstance(got, dict):
            got = {}
        for key, label in (("k1", "bm25_k1"), ("b", "bm25_b")):
            if got.get(key) != want[key]:
                problems.append(f"{label} is {got.get(key)!r}, expected {want[key]!r}")
        if got.get("analyzer") != want["analyzer"]:
            problems.append(
                f"analyzer_params are {got.get('analyzer')!r}, expected {want['analyzer']!r} "
                "(None: a pre_analyzer's Python analysis)"
            )
        if got.get("route") != "exact" or got.get("version") != want["version"]:
            problems.append(f"its rankwise settings are {stored}")
    if problems:
        raise SchemaMismatchError(
            f"collection {name!r} exists with a different shape: "
            + "; ".join(problems)
            + ". Open it with matching settings, or use another collection name."
        )
