"""The HTTP application of ``rankwise serve`` (Starlette; run by uvicorn).

Endpoints:

- ``POST /v1/rerank`` (and ``/v2/rerank``, the path Cohere's ``ClientV2`` calls): Cohere's
  rerank request and response shape, so Cohere clients (the SDK, LangChain's and LlamaIndex's
  Cohere rerankers, rankwise's ``CohereReranker(base_url=...)``) work unchanged.
- ``POST /v1/search``: ``{"query", "k", "filter", "rerank", "fetch_k", "group_by_doc"}`` ->
  the ``rankwise.search/v1`` object ``rankwise search --json`` prints.
- ``GET /health`` (never needs the token) and ``GET /v1/info``.

Every error is JSON ``{"message": ...}`` with a 4xx status for a bad request (Cohere's SDK
shows the ``message``). With a token configured, ``/v1`` and ``/v2`` need
``Authorization: Bearer <token>``, compared in constant time.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rankwise._checks import has_lone_surrogate, positive_int
from rankwise._version import __version__
from rankwise.indexdir.filters import FilterError, conditions_from_json
from rankwise.indexdir.searching import candidates, result_rows, search_payload
from rankwise.rerankers.base import BaseReranker, pair_results, rank_scores
from rankwise.serve.batching import RerankBatcher

MAX_QUERY_CHARS = 10_000


@dataclass
class ServeConfig:
    """What ``rankwise serve`` loads and the limits it enforces."""

    index: str
    rerank: str | None = None
    device: str | None = None
    fetch_k: int = 50
    max_k: int = 1000
    max_batch_pairs: int = 512
    max_body_bytes: int = 4 * 1024 * 1024
    max_documents: int = 1000
    token: str | None = None
    #: torch intra-op threads (1: on a small or shared machine, one thread per model call and
    #: several calls at once use the cores better than one call spread over all of them)
    model_threads: int = 1
    #: cross-encoder calls that may run at once (each on its own batch of requests)
    model_workers: int = 2


class RequestError(Exception):
    """A request the server refuses; ``status`` and a one-sentence ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


# -- request parsing --------------------------------------------------------------------------
async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RequestError("Content-Length is not a number") from None
        if size > limit:
            raise RequestError(f"the request body is larger than the {limit:,}-byte limit", 413)
    chunks = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise RequestError(f"the request body is larger than the {limit:,}-byte limit", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise RequestError("the request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the request body is not valid JSON: {exc.msg} (char {exc.pos})"
        ) from None
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"a {type(value).__name__}"
        if isinstance(value, str):
            got = "empty"
        raise RequestError(f"'{key}' must be a non-empty string; it is {got}")
    if has_lone_surrogate(value):
        raise RequestError(f"'{key}' holds a lone surrogate (not valid Unicode text)")
    if len(value) > MAX_QUERY_CHARS:
        raise RequestError(f"'{key}' is longer than {MAX_QUERY_CHARS:,} characters")
    return value


def _count(body: dict[str, Any], key: str, default: int | None, most: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    try:
        value = positive_int(value, f"'{key}'")  # the shared rule, answered as a 400
    except ValueError as exc:
        raise RequestError(str(exc)) from None
    if value > most:
        raise RequestError(f"'{key}' must be at most {most:,}, got {value:,}")
    return value


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"'{key}' must be true or false, got {json.dumps(value)}")
    return value


def _documents(body: dict[str, Any], most: int) -> list[str]:
    """Cohere's ``documents``: strings, or objects with a ``text`` string (v1 style)."""
    docs = body.get("documents")
    if not isinstance(docs, list):
        raise RequestError("'documents' must be a list of strings")
    if not docs:
        raise RequestError("'documents' must hold at least one document")
    if len(docs) > most:
        raise RequestError(f"'documents' holds {len(docs):,} documents; the limit is {most:,}")
    out = []
    for i, doc in enumerate(docs):
        if isinstance(doc, dict) and isinstance(doc.get("text"), str):
            doc = doc["text"]
        if not isinstance(doc, str):
            raise RequestError(
                f"documents[{i}] must be a string (or an object with a 'text' string), "
                f"got {type(doc).__name__}"
            )
        if has_lone_surrogate(doc):
            raise RequestError(f"documents[{i}] holds a lone surrogate (not valid Unicode text)")
        out.append(doc)
    return out


# -- the application --------------------------------------------------------------------------
class RankwiseServer:
    """The loaded index and reranker, and the request handlers over them."""

    def __init__(
        self,
        config: ServeConfig,
        store: Any,
        reranker: BaseReranker | None,
        *,
        index_info: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.reranker = reranker
        self.batcher = (
            None
            if reranker is None
            else RerankBatcher(
                reranker, max_pairs=config.max_batch_pairs, workers=config.model_workers
            )
        )
        self.index_info = index_info or {}
        self.started = time.time()

    # authentication and errors ---------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        token = self.config.token
        if not token:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            given = ""
        return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))

    def guard(
        self, handler: Callable[[Request], Awaitable[Response]], *, auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if auth and not self._authorized(request):
                return _error(
                    401,
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                    {"WWW-Authenticate": "Bearer"},
                )
            try:
                return await handler(request)
            except RequestError as exc:
                return _error(exc.status, exc.message)
            except FilterError as exc:
                return _error(400, str(exc))

        return endpoint

    # handlers ----------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def info(self, request: Request) -> Response:
        reranker = None
        if self.reranker is not None and self.batcher is not None:
            reranker = {
                "name": self.reranker.name,
                "batching": self.batcher.kind,
                "model_workers": self.batcher.workers,
                "model_threads": self.config.model_threads,
                "model_calls": self.batcher.calls,
                "requests": self.batcher.requests,
                "pairs": self.batcher.pairs,
                "model_busy_s": round(self.batcher.busy_s, 3),
            }
            tokens = getattr(self.reranker, "_tokens", None)  # a cross-encoder's token cache
            if tokens is not None:
                reranker["token_cache"] = {
                    "documents": len(tokens),
                    "max_documents": tokens.size,
                    "hits": tokens.hits,
                    "misses": tokens.misses,
                }
        return JSONResponse(
            {
                "version": __version__,
                "index": {**self.index_info, "documents": len(self.store)},
                "reranker": reranker,
                "models": [] if self.reranker is None else [self.reranker.name],
                "limits": {
                    "max_body_bytes": self.config.max_body_bytes,
                    "max_documents": self.config.max_documents,
                    "max_k": self.config.max_k,
                    "max_batch_pairs": self.config.max_batch_pairs,
                },
                "auth": bool(self.config.token),
                "pid": os.getpid(),  # which --workers process answered
                "uptime_s": round(time.time() - self.started, 3),
            }
        )

    async def rerank(self, request: Request) -> Response:
        if self.batcher is None:
            raise RequestError(
                "this server has no reranker; start it with `rankwise serve INDEX --rerank SPEC`",
                404,
            )
        body = await _json_body(request, self.config.max_body_bytes)
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise RequestError("'model' must be a string")
        query = _text(body, "query")
        documents = _documents(body, self.config.max_documents)
        top_n = _count(body, "top_n", None, self.config.max_documents)
        return_documents = _flag(body, "return_documents", False)
        for key in ("max_tokens_per_doc", "max_chunks_per_doc"):
            _count(body, key, None, 1 << 30)  # accepted for compatibility; models truncate
        scores = await self.batcher.score(query, documents)
        results = []
        for r in rank_scores(documents, scores, top_n):
            item: dict[str, Any] = {"index": r.index, "relevance_score": r.score}
            if return_documents:
                item["document"] = {"text": r.text}
            results.append(item)
        version = "2" if request.url.path.startswith("/v2") else "1"
        return JSONResponse(
            {
                "id": str(uuid.uuid4()),
                "results": results,
                "meta": {
                    "api_version": {"version": version},
                    "billed_units": {"search_units": 1},
                },
            }
        )

    async def search(self, request: Request) -> Response:
        body = await _json_body(request, self.config.max_body_bytes)
        query = _text(body, "query")
        k = _count(body, "k", 10, self.config.max_k)
        assert k is not None
        conditions = conditions_from_json(body.get("filter"))
        use_rerank = _flag(body, "rerank", self.batcher is not None)
        if use_rerank and self.batcher is None:
            raise RequestError("'rerank' is true but this server has no reranker (--rerank SPEC)")
        group = _flag(body, "group_by_doc", False)
        fetch_k = _count(body, "fetch_k", max(self.config.fetch_k, k), self.config.max_k)
        assert fetch_k is not None
        n = max(fetch_k, k) if use_rerank else k
        t0 = time.perf_counter()
        try:
            hits = await run_in_threadpool(
                candidates, self.store, query, n, conditions, min_groups=k if group else 0
            )
        except ValueError as exc:  # a filter value the store refuses
            raise RequestError(str(exc)) from None
        retrieve_ms = (time.perf_counter() - t0) * 1000
        reranked = None
        rerank_ms = None
        if use_rerank and hits and self.batcher is not None:
            t1 = time.perf_counter()
            texts = [h.text for h in hits]
            scores = await self.batcher.score(query, texts)
            rerank_ms = (time.perf_counter() - t1) * 1000
            reranked = pair_results(hits, rank_scores(texts, scores, None))
        rows = result_rows(hits, k, reranked, group_by_doc=group)
        payload = search_payload(
            query=query,
            k=k,
            index=self.config.index,
            reranker=self.reranker.name if use_rerank and self.reranker is not None else None,
            retrieve_ms=retrieve_ms,
            rerank_ms=rerank_ms,
            rows=rows,
        )
        return Response(
            json.dumps(payload, ensure_ascii=False, default=str), media_type="application/json"
        )

    # assembly ------------------------------------------------------------------------------------
    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            if self.batcher is not None:
                await self.batcher.start()
            try:
                yield
            finally:
                if self.batcher is not None:
                    await self.batcher.stop()

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            message = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(
                exc.status_code, str(exc.detail)
            )
            return _error(exc.status_code, f"{message}: {request.method} {request.url.path}")

        async def server_error(request: Request, exc: Exception) -> Response:
            return _error(500, f"internal error: {type(exc).__name__}: {exc}")

        routes = [
            Route("/health", self.guard(self.health, auth=False), methods=["GET"]),
            Route("/v1/info", self.guard(self.info), methods=["GET"]),
            Route("/v1/rerank", self.guard(self.rerank), methods=["POST"]),
            Route("/v2/rerank", self.guard(self.rerank), methods=["POST"]),
            Route("/v1/search", self.guard(self.search), methods=["POST"]),
        ]
        return Starlette(
            routes=routes,
            lifespan=lifespan,
            exception_handlers={HTTPException: http_error, Exception: server_error},
        )


def load_server(config: ServeConfig) -> RankwiseServer:
    """Open the index and load the reranker (its model weights included) once."""
    from rankwise.indexdir.folder import describe_index, load_reranker, open_index

    store = open_index(config.index)
    reranker = load_reranker(config.rerank, config.device) if config.rerank else None
    if reranker is not None and getattr(reranker, "provider", None) is None:
        reranker.rerank("warm-up query", ["warm-up document"])  # loads the weights now
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(config.model_threads)
    return RankwiseServer(config, store, reranker, index_info=describe_index(config.index, store))


def app_from_environment() -> Starlette:
    """The application of one ``rankwise serve --workers N`` process (uvicorn's factory): the
    configuration comes from the supervisor through ``RANKWISE_SERVE_CONFIG``. A worker that
    cannot load says why in one line and exits with uvicorn's startup-failure status, so the
    supervisor stops instead of restarting it forever."""
    from uvicorn.config import STARTUP_FAILURE

    from rankwise.serve import CONFIG_ENV

    try:
        config = ServeConfig(**json.loads(os.environ.pop(CONFIG_ENV)))
        server = load_server(config)
    except Exception as exc:
        print(f"rankwise serve: error: worker {os.getpid()}: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    return server.app()


__all__ = ["RankwiseServer", "RequestError", "ServeConfig", "app_from_environment", "load_server"]
