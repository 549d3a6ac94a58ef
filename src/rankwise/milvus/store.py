"""``MilvusBM25Store``: the rankwise ``TextStore`` on Milvus, with the embedded index's answers
(Milvus's BM25 function on a server, the exact route of :mod:`rankwise.milvus.exact` on Lite)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from rankwise._checks import ids_arg, int_arg, number_arg, text_arg, texts_arg
from rankwise._deprecation import renamed_argument
from rankwise.fusion import DEFAULT_RRF_C
from rankwise.milvus import exact
from rankwise.milvus._base import (
    MAX_TOP_K,
    MilvusCollectionStore,
)
from rankwise.milvus.analyzers import analyzer_params_for, encode_tokens, is_lite_uri
from rankwise.milvus.filters import filter_to_expr
from rankwise.milvus.schema import (
    DENSE_FIELD,
    ID_FIELD,
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

__all__ = [
    "DEFAULT_ANALYZER",
    "MAX_TOP_K",
    "Embedding",
    "MilvusBM25Store",
    "Route",
    "choose_route",
    "rerank",
]

#: The analysis a store gets when none is asked for: the embedded ``BM25Index``'s default.
DEFAULT_ANALYZER = "english"

#: ``"milvus"``: Milvus analyses (or splits pre-analyzed text) and scores with its BM25
#: function. ``"exact"``: rankwise analyses and keeps the statistics, Milvus ranks BM25 sparse
#: vectors by inner product (:mod:`rankwise.milvus.exact`).
Route = Literal["milvus", "exact"]

_LITE_SEGMENT_WARNING = (
    "MilvusBM25Store(route='milvus') on Milvus Lite: Lite's BM25 function scores each segment "
    "with that segment's own statistics, so documents added after the first search are scored "
    "against their own small segment (measured on Cranfield: a document added alone scores "
    "0.288 for its unique word instead of 11.4, and drops out of the top-10). Use the default "
    "route='exact' on Lite for the embedded index's scores."
)
_warned_lite_segments = False


def _warn_lite_segments() -> None:
    global _warned_lite_segments
    if not _warned_lite_segments:
        _warned_lite_segments = True
        warnings.warn(_LITE_SEGMENT_WARNING, RuntimeWarning, stacklevel=3)


#: A dense embedding function: a list of texts in, one vector per text out.
Embedding = Callable[[list[str]], Sequence[Sequence[float]]]
_Analyze = Callable[[str], Sequence[str]]


def rerank(query: str, hits: Sequence[Hit], reranker: Any, top_k: int | None = None) -> list[Hit]:
    """Rerank search ``hits`` with any rankwise reranker; hits come back with its scores.

    ``reranker`` is a :class:`rankwise.rerankers.base.BaseReranker` (or anything with the same
    ``rerank(query, documents, top_k)`` method); hits are mapped back as
    :meth:`BaseReranker.rerank_hits <rankwise.rerankers.base.BaseReranker.rerank_hits>` does.
    """
    from rankwise.rerankers.base import hits_from_results

    if not hits:
        return []
    return hits_from_results(hits, reranker.rerank(query, [h.text for h in hits], top_k))


def choose_route(
    route: str, *, lite: bool, analyzer: object = DEFAULT_ANALYZER, pre_analyzed: bool = False
) -> Route:
    """The route ``MilvusBM25Store(route=route)`` takes (see its docstring).

    ``"auto"``: ``"exact"`` on Milvus Lite (its BM25 keeps statistics per segment and it lacks
    the ``english`` analyzer); on a server ``"milvus"`` when Milvus's own analyzer does exactly
    ``analyzer`` (or the text is pre-analyzed), else ``"exact"`` (e.g. a Python callable, which
    rankwise runs itself). An explicit route is kept; whether it can do the analysis is checked
    when the store is built.
    """
    if route not in ("auto", "milvus", "exact"):
        raise ValueError(f"route must be 'auto', 'milvus' or 'exact', got {route!r}")
    if route != "auto":
        return "milvus" if route == "milvus" else "exact"
    if lite:
        return "exact"
    if pre_analyzed:
        return "milvus"
    try:
        analyzer_params_for(analyzer, "server")
    except ValueError:
        return "exact"
    return "milvus"


def _config_or_none(analyzer: object) -> dict[str, Any] | None:
    """The analyzer params of ``analyzer`` (a name, params or ``Analyzer``); None for a callable."""
    from rankwise.bm25.analyzer import Analyzer

    if isinstance(analyzer, Analyzer):
        return None if analyzer.is_callable else analyzer.config
    if isinstance(analyzer, (str, Mapping)):
        try:
            return Analyzer(analyzer).config
        except ValueError as exc:
            raise ValueError(f"analyzer_params: {exc}") from None
    return None


class MilvusBM25Store(MilvusCollectionStore):
    """Documents in a Milvus collection, searched by BM25 with the embedded index's answers.

    The :class:`~rankwise.types.TextStore` contract, like :class:`rankwise.BM25Index`, so
    retrievers take either backend. The default ``uri`` is a local file, i.e. embedded Milvus
    Lite started by pymilvus itself; any Milvus standalone/cluster URI
    (``http://host:19530``) or Zilliz Cloud URI + ``token`` works unchanged.

    With every argument at its default the store analyses text exactly like ``BM25Index()``
    (the ``english`` analyzer) and scores like it. Where that happens is the *route*
    (``store.route``, also in ``repr``):

    * ``"milvus"`` (default on a server): Milvus's own analyzer and BM25 function.
    * ``"exact"`` (default on Milvus Lite, which rejects ``{"type": "english"}`` and keeps BM25
      statistics per segment): rankwise analyses the text and keeps the corpus statistics
      current, Milvus ranks BM25 sparse vectors (:mod:`rankwise.milvus.exact`).

    Asking for an analysis the route cannot do (``route="milvus"`` with ``"english"`` on Lite)
    is a ``ValueError``, never a substitution.

    Args:
        uri: ``*.db`` path (Milvus Lite) or a server URI.
        collection: collection name; created if missing, validated if present
            (:class:`~rankwise.milvus.schema.SchemaMismatchError` on any difference).
        token: credentials for a server (``"user:password"`` or an API key).
        analyzer_params: the analysis (default ``"english"``, as ``BM25Index``): an analyzer
            name, Milvus ``analyzer_params`` or a rankwise ``Analyzer``; on the ``milvus`` route
            checked by :func:`~rankwise.milvus.analyzers.analyzer_params_for` against what the
            target (Lite or server) can really do.
        k1, b: BM25 parameters (Milvus defaults 1.2 / 0.75).
        inverted_index_algo: ``TAAT_NAIVE``, ``DAAT_WAND`` or ``DAAT_MAXSCORE`` (``milvus``
            route on a server only: Lite scores exhaustively, which gives the same results).
        dense_dim, embedding: add a ``FLOAT_VECTOR(dense_dim)`` field filled by
            ``embedding(texts)`` and enable :meth:`hybrid_search`. ``query_embedding``
            optionally embeds queries differently (asymmetric models).
        pre_analyzer: analyze text on the client with this rankwise ``Analyzer`` or any
            ``str -> list[str]`` instead of ``analyzer_params`` (on the ``milvus`` route Milvus
            then only splits the analyzed tokens).
        route: ``"auto"`` (default: ``"exact"`` on Lite; on a server ``"milvus"`` when Milvus's
            analyzer can do the analysis, else ``"exact"``), ``"milvus"`` or ``"exact"``.
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
        route: Literal["auto", "milvus", "exact"] = "auto",
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
        self._exact: exact.ClientBM25 | None = None
        self._pending: list[dict[str, Any]] | None = None
        target: Literal["lite", "server"] = "lite" if lite else "server"
        wanted = DEFAULT_ANALYZER if analyzer_params is None else analyzer_params
        if pre_analyzer is not None:
            if analyzer_params is not None and analyzer_params not in (
                "standard",
                {"type": "standard"},
            ):
                raise ValueError(
                    "analyzer_params: with pre_analyzer the text is analyzed on the client; "
                    "leave analyzer_params unset"
                )
            analyze = getattr(pre_analyzer, "analyze", pre_analyzer)
            if not callable(analyze):
                raise ValueError(
                    "pre_analyzer must be a rankwise Analyzer or a callable str -> list[str]"
                )
        chosen = choose_route(
            route, lite=lite, analyzer=wanted, pre_analyzed=pre_analyzer is not None
        )
        self._route: Route = chosen
        self._analyzer_config: dict[str, Any] | None
        params: dict[str, Any]
        if chosen == "exact":
            analyze = (
                getattr(pre_analyzer, "analyze", pre_analyzer)
                if pre_analyzer is not None
                else self._rankwise_analyzer(wanted).analyze
            )
            self._analyzer_config = _config_or_none(
                wanted if pre_analyzer is None else pre_analyzer
            )
            self._exact = exact.ClientBM25(analyze, k1, b)
            params = dict(self._analyzer_config or {})
        elif pre_analyzer is not None:
            self._analyze = analyze
            self._analyzer_config = _config_or_none(pre_analyzer)
            params = {"type": "standard"}
        else:
            params = analyzer_params_for(wanted, target)
            self._analyzer_config = params
        if chosen == "milvus" and lite:
            _warn_lite_segments()
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

    @staticmethod
    def _rankwise_analyzer(wanted: object) -> Any:
        from rankwise.bm25.analyzer import Analyzer

        try:
            return Analyzer(wanted)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"analyzer_params: {exc}") from None

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def k1(self) -> float:
        return float(self.spec.k1)

    @property
    def b(self) -> float:
        return float(self.spec.b)

    def _properties(self) -> dict[str, str]:
        return collection_properties(self.spec)

    @property
    def route(self) -> Route:
        """``"milvus"`` (Milvus's BM25 function) or ``"exact"`` (rankwise statistics)."""
        return self._route

    @property
    def analysis(self) -> Literal["milvus", "client"]:
        """Where text is analyzed: by Milvus's analyzer or by rankwise on the client."""
        return "client" if self._exact is not None or self._analyze is not None else "milvus"

    @property
    def analyzer_params(self) -> dict[str, Any] | None:
        """The analysis as analyzer params (None for a Python callable), for the record."""
        return None if self._analyzer_config is None else dict(self._analyzer_config)

    def _open_or_create(self) -> None:
        if self._exact is not None:
            self._open_or_create_exact()
            return
        if self._client.has_collection(self.collection):
            description, indexes = self._describe()
            validate_collection(self.collection, description, indexes, self.spec)
            self._client.load_collection(self.collection)
            return
        self._create(
            build_schema(self._client, self.spec, self._pymilvus),
            build_index_params(self._client, self.spec),
        )

    def _open_or_create_exact(self) -> None:
        assert self._exact is not None
        settings = exact.settings_property(self._analyzer_config, self.spec)
        if self._client.has_collection(self.collection):
            description, indexes = self._describe()
            exact.validate_collection(self.collection, description, indexes, self.spec, settings)
            self._client.load_collection(self.collection)
            self._rebuild_statistics()
            return
        self._create(
            exact.build_schema(self._client, self.spec, self._pymilvus),
            exact.build_index_params(self._client, self.spec),
            properties=settings,
        )

    def _rebuild_statistics(self) -> None:
        """Read every stored row's text to recompute the exact route's statistics."""
        assert self._exact is not None
        fields = [TEXT_FIELD, exact.AVGDL_FIELD, exact.SEQ_FIELD]
        self._exact.rebuild(
            (str(r[TEXT_FIELD]), float(r[exact.AVGDL_FIELD]), int(r[exact.SEQ_FIELD]))
            for r in self._scan(fields)
        )

    def _scan(self, fields: list[str]) -> Iterable[dict[str, Any]]:
        if self.lite:  # Lite has no result window; its query_iterator warns about timestamps
            yield from self._client.query(
                self.collection, filter=f'{ID_FIELD} != ""', output_fields=fields
            )
            return
        iterator = self._client.query_iterator(
            self.collection, batch_size=1000, filter="", output_fields=fields
        )
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                yield from batch
        finally:
            iterator.close()

    # ------------------------------------------------------------------------------- writing

    def _prepare(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        if self._exact is not None:
            pending, self._pending = self._pending, None
            return pending
        if self._analyze is None:
            return None
        out = []
        for i, text in enumerate(texts):
            analyzed = self._analyzed(text)
            self._check_text_length(analyzed, f"texts[{i}] once analyzed")
            out.append({self.spec.analyzed_field: analyzed})
        return out

    def _write(
        self,
        op: Literal["insert", "upsert"],
        texts: list[str],
        ids: list[str],
        metas: list[dict[str, Any]],
    ) -> None:
        if self._exact is None:
            super()._write(op, texts, ids, metas)
            return
        engine = self._exact
        with engine.write_lock:
            replaced = self._stored_texts(ids) if op == "upsert" else []
            tokens = [engine.tokens(t) for t in texts]
            before = engine.stats
            after = before.changed(tokens, [engine.tokens(t) for t in replaced])
            self._pending = [
                {
                    SPARSE_FIELD: engine.document_vector(toks, after.avgdl),
                    exact.AVGDL_FIELD: after.avgdl,
                    exact.SEQ_FIELD: before.next_seq + i,
                }
                for i, toks in enumerate(tokens)
            ]
            # Searches during the write must already allow for rows encoded at the new length.
            engine.stats = replace(before, min_ref_avgdl=after.min_ref_avgdl)
            try:
                super()._write(op, texts, ids, metas)
            except BaseException:
                self._pending = None
                self._rebuild_statistics()  # part of the batches may have been written
                raise
            engine.stats = after

    def _stored_texts(self, ids: Sequence[str]) -> list[str]:
        return [h.text for h in self.get(ids)]

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id; returns how many were stored (unknown ids are ignored)."""
        if self._exact is None:
            return super().delete(ids)
        id_list = ids_arg(ids, max_bytes=self.max_id_length)
        engine = self._exact
        with engine.write_lock:
            gone = self.get(list(dict.fromkeys(id_list)))
            try:
                removed = super().delete(id_list)
            except BaseException:
                self._rebuild_statistics()
                raise
            engine.stats = engine.stats.changed([], [engine.tokens(h.text) for h in gone])
        return removed

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
        if self._analyze is None:  # Milvus analyses it (or, on the exact route, rankwise later)
            return query
        encoded = self._analyzed(query)
        return encoded or None

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """Top-``k`` documents for ``query`` by BM25, best first (score > 0 only).

        ``filter``: a dict of metadata equalities (str/int/float/bool values), a set of allowed
        ids or a Milvus expression string, evaluated inside Milvus (so a filtered search still
        returns ``k`` hits when ``k`` match); a predicate raises
        :class:`~rankwise.types.FilterNotSupportedError`, as it cannot run inside Milvus.
        """
        return self.search_many([text_arg(query, "query")], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """:meth:`search` for several queries, sent to Milvus in batches."""
        queries = texts_arg(queries, "queries")
        k = int_arg(k, "k", maximum=MAX_TOP_K)
        expr = filter_to_expr(filter, store=type(self).__name__)
        texts = [self._query_text(q) for q in queries]
        out: list[list[Hit]] = [[] for _ in texts]
        if isinstance(filter, (set, frozenset)) and not filter:
            return out
        todo = [i for i, t in enumerate(texts) if t is not None]
        if not todo:
            return out
        if self._exact is not None:
            for i in todo:
                out[i] = self._exact_search(queries[i], k, expr)
            return out
        for i, hits in self._search_batches(texts, todo, k=k, expr=expr, metric="BM25").items():
            out[i] = hits
        return out

    def _exact_search(self, query: str, k: int, expr: str) -> list[Hit]:
        """The exact route's top-k: Milvus candidates by stored weights, re-scored exactly."""
        engine = self._exact
        assert engine is not None
        stats = engine.stats
        weights = engine.query_weights(stats, query)
        if not weights:
            return []
        vector = engine.query_vector(weights)
        bound = engine.drift_bound(stats)
        fetch = min(MAX_TOP_K, max(2 * k, k + 16))
        self._before_search()
        while True:
            results = self._client.search(
                self.collection,
                data=[vector],
                anns_field=SPARSE_FIELD,
                limit=fetch,
                filter=expr,
                output_fields=[TEXT_FIELD, METADATA_FIELD, exact.SEQ_FIELD],
                search_params={"metric_type": "IP"},
            )[0]
            scored: list[tuple[float, int, Hit]] = []
            for r in results:
                entity = r.get("entity", {}) or {}
                text = str(entity.get(TEXT_FIELD, ""))
                score = engine.score(stats, weights, text)
                if score > 0.0:
                    hit = Hit(
                        id=str(r["id"]),
                        score=score,
                        text=text,
                        metadata=entity.get(METADATA_FIELD) or {},
                    )
                    scored.append((-score, int(entity.get(exact.SEQ_FIELD, 0)), hit))
            scored.sort(key=lambda item: (item[0], item[1]))
            complete = len(results) < fetch or fetch >= MAX_TOP_K
            if complete:
                return [h for _, _, h in scored[:k]]
            lowest = abs(float(results[-1]["distance"]))
            if len(scored) >= k and -scored[k - 1][0] > bound * lowest:
                return [h for _, _, h in scored[:k]]
            fetch = min(MAX_TOP_K, fetch * 4)

    def hybrid_search(
        self,
        query: str,
        k: int = 10,
        filter: Filter | None = None,
        *,
        ranker: Literal["rrf", "weighted"] | Any = "rrf",
        c: int = DEFAULT_RRF_C,
        weights: tuple[float, float] = (0.5, 0.5),
        fetch_k: int | None = None,
        reranker: Any = None,
        top_n: int | None = None,
        rrf_k: int | None = None,
        candidates: int | None = None,
        rerank_top_k: int | None = None,
    ) -> list[Hit]:
        """Dense + BM25 retrieval fused inside Milvus, optionally reranked.

        Each route fetches ``fetch_k`` hits (default ``max(k, 50)``); Milvus fuses them into
        ``k`` hits with ``RRFRanker(c)`` (``ranker="rrf"``; ``c`` is Milvus's RRF ``k``) or
        ``WeightedRanker(dense_weight, bm25_weight)`` (``ranker="weighted"``, ``weights``), or
        with a pymilvus ranker object you pass. Hit scores are the fused scores; with a
        ``reranker`` (any rankwise reranker) the ``k`` fused hits are reranked and keep the
        reranker's scores (``top_n`` trims the result).

        ``rrf_k=``, ``candidates=`` and ``rerank_top_k=`` are the deprecated names of ``c=``,
        ``fetch_k=`` and ``top_n=``.
        """
        where = "MilvusBM25Store.hybrid_search"
        c = renamed_argument(where, "rrf_k", "c", rrf_k, c, DEFAULT_RRF_C)
        fetch_k = renamed_argument(where, "candidates", "fetch_k", candidates, fetch_k, None)
        top_n = renamed_argument(where, "rerank_top_k", "top_n", rerank_top_k, top_n, None)
        if self._query_embedding is None:
            raise ValueError(
                "hybrid_search needs a dense field: create the store with dense_dim and embedding"
            )
        k = int_arg(k, "k", maximum=MAX_TOP_K)
        n_candidates = int_arg(
            max(k, 50) if fetch_k is None else fetch_k, "fetch_k", maximum=MAX_TOP_K
        )
        pm = self._pymilvus
        if ranker == "rrf":
            c = int_arg(c, "c", maximum=16383)  # Milvus: (0, 16384)
        elif ranker == "weighted":
            if len(weights) != 2:
                raise ValueError(
                    f"weights must be two numbers in [0, 1] (dense, bm25), got {weights!r}"
                )
            for i, w in enumerate(weights):
                number_arg(w, f"weights[{i}]", minimum=0.0, maximum=1.0)
        elif isinstance(ranker, str):
            raise ValueError(
                f"ranker must be 'rrf', 'weighted' or a pymilvus ranker, got {ranker!r}"
            )
        expr = filter_to_expr(filter, store=type(self).__name__)
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
        sparse: Any = text
        metric = "BM25"
        if self._exact is not None:
            # The exact route's BM25 side is ranked by the stored weights here (Milvus fuses
            # inside hybrid_search): equal to the exact ranking until the average length drifts.
            term_weights = self._exact.query_weights(self._exact.stats, query)
            sparse = self._exact.query_vector(term_weights) if term_weights else None
            metric = "IP"
        if sparse is not None:
            requests.append(
                pm.AnnSearchRequest(
                    data=[sparse],
                    anns_field=SPARSE_FIELD,
                    param={"metric_type": metric},
                    limit=n_candidates,
                    expr=expr,
                )
            )
        if ranker == "rrf":
            milvus_ranker = pm.RRFRanker(c)
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
            return rerank(query, hits, reranker, top_n)
        return hits[:top_n] if top_n is not None else hits

    def __repr__(self) -> str:
        return (
            f"MilvusBM25Store(uri={self.uri!r}, collection={self.collection!r}, "
            f"route={self._route!r}, analysis={self.analysis!r}, "
            f"analyzer_params={self._analyzer_config!r}, k1={self.spec.k1}, b={self.spec.b})"
        )
