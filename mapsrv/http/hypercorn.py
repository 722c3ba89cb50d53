"""How mapsrv and its gateway run hypercorn: one configuration, fixes to hypercorn itself (idle
connections closed at EOF, a keep-alive timer without a task per request, HTTP/1.1 parsed by
httptools: ``mapsrv.http.h1``), and the way an event stream finds its connection's socket."""

from __future__ import annotations

import errno
import logging
import math
import socket
from collections import deque
from contextvars import ContextVar
from typing import Any

import hypercorn.config
import trio
from hypercorn.events import Closed, RawData
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer

from mapsrv.http import h1
from mapsrv.http.pacing import Pacer, connections

__all__ = [
    "ACCEPT_PER_TURN",
    "KeepAliveTimer",
    "accept_in_batches",
    "close_idle_connections_on_eof",
    "connection_socket",
    "expose_connections",
    "BACKLOG",
    "hypercorn_config",
]

BACKLOG = 4096  # connections the kernel queues for accept()


def hypercorn_config(
    host: str,
    port: int,
    *,
    graceful_timeout: float,
    log: str,
    keep_alive: float = 75,
    header_timeout: float = h1.DEFAULT_HEADER_TIMEOUT,
) -> hypercorn.config.Config:
    """Bind ``host:port`` (IPv6 in brackets), no access log of hypercorn's own (ours is richer),
    keep-alive above common proxies' 60 s idle timeout, a request head begun must be whole within
    ``header_timeout``; and close connections at the client's EOF."""
    close_idle_connections_on_eof()  # and expose_connections, whose timer it ends at EOF
    h1.install()  # HTTP/1.1 parsed by httptools, a response's head written with its body
    accept_in_batches()
    hc = hypercorn.config.Config()
    bracketed = ":" in host and not host.startswith("[")
    hc.bind = [f"[{host}]:{port}" if bracketed else f"{host}:{port}"]
    hc.graceful_timeout = graceful_timeout
    hc.accesslog = None
    hc.errorlog = logging.getLogger(log)
    hc.keep_alive_timeout = keep_alive
    hc.header_timeout = header_timeout  # type: ignore[attr-defined]  # read by mapsrv.http.h1 (hypercorn has no such setting)
    hc.h11_max_incomplete_size = 64 * 1024  # request line and headers
    # A deploy moves thousands of viewers at once: hypercorn's 100-deep accept queue overflowed,
    # and the kernel's SYN retries (1, 3, 7, 15, 31 s) spread 2,000 arrivals over 57 s. The kernel
    # caps this at net.core.somaxconn (4096 on current Linux). docs/benchmarks.md, "Storms".
    hc.backlog = BACKLOG
    return hc


def close_idle_connections_on_eof() -> None:
    """Make hypercorn close a connection as soon as its client has (idempotent).

    hypercorn 0.18 (hypercorn/trio/tcp_server.py): ``TCPServer.run`` reads in ``_read_data`` inside
    a task group that also holds the keep-alive timer (``idle_task``); at EOF ``_read_data``
    returns, but the task group waits for the timer before ``_close`` runs. Ending the timer (the
    ``KeepAliveTimer`` that ``expose_connections`` gives each connection) when reading ends lets
    it close at once. This touches hypercorn privates: tests/http/test_connections.py fails when they
    change (and when the leak comes back)."""
    expose_connections()  # the timer this ends
    read_data: Any = TCPServer._read_data
    if getattr(read_data, "_mapsrv_patched", False):
        return

    async def read_then_stop_timer(self: Any) -> None:
        try:
            if self.config.read_timeout is None:
                await _read_until_eof(self)
            else:
                await read_data(self)
        finally:
            self.idle_task.close()

    read_then_stop_timer._mapsrv_patched = True  # type: ignore[attr-defined]
    TCPServer._read_data = read_then_stop_timer  # type: ignore[method-assign]


async def _read_until_eof(server: Any) -> None:
    """``TCPServer._read_data`` with no read timeout set (hypercorn's ``read_timeout``, unset
    here): the same loop, without the ``fail_after(inf)`` it enters and leaves around every read
    (3 % of a small tool call's server CPU). tests/http/test_hypercorn_seam.py fails if
    hypercorn's loop does more than this one."""
    stream = server.stream
    raw = stream.raw_socket() if isinstance(stream, _Paced) else None
    if raw is not None:
        await _read_socket(server, stream, raw)
        return
    while True:
        try:
            data = await stream.receive_some(MAX_RECV)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            break
        await server.protocol.handle(RawData(data=bytes(data)))
        if data == b"":
            break
    await server.protocol.handle(Closed())


async def _read_socket(server: Any, paced: _Paced, raw: socket.socket) -> None:
    """``_read_until_eof`` on a plain TCP socket, read directly: wait until it is readable, then
    read once. ``SocketStream.receive_some`` reads first and waits after, and a keep-alive
    client sends its next request only once it has the answer, so every request began with a read
    that failed (EAGAIN, and its exception), and each read went through the stream's error
    translation and a second checkpoint: 4 % of a small tool call's server CPU (strace: two
    ``recvfrom`` a request, one failed). Errors end the loop as the stream's would: a closed
    socket (``ClosedResourceError``, EBADF) quietly, a broken one after the storm's turn
    (``_Paced``)."""
    # A new connection's first request is usually there already (a storm's arrivals read it at
    # once, as the stream did, not one epoll turn later); every later one comes after an answer.
    waiting = False
    while raw.fileno() >= 0:  # closed by the protocol (a refused head, ``Connection: close``)
        try:
            if waiting:
                await trio.lowlevel.wait_readable(raw)
            waiting = True
            data = raw.recv(MAX_RECV)
        except BlockingIOError:
            continue
        except trio.ClosedResourceError:
            break
        except OSError as exc:
            if exc.errno != errno.EBADF:
                await paced.ended()
            break
        if not data or not paced.started:
            await paced.began()
        await server.protocol.handle(RawData(data=data))
        if data == b"":
            break
    await server.protocol.handle(Closed())


ACCEPT_PER_TURN = 64  # connections taken from the kernel's queue per loop turn, per listener


class _BatchedListener(trio.abc.Listener[trio.SocketStream]):
    """A ``trio.SocketListener`` that takes up to ``ACCEPT_PER_TURN`` waiting connections per
    accept and hands them out one per call, the rest without waiting for another turn.

    trio accepts one connection per loop turn; a rolling deploy sends a process thousands of
    connections a second while its loop is busy with the streams it already has, and with the
    accept queue full the kernel drops SYNs: 1,443 proxy connects timed out in a 10,000-viewer
    drain, nginx marked the backend down and answered 200,000 requests 502 ("no live upstreams").
    What each connection then costs is paced per turn (``mapsrv.http.pacing``)."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.inner = inner
        self.socket = inner.socket
        self._ready: deque[trio.SocketStream] = deque()

    async def accept(self) -> trio.SocketStream:
        if self._ready:
            return self._ready.popleft()  # the accept that took it from the kernel checkpointed
        stream = await self.inner.accept()
        raw: Any = getattr(self.socket, "_sock", None)  # trio's stdlib socket (private: guarded)
        for _ in range(ACCEPT_PER_TURN - 1 if raw is not None else 0):
            try:
                sock, _ = raw.accept()  # non-blocking: only what is queued already
            except OSError:  # EAGAIN (nothing more), an aborted connection, out of descriptors
                break
            self._ready.append(trio.SocketStream(trio.socket.from_stdlib_socket(sock)))
        return stream

    async def aclose(self) -> None:
        while self._ready:
            await self._ready.popleft().aclose()
        await self.inner.aclose()


def accept_in_batches() -> None:
    """Make hypercorn's listeners accept up to ``ACCEPT_PER_TURN`` connections a turn
    (idempotent). hypercorn 0.18 (hypercorn/trio/run.py) hands its ``trio.SocketListener`` objects to
    ``trio.serve_listeners`` by module attribute: that call wraps them. tests/http/test_pacing.py
    fails when a burst is no longer accepted in batches."""
    serve: Any = trio.serve_listeners
    if getattr(serve, "_mapsrv_patched", False):
        return

    async def serve_batched(handler: Any, listeners: list[Any], **options: Any) -> Any:
        wrapped = [
            _BatchedListener(listener) if type(listener) is trio.SocketListener else listener
            for listener in listeners
        ]
        return await serve(handler, wrapped, **options)

    serve_batched._mapsrv_patched = True  # type: ignore[attr-defined]
    trio.serve_listeners = serve_batched


_CONNECTION: ContextVar[Any] = ContextVar("mapsrv_connection", default=None)


class _Paced:
    """A connection's stream as hypercorn reads it, whose first bytes and whose end (EOF, or a
    reset) wait their turn in a storm (``mapsrv.http.pacing``): what hypercorn and the app do
    about them follows in that turn. Everything else goes to the stream itself."""

    def __init__(self, stream: Any, pacer: Pacer) -> None:
        self.inner = stream  # the connection's own stream (a trio.SocketStream on plain TCP)
        self._stream = stream
        self._pacer = pacer
        self._started = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @property
    def started(self) -> bool:
        return self._started

    def raw_socket(self) -> socket.socket | None:
        """The standard library socket under a plain TCP stream (trio's, private: None if that
        changes), or None (TLS)."""
        if type(self.inner) is not trio.SocketStream:
            return None
        raw = getattr(self.inner.socket, "_sock", None)
        return raw if isinstance(raw, socket.socket) else None

    async def began(self) -> None:
        """The first bytes, or the end, were read: wait for the storm's turn."""
        self._started = True  # after the read: a burst of requests wakes their tasks at once
        await self._pacer.turn()

    async def ended(self) -> None:
        """The connection broke: wait for the storm's turn."""
        await self._pacer.turn()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data: bytes = await self._stream.receive_some(max_bytes)
        except trio.BrokenResourceError:
            await self.ended()
            raise
        if not data or not self._started:
            await self.began()
        return data


def expose_connections() -> None:
    """Let the ASGI app of a request find the socket its response goes out on, and give each
    connection a ``KeepAliveTimer`` (idempotent).

    hypercorn 0.18 (hypercorn/trio/tcp_server.py) serves each connection in ``TCPServer.run``,
    and the app's task is started from that task (``TaskGroup.spawn_app``), so it inherits the
    context that ``run`` sets here. ``connection_socket`` reads it. tests/http/test_sse_socket.py fails
    when an event stream no longer finds its socket."""
    run: Any = TCPServer.run
    if getattr(run, "_mapsrv_patched", False):
        return

    async def run_exposed(self: Any) -> None:
        _CONNECTION.set(self)
        self.idle_task = KeepAliveTimer(self)
        self.stream = _Paced(self.stream, connections())
        try:
            await run(self)
        finally:
            # The connection is over: drop what it held. The server, its protocol (which holds
            # the server's bound ``protocol_send``) and its timer refer to each other, so without
            # this each closed connection was ~23 objects of cyclic garbage, freed only by a full
            # collection (and never, once frozen: see mapsrv.observability.collector).
            vars(self).clear()

    run_exposed._mapsrv_patched = True  # type: ignore[attr-defined]
    TCPServer.run = run_exposed  # type: ignore[method-assign]


def connection_socket() -> trio.socket.SocketType | None:
    """The socket of the connection whose request the calling task serves, when it is a plain
    TCP socket (no TLS) that hypercorn writes HTTP/1.1 on; else None."""
    server = _CONNECTION.get()
    stream = getattr(server, "stream", None)
    stream = stream.inner if isinstance(stream, _Paced) else stream
    if not isinstance(stream, trio.SocketStream):
        return None
    return stream.socket


class KeepAliveTimer:
    """hypercorn's keep-alive timer (``TCPServer.idle_task``) without a task per request.

    hypercorn 0.18 stops the timer when a request arrives and restarts it after each response:
    ``TrioSingleTask.restart`` cancels the timer's task and starts a new one with
    ``nursery.start``, under a lock, twice per request. Measured with callgrind on `mapsrv
    serve`, that is 450 k of the 3.15 M instructions a page write costs the server (14 %). Here
    one task per connection waits, and ``stop`` and ``restart`` only move the deadline of its
    wait. What it does when the deadline passes, or when the server is shutting down while the
    connection is idle, is what ``TCPServer._idle_timeout`` does: close the connection
    (``_initiate_server_close``, shielded). A connection busy with a request is never closed by
    it, shutdown or not; one busy for longer than ``BUSY_GRACE`` (an event stream) lets its
    task end, and the next ``restart`` starts another: a stream holds no timer task.
    tests/http/test_keep_alive.py runs it in a real hypercorn."""

    BUSY_GRACE = 1.0  # seconds a request may run before the timer's task ends until it is idle

    __slots__ = ("_busy", "_closed", "_deadline", "_running", "_scope", "_server")

    def __init__(self, server: Any) -> None:
        self._server = server
        self._deadline = math.inf  # when the task's wait ends
        self._busy = False  # a request is in progress: the deadline is when the task gives up
        self._scope: trio.CancelScope | None = None  # the task's wait, while it waits
        self._running = False
        self._closed = False

    @property
    def has_task(self) -> bool:
        """Whether the timer's task is running (it is not while a long request runs)."""
        return self._running

    async def restart(self, task_group: Any, action: Any) -> None:
        """The connection is idle from now (``action`` is hypercorn's own: replaced, see above)."""
        self.idle(task_group)

    async def stop(self) -> None:
        """A request is in progress: no closing until the next ``restart``."""
        self.busy()

    def idle(self, task_group: Any) -> None:
        """``restart``, called by ``mapsrv.http.h1`` itself between requests (hypercorn's way,
        an ``Updated`` event through ``protocol_send``, was 1.5 % of a small tool call)."""
        self._busy = False
        self._move(trio.current_time() + self._server.config.keep_alive_timeout)
        if not self._running and not self._closed:
            self._running = True
            task_group.spawn(self._run)

    def busy(self) -> None:
        """``stop``, called by ``mapsrv.http.h1`` itself when a request begins."""
        self._busy = True
        self._move(trio.current_time() + self.BUSY_GRACE)

    def expire_by(self, deadline: float) -> None:
        """Close the connection by ``deadline`` (``trio.current_time()``'s clock) unless it is
        busy then or its timer moves on first: an unfinished request head's timeout
        (``mapsrv.http.h1``)."""
        if deadline < self._deadline:
            self._move(deadline)

    def close(self) -> None:
        """The connection is done reading: the task ends without closing anything itself."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()

    def _move(self, deadline: float) -> None:
        """The timer is due at ``deadline``. A deadline later than the waiting task's is only
        noted: the task wakes at its own, finds this one not yet due and waits again. On a busy
        keep-alive connection that is a wake-up a second (``BUSY_GRACE``), where moving the
        deadline in trio's heap twice a request cost 3 % of a small tool call."""
        self._deadline = deadline
        if self._scope is not None and deadline < self._scope.deadline:
            self._scope.deadline = deadline

    async def _run(self) -> None:
        terminated = self._server.context.terminated
        try:
            while not self._closed:
                with trio.CancelScope(deadline=self._deadline) as self._scope:
                    await terminated.wait()
                self._scope = None
                due = terminated.is_set() or trio.current_time() >= self._deadline
                if self._closed or not due:
                    continue  # the end, or the deadline moved while the wait was ending
                if self._busy:
                    return  # a long request: the next restart starts the timer again
                with trio.CancelScope(shield=True):
                    await self._server._initiate_server_close()
                return
        finally:
            self._scope = None
            self._running = False
