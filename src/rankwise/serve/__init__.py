"""``rankwise serve``: one long-running process that keeps an index and a reranker loaded and
answers HTTP requests (see :mod:`rankwise.serve.app` for the endpoints).

Built on Starlette and uvicorn (``pip install "rankwise[serve]"``): a well-kept ASGI stack
gives HTTP/1.1 keep-alive, graceful shutdown on SIGINT/SIGTERM (requests in flight finish)
and a tested request parser, none of which the project should write by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from rankwise._cores import usable_cores
from rankwise._optional import require

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Seconds uvicorn lets requests in flight finish after SIGINT/SIGTERM.
GRACEFUL_SHUTDOWN_S = 10.0
#: Environment variable that carries the configuration to the ``--workers`` processes.
CONFIG_ENV = "RANKWISE_SERVE_CONFIG"


def __getattr__(name: str) -> Any:
    if name in ("ServeConfig", "RankwiseServer", "RequestError", "load_server"):
        require("starlette", "serve", feature="rankwise serve")
        from rankwise.serve import app

        return getattr(app, name)
    raise AttributeError(name)


#: Most worker processes ``--workers auto`` starts (each holds its own index and model).
AUTO_MAX_WORKERS = 4


def auto_workers(device: str | None = None) -> int:
    """``--workers auto``: one server process per CPU core this process may use, at most
    :data:`AUTO_MAX_WORKERS`; one when the model runs on a GPU (``cuda``/``mps``), where every
    process would hold its own copy of the model in the accelerator's memory.

    Why several: one process parses HTTP and JSON, runs BM25 and the reranker's bookkeeping in
    one interpreter, one core at a time; measured on 2 cores, 8 clients of one process reach
    1.26x (MiniLM) and 1.37x (a tiny cross-encoder) the throughput of one client, two
    processes 1.85x with MiniLM (``benchmarks/serve_latency.py``). Why at most 4: memory grows
    by one index and one model per process (about 0.9 GiB resident each with all-MiniLM-L6-v2),
    and each process already runs up to ``model_workers`` model calls at once.
    """
    if device is not None and not device.startswith("cpu"):
        return 1
    return min(usable_cores(), AUTO_MAX_WORKERS)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 = any free port), so the real port is known up front."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(
    config: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    quiet: bool = False,
    workers: int = 1,
) -> int:
    """Load everything, bind, serve until SIGINT/SIGTERM; the exit status.

    ``workers`` > 1 runs that many server processes on the one listening socket (uvicorn's
    supervisor; each process loads the index and the model itself, so memory grows by one
    copy per worker). One process answers HTTP, parses JSON and runs BM25 in one interpreter
    (one core at a time for Python code); several use several cores.
    """
    require("starlette", "serve", feature="rankwise serve")
    uvicorn = require("uvicorn", "serve", feature="rankwise serve")
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    server = None
    if workers == 1:
        from rankwise.serve.app import load_server

        server = load_server(config)
    else:
        folder = Path(config.index)
        if not folder.is_dir():  # fails here, once, rather than in every worker
            raise FileNotFoundError(2, "No such index folder", str(folder))
    sock = bind_socket(host, port)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
    url = f"http://{shown}:{bound[1]}"
    if not is_loopback(host) and not config.token:
        print(
            f"rankwise serve: warning: listening on {host} without a token; anyone who can "
            "reach this machine can query it (set --token or RANKWISE_SERVE_TOKEN)",
            file=sys.stderr,
        )
    if server is not None:
        what = f"{len(server.store):,} entries" + (
            f", reranker {server.reranker.name}" if server.reranker is not None else ""
        )
    else:
        what = f"{workers} worker processes loading" + (
            f" reranker {config.rerank}" if config.rerank else ""
        )
    print(f"rankwise serve: {config.index} ({what}) on {url}", file=sys.stderr, flush=True)
    options: dict[str, Any] = {
        "log_level": "warning" if quiet else "info",
        "access_log": not quiet,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "lifespan": "on",
    }
    if server is None:
        return _run_workers(uvicorn, config, workers, sock, options)
    uv_config = uvicorn.Config(server.app(), **options)
    # uvicorn finishes the requests in flight on SIGTERM, then re-raises the signal: exit 0
    # then (a clean, asked-for stop), not "killed by signal 15"
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.Server(uv_config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _run_workers(
    uvicorn: Any, config: Any, workers: int, sock: socket.socket, options: dict[str, Any]
) -> int:
    """uvicorn's multi-process supervisor: ``workers`` spawned processes, each building the
    application from the configuration this process hands them in the environment."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from rankwise.serve.balance import TABLE_ENV, create_table

    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    # the workers share the socket; they take new connections least-busy first (balance.py)
    table = create_table(workers)
    os.environ[TABLE_ENV] = table
    uv_config = uvicorn.Config(
        f"{__name__}.app:app_from_environment",
        factory=True,
        workers=workers,
        loop=f"{__name__}.balance:BalancedLoop",
        **options,
    )
    supervisor = Multiprocess(uv_config, sockets=[sock])
    try:
        supervisor.run()  # SIGINT/SIGTERM: each worker finishes its requests in flight
    finally:
        os.environ.pop(CONFIG_ENV, None)
        os.environ.pop(TABLE_ENV, None)
        with contextlib.suppress(OSError):
            os.unlink(table)
    failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return 1 if failed else 0


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


__all__ = [
    "AUTO_MAX_WORKERS",
    "CONFIG_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "RankwiseServer",
    "RequestError",
    "ServeConfig",
    "auto_workers",
    "bind_socket",
    "is_loopback",
    "load_server",
    "run_server",
]
