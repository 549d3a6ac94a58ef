"""A loopback fake of the Cohere, Voyage, Jina and TEI rerank HTTP APIs, for tests.

The server binds ``127.0.0.1`` on a free port, answers in a thread pool (so concurrent
requests are served concurrently) and records every request. Point the real SDKs at it::

    from rankwise.testing.fake_api import FakeRerankServer, Reply

    with FakeRerankServer() as server:
        co = cohere.ClientV2(api_key="k", base_url=server.url, max_retries=0)
        vo = voyageai.Client(api_key="k", base_url=server.base_url("voyage"))
        # rankwise backends: CohereReranker(api_key="k", base_url=server.base_url("cohere")) ...
        server.script(Reply.rate_limited(retry_after=0), Reply.ok())   # next two replies
        ...
        assert server.requests[0].json["query"] == "..."

As a pytest fixture::

    @pytest.fixture
    def fake_api():
        with FakeRerankServer() as server:
            yield server

Routing: ``POST .../v2/rerank`` answers in Cohere v2 shape (``results[].index`` /
``relevance_score``); ``POST .../v1/rerank`` answers in Voyage shape (``data[]`` + ``usage``)
when the path contains ``/voyage/`` or the body has ``top_k``/``truncation``, otherwise in
Jina shape (``results[]`` + ``usage``; documents echoed unless ``return_documents`` is
false). ``POST .../rerank`` whose path contains ``/tei/`` or whose body has ``texts`` answers
as a text-embeddings-inference server (a bare list of ``{index, score[, text]}``, errors as
``{error, error_type}``).
:meth:`FakeRerankServer.base_url` gives each SDK's base URL. Any other path gets 404.

Replies come from a FIFO script (:meth:`FakeRerankServer.script`); when it is empty the
``default`` reply answers (a normal 200). A 200 is computed by ``scorer`` (deterministic word
overlap by default, :func:`overlap_score`), sorted best first and cut to ``top_n``/``top_k``.
Scripted failure modes: 429 with or without ``Retry-After``, any status (500, 503, 400, 401,
...), a delay before answering (longer than the client's timeout -> client timeout), a body
dripped one byte at a time (every read is quick, the answer is not: :meth:`Reply.drip`), a body
that is not JSON, a JSON body missing the results, a wrong number of results, an index out of
range, a duplicated index, or a dropped connection.

Never binds anything but the loopback interface.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeRerankServer",
    "RecordedRequest",
    "Reply",
    "fake_rerank_server",
    "overlap_score",
]

_WORD = re.compile(r"\w+")


def overlap_score(query: str, document: str) -> float:
    """Deterministic relevance in [0, 1]: share of distinct query words found in the document.

    A tiny tie-breaker favours shorter documents, so distinct documents rarely tie.
    """
    q = {w.lower() for w in _WORD.findall(query)}
    d = [w.lower() for w in _WORD.findall(document)]
    if not q:
        return 0.0
    hits = len(q.intersection(d))
    return round(hits / len(q) * 0.99 + 0.01 / (1 + len(d)), 6)


@dataclass(frozen=True)
class Reply:
    """One scripted reply. Build with the class methods."""

    kind: str = "ok"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    message: str = ""
    body: bytes | None = None

    @classmethod
    def ok(cls, *, delay: float = 0.0) -> Reply:
        """A correct 200 computed by the server's scorer (after ``delay`` seconds)."""
        return cls("ok", 200, delay=delay)

    @classmethod
    def rate_limited(cls, *, retry_after: float | str | None = None, delay: float = 0.0) -> Reply:
        """429 Too Many Requests, with a ``Retry-After`` header when given."""
        headers = () if retry_after is None else (("Retry-After", _fmt(retry_after)),)
        return cls("error", 429, headers, delay, "rate limit exceeded, slow down")

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "fake provider error",
        *,
        retry_after: float | str | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """Any error status (500, 503, 400, 401, 422, ...) with a JSON error body."""
        headers = () if retry_after is None else (("Retry-After", _fmt(retry_after)),)
        return cls("error", status, headers, delay, message)

    @classmethod
    def server_error(cls, message: str = "internal server error") -> Reply:
        return cls.error(500, message)

    @classmethod
    def unavailable(cls, message: str = "service unavailable") -> Reply:
        return cls.error(503, message)

    @classmethod
    def slow(cls, delay: float) -> Reply:
        """A correct 200, but only after ``delay`` seconds (use > the client timeout)."""
        return cls("ok", 200, delay=delay)

    @classmethod
    def malformed_json(cls) -> Reply:
        """200 with a body that is not JSON."""
        return cls("raw", 200, body=b'{"results": [{"index": 0, "relevance_')

    @classmethod
    def raw(
        cls,
        body: bytes,
        status: int = 200,
        content_type: str = "application/json",
        *,
        retry_after: float | str | None = None,
    ) -> Reply:
        """Exactly this body (with a ``Retry-After`` header when given)."""
        headers: tuple[tuple[str, str], ...] = (("Content-Type", content_type),)
        if retry_after is not None:
            headers += (("Retry-After", _fmt(retry_after)),)
        return cls("raw", status, headers, body=body)

    @classmethod
    def drip(cls, interval: float = 0.25) -> Reply:
        """A correct 200 whose headers come at once and whose body comes one byte every
        ``interval`` seconds: every read is quick, the whole answer takes minutes."""
        return cls("drip", 200, delay=0.0, message=repr(float(interval)))

    @classmethod
    def missing_results(cls) -> Reply:
        """200 with valid JSON that lacks the results list."""
        return cls("missing", 200)

    @classmethod
    def wrong_count(cls) -> Reply:
        """200 with one result fewer than asked for."""
        return cls("wrong_count", 200)

    @classmethod
    def index_out_of_range(cls) -> Reply:
        """200 whose last result points past the end of the documents."""
        return cls("out_of_range", 200)

    @classmethod
    def duplicate_index(cls) -> Reply:
        """200 where two results name the same document."""
        return cls("duplicate", 200)

    @classmethod
    def drop_connection(cls) -> Reply:
        """Close the socket without answering (a connection error on the client)."""
        return cls("drop", 0)


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    received_at: float = 0.0
    provider: str = ""


@dataclass
class _State:
    scorer: Callable[[str, str], float]
    default: Reply
    script: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _provider_for(path: str, body: Any) -> str | None:
    if path.endswith("/v2/rerank"):
        return "cohere"
    if path.endswith("/rerank") and (
        "/tei/" in path or (isinstance(body, dict) and "texts" in body)
    ):
        return "tei"
    if path.endswith("/v1/rerank") or path.endswith("/rerank"):
        if "/voyage/" in path:
            return "voyage"
        if "/jina/" in path:
            return "jina"
        if isinstance(body, dict) and ("top_k" in body or "truncation" in body):
            return "voyage"
        return "jina"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    def do_GET(self) -> None:
        self._send(404, {"message": "not found", "detail": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        path = self.path.split("?", 1)[0]
        provider = _provider_for(path, parsed)
        with state.lock:
            state.requests.append(
                RecordedRequest(
                    method="POST",
                    path=path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=raw,
                    json=parsed,
                    received_at=time.monotonic(),
                    provider=provider or "",
                )
            )
            reply = state.script.popleft() if state.script else state.default
        if reply.delay:
            time.sleep(reply.delay)
        if provider is None:
            self._send(404, {"message": f"no route {path}", "detail": f"no route {path}"})
            return
        if reply.kind == "drop":
            self.close_connection = True
            return
        if reply.kind == "raw":
            self._send_bytes(reply.status, reply.body or b"", dict(reply.headers))
            return
        if reply.kind == "error":
            body = {"message": reply.message, "detail": reply.message}
            if provider == "tei":
                body = {"error": reply.message, "error_type": "fake"}
            self._send(reply.status, body, dict(reply.headers))
            return
        if not isinstance(parsed, dict):
            self._send(400, {"message": "body must be JSON", "detail": "body must be JSON"})
            return
        answer = self._answer(provider, parsed, reply.kind)
        if reply.kind == "drip":
            self._drip(json.dumps(answer).encode(), float(reply.message))
            return
        self._send(reply.status, answer, dict(reply.headers))

    def _drip(self, body: bytes, interval: float) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(interval)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: good
            pass
        self.close_connection = True

    def _answer(self, provider: str, req: dict[str, Any], kind: str) -> Any:
        if provider == "tei":
            return self._answer_tei(req, kind)
        query = str(req.get("query", ""))
        docs = [str(d.get("text", d) if isinstance(d, dict) else d) for d in req["documents"]]
        scores = [self.server.state.scorer(query, d) for d in docs]
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
        limit = req.get("top_k" if provider == "voyage" else "top_n")
        if isinstance(limit, int):
            order = order[:limit]
        items: list[dict[str, Any]] = [{"index": i, "relevance_score": scores[i]} for i in order]
        if kind == "wrong_count":
            items = items[:-1]
        elif kind == "out_of_range" and items:
            items[-1] = {"index": len(docs) + 3, "relevance_score": 0.0}
        elif kind == "duplicate" and len(items) > 1:
            items[-1] = {"index": items[0]["index"], "relevance_score": 0.0}
        tokens = sum(len(_WORD.findall(d)) + len(_WORD.findall(query)) for d in docs)
        if kind == "missing":
            return {"id": "fake", "meta": {}, "usage": {"total_tokens": tokens}}
        if provider == "cohere":
            return {
                "id": "fake-rerank",
                "results": items,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
            }
        if provider == "voyage":
            return {
                "object": "list",
                "data": items,
                "model": req.get("model"),
                "usage": {"total_tokens": tokens},
            }
        if req.get("return_documents", True):  # Jina echoes documents unless told not to
            for item in items:
                if 0 <= item["index"] < len(docs):
                    item["document"] = {"text": docs[item["index"]]}
        return {"model": req.get("model"), "usage": {"total_tokens": tokens}, "results": items}

    def _answer_tei(self, req: dict[str, Any], kind: str) -> Any:
        """TEI's ``/rerank``: a bare list of ``{index, score[, text]}``, best first, all texts."""
        query = str(req.get("query", ""))
        docs = [str(d) for d in req.get("texts") or []]
        scores = [self.server.state.scorer(query, d) for d in docs]
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
        items: list[dict[str, Any]] = [{"index": i, "score": scores[i]} for i in order]
        if kind == "wrong_count":
            items = items[:-1]
        elif kind == "out_of_range" and items:
            items[-1] = {"index": len(docs) + 3, "score": 0.0}
        elif kind == "duplicate" and len(items) > 1:
            items[-1] = {"index": items[0]["index"], "score": 0.0}
        if kind == "missing":
            return {"ranks": "missing"}
        if req.get("return_text"):
            for item in items:
                if 0 <= item["index"] < len(docs):
                    item["text"] = docs[item["index"]]
        return items

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers or {})

    def _send_bytes(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            if not any(k.lower() == "content-type" for k in headers):
                self.send_header("Content-Type", "application/json")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, state: _State) -> None:
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet teardown
        return


class FakeRerankServer:
    """Loopback fake rerank API; a context manager that starts and stops the server.

    ``scorer`` maps (query, document) to a relevance score; ``default`` answers when the
    script is empty. ``requests`` lists what arrived, in order.
    """

    def __init__(
        self,
        scorer: Callable[[str, str], float] = overlap_score,
        *,
        default: Reply | None = None,
    ) -> None:
        self._state = _State(scorer=scorer, default=default or Reply.ok())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeRerankServer:
        if self._server is None:
            self._server = _Server(self._state)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-rerank-api",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> FakeRerankServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (Cohere's and Jina's base URL)."""
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        """The base URL each client expects: Cohere and Jina the root, Voyage ``.../v1``."""
        if provider == "voyage":
            return f"{self.url}/voyage/v1"
        if provider == "jina":
            return f"{self.url}/jina"
        if provider == "cohere":
            return self.url
        if provider == "tei":
            return f"{self.url}/tei"
        raise ValueError(f"unknown provider {provider!r}")

    # scripting -------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Append replies; each request consumes the next one."""
        with self._state.lock:
            self._state.script.extend(replies)

    @property
    def default(self) -> Reply:
        return self._state.default

    @default.setter
    def default(self, reply: Reply) -> None:
        self._state.default = reply

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._state.lock:
            return len(self._state.script)

    # records ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def requests_for(self, provider: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.provider == provider]

    def clear(self) -> None:
        """Forget recorded requests and pending script entries."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.script.clear()


def fake_rerank_server() -> Iterator[FakeRerankServer]:
    """Generator for a pytest fixture: ``fake_api = pytest.fixture(fake_rerank_server)``."""
    with FakeRerankServer() as server:
        yield server
