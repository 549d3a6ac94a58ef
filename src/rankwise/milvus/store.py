"""``MilvusBM25Store``: the rankwise ``TextStore`` on Milvus full-text search (BM25 function)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from rankwise._checks import text_arg
from rankwise.milvus._base import MAX_TOP_K, MilvusCollectionStore, check_k, required_list
from rankwise.milvus.analyzers import analyzer_params_for, encode_tokens, is_lite_uri
from rankwise.milvus.filters import filter_to_expr
from rankwise.milvus.schema import (
    DENSE_FIELD,
    METADATA_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    CollectionSpec,
    build_index_params,
    build_schema,
    collection_properties,
    validate_collection,
)
from rankwise.types import Filter, Hit

__all__ = ["MAX_TOP_K", "Embedding", "MilvusBM25Store", "rerank"]

#: A dense embedding function: a list of texts in, one vector per text out.
Embedding = Callable[[list[str]], Sequence[Sequence[float]]]
_Analyze = Callable[[str], Sequence[str]]


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


class MilvusBM25Store(MilvusCollectionStore):
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
        if (dense_dim is None) != (embedding is None):
            raise ValueError("dense_dim and embedding go together: pass both or neither")
        if embedding is not None and not callable(embedding):
            raise ValueError("embedding must be a callable: list[str] -> list of vectors")
        if query_embedding is not None and not callable(query_embedding):
            raise ValueError("query_embedding must be a callable: list[str] -> list of vectors")
        lite = is_lite_uri(uri) if isinstance(uri, str) else False
        self._embedding = embedding
        self._query_embedding = query_embedding or embedding
        self._analyze: _Analyze | None = None
        target: Literal["lite", "server"] = "lite" if lite else "server"
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
            lite=lite,
        )
        self.max_text_length = max_text_length
        self._connect(
            uri, collection, token, db_name, show_progress, batch_size, feature="MilvusBM25Store"
        )

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def k1(self) -> float:
        return float(self.spec.k1)

    @property
    def b(self) -> float:
        return float(self.spec.b)

    def _properties(self) -> dict[str, str]:
        return collection_properties(self.spec)

    def _open_or_create(self) -> None:
        if self._client.has_collection(self.collection):
            description, indexes = self._describe()
            validate_collection(self.collection, description, indexes, self.spec)
            self._client.load_collection(self.collection)
            return
        self._create(
            build_schema(self._client, self.spec, self._pymilvus),
            build_index_params(self._client, self.spec),
        )

    # ------------------------------------------------------------------------------- writing

    def _prepare(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        if self._analyze is None:
            return None
        out = []
        for i, text in enumerate(texts):
            analyzed = self._analyzed(text)
            self._check_text_length(analyzed, f"texts[{i}] once analyzed")
            out.append({self.spec.analyzed_field: analyzed})
        return out

    def _extra_fields(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        if self._embedding is None:
            return None
        return [{DENSE_FIELD: v} for v in self._embed(self._embedding, list(texts), "embedding")]

    def _analyzed(self, text: str) -> str:
        analyze = self._analyze
        if analyze is None:  # only called when the store has a pre_analyzer
            raise RuntimeError("this store analyzes text in Milvus, not on the client")
        tokens = analyze(text)
        if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("pre_analyzer must return a list of strings")
        return encode_tokens(tokens)

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

    def _query_text(self, query: object) -> str | None:
        """The text to send for ``query``, or None when it cannot match anything."""
        query = text_arg(query, "query")
        if not query.strip():
            return None
        if self._analyze is None:
            return query
        encoded = self._analyzed(query)
        return encoded or None

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-``k`` documents for ``query`` by Milvus BM25, best first (score > 0 only).

        ``filter``: a dict of metadata equalities (str/int/float/bool values) or a set of allowed
        ids, evaluated inside Milvus (so a filtered search still returns ``k`` hits when ``k``
        match); a callable raises ``ValueError``, as it cannot run inside Milvus.
        """
        return self.search_many([query], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """:meth:`search` for several queries, sent to Milvus in batches."""
        queries = required_list(queries, "queries")
        check_k(k)
        expr = filter_to_expr(filter)
        texts = [self._query_text(q) for q in queries]
        out: list[list[Hit]] = [[] for _ in texts]
        if isinstance(filter, (set, frozenset)) and not filter:
            return out
        todo = [i for i, t in enumerate(texts) if t is not None]
        if not todo:
            return out
        for i, hits in self._search_batches(texts, todo, k=k, expr=expr, metric="BM25").items():
            out[i] = hits
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
        check_k(k)
        n_candidates = check_k(max(k, 50) if candidates is None else candidates, "candidates")
        pm = self._pymilvus
        if ranker == "rrf":
            if isinstance(rrf_k, bool) or not isinstance(rrf_k, int) or not 0 < rrf_k < 16384:
                raise ValueError(f"rrf_k must be an integer in (0, 16384), got {rrf_k!r}")
        elif ranker == "weighted":
            if len(weights) != 2 or not all(0.0 <= float(w) <= 1.0 for w in weights):
                raise ValueError(
                    f"weights must be two numbers in [0, 1] (dense, bm25), got {weights!r}"
                )
        elif isinstance(ranker, str):
            raise ValueError(
                f"ranker must be 'rrf', 'weighted' or a pymilvus ranker, got {ranker!r}"
            )
        expr = filter_to_expr(filter)
        if isinstance(filter, (set, frozenset)) and not filter:
            return []
        query = text_arg(query, "query")
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
        if ranker == "rrf":
            milvus_ranker = pm.RRFRanker(rrf_k)
        elif ranker == "weighted":  # one weight per route actually sent
            milvus_ranker = pm.WeightedRanker(*(float(w) for w in weights[: len(requests)]))
        else:
            milvus_ranker = ranker
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
