"""HTTP/1.1 for hypercorn's trio worker, parsed by httptools (llhttp, in C) instead of h11.

hypercorn serves each HTTP/1.1 connection with ``H11Protocol``: h11, a pure-Python state
machine, parses every request and frames every response, and with hypercorn's wrapping of it
that was about a fifth of the server's CPU for a small tool call (profiled, docs/benchmarks.md
"Issue 47"). ``H1Protocol`` takes its place (``install``) with the same duties towards the rest
of hypercorn. Each request's app runs in an ``H1Exchange`` (``mapsrv.http.h1_exchange``: what
hypercorn's ``HTTPStream`` does, the same scope and the same answers, without a memory channel
and an event object per message; tests/http/test_h1_exchange.py serves every case both ways), and
this frames what the exchange sends back. What it keeps of h11's behaviour, each checked in
tests/http/test_h1.py:

- one request at a time: a pipelined request waits (and the connection is not read further)
  until the answer before it is out;
- a request line and headers over ``h11_max_incomplete_size`` are answered 431, a request the
  parser refuses 400, and either closes the connection; either answer waits, like a request,
  for the answers before it (tests/http/test_h1_edge.py);
- trailer fields are dropped, and counted with the head against its limit
  (``mapsrv.http.h1_parser``); a head begun must be whole within ``header_timeout``;
- ``Expect: 100-continue`` is answered before the body is read;
- a response without a Content-Length is chunked to an HTTP/1.1 client and delimited by the
  connection's end to an HTTP/1.0 one; HEAD, 204 and 304 answers have no body;
- a body longer than its Content-Length is not sent at all and one shorter ends the
  connection (neither can be framed right);
- the connection stays open after an answer only if both sides allow it (the client's
  ``Connection``, HTTP/1.0's default, the app's ``Connection: close``, hypercorn's
  ``keep_alive_max_requests``) and the request was read whole;
- HTTP/2 with prior knowledge (``PRI *``) goes to hypercorn's HTTP/2 protocol.

A head with a Content-Length goes out in one write with its body (hypercorn's h11 protocol wrote
the head, the body and the end in three writes and the client woke for each: 0.96 ms of server
CPU and 1.45 ms p50 per small JSON answer on one keep-alive connection, against 0.74 ms and 0.96
ms in one write),
an event stream's head alone and at once (its frames follow straight from the fan-out, as
chunks of this response: ``mapsrv.http.socket_writer``). ``Upgrade`` (WebSocket, h2c) is not
offered: mapsrv serves neither, and such a request is answered as a plain HTTP/1.1 one.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httptools
import trio
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.protocol.h11 import H2ProtocolAssumedError

from mapsrv.http.h1_exchange import H1Exchange
from mapsrv.http.h1_head import DEFAULT_HEADER_TIMEOUT, HeadDeadline, response_head
from mapsrv.http.h1_parser import RequestEvents
from mapsrv.http.socket_writer import fileno_of

__all__ = ["COALESCE_UP_TO", "DEFAULT_HEADER_TIMEOUT", "H1Protocol", "install"]

COALESCE_UP_TO = 64 * 1024  # a larger body goes in a write of its own rather than be copied
PREFACE = b"PRI * HTTP/2.0\r\n\r\n"  # how an HTTP/2 client with prior knowledge begins
_NO_BODY = frozenset({204, 304})
_APP_TASK = "mapsrv.http.h1_exchange.H1Exchange._run"  # the name of a request's task


def _socket_of(send: Callable[[Event], Awaitable[None]]) -> Callable[[], int] | None:
    """How to find the descriptor of the plain TCP socket a connection's ``send`` (hypercorn's
    ``TCPServer.protocol_send``) writes to (``-1`` once closed), or None for TLS."""
    stream = getattr(getattr(send, "__self__", None), "stream", None)
    stream = getattr(stream, "inner", stream)  # mapsrv.http.hypercorn's pacing wrapper
    if not isinstance(stream, trio.SocketStream):
        return None
    return fileno_of(stream.socket)


def _timer_of(send: Callable[[Event], Awaitable[None]]) -> Any:
    """The keep-alive timer of the connection ``send`` writes to, when it is mapsrv's
    (``mapsrv.http.hypercorn.KeepAliveTimer``: told of a request's start and end directly, and
    moved to an unfinished head's deadline), else None (hypercorn's own, told by ``Updated``
    events)."""
    timer = getattr(getattr(send, "__self__", None), "idle_task", None)
    return timer if all(hasattr(timer, name) for name in ("busy", "idle", "expire_by")) else None


def _spawner(task_group: Any) -> Callable[..., None]:
    """How an exchange starts its app's task in the connection's ``task_group``: straight in
    hypercorn's nursery, named (trio otherwise writes a name from the function's module and
    qualified name for every request: 0.5 µs), or through the group where it has none."""
    nursery = getattr(task_group, "_nursery", None)
    if isinstance(nursery, trio.Nursery):
        return partial(nursery.start_soon, name=_APP_TASK)
    spawn: Callable[..., None] = task_group.spawn
    return spawn


def install() -> None:
    """Serve HTTP/1.1 with ``H1Protocol`` (idempotent): hypercorn 0.18's ``ProtocolWrapper``
    (hypercorn/protocol/__init__.py) makes each connection's protocol by the module name
    ``H11Protocol``. tests/http/test_hypercorn_seam.py fails if it stops doing so."""
    import hypercorn.protocol

    hypercorn.protocol.H11Protocol = H1Protocol  # type: ignore[attr-defined,assignment]


class H1Protocol:
    """One HTTP/1.1 connection (see the module's docstring); hypercorn's ``H11Protocol``'s
    constructor and the methods ``ProtocolWrapper`` and ``HTTPStream`` call."""

    def __init__(
        self,
        app: Any,
        config: Any,
        context: Any,
        task_group: Any,
        connection_state: Any,
        ssl: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        send: Callable[[Event], Awaitable[None]],
    ) -> None:
        self.app, self.config, self.context = app, config, context
        self.task_group, self.connection_state = task_group, connection_state
        self.ssl, self.client, self.server, self.send = ssl, client, server, send
        self.can_read = context.event_class()
        self.keep_alive_requests = 0
        self.stream: H1Exchange | None = None
        self._parsed = RequestEvents(config.h11_max_incomplete_size)
        self._parser = self._parsed.parser = httptools.HttpRequestParser(self._parsed)
        self._started = False  # bytes have come: the HTTP/2 preface can no longer begin
        self._early = b""  # the first bytes, while they might still be the HTTP/2 preface
        self._fileno = _socket_of(send)  # a plain TCP socket's descriptor, to write to at once
        self._waiting_writes = 0  # writes hypercorn is still sending (the socket was full)
        self._closed = False  # nothing more is read or handed on
        self._ended = False  # hypercorn was told to close the connection
        self._upgraded = False
        self._timer, self._spawn = _timer_of(send), _spawner(task_group)  # told, and starting, directly
        self._head_deadline = HeadDeadline(config, self._timer)
        self._eof = False  # the client has ended its side
        self._new_exchange()

    def _new_exchange(self) -> None:
        self._version = "1.1"
        self._method = "GET"
        self._request_done = False  # the request was read whole
        self._keep_alive = False
        self._answering = False  # a response began
        self._answered = False  # ... and ended
        self._framing = ""  # "length", "chunked", "close" or "none"
        self._declared = 0  # a "length" body's Content-Length, and what is left of it
        self._held = b""  # a head with a Content-Length, waiting to go out with its body
        self._busy = False  # an exchange is under way: the next request waits

    async def initiate(self) -> None:
        pass

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawData):
            await self._received(event.data)
        elif isinstance(event, Closed):
            if self._eof and self._busy and self._request_done and not self._answered:
                await self._half_closed()
                return
            self._closed = self._ended = True  # hypercorn closes it (the client's end, a timeout)
            self._parsed.parser = None  # they refer to each other: freed without the collector
            await self._close_stream()
            await self.can_read.set()

    async def _half_closed(self) -> None:
        """The client ended its side after a whole request: as hypercorn's h11 protocol, the app
        is told (``http.disconnect``) but its answer still goes out, and then the connection
        ends (``printf 'GET / ...' | nc``, a pipelining client that sends all and shuts down)."""
        self._closed, self._keep_alive = True, False
        self._parsed.parser = None
        await self._close_stream()
        await self.can_read.set()

    async def _received(self, data: bytes) -> None:
        if not data:
            self._eof = True  # the client's end; hypercorn says Closed next
        if self._closed or not data:
            return
        if not self._started:
            data = self._early + data
            if PREFACE.startswith(data[: len(PREFACE)]):
                if len(data) < len(PREFACE):
                    self._early = data  # too few bytes to tell yet
                    return
                self._parsed.parser = None
                raise H2ProtocolAssumedError(data)
            self._started, self._early = True, b""
        if self._upgraded:
            return  # the rest of an Upgrade request's connection: it closes after the answer
        parsed = self._parsed
        if parsed.failed:
            return  # an error is queued: what follows it cannot be read
        parsed.fed(len(data))
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Served as plain HTTP/1.1 (the parser stops here): the connection ends after it.
            self._upgraded = True
            if not parsed.events or parsed.events[-1][0] != "end":
                parsed.events.append(("end", None))
        except httptools.HttpParserError:
            parsed.fail(400)
        parsed.check_size()
        self._head_deadline.after_read(parsed.head and parsed.head_size > 0)
        await self._hand_on()

    async def _hand_on(self) -> None:
        """Give the stream what was parsed, in order; a pipelined request waits (and so does the
        reading of the connection) until the exchange before it has ended."""
        events = self._parsed.events
        while events and not self._closed:
            kind, value = events[0]
            if kind == "error":
                if self._busy and self._request_done:  # the next request's: after this answer
                    await self._await_turn()
                    continue
                events.clear()  # the request being read cannot be read, nor anything after it
                await self._refuse(value)
            elif kind == "request":
                if self._busy:
                    await self._await_turn()
                    continue
                events.popleft()
                await self._begin(*value)
            elif self.stream is not None:
                await self._hand_body(self.stream)
            else:
                events.popleft()  # the rest of a request answered and closed already

    async def _await_turn(self) -> None:
        """Until the exchange under way has ended (the connection is not read meanwhile)."""
        await self.can_read.clear()
        await self.can_read.wait()

    async def _hand_body(self, stream: H1Exchange) -> None:
        """The request's body parsed so far, as one ASGI message (``HTTPStream`` sent a message
        per piece, and one more for the end: a channel send and an app receive each)."""
        events = self._parsed.events
        parts = []
        while events and events[0][0] == "body":
            parts.append(events.popleft()[1])
        ended = bool(events) and events[0][0] == "end"
        if ended:
            events.popleft()
            self._request_done = True
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        await stream.deliver({"type": "http.request", "body": body, "more_body": not ended})

    async def _begin(
        self, url: bytes, headers: list[tuple[bytes, bytes]], method: str, version: str, keep_alive: bool
    ) -> None:
        if self._timer is not None:
            self._timer.busy()
        else:
            await self.send(Updated(idle=False))
        self._busy = True
        self._version, self._method = version, method
        # HTTP/1.0 connections end after one answer, as with h11
        self._keep_alive = version == "1.1" and keep_alive and not self._upgraded
        scope = H1Exchange.scope_of(
            method=method,
            url=url,
            headers=headers,
            version=version,
            ssl=self.ssl,
            client=self.client,
            server=self.server,
            state=self.connection_state,
            root_path=self.config.root_path,
        )
        self.stream = H1Exchange(self, self.config, scope)
        expects = self._version == "1.1" and (b"expect", b"100-continue") in headers
        if expects and all(kind != "end" for kind, _ in self._parsed.events):  # the body is to come
            await self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await self.stream.start(self.app, self._spawn)
        self.keep_alive_requests += 1
        await self.context.mark_request()

    async def respond(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if status < 200:
            await self._write(response_head(self.config, status, headers))
            return
        self._answering = True
        length = te = None
        says_connection = False  # the app named the connection itself: nothing is added
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = value
            elif lowered == b"transfer-encoding":
                te = value
            elif lowered == b"connection":
                says_connection = True
                if b"close" in value.lower():
                    self._keep_alive = False
        extra = []
        if self._method == "HEAD" or status in _NO_BODY:
            self._framing = "none"
        elif length is not None and te is None and length.isdigit():
            self._framing, self._declared = "length", int(length)
        elif self._version == "1.1":
            self._framing = "chunked"
            if te is None:
                extra.append((b"transfer-encoding", b"chunked"))
        else:
            self._framing, self._keep_alive = "close", False
        if self.keep_alive_requests >= self.config.keep_alive_max_requests or not self._request_done:
            self._keep_alive = False  # an answer before the whole body: the rest cannot be told apart
        if not self._keep_alive and not says_connection:
            extra.append((b"connection", b"close"))
        head = response_head(self.config, status, headers, extra)
        if self._framing == "length":
            self._held = head  # out with the body
        else:
            await self._write(head)

    async def body(self, data: bytes) -> None:
        framing = self._framing
        if framing == "none" or not data or self._ended:
            return
        if framing == "chunked":
            data = b"%x\r\n%b\r\n" % (len(data), data)
        elif framing == "length":
            self._declared -= len(data)
            if self._declared < 0:  # more than declared: nothing can frame it; nothing goes out
                self._framing, self._held = "none", b""
                await self._close_connection()
                return
        if self._held:
            head, self._held = self._held, b""
            if len(data) <= COALESCE_UP_TO:
                data = head + data
            else:  # a large body goes on its own rather than be copied onto the head
                await self._write(head)
        await self._write(data)

    async def end(self) -> None:
        if self._ended:
            return
        end = b"0\r\n\r\n" if self._framing == "chunked" else b""
        if self._held:
            end, self._held = self._held + end, b""
        if end:
            await self._write(end)
        self._answered = True
        if self._framing == "length" and self._declared:  # shorter than declared: end here
            self._keep_alive = False

    async def recycle(self) -> None:
        reusable = self._keep_alive and self._answered and self._request_done
        await self._close_stream()
        if reusable and not self._closed and not self.context.terminated.is_set():
            self._new_exchange()  # and the next request may begin
            await self.can_read.set()
            if self._timer is not None:
                self._timer.idle(self.task_group)
            else:
                await self.send(Updated(idle=True))
            self._head_deadline.apply()
        else:
            await self._close_connection()

    async def _write(self, data: bytes) -> None:
        """``data`` to the client: straight to a plain TCP socket when it takes it all and no earlier
        write waits, else through hypercorn (TLS, a full socket, an error: a lock, a shielded scope
        and two scheduler passes a write). In order either way: a write waits behind one that waits."""
        if self._fileno is not None and not self._waiting_writes:
            fd = self._fileno()
            if fd >= 0:
                try:
                    written = os.write(fd, data)
                except OSError:  # BlockingIOError (full), or a failed socket: hypercorn's way
                    written = 0
                if written == len(data):
                    return
                data = data[written:]
        self._waiting_writes += 1
        try:
            await self.send(RawData(data=data))
        finally:
            self._waiting_writes -= 1

    async def _refuse(self, status: int) -> None:
        """A request that cannot be read: its answer (unless one began) and the end."""
        if not self._answering:
            headers = [(b"content-length", b"0"), (b"connection", b"close")]
            await self._write(response_head(self.config, status, headers))
        await self._close_stream()
        await self._close_connection()

    async def _close_connection(self) -> None:
        self._closed = True
        await self.can_read.set()
        if not self._ended:
            self._ended = True
            await self.send(Closed())

    async def _close_stream(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await stream.close()
