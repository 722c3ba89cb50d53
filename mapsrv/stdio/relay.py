"""``mapsrv stdio`` on the maps of a running mapsrv: the desktop client's MCP, read from stdin by
the SDK's stdio transport, carried message by message to the server's Streamable HTTP ``/mcp`` by
the SDK's client transport, and the answers back (issue 14: an in-memory ``mapsrv stdio`` is a
separate set of maps, so the code a person copies from the page of ``mapsrv serve`` meant nothing
to it).

What the relay adds to the two SDK transports:

- the HTTP headers of each message. The SDK's client stamps them from its own session
  (``MCP-Protocol-Version`` once initialized; a 2026-07-28 request also ``MCP-Method`` and
  ``MCP-Name``, which the server checks against the body); a relay has no session object, so it
  derives them from the messages themselves.
- an answer for every request: one pending when the server goes away gets a JSON-RPC error, and
  the next message connects again.
- a lost session (404: the server restarted, or closed the session as idle) is opened again with
  the client's own ``initialize``, and the request sent again; the client sees nothing of it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import trio
from mcp.client.streamable_http import MCP_SESSION_ID, streamable_http_client
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    NAME_BEARING_METHODS,
    encode_header_value,
)
from mcp.shared.jsonrpc_dispatcher import cancelled_request_id_from_params
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import (
    CONNECTION_CLOSED,
    PROTOCOL_VERSION_META_KEY,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from mapsrv.mcp.sdk import ReadStream, WriteStream, http_client
from mapsrv.stdio.local_paths import PUT_TIMEOUT, PathImports, is_path_import

__all__ = ["Link", "Upstream", "serve_link", "wire_headers"]

log = logging.getLogger("mapsrv.stdio")

REPLAY_TIMEOUT = 10.0  # seconds for the server to answer a replayed initialize
CLOSE_TIMEOUT = 2.0  # seconds to end the server's session (DELETE) when the client goes

# The SDK's client transport logs a traceback for a server that went away; the relay says it in
# one line of its own (below) instead.
logging.getLogger("mcp.client.streamable_http").setLevel(logging.CRITICAL)


def wire_headers(message: JSONRPCMessage, version: str | None) -> dict[str, str]:
    """The MCP headers the message goes with: a 2026-07-28 request's come from its own envelope
    (``params._meta``); the handshake era's from the version ``initialize`` agreed on."""
    if isinstance(message, (JSONRPCRequest, JSONRPCNotification)):
        meta = (message.params or {}).get("_meta")
        modern = meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
        if modern in MODERN_PROTOCOL_VERSIONS:
            headers = {MCP_PROTOCOL_VERSION_HEADER: str(modern), MCP_METHOD_HEADER: message.method}
            name = (message.params or {}).get(NAME_BEARING_METHODS.get(message.method, ""))
            if isinstance(name, str):
                headers[MCP_NAME_HEADER] = encode_header_value(name)
            return headers
        if message.method == "initialize":
            return {}
    return {MCP_PROTOCOL_VERSION_HEADER: version} if version else {}


@dataclass(frozen=True)
class Upstream:
    """The mapsrv server to relay to, and the API key it wants (if it wants one)."""

    url: str  # http://host:port
    key: str = field(default="", repr=False)

    @property
    def endpoint(self) -> str:
        return self.url + "/mcp"


class _Connection:
    """One SDK client transport to the server: the stream into it, and how to end it."""

    def __init__(self, number: int, stream: WriteStream[SessionMessage]) -> None:
        self.number = number
        self.stream = stream
        self.scope = trio.CancelScope()
        self.session_lost = False  # dropped because the server had no such session: send again
        self.ended: str | None = None  # why it ended, once it has
        self.done = trio.Event()


class Link:
    """One desktop client's MCP session, carried to ``upstream``."""

    def __init__(
        self,
        upstream: Upstream,
        to_client: WriteStream[SessionMessage],
        nursery: trio.Nursery,
        folders: tuple[Path, ...] = (),
    ) -> None:
        self.upstream = upstream
        # an import by path reads its file here (``local_paths``)
        self.paths = PathImports(folders, self._ask, upstream.url, self._auth()) if folders else None
        self._to_client = to_client
        self._nursery = nursery
        self.pending: dict[RequestId, tuple[JSONRPCRequest, int]] = {}  # -> connection it went on
        self.version: str | None = None  # agreed by initialize (handshake era)
        self._initialize: JSONRPCRequest | None = None
        self._initialized = False
        self._connection: _Connection | None = None
        self._connections = 0
        self._lock = trio.Lock()
        self._lost: set[RequestId] = set()  # requests the server answered 404 (no such session)
        self._sent_again: set[RequestId] = set()
        self._replays: dict[str, trio.Event] = {}
        self._replayed: dict[str, JSONRPCMessage | None] = {}
        self.reconnects = 0  # sessions opened again after the first (statistics, tests)
        self._closing = False
        self._asked = 0  # requests the relay sent of its own

    # --- from the client -------------------------------------------------------------------

    async def from_client(self, message: JSONRPCMessage) -> None:
        if isinstance(message, JSONRPCRequest):
            if message.method == "initialize":
                self._initialize, self.version, self._initialized = message, None, False
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/initialized":
            self._initialized = True
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            self.pending.pop(cancelled_request_id_from_params(message.params) or "", None)  # no answer due
        if self.paths is not None and is_path_import(message):
            self._nursery.start_soon(self._import_path, self.paths, message)
            return
        await self._send(message)

    async def _import_path(self, paths: PathImports, request: JSONRPCRequest) -> None:
        """A file on this machine handed to the server by an upload link (``local_paths``)."""
        answer = await paths.answer(request)
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):  # a client gone
            await self._to_client.send(SessionMessage(answer))

    async def _ask(self, request: JSONRPCRequest) -> JSONRPCMessage | None:
        """``request`` sent as the relay's own (its answer comes back here, not to the client;
        None if its connection ends first, as a replayed initialize's)."""
        try:
            connection = await self._connect(replay=True)
        except _Unreachable:
            return None
        self._asked += 1
        own = request.model_copy(update={"id": f"mapsrv-relay-ask-{self._asked}-{connection.number}"})
        done = self._replays[str(own.id)] = trio.Event()
        try:
            metadata = ClientMessageMetadata(headers=wire_headers(own, self.version))
            await connection.stream.send(SessionMessage(own, metadata=metadata))
            with trio.move_on_after(PUT_TIMEOUT):
                await done.wait()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return None
        finally:
            del self._replays[str(own.id)]
        return self._replayed.pop(str(own.id), None)

    async def _send(self, message: JSONRPCMessage) -> None:
        try:
            connection = await self._connect(replay=not _is_initialize(message))
        except _Unreachable as exc:
            await self._answer_error(message, exc.reason)
            return
        if isinstance(message, JSONRPCRequest):
            self.pending[message.id] = (message, connection.number)
        metadata = ClientMessageMetadata(headers=wire_headers(message, self.version))
        try:
            await connection.stream.send(SessionMessage(message, metadata=metadata))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            if isinstance(message, JSONRPCRequest) and self.pending.pop(message.id, None) is not None:
                await self._answer_error(message, "closed the connection")

    async def _connect(self, *, replay: bool) -> _Connection:
        """The current connection, or a new one (with the session opened again when the client
        had initialized one on an earlier connection)."""
        async with self._lock:
            if self._connection is not None:
                return self._connection
            self._connections += 1
            connection: _Connection = await self._nursery.start(self._serve_connection, self._connections)
            self._connection = connection
            if replay and self._initialize is not None and self.version in HANDSHAKE_PROTOCOL_VERSIONS:
                self.reconnects += 1
                await self._replay(connection, self._initialize)
            return connection

    async def _replay(self, connection: _Connection, initialize: JSONRPCRequest) -> None:
        replay_id = f"mapsrv-relay-{connection.number}"
        done = self._replays[replay_id] = trio.Event()
        await connection.stream.send(SessionMessage(initialize.model_copy(update={"id": replay_id})))
        with trio.move_on_after(REPLAY_TIMEOUT):
            await done.wait()
        del self._replays[replay_id]
        answer = self._replayed.pop(replay_id, None)
        if not isinstance(answer, JSONRPCResponse):
            self._drop(connection)
            reason = connection.ended or "did not answer initialize"
            if answer is not None:
                reason = "refused initialize"
            raise _Unreachable(reason)
        self.version = str(answer.result.get("protocolVersion", self.version))
        if self._initialized:
            note = JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")
            headers = wire_headers(note, self.version)
            await connection.stream.send(
                SessionMessage(note, metadata=ClientMessageMetadata(headers=headers))
            )
        log.info("opened a new MCP session on %s for this client", self.upstream.url)

    # --- from the server -------------------------------------------------------------------

    async def _serve_connection(self, number: int, *, task_status: trio.TaskStatus[_Connection]) -> None:
        reason = "closed the connection"
        connection: _Connection | None = None
        client = http_client(self._auth())
        client.event_hooks["response"].append(self._note_lost_session)
        try:
            async with client, streamable_http_client(self.upstream.endpoint, http_client=client) as streams:
                read, connection = streams[0], _Connection(number, streams[1])
                task_status.started(connection)
                with connection.scope:
                    async for item in read:
                        if isinstance(item, SessionMessage):
                            await self._from_server(item.message)
                        else:
                            log.debug("from %s: %r", self.upstream.url, item)
        except Exception as exc:  # an ExceptionGroup from the SDK's task group; say what it was
            reason = _describe(exc)
        finally:
            if connection is not None:
                connection.ended = reason
            try:
                await self._lose(number, reason, resend=connection is not None and connection.session_lost)
            finally:
                if connection is not None:
                    connection.done.set()

    async def _from_server(self, message: JSONRPCMessage) -> None:
        if isinstance(message, (JSONRPCResponse, JSONRPCError)) and message.id is not None:
            if isinstance(message.id, str) and message.id in self._replays:
                self._replayed[message.id] = message
                self._replays[message.id].set()
                return
            sent = self.pending.pop(message.id, None)
            if message.id in self._lost:
                self._lost.discard(message.id)
                if sent is not None and message.id not in self._sent_again:  # once: no loop
                    self._sent_again.add(message.id)
                    self._nursery.start_soon(self._send_again, sent)
                    return
            if sent is not None and sent[0].method == "initialize" and isinstance(message, JSONRPCResponse):
                self.version = str(message.result.get("protocolVersion", ""))
        await self._to_client.send(SessionMessage(message))

    async def _note_lost_session(self, response: httpx2.Response) -> None:
        """A 404 to a request sent with a session id: the server has no such session (any more)."""
        request = response.request
        if response.status_code != 404 or request.method != "POST" or MCP_SESSION_ID not in request.headers:
            return
        try:
            body = json.loads(request.content)
        except ValueError:
            return
        if isinstance(body, dict) and body.get("method") != "initialize" and "id" in body:
            self._lost.add(body["id"])

    async def _send_again(self, sent: tuple[JSONRPCRequest, int]) -> None:
        request, number = sent
        if self._connection is not None and self._connection.number == number:
            self._connection.session_lost = True
            self._drop(self._connection)
        await self._send(request)

    # --- losing the server -----------------------------------------------------------------

    def _drop(self, connection: _Connection) -> None:
        connection.scope.cancel()
        if self._connection is connection:
            self._connection = None

    async def _lose(self, number: int, reason: str, *, resend: bool) -> None:
        """Connection ``number`` ended: every request still waiting on it gets an error, or, when
        it ended because its session was gone (the server never ran them), is sent again."""
        if self._connection is not None and self._connection.number == number:
            self._connection = None
        for replay_id, done in self._replays.items():
            if replay_id.endswith(f"-{number}"):
                done.set()
        waiting = [request for request, on in self.pending.values() if on == number]
        for request in waiting:
            del self.pending[request.id]
        if self._closing:
            return
        if resend:
            for request in waiting:
                self._nursery.start_soon(self._send, request)
            return
        if waiting:
            log.warning(
                "the mapsrv server at %s %s: %d pending call(s) failed; the next call tries again",
                self.upstream.url,
                reason,
                len(waiting),
            )
        with trio.CancelScope(shield=True):
            for request in waiting:
                await self._answer_error(request, reason)

    async def _answer_error(self, message: JSONRPCMessage, reason: str) -> None:
        if not isinstance(message, JSONRPCRequest):
            log.warning(
                "the mapsrv server at %s %s: a %s was not delivered",
                self.upstream.url,
                reason,
                _kind(message),
            )
            return
        text = f"the mapsrv server at {self.upstream.url} {reason}; is it running? (mapsrv serve)"
        error = JSONRPCError(
            jsonrpc="2.0", id=message.id, error=ErrorData(code=CONNECTION_CLOSED, message=text)
        )
        try:
            await self._to_client.send(SessionMessage(error))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client has gone too

    def _auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.upstream.key}"} if self.upstream.key else {}

    async def aclose(self) -> None:
        """The client has gone: end the server's session (DELETE), briefly."""
        self._closing = True
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with trio.move_on_after(CLOSE_TIMEOUT) as scope:
            scope.shield = True
            await connection.stream.aclose()
            connection.scope.cancel()
            await connection.done.wait()


class _Unreachable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_initialize(message: JSONRPCMessage) -> bool:
    return isinstance(message, JSONRPCRequest) and message.method == "initialize"


def _kind(message: JSONRPCMessage) -> str:
    return message.method if isinstance(message, (JSONRPCRequest, JSONRPCNotification)) else "response"


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _describe(exc: BaseException) -> str:
    """What happened to the server, in words: the first transport error in the group."""
    for leaf in _leaves(exc):
        if isinstance(leaf, httpx2.ConnectError):
            return "refused the connection"
        if isinstance(leaf, httpx2.TimeoutException):
            return "did not answer in time"
        if isinstance(leaf, httpx2.TransportError):
            return f"closed the connection ({type(leaf).__name__})"
    return f"failed ({type(exc).__name__}: {exc})"


async def serve_link(
    upstream: Upstream,
    from_client: ReadStream[SessionMessage | Exception],
    to_client: WriteStream[SessionMessage],
    folders: tuple[Path, ...] = (),
) -> None:
    """Relay until the client closes its end (stdin), then end the server's session. ``folders``:
    where an ``import`` by path reads its file on this machine (``local_paths``)."""
    async with to_client, trio.open_nursery() as nursery:  # closing to_client ends the stdout writer
        link = Link(upstream, to_client, nursery, folders)
        async for item in from_client:
            if isinstance(item, Exception):
                log.warning("not a JSON-RPC message from the client: %s", item)
                continue
            await link.from_client(item.message)
        await link.aclose()
        nursery.cancel_scope.cancel()
