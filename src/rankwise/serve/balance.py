"""Least-connections accepting for ``rankwise serve --workers N``.

Why: the worker processes share one listening socket, and the kernel wakes every idle worker
for a new connection; the first to run takes it, and that is most often the same process.
Measured with 2 workers and 8 keep-alive clients connecting one after another: 8/0, 6/2 and
5/3 splits, so one process served most clients on one core (its Python work holds one
interpreter lock) while the other idled, and 8 clients gained little over one.

Here each worker records its open connections in a small table every worker maps (a file
the supervisor creates, one ``(pid, connections)`` slot per worker). A worker accepts a waiting
connection at once when no live worker holds fewer connections than it does; otherwise it
stops watching the socket for :data:`ACCEPT_WAIT_S`, leaving the connection to the less busy
worker, and then takes it itself if it is still waiting (so a busy or stuck peer delays a
connection by at most that long). Keep-alive clients thus spread evenly: 8 clients on 2
workers are 4 and 4.

It is an asyncio event loop (uvicorn's ``loop=`` setting takes its class by import string,
``rankwise.serve.balance:BalancedLoop``) that serves the listening socket uvicorn hands it
with public asyncio calls only: ``add_reader`` to see a waiting connection, ``accept`` and
``connect_accepted_socket`` to hand it to uvicorn's protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import mmap
import os
import socket
import tempfile
from collections.abc import Callable
from typing import Any

#: Environment variable that names the connection table for the worker processes.
TABLE_ENV = "RANKWISE_SERVE_CONNECTIONS"
#: Longest a worker leaves a waiting connection to a less busy worker before taking it.
ACCEPT_WAIT_S = 0.05
#: Pause after the process ran out of file descriptors (as asyncio's own accept loop does).
RESOURCE_WAIT_S = 1.0
_SLOT = 2  # int64 cells per worker: pid, open connections


def create_table(workers: int) -> str:
    """A zeroed connection table for ``workers`` processes; its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="rankwise-serve-", suffix=".connections")
    try:
        os.write(fd, bytes(8 * _SLOT * workers))
    finally:
        os.close(fd)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ConnectionTable:
    """This process's slot in the shared table: it writes its own count, reads the others'."""

    def __init__(self, path: str) -> None:
        with open(path, "r+b") as fh:
            self._map = mmap.mmap(fh.fileno(), 0)
            self._cells = memoryview(self._map).cast("q")
            self.slots = len(self._cells) // _SLOT
            self.slot: int | None = None
            fcntl.flock(fh, fcntl.LOCK_EX)  # one process claims a slot at a time
            try:
                for i in range(self.slots):
                    pid = self._cells[_SLOT * i]
                    if pid == 0 or pid == os.getpid() or not _alive(pid):  # free, or its
                        self._cells[_SLOT * i] = os.getpid()  # worker died (uvicorn restarts)
                        self._cells[_SLOT * i + 1] = 0
                        self.slot = i
                        break
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def open(self) -> int:
        return 0 if self.slot is None else int(self._cells[_SLOT * self.slot + 1])

    def add(self, n: int) -> None:
        if self.slot is not None:
            self._cells[_SLOT * self.slot + 1] += n

    def is_least_busy(self) -> bool:
        """Whether no other live worker holds fewer open connections than this one."""
        if self.slot is None:
            return True  # more processes than slots: accept as uvicorn would
        mine = self.open
        for i in range(self.slots):
            if i == self.slot:
                continue
            pid, count = self._cells[_SLOT * i], self._cells[_SLOT * i + 1]
            if pid != 0 and count < mine and _alive(pid):
                return False
        return True


class BalancedLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose servers on a shared listening socket accept least-connections
    first (see the module docstring); other servers are asyncio's own."""

    def __init__(self) -> None:
        super().__init__()
        self.table: ConnectionTable | None = None

    async def create_server(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: Any = None,
        port: Any = None,
        *,
        sock: socket.socket | None = None,
        ssl: Any = None,
        **kwargs: Any,
    ) -> asyncio.Server:
        path = os.environ.get(TABLE_ENV)
        if sock is None or not path:
            return await super().create_server(
                protocol_factory, host, port, sock=sock, ssl=ssl, **kwargs
            )
        if self.table is None:  # a worker joins the table once it serves (not while loading)
            self.table = ConnectionTable(path)
        kwargs["start_serving"] = False  # the socket is watched here, not by asyncio
        server = await super().create_server(protocol_factory, sock=sock, ssl=ssl, **kwargs)
        # Server.close() removes this reader and closes the socket, as for its own
        self.add_reader(sock.fileno(), self._waiting, protocol_factory, sock, ssl, False)
        return server

    def _waiting(self, factory: Any, sock: socket.socket, ssl: Any, waited: bool) -> None:
        """A connection waits on ``sock``: take it, or leave it to a less busy worker."""
        assert self.table is not None
        if not waited and not self.table.is_least_busy():
            self._pause(sock, ACCEPT_WAIT_S, factory, ssl)
            return
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self.call_exception_handler(
                    {"message": "socket.accept() out of system resource", "exception": exc}
                )
                self._pause(sock, RESOURCE_WAIT_S, factory, ssl)
                return
            raise
        conn.setblocking(False)
        self.table.add(1)
        self.create_task(self._serve(factory, conn, ssl))

    def _pause(self, sock: socket.socket, seconds: float, factory: Any, ssl: Any) -> None:
        self.remove_reader(sock.fileno())
        self.call_later(seconds, self._resume, factory, sock, ssl)

    def _resume(self, factory: Any, sock: socket.socket, ssl: Any) -> None:
        if sock.fileno() == -1:
            return  # the server closed meanwhile
        self.add_reader(sock.fileno(), self._waiting, factory, sock, ssl, False)
        self._waiting(factory, sock, ssl, True)

    async def _serve(self, factory: Any, conn: socket.socket, ssl: Any) -> None:
        """Hand ``conn`` to the server's protocol; count it until the connection is lost."""
        table = self.table
        assert table is not None
        counted = [True]

        def release() -> None:
            if counted[0]:
                counted[0] = False
                table.add(-1)

        def make() -> asyncio.BaseProtocol:
            protocol: asyncio.BaseProtocol = factory()
            lost = protocol.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                release()
                lost(exc)

            setattr(protocol, "connection_lost", connection_lost)  # noqa: B010
            return protocol

        try:
            await self.connect_accepted_socket(make, conn, ssl=ssl)
        except Exception:
            release()
            with contextlib.suppress(OSError):
                conn.close()


__all__ = [
    "ACCEPT_WAIT_S",
    "TABLE_ENV",
    "BalancedLoop",
    "ConnectionTable",
    "create_table",
]
