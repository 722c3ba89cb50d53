"""One request on an HTTP/1.1 connection, run as an ASGI app: what hypercorn's ``HTTPStream`` does
for its HTTP/1.1 protocol, done for ``mapsrv.http.h1`` without its per-request machinery.

``HTTPStream`` hands the app its request through a trio memory channel made for each request
(``TaskGroup.spawn_app``), and each message the app sends becomes an event object that the
protocol dispatches on by type. Each channel send yields to the scheduler: the body's, in the
connection's task, and the ``http.disconnect`` after the answer, in the app's. For a small tool
call that was two of its five and a half task steps, and with the channel, the events and their
dispatch 8 % of its instructions (docs/benchmarks.md, "Round five"). ``H1Exchange`` keeps what
arrives in a deque that the app's ``receive`` reads (waiting on an event only when it is empty)
and calls the protocol's ``respond``, ``body``, ``end`` and ``recycle`` directly. What it keeps
of ``HTTPStream`` (hypercorn 0.18, hypercorn/protocol/http_stream.py), each checked in
tests/http/test_h1.py:

- the scope, key for key (``http_version``, ``asgi``, ``method``, ``scheme``, ``path`` unquoted,
  ``raw_path``, ``query_string``, ``root_path``, ``headers``, ``client``, ``server``, a copy of
  the connection's ``state``, ``extensions``), and a 404 for a host not in ``server_names``;
- the app's headers checked (``mapsrv.http.h1_head.checked_headers``: stricter, as h11 was);
- the app's messages in order: a start (once), then bodies; the body is left out for HEAD, 1xx,
  204 and 304; anything else, or anything after the last body, raises ``UnexpectedMessageError``
  in the app; a response that asks for trailers (HTTP/2's) waits for them and so never ends;
- an app that returns without answering, or raises, gets a 500 with ``Connection: close``, and
  one that raises is logged ("Error in ASGI Framework", hypercorn's error log);
- after the answer, or once the connection closes, ``receive`` gives ``http.disconnect`` (once:
  a later ``receive`` waits, as on hypercorn's channel);
- at most ``max_app_queue_size`` parts of a body wait for the app (``deliver``): the connection
  is not read further until it takes one, so a client sending faster than the app reads waits;
- hypercorn's access log (off in mapsrv: ``mapsrv.http.observe`` logs), at the answer's end.

``receive_nowait`` takes a message already there (``mapsrv.http.hygiene`` reads bodies so).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import time
from typing import Any, Protocol
from urllib.parse import unquote

import trio
from hypercorn.utils import UnexpectedMessageError, suppress_body

from mapsrv.http.h1_head import checked_headers
from mapsrv.http.types import Message, header

__all__ = ["H1Exchange", "Responder"]

_REQUEST, _RESPONSE, _TRAILERS, _CLOSED = "request", "response", "trailers", "closed"
_ERROR_HEADERS = [(b"content-length", b"0"), (b"connection", b"close")]


class Responder(Protocol):
    """What the exchange asks of its connection (``H1Protocol``)."""

    async def respond(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    async def body(self, data: bytes) -> None: ...
    async def end(self) -> None: ...
    async def recycle(self) -> None: ...


class H1Exchange:
    """One request's ASGI exchange; ``start`` runs the app in a task of the connection's group."""

    __slots__ = (
        "_arrival",
        "_inbox",
        "_response",
        "_room",
        "_status",
        "_trailers",
        "closed",
        "config",
        "responder",
        "scope",
        "started",
        "state",
    )

    def __init__(self, responder: Responder, config: Any, scope: dict[str, Any]) -> None:
        self.responder, self.config, self.scope = responder, config, scope
        self.state = _REQUEST
        self.closed = False  # the connection is done with this request: nothing more comes in
        self.started = time()
        self._inbox: deque[Message] = deque()
        self._arrival: trio.Event | None = None  # set when a message arrives for a waiting app
        self._room: trio.Event | None = None  # set when the app takes one, for a waiting body
        self._status = 0
        self._response: Message = {}
        self._trailers = False

    @classmethod
    def scope_of(
        cls,
        *,
        method: str,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        version: str,
        ssl: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        state: dict[str, Any],
        root_path: str,
    ) -> dict[str, Any]:
        """The ASGI scope ``HTTPStream`` makes of a request (hypercorn 0.18), for HTTP/1.x."""
        path, _, query_string = url.partition(b"?")
        return {
            "type": "http",
            "http_version": version,
            "asgi": {"spec_version": "2.1", "version": "3.0"},
            "method": method,
            "scheme": "https" if ssl else "http",
            "path": unquote(path.decode("ascii")),
            "raw_path": path,
            "query_string": query_string,
            "root_path": root_path,
            "headers": headers,
            "client": client,
            "server": server,
            "state": state.copy(),
            "extensions": {},
        }

    async def start(self, app: Any, spawn: Callable[..., None]) -> None:
        """Run ``app`` (hypercorn's wrapped app) with ``spawn`` (the connection's task group's);
        a host not among ``server_names`` gets a 404 instead, as from ``HTTPStream``."""
        names = self.config.server_names
        if names and (header(self.scope, b"host") or "") not in names:
            await self._error(404)
            self.closed = True
            return
        spawn(self._run, app)

    def put(self, message: Message) -> None:
        """A message for the app (the disconnect), without waiting."""
        self._inbox.append(message)
        if self._arrival is not None:
            self._arrival.set()
            self._arrival = None

    async def deliver(self, message: Message) -> None:
        """A part of the request's body for the app, once it has read enough of what came before:
        at most ``max_app_queue_size`` messages wait, as in hypercorn's channel, so that a client
        sending faster than the app reads is held back by TCP, not kept in memory. Nothing once
        the exchange is over."""
        while len(self._inbox) >= self.config.max_app_queue_size and not self.closed:
            if self._room is None:
                self._room = trio.Event()
            await self._room.wait()
        if not self.closed:
            self.put(message)

    async def close(self) -> None:
        """The connection is done with this request (answered, or gone): the app is told."""
        self.closed = True
        self._made_room()
        if self.state != _CLOSED:
            await self.config.log.access(self.scope, None, time() - self.started)
        self.put({"type": "http.disconnect"})

    def receive_nowait(self) -> Message:
        if not self._inbox:
            raise trio.WouldBlock
        self._made_room()
        return self._inbox.popleft()

    async def receive(self) -> Message:
        await trio.lowlevel.checkpoint_if_cancelled()
        while not self._inbox:  # several tasks may wait (as on a channel): each message goes to one
            if self._arrival is None:
                self._arrival = trio.Event()
            await self._arrival.wait()
        self._made_room()
        return self._inbox.popleft()

    def _made_room(self) -> None:
        if self._room is not None:
            self._room.set()
            self._room = None

    async def send(self, message: Message | None) -> None:
        """What the app sends (None once it has returned), as ``HTTPStream.app_send``."""
        if message is None:
            if not self.closed:
                if self.state == _REQUEST:
                    await self._error(500)
                await self.responder.recycle()
            return
        kind = message["type"]
        if kind == "http.response.start" and self.state == _REQUEST:
            headers = checked_headers(message.get("headers", []))
            self._status = int(message["status"])
            self._response = message
            self._trailers = bool(message.get("trailers", False))
            await self.responder.respond(self._status, headers)
            self.state = _RESPONSE
        elif kind == "http.response.body" and self.state == _RESPONSE:
            data = message.get("body", b"")
            if data != b"" and not suppress_body(self.scope["method"], self._status):
                await self.responder.body(bytes(data))
            if not message.get("more_body", False):
                if self._trailers:
                    self.state = _TRAILERS  # HTTP/2's: none come on HTTP/1.1, as with HTTPStream
                else:
                    await self._end(self._response)
        else:
            raise UnexpectedMessageError(self.state, kind)  # type: ignore[arg-type]

    async def _run(self, app: Any) -> None:
        """The app's task, as hypercorn's ``task_group._handle``."""
        try:
            await app(self.scope, self.receive, self.send, trio.to_thread.run_sync, trio.from_thread.run)
        except trio.Cancelled:
            raise
        except BaseExceptionGroup as error:
            _, other = error.split(trio.Cancelled)
            if other is None:
                raise
            await self.config.log.exception("Error in ASGI Framework")
            await self.send(None)
        except Exception:
            await self.config.log.exception("Error in ASGI Framework")
        finally:
            await self.send(None)

    async def _error(self, status: int) -> None:
        """An answer with no body, ending the connection (``HTTPStream._send_error_response``)."""
        await self.responder.respond(status, list(_ERROR_HEADERS))
        await self.responder.end()
        self.state = _CLOSED
        await self.config.log.access(self.scope, {"status": status, "headers": []}, time() - self.started)

    async def _end(self, response: Message) -> None:
        await self.responder.end()
        self.state = _CLOSED
        await self.config.log.access(self.scope, response, time() - self.started)
        await self.responder.recycle()
