"""``MilvusBM25Store``: the rankwise ``TextStore`` on Milvus full-text search (BM25 function)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tqdm.auto import tqdm

from rankwise._optional import require
from rankwise.milvus.analyzers import analyzer_params_for, encode_tokens, is_lite_uri
from rankwise.milvus.filters import filter_to_expr, ids_expr
from rankwise.milvus.schema import (
    DENSE_FIELD,
    ID_FIELD,
    METADATA_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    CollectionSpec,
    build_index_params,
    build_schema,
    validate_collection,
)
from rankwise.types import Filter, Hit, Metadata

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["MAX_TOP_K", "Embedding", "MilvusBM25Store", "rerank"]

#: Largest ``limit`` a Milvus search accepts.
MAX_TOP_K = 16384
_QUERY_CHUNK = 1000

#: A dense embedding function: a list of texts in, one vector per text out.
Embedding = Callable[[list[str]], Sequence[Sequence[float]]]
_Analyze = Callable[[str], Sequence[str]]


def _check_k(k: object, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if k > MAX_TOP_K:
        raise ValueError(f"{name} must be at most {MAX_TOP_K} (Milvus's top-k limit), got {k}")
    return k


def _as_list(values: Iterable[Any] | None, name: str) -> list[Any] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a list, not a single {type(values).__name__}")
    return list(values)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rerank(query: str, hits: Sequence[Hit], reranker: Any, top_k: int | None = None) -> list[Hit]:
    """Rerank search ``hits`` with any rankwise reranker; hits come back with its scores.

    ``reranker`` is a :class:`rankwise.rerankers.base.BaseReranker` (or anything with the same
    ``rerank(query, documents, top_k, *, ids=..., metadatas=...)`` method).
    """
    if not hits:
        return []
    results = reranker.rerank(
        query,
        [h.text for h in hits],
        top_k,
        ids=[h.id for h in hits],
        metadatas=[h.metadata for h in hits],
    )
    return [
        Hit(
            id=hits[r.index].id,
            score=float(r.score),
            text=hits[r.index].text,
            metadata=hits[r.index].metadata,
        )
        for r in results
    ]


class MilvusBM25Store:
    """Documents in a Milvus collection, searched with Milvus's own BM25 function.

    The same interface as :class:`rankwise.BM25Index` (``add``/``upsert``/``delete``/``get``/
    ``search``/``len``), so retrievers take either backend. The default ``uri`` is a local
    file, i.e. embedded Milvus Lite started by pymilvus itself; any Milvus standalone/cluster URI
    (``http://host:19530``) or Zilliz Cloud URI + ``token`` works unchanged.

    Args:
        uri: ``*.db`` path (Milvus Lite) or a server URI.
        collection: collection name; created if missing, validated if present
            (:class:`~rankwise.milvus.schema.SchemaMismatchError` on any difference).
        token: credentials for a server (``"user:password"`` or an API key).
        analyzer_params: Milvus ``analyzer_params`` (default ``{"type": "standard"}``), an
            analyzer name or a rankwise ``Analyzer``; checked by
            :func:`~rankwise.milvus.analyzers.analyzer_params_for` against what the target
            (Lite or server) can really do.
        k1, b: BM25 parameters (Milvus defaults 1.2 / 0.75), written into the index.
        inverted_index_algo: ``TAAT_NAIVE``, ``DAAT_WAND`` or ``DAAT_MAXSCORE`` (server only:
            Milvus Lite always scores exhaustively, which gives the same results).
        dense_dim, embedding: add a ``FLOAT_VECTOR(dense_dim)`` field filled by
            ``embedding(texts)`` and enable :meth:`hybrid_search`. ``query_embedding``
            optionally embeds queries differently (asymmetric models).
        pre_analyzer: analyze text on the client (a rankwise ``Analyzer`` or any
            ``str -> list[str]``) and let Milvus only split the result: the way to get, e.g.,
            English stemming on Milvus Lite, or exactly the embedded index's tokens.
        show_progress: tqdm bar for adds longer than one batch.
        batch_size: rows per insert request.
    """

    def __init__(
        self,
        uri: str = "./rankwise_milvus.db",
        collection: str = "rankwise",
        token: str | None = None,
        analyzer_params: Mapping[str, Any] | str | Any | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        inverted_index_algo: str = "DAAT_MAXSCORE",
        dense_dim: int | None = None,
        embedding: Embedding | None = None,
        *,
        query_embedding: Embedding | None = None,
        dense_metric: str = "COSINE",
        pre_analyzer: Any = None,
        show_progress: bool = True,
        batch_size: int = 512,
        max_text_length: int = 65535,
        db_name: str = "",
    ) -> None:
        if not isinstance(uri, str) or not uri:
            raise ValueError(f"uri must be a non-empty string, got {uri!r}")
        if not isinstance(collection, str) or not collection:
            raise ValueError(f"collection must be a non-empty string, got {collection!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if (dense_dim is None) != (embedding is None):
            raise ValueError("dense_dim and embedding go together: pass both or neither")
        if embedding is not None and not callable(embedding):
            raise ValueError("embedding must be a callable: list[str] -> list of vectors")
        if query_embedding is not None and not callable(query_embedding):
            raise ValueError("query_embedding must be a callable: list[str] -> list of vectors")
        self.uri = uri
        self.collection = collection
        self.lite = is_lite_uri(uri)
        self.show_progress = show_progress
        self.batch_size = batch_size
        self._embedding = embedding
        self._query_embedding = query_embedding or embedding
        self._analyze: _Analyze | None = None
        target: Literal["lite", "server"] = "lite" if self.lite else "server"
        if pre_analyzer is not None:
            if analyzer_params is not None and analyzer_params not in (
                "standard",
                {"type": "standard"},
            ):
                raise ValueError(
                    "analyzer_params: with pre_analyzer the text is analyzed on the client and "
                    "Milvus only splits it with the 'standard' analyzer; leave it unset"
                )
            analyze = getattr(pre_analyzer, "analyze", pre_analyzer)
            if not callable(analyze):
                raise ValueError(
                    "pre_analyzer must be a rankwise Analyzer or a callable str -> list[str]"
                )
            self._analyze = analyze
            params = {"type": "standard"}
        else:
            params = analyzer_params_for(
                "standard" if analyzer_params is None else analyzer_params, target
            )
        self.spec = CollectionSpec(
            analyzer_params=params,
            k1=k1,
            b=b,
            inverted_index_algo=inverted_index_algo,
            dense_dim=dense_dim,
            dense_metric=dense_metric,
            pre_analyzed=pre_analyzer is not None,
            max_text_length=max_text_length,
            lite=self.lite,
        )
        self._pymilvus = require("pymilvus", "milvus", feature="MilvusBM25Store")
        if self.lite:
            require("milvus_lite", "milvus", feature="Milvus Lite (a .db uri)")
        self._client: Any = self._pymilvus.MilvusClient(uri=uri, token=token or "", db_name=db_name)
        self._dirty = False
        try:
            self._open_or_create()
        except BaseException:
            self._client.close()
            raise

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def k1(self) -> float:
        return float(self.spec.k1)

    @property
    def b(self) -> float:
        return float(self.spec.b)

    @property
    def client(self) -> Any:
        """The underlying ``pymilvus.MilvusClient``."""
        return self._client

    def _open_or_create(self) -> None:
        client, name = self._client, self.collection
        if client.has_collection(name):
            description = client.describe_collection(name)
            indexes: dict[str, Mapping[str, Any]] = {}
            for index_name in client.list_indexes(name):
                info = client.describe_index(name, index_name)
                if info:
                    indexes[str(info.get("field_name", index_name))] = info
            validate_collection(name, description, indexes, self.spec)
            client.load_collection(name)
            return
        schema = build_schema(client, self.spec, self._pymilvus)
        index_params = build_index_params(client, self.spec)
        try:
            client.create_collection(
                name, schema=schema, index_params=index_params, consistency_level="Strong"
            )
        except self._pymilvus.MilvusException as exc:
            if client.has_collection(name):  # half-created: collection made, index refused
                client.drop_collection(name)
            raise ValueError(
                f"Milvus refused to create collection {name!r}: {exc.message}"
            ) from exc

    def close(self) -> None:
        """Close the client connection (Milvus Lite's data stays in the ``.db`` folder)."""
        self._client.close()

    def __enter__(self) -> MilvusBM25Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def drop(self) -> None:
        """Drop the whole collection (all documents); the store is unusable afterwards."""
        self._client.drop_collection(self.collection)

    def flush(self) -> None:
        """Seal pending writes into a segment.

        On Milvus Lite this makes searches much faster (a sealed segment keeps its index, the
        write buffer is re-indexed on every search); the store does it lazily before the first
        search after a write. Each flush makes a segment with its own BM25 statistics on Lite.
        """
        self._client.flush(self.collection)
        self._dirty = False

    def _before_search(self) -> None:
        if self._dirty and self.lite:
            self.flush()

    # ------------------------------------------------------------------------------- writing

    def _analyzed(self, text: str) -> str:
        assert self._analyze is not None
        tokens = self._analyze(text)
        if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("pre_analyzer must return a list of strings")
        return encode_tokens(tokens)

    def _check_text_length(self, text: str, where: str) -> None:
        size = len(text.encode("utf-8"))
        if size > self.spec.max_text_length:
            raise ValueError(
                f"{where} is {size} bytes; the Milvus VARCHAR field holds at most "
                f"{self.spec.max_text_length} (split long documents into chunks)"
            )

    def _rows(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None,
        metadatas: Iterable[Metadata | None] | None,
        *,
        ids_required: bool,
    ) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        text_list = _as_list(texts, "texts")
        assert text_list is not None
        for i, text in enumerate(text_list):
            if not isinstance(text, str):
                raise ValueError(f"texts[{i}] must be a string, got {type(text).__name__}")
            self._check_text_length(text, f"texts[{i}]")
        id_list = _as_list(ids, "ids")
        if id_list is None:
            if ids_required:
                raise ValueError("ids are required")
            id_list = [uuid.uuid4().hex for _ in text_list]
        if len(id_list) != len(text_list):
            raise ValueError(f"ids has {len(id_list)} entries for {len(text_list)} texts")
        seen: set[str] = set()
        for i, doc_id in enumerate(id_list):
            if not isinstance(doc_id, str) or not doc_id:
                raise ValueError(f"ids[{i}] must be a non-empty string, got {doc_id!r}")
            if len(doc_id.encode("utf-8")) > self.spec.max_id_length:
                raise ValueError(f"ids[{i}] is longer than {self.spec.max_id_length} bytes")
            if doc_id in seen:
                raise ValueError(f"ids: duplicate id {doc_id!r}")
            seen.add(doc_id)
        meta_list = _as_list(metadatas, "metadatas")
        if meta_list is None:
            meta_list = [None] * len(text_list)
        if len(meta_list) != len(text_list):
            raise ValueError(f"metadatas has {len(meta_list)} entries for {len(text_list)} texts")
        metas: list[dict[str, Any]] = []
        for i, meta in enumerate(meta_list):
            if meta is None:
                metas.append({})
                continue
            if not isinstance(meta, Mapping) or not all(isinstance(k, str) for k in meta):
                raise ValueError(f"metadatas[{i}] must be a dict with string keys or None")
            try:
                metas.append(json.loads(json.dumps(dict(meta), allow_nan=False)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metadatas[{i}] is not JSON-serializable: {exc}") from None
        return text_list, id_list, metas

    def _embed(self, fn: Embedding, texts: list[str], what: str) -> list[list[float]]:
        vectors = [[float(x) for x in v] for v in fn(texts)]
        if len(vectors) != len(texts):
            raise ValueError(f"{what} returned {len(vectors)} vectors for {len(texts)} texts")
        for v in vectors:
            if len(v) != self.spec.dense_dim:
                raise ValueError(
                    f"{what} returned a vector of length {len(v)}, expected dense_dim="
                    f"{self.spec.dense_dim}"
                )
        return vectors

    def _existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids, _QUERY_CHUNK):
            rows = self._client.query(
                self.collection, filter=ids_expr(chunk), output_fields=[ID_FIELD]
            )
            found.update(str(r[ID_FIELD]) for r in rows)
        return found

    def _write(
        self,
        op: Literal["insert", "upsert"],
        texts: list[str],
        ids: list[str],
        metas: list[dict[str, Any]],
    ) -> None:
        analyzed = [self._analyzed(t) for t in texts] if self._analyze is not None else None
        if analyzed is not None:
            for i, a in enumerate(analyzed):
                self._check_text_length(a, f"texts[{i}] once analyzed")
        send = getattr(self._client, op)
        bar = tqdm(
            total=len(texts),
            desc=f"Milvus {op}",
            unit="doc",
            disable=not self.show_progress or len(texts) <= self.batch_size,
        )
        try:
            for start in range(0, len(texts), self.batch_size):
                stop = min(start + self.batch_size, len(texts))
                rows: list[dict[str, Any]] = []
                for i in range(start, stop):
                    row: dict[str, Any] = {
                        ID_FIELD: ids[i],
                        TEXT_FIELD: texts[i],
                        METADATA_FIELD: metas[i],
                    }
                    if analyzed is not None:
                        row[self.spec.analyzed_field] = analyzed[i]
                    rows.append(row)
                if self._embedding is not None:
                    vectors = self._embed(self._embedding, texts[start:stop], "embedding")
                    for row, vec in zip(rows, vectors, strict=True):
                        row[DENSE_FIELD] = vec
                send(self.collection, rows)
                self._dirty = True
                bar.update(stop - start)
        finally:
            bar.close()

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Insert new documents (batched); returns their ids (generated when not given).

        An id that is already stored raises ``ValueError`` (use :meth:`upsert` to replace).
        """
        text_list, id_list, metas = self._rows(texts, ids, metadatas, ids_required=False)
        if not text_list:
            return []
        if ids is not None:
            taken = self._existing(id_list)
            if taken:
                shown = ", ".join(repr(i) for i in sorted(taken)[:5])
                raise ValueError(f"ids already stored: {shown}; use upsert() to replace them")
        self._write("insert", text_list, id_list, metas)
        return id_list

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Insert or replace documents by id; returns the ids."""
        text_list, id_list, metas = self._rows(texts, ids, metadatas, ids_required=True)
        if text_list:
            self._write("upsert", text_list, id_list, metas)
        return id_list

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id; returns how many were stored (unknown ids are ignored)."""
        id_list = _as_list(ids, "ids")
        assert id_list is not None
        for i, doc_id in enumerate(id_list):
            if not isinstance(doc_id, str):
                raise ValueError(f"ids[{i}] must be a string, got {type(doc_id).__name__}")
        wanted = list(dict.fromkeys(id_list))
        present = sorted(self._existing(wanted)) if wanted else []
        for chunk in _chunks(present, _QUERY_CHUNK):
            self._client.delete(self.collection, ids=list(chunk))
            self._dirty = True
        return len(present)

    # ------------------------------------------------------------------------------- reading

    def get(self, ids: Iterable[str]) -> list[Hit]:
        """Stored documents by id, in the order asked (unknown ids are skipped; score 0)."""
        id_list = _as_list(ids, "ids")
        assert id_list is not None
        for i, doc_id in enumerate(id_list):
            if not isinstance(doc_id, str):
                raise ValueError(f"ids[{i}] must be a string, got {type(doc_id).__name__}")
        found: dict[str, Hit] = {}
        wanted = list(dict.fromkeys(id_list))
        for chunk in _chunks(wanted, _QUERY_CHUNK):
            rows = self._client.query(
                self.collection,
                filter=ids_expr(chunk),
                output_fields=[ID_FIELD, TEXT_FIELD, METADATA_FIELD],
            )
            for r in rows:
                doc_id = str(r[ID_FIELD])
                found[doc_id] = Hit(
                    id=doc_id,
                    score=0.0,
                    text=str(r[TEXT_FIELD]),
                    metadata=r.get(METADATA_FIELD) or {},
                )
        return [found[i] for i in id_list if i in found]

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def ids(self) -> list[str]:
        """Every stored id (order unspecified)."""
        if self.lite:  # Lite has no result window; its query_iterator warns about timestamps
            rows = self._client.query(
                self.collection, filter=f'{ID_FIELD} != ""', output_fields=[ID_FIELD]
            )
            return [str(r[ID_FIELD]) for r in rows]
        out: list[str] = []
        iterator = self._client.query_iterator(
            self.collection, batch_size=_QUERY_CHUNK, filter="", output_fields=[ID_FIELD]
        )
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                out.extend(str(r[ID_FIELD]) for r in batch)
        finally:
            iterator.close()
        return out

    def _query_text(self, query: object) -> str | None:
        """The text to send for ``query``, or None when it cannot match anything."""
        if not isinstance(query, str):
            raise ValueError(f"query must be a string, got {type(query).__name__}")
        if not query.strip():
            return None
        if self._analyze is None:
            return query
        encoded = self._analyzed(query)
        return encoded or None

    @staticmethod
    def _hits(results: Sequence[Any], *, bm25: bool) -> list[Hit]:
        hits: list[Hit] = []
        for r in results:
            entity = r.get("entity", {}) or {}
            score = float(r["distance"])
            if bm25:
                # BM25 scores are positive; Milvus Lite reports them negated (as distances).
                score = abs(score)
                if score <= 0.0:
                    continue
            hits.append(
                Hit(
                    id=str(r["id"]),
                    score=score,
                    text=str(entity.get(TEXT_FIELD, "")),
                    metadata=entity.get(METADATA_FIELD) or {},
                )
            )
        return hits

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-``k`` documents for ``query`` by Milvus BM25, best first (score > 0 only).

        ``filter``: a dict of metadata equalities (``None`` matches a missing key) or a set of
        allowed ids, evaluated inside Milvus; a callable raises ``ValueError``.
        """
        return self.search_many([query], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """:meth:`search` for several queries, sent to Milvus in batches."""
        if isinstance(queries, str):
            raise ValueError("queries must be a list of strings, not a single string")
        _check_k(k)
        expr = filter_to_expr(filter)
        texts = [self._query_text(q) for q in queries]
        out: list[list[Hit]] = [[] for _ in texts]
        if isinstance(filter, (set, frozenset)) and not filter:
            return out
        todo = [i for i, t in enumerate(texts) if t is not None]
        if not todo:
            return out
        self._before_search()
        for chunk in _chunks(todo, 64):
            results = self._client.search(
                self.collection,
                data=[texts[i] for i in chunk],
                anns_field=SPARSE_FIELD,
                limit=k,
                filter=expr,
                output_fields=[TEXT_FIELD, METADATA_FIELD],
                search_params={"metric_type": "BM25"},
            )
            for i, res in zip(chunk, results, strict=True):
                out[i] = self._hits(res, bm25=True)
        return out

    def hybrid_search(
        self,
        query: str,
        k: int = 10,
        filter: Filter | None = None,
        *,
        ranker: Literal["rrf", "weighted"] | Any = "rrf",
        rrf_k: int = 60,
        weights: tuple[float, float] = (0.5, 0.5),
        candidates: int | None = None,
        reranker: Any = None,
        rerank_top_k: int | None = None,
    ) -> list[Hit]:
        """Dense + BM25 retrieval fused inside Milvus, optionally reranked.

        Each route fetches ``candidates`` hits (default ``max(k, 50)``); Milvus fuses them with
        ``RRFRanker(rrf_k)`` (``ranker="rrf"``) or ``WeightedRanker(dense_weight,
        bm25_weight)`` (``ranker="weighted"``, ``weights``), or with a pymilvus ranker object
        you pass. Hit scores are the fused scores; with a ``reranker`` (any rankwise reranker)
        the ``k`` fused hits are reranked and keep the reranker's scores (``rerank_top_k``
        trims the result).
        """
        if self._query_embedding is None:
            raise ValueError(
                "hybrid_search needs a dense field: create the store with dense_dim and embedding"
            )
        _check_k(k)
        n_candidates = _check_k(max(k, 50) if candidates is None else candidates, "candidates")
        pm = self._pymilvus
        if ranker == "rrf":
            if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or not 0 < rrf_k < 16384:
                raise ValueError(f"rrf_k must be an integer in (0, 16384), got {rrf_k!r}")
            milvus_ranker = pm.RRFRanker(rrf_k)
        elif ranker == "weighted":
            if len(weights) != 2 or not all(0.0 <= float(w) <= 1.0 for w in weights):
                raise ValueError(
                    f"weights must be two numbers in [0, 1] (dense, bm25), got {weights!r}"
                )
            milvus_ranker = pm.WeightedRanker(float(weights[0]), float(weights[1]))
        elif isinstance(ranker, str):
            raise ValueError(
                f"ranker must be 'rrf', 'weighted' or a pymilvus ranker, got {ranker!r}"
            )
        else:
            milvus_ranker = ranker
        expr = filter_to_expr(filter)
        if isinstance(filter, (set, frozenset)) and not filter:
            return []
        if not isinstance(query, str):
            raise ValueError(f"query must be a string, got {type(query).__name__}")
        if not query.strip():
            return []
        text = self._query_text(query)
        vector = self._embed(self._query_embedding, [query], "query_embedding")[0]
        requests = [
            pm.AnnSearchRequest(
                data=[vector], anns_field=DENSE_FIELD, param={}, limit=n_candidates, expr=expr
            )
        ]
        if text is not None:
            requests.append(
                pm.AnnSearchRequest(
                    data=[text],
                    anns_field=SPARSE_FIELD,
                    param={"metric_type": "BM25"},
                    limit=n_candidates,
                    expr=expr,
                )
            )
        self._before_search()
        results = self._client.hybrid_search(
            self.collection,
            requests,
            ranker=milvus_ranker,
            limit=k,
            output_fields=[TEXT_FIELD, METADATA_FIELD],
        )
        hits = self._hits(results[0], bm25=False)
        if reranker is not None:
            return rerank(query, hits, reranker, rerank_top_k)
        return hits[:rerank_top_k] if rerank_top_k is not None else hits

    def __repr__(self) -> str:
        return (
            f"MilvusBM25Store(uri={self.uri!r}, collection={self.collection!r}, "
            f"k1={self.spec.k1}, b={self.spec.b})"
        )
