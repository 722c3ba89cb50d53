"""Connection hygiene, as an ASGI middleware: after every response the HTTP/1.1 connection either
carries the next request or is closed, never left hanging.

Two things broke that (hypercorn 0.18 + quart-trio 0.12, measured with raw sockets):

- Quart-Trio runs a request as two tasks and cancels both as soon as either ends. The reader task
  ends when hypercorn, inside the *last* ``send`` of a response, reports the stream closed; the
  cancellation then lands inside hypercorn's own bookkeeping of that same ``send``, before it has
  either recycled or closed the connection. When the connection had to close (a client's
  ``Connection: close``, a request body not read) it stayed open forever: the next request on it
  was never answered and, once the client gave up, the socket sat in CLOSE-WAIT. So the last
  message of every response is sent under a shield (hypercorn already shields its socket writes),
  except an MCP POST's: one JSON body written by the request's own task (mapsrv's direct path, or
  the SDK's JSON responses, never a streaming one: ``json_response=True``), which nothing but a
  shutdown cancels.
- A response sent before the request body was read (a 404 for an unknown map, a 403 for a foreign
  Origin, a 405) leaves the body on the wire. Here such a response is held until the app returns,
  then the body is read and dropped (at most ``max_body_size`` bytes, until ``body_timeout``
  seconds after the request began) and the response sent: the connection stays usable, and a
  proxy's keep-alive pool gets a clean connection back. A body too large or too slow to drain
  gets the response with ``Connection: close`` instead, and the connection closes after it.

A request body must arrive whole within ``body_timeout`` seconds, plus a second for each
``BODY_RATE`` bytes that came: a slow or stalled one (a client holding a worker with a trickle)
is, to the app, a client that went away; the answer is a 408 (unless the app answered), and the
connection closes. The allowance per byte lets a big file the page imports (256 MiB at most)
come over a slow uplink: a body that keeps coming at 64 KiB/s is never cut off, and a trickle
earns nothing (a byte a second adds 15 µs).

Browser event streams (GETs without a body, the hot path) pass straight through.

A third leak is hypercorn's alone and no ASGI app can see it: when a client closes a keep-alive
connection between requests, hypercorn 0.18's trio server stops reading but keeps the socket
until its keep-alive timer runs out (75 s here), in CLOSE-WAIT.
``mapsrv.http.hypercorn.close_idle_connections_on_eof`` fixes that, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import trio

from mapsrv.errors import HttpError
from mapsrv.http.pacing import Pacer
from mapsrv.http.responses import send_error
from mapsrv.http.routes import Family, lookup
from mapsrv.http.types import App, Message, Receive, Send, replaying

__all__ = [
    "ConnectionCounts",
    "ConnectionHygiene",
    "ConnectionStatistics",
    "has_body",
]


# Early answers are short (errors, redirects): hold at most this much of one.
_MOST_HELD = 64 * 1024
BODY_RATE = 64 * 1024  # bytes a second: what a body coming this fast earns on its deadline


def has_body(scope: MutableMapping[str, Any]) -> bool:
    """Whether a request announces a body (a positive Content-Length, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _closing(message: Message) -> Message:
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
    return {**message, "headers": [*headers, (b"connection", b"close")]}


@dataclass(frozen=True)
class ConnectionStatistics:
    early_responses: int  # responses ready before their request's body was read
    drained: int  # ... whose body was then read and dropped (the connection stayed open)
    closed: int  # ... whose body was too large or too slow (the connection was closed)
    paced: int = 0  # connections' first requests and ends that waited their turn in a storm


class _Exchange:
    """One request with a body: what has been read of it, and a response held back meanwhile."""

    def __init__(
        self,
        owner: ConnectionCounts,
        receive: Receive,
        send: Send,
        body_timeout: float,
        shield: bool,
        first: Message | None = None,
    ) -> None:
        self._owner = owner
        self._shield = shield  # the last message of the response is sent under a shield
        self._receive = receive
        self._send = send
        self.body_timeout = body_timeout
        self.began = trio.current_time()
        self.deadline = self.began + body_timeout  # when the whole body must be here
        self.body_done = False  # the last of the body was read
        self.gone = False  # the client went away, or took too long to send the body
        self.timed_out = False
        self.started = False  # a response began (sent or held)
        self.read = 0
        self.held: list[Message] = []
        self.held_bytes = 0
        # The server's receive is a bound method of something that also offers ``receive_nowait``
        # (``mapsrv.http.h1_exchange`` for HTTP/1.1, a trio memory channel from hypercorn's
        # ``TaskGroup.spawn_app`` for HTTP/2): a message already there is taken at once, without
        # a cancel scope for the deadline (about 7 µs, a fiftieth of a small tool call)
        self._ready = _nowait(receive)
        self._first = first  # a message taken already (``_already_here``), read first

    async def receive(self) -> Message:
        if self._first is not None:
            first, self._first = self._first, None
            return self._noted(first)
        if self.body_done or self.gone:
            return await self._receive()  # after the body: waiting for a disconnect is normal
        if self._ready is not None and trio.current_time() < self.deadline:
            try:
                return self._noted(self._ready())
            except trio.WouldBlock:
                pass
        with trio.move_on_at(self.deadline):
            return self._noted(await self._receive())
        # A body still arriving at the deadline (a slow or stalled client): to the app the
        # client is gone; the connection closes after whatever answer it gets.
        self.timed_out = self.gone = True
        return {"type": "http.disconnect"}

    def _noted(self, message: Message) -> Message:
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            self.deadline = max(self.deadline, self.began + self.body_timeout + self.read / BODY_RATE)
            if not message.get("more_body", False):
                self.body_done = True
        elif message["type"] == "http.disconnect":
            self.gone = True
        return message

    async def send(self, message: Message) -> None:
        if self.held:
            self.held.append(message)
            self.held_bytes += len(message.get("body", b""))
            if self.held_bytes > _MOST_HELD:
                # A long answer to a request whose body is unread: send it, then close.
                held, self.held = self.held, []
                self._owner.closed += 1
                await self._send(_closing(held[0]))
                for later in held[1:]:
                    await _send_last_shielded(self._send, later)
            return
        if message["type"] == "http.response.start":
            self.started = True
            if not self.body_done:
                self._owner.early_responses += 1
                self.held.append(message)  # the response, held until the app returns
                return
        if self._shield:
            await _send_last_shielded(self._send, message)
        else:
            await self._send(message)

    async def finish(self, max_body: int, declared: int | None, jsonrpc: bool) -> None:
        """After the app returned: drain the unread body if it is small and quick enough, then
        send whatever response was held (a 408 instead if the body never came)."""
        if self.timed_out and (self.held or not self.started):
            # Whatever the app made of a body that never came (the SDK: a 500), the client
            # hears that it was too slow.
            self.held = []
            self._owner.closed += 1
            late = HttpError(
                408,
                f"the request body did not arrive within {self.body_timeout:g} s",
                code="body_timeout",
                headers=(("Connection", "close"),),
            )
            with trio.CancelScope(shield=True):
                await send_error(self._send, late, jsonrpc=jsonrpc)
            return
        if not self.held:
            return
        held, self.held = self.held, []
        if declared is None or declared <= max_body:
            while not self.body_done and not self.gone and self.read <= max_body:
                await self.receive()
        if self.body_done and self.read <= max_body:
            start = held[0]
            self._owner.drained += 1
        else:
            start = _closing(held[0])
            self._owner.closed += 1
        with trio.CancelScope(shield=True):
            await self._send(start)
            for message in held[1:]:
                await self._send(message)


def _nowait(receive: Receive) -> Callable[[], Message] | None:
    """The ``receive_nowait`` of what ``receive`` is bound to, if it has one (see ``_Exchange``)."""
    return getattr(getattr(receive, "__self__", None), "receive_nowait", None)


def _already_here(receive: Receive) -> Message | None:
    """The request's first message if the server has it already (``_nowait``), else None."""
    ready = _nowait(receive)
    if ready is None:
        return None
    try:
        message: Message = ready()
    except trio.WouldBlock:
        return None
    return message


async def _send_last_shielded(send: Send, message: Message) -> None:
    if message["type"] == "http.response.body" and not message.get("more_body", False):
        with trio.CancelScope(shield=True):
            await send(message)
    else:
        await send(message)


class ConnectionCounts:
    """What the middleware counts, apart from it (the metrics read it before the app exists)."""

    def __init__(self, pacer: Pacer | None = None) -> None:
        self.early_responses = 0
        self.drained = 0
        self.closed = 0
        self._pacer = pacer

    def statistics(self) -> ConnectionStatistics:
        paced = self._pacer.parked if self._pacer is not None else 0
        return ConnectionStatistics(self.early_responses, self.drained, self.closed, paced)


class ConnectionHygiene:
    def __init__(
        self, app: App, counts: ConnectionCounts, *, max_body_size: int, body_timeout: float
    ) -> None:
        self.app = app
        self.counts = counts
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout

    def statistics(self) -> ConnectionStatistics:
        return self.counts.statistics()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not has_body(scope):
            if lookup(scope["path"]).route.family is Family.BROWSER_STREAM:
                await self.app(scope, receive, send)  # a browser stream: no wrapper per frame
            else:

                async def send_last_shielded(message: Message) -> None:
                    await _send_last_shielded(send, message)

                await self.app(scope, receive, send_last_shielded)
            return
        family = lookup(scope["path"]).route.family
        # An MCP POST is answered in the request's own task, as one JSON body (mapsrv's direct
        # path, or the SDK's JSON responses), and nothing but a shutdown cancels that task: no
        # shield (a fifth of the cost of this middleware for a small tool call).
        shield = family is not Family.MCP_HTTP or scope["method"] != "POST"
        first = None if shield else _already_here(receive)
        if first is not None and first["type"] == "http.request" and not first.get("more_body", False):
            # An MCP POST whose whole body came with its head (a tool call): no deadline to keep,
            # nothing to hold or drain, and the app reads the body straight (a wrapper for each
            # message of the exchange was a fifth of this middleware's cost).
            await self.app(scope, replaying([first], receive), send)
            return
        exchange = _Exchange(self.counts, receive, send, self.body_timeout, shield, first)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        finally:
            await exchange.finish(self.max_body_size, _content_length(scope), family.is_mcp)
