"""MCP sessions that cost whoever opens them as much as they cost us.

The SDK's ``StreamableHTTPSessionManager`` and ``SseServerTransport`` hold the sessions; this module
watches them from the ASGI side, where every request, its ``mcp-session-id`` and the initialize
answer's session id pass by, and adds what a shared service needs:

- a session exists only after a successful ``initialize``: one answered with a JSON-RPC error
  (HTTP 200, so the SDK keeps it) is closed again at once;
- a session that sends no request after its ``initialize`` is closed after
  ``mcp_handshake_timeout`` (seconds), not the 30-minute idle timeout; its first real request (a
  JSON-RPC request, not a notification) gives it the ordinary idle timeout;
- legacy SSE sessions end after ``mcp_session_idle_timeout`` without a message (the SDK has no
  timeout for them at all);
- one client address or one API key holds at most its quota of sessions (429 with Retry-After
  past it), so nobody locks everyone else out of the global cap; and when the cap is full
  anyway (a flood from many addresses), a new session takes the place of the oldest one still
  waiting for its first request, so a real client still gets in.

Sessions are bound to the API key that opened them by the SDK itself (mcp 2.3 compares
``scope["user"]``; ``McpEndpoints`` sets it): another key gets the same 404 as an unknown session.
A Streamable HTTP session is closed the way a client closes it, with a DELETE through the
manager's public ``handle_request``; no SDK private is touched here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import trio

from mapsrv.errors import TooManyRequests
from mapsrv.http.types import Message, Receive, Scope, Send

__all__ = [
    "McpSession",
    "Peek",
    "SessionBook",
    "SessionStatistics",
    "called_tool",
    "leavable",
    "cancelled_ids",
    "close_http_session",
    "handshake",
    "is_real_request",
    "json_rpc_failed",
]

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

# Enough of a body to tell a request from a notification, and an answer from an error.
PEEK_BYTES = 64 * 1024


@dataclass
class McpSession:
    id: str
    transport: str  # "http" (Streamable HTTP, 2025-11-25) or "sse" (legacy HTTP+SSE)
    client: str
    key: str | None
    deadline: float  # when it is closed unless a request comes first
    user: Any = field(default=None, repr=False)  # the credential that opened it (scope["user"])
    answered: bool = False  # a real request came after initialize
    scope: trio.CancelScope | None = field(default=None, repr=False)  # an SSE session's stream
    # what its initialize settled (``handshake``): None when the exchange could not be read
    version: str | None = None  # the protocol version
    client_name: str | None = None  # its client's clientInfo.name


@dataclass(frozen=True)
class SessionStatistics:
    unanswered: int  # sessions still waiting for their first request
    closed_unanswered: int  # closed because that request never came (or to make room)
    closed_failed_initialize: int  # closed because initialize failed
    refused_quota: int  # new sessions refused past a client's or a key's quota


class SessionBook:
    """Every MCP session this process has seen open, by id; the quotas; the deadlines."""

    def __init__(
        self,
        *,
        handshake_timeout: float,
        idle_timeout: float,
        per_client: int,
        per_key: int,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.per_client = per_client
        self.per_key = per_key
        self._clock = clock
        self.sessions: dict[str, McpSession] = {}
        self._by_client: Counter[str] = Counter()
        self._by_key: Counter[str] = Counter()
        self.closed_unanswered = 0
        self.closed_failed_initialize = 0
        self.refused_quota = 0

    def refusal(self, client: str, key: str | None) -> TooManyRequests | None:
        """Why ``client`` (with ``key``) may not open another session now, if it may not."""
        if self._by_client[client] >= self.per_client:
            self.refused_quota += 1
            return TooManyRequests(
                f"this client holds {self.per_client} MCP sessions, its most; close one (DELETE)"
                " or let one idle out",
                retry_after=self.handshake_timeout,
            )
        if key is not None and self._by_key[key] >= self.per_key:
            self.refused_quota += 1
            return TooManyRequests(
                f"this API key holds {self.per_key} MCP sessions, its most; close one (DELETE)"
                " or let one idle out",
                retry_after=self.handshake_timeout,
            )
        return None

    def reserve(self, client: str, key: str | None) -> None:
        """Count a session being opened against its quotas before it exists, so that many
        concurrent ``initialize`` requests cannot all pass the check; ``opened`` keeps the
        count, ``released`` returns it."""
        self._by_client[client] += 1
        if key is not None:
            self._by_key[key] += 1

    def released(self, client: str, key: str | None) -> None:
        for counter, who in ((self._by_client, client), (self._by_key, key)):
            if who is not None:
                counter[who] -= 1
                if counter[who] <= 0:
                    del counter[who]

    def opened(
        self,
        session_id: str,
        transport: str,
        client: str,
        key: str | None,
        user: Any = None,
        settled: tuple[str, str] | None = None,
    ) -> McpSession:
        """A reserved session now exists; ``settled`` is its ``handshake``, when read."""
        deadline = self._clock() + self.handshake_timeout
        session = McpSession(session_id, transport, client, key, deadline, user)
        if settled is not None:
            session.version, session.client_name = settled
        self.sessions[session_id] = session
        return session

    def used(self, session_id: str, *, real: bool) -> None:
        """A message reached the session: a real request answers its initialize; for an SSE
        session, any message pushes back its idle deadline."""
        session = self.sessions.get(session_id)
        if session is None:
            return
        if real:
            session.answered = True
        if session.answered:
            session.deadline = self._clock() + self.idle_timeout
            if session.scope is not None:
                session.scope.deadline = session.deadline

    def ended(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            self.released(session.client, session.key)

    def overdue(self) -> list[McpSession]:
        """Streamable HTTP sessions that never sent a request after initialize, past their
        deadline (the SDK's own idle timeout takes over once they have; SSE sessions carry
        their deadline on their stream's cancel scope)."""
        now = self._clock()
        waiting = (s for s in self.sessions.values() if s.transport == "http" and not s.answered)
        return [s for s in waiting if s.deadline <= now]

    def oldest_unanswered(self) -> McpSession | None:
        """The Streamable HTTP session that has waited longest for its first request: the one to
        give up when the server is full and a new client wants in (a flood's sessions never
        answer; a real client's answer within a moment)."""
        waiting = [s for s in self.sessions.values() if s.transport == "http" and not s.answered]
        return min(waiting, key=lambda s: s.deadline, default=None)

    def keep_only(self, live_http: Iterable[str]) -> None:
        """Forget Streamable HTTP sessions the SDK has ended on its own (idle timeout, crash)."""
        live = set(live_http)
        for session_id in [s.id for s in self.sessions.values() if s.transport == "http"]:
            if session_id not in live:
                self.ended(session_id)

    def statistics(self) -> SessionStatistics:
        unanswered = sum(1 for s in self.sessions.values() if not s.answered)
        return SessionStatistics(
            unanswered, self.closed_unanswered, self.closed_failed_initialize, self.refused_quota
        )


def _messages(body: bytes) -> list[Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else [parsed]


def handshake(request: bytes, answer: bytes) -> tuple[str, str] | None:
    """The protocol version an ``initialize`` answer settled and the name its client gave, as
    the SDK keeps them on the session's connection; None unless both are plainly there."""
    asked, answered = _messages(request), _messages(answer)
    if len(asked) != 1 or len(answered) != 1:
        return None
    params = _member(asked[0], "params") if _member(asked[0], "method") == "initialize" else None
    name = _member(_member(params, "clientInfo"), "name")
    version = _member(_member(answered[0], "result"), "protocolVersion")
    if isinstance(name, str) and isinstance(version, str):
        return version, name
    return None


def _member(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else None


def is_real_request(body: bytes) -> bool:
    """Whether a JSON-RPC body holds a request (a method with an id), not only notifications or
    responses."""
    return any(isinstance(m, dict) and "method" in m and "id" in m for m in _messages(body))


def cancelled_ids(body: bytes) -> list[int | str]:
    """The request ids that a body's ``notifications/cancelled`` name (none for other bodies,
    which are not parsed)."""
    if b"notifications/cancelled" not in body:
        return []
    ids = []
    for message in _messages(body):
        if _member(message, "method") == "notifications/cancelled":
            found = _member(_member(message, "params"), "requestId")
            if type(found) in (int, str):
                ids.append(found)
    return ids


# Tools whose calls are long: cancelled when their client leaves (``leavable``).
LONG_TOOLS = frozenset({"map_image", "import"})


def leavable(name: object, arguments: object) -> bool:
    """Whether a call is watched for its client leaving, and cancelled then, so that its worker
    is freed (issue 60): ``map_image``, ``import``, and a ``read`` that asks for a file or for
    GeoJSON. Not every call: the watch is a task per call, which a small call's CPU budget does
    not have, and most reads are small."""
    if name in LONG_TOOLS:
        return True
    wants_file = isinstance(arguments, dict) and bool(arguments.get("format") or arguments.get("geojson"))
    return name == "read" and wants_file


def called_tool(body: bytes, watched: Callable[[object, object], bool] = leavable) -> int | str | None:
    """The request id of a body that is one ``tools/call`` that ``watched(name, arguments)``."""
    messages = _messages(body) if b"tools/call" in body else []
    if len(messages) != 1 or _member(messages[0], "method") != "tools/call":
        return None
    request_id = _member(messages[0], "id")
    params = _member(messages[0], "params")
    if not watched(_member(params, "name"), _member(params, "arguments")) or type(request_id) not in (
        int,
        str,
    ):
        return None
    return request_id  # type: ignore[no-any-return]


def json_rpc_failed(body: bytes) -> bool:
    """Whether a JSON-RPC answer is an error (or not JSON-RPC at all)."""
    messages = _messages(body)
    return not messages or any(not isinstance(m, dict) or "error" in m for m in messages)


class Peek:
    """An ASGI exchange seen in passing: the first bytes of the request body, and the answer's
    status, session id and first bytes."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.request = bytearray()
        self.status = 0
        self.session_id: str | None = None
        self.answer = bytearray()

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and len(self.request) < PEEK_BYTES:
            self.request += message.get("body", b"")[: PEEK_BYTES - len(self.request)]
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"mcp-session-id":
                    self.session_id = value.decode("latin-1")
        elif message["type"] == "http.response.body" and len(self.answer) < PEEK_BYTES:
            self.answer += message.get("body", b"")[: PEEK_BYTES - len(self.answer)]
        await self._send(message)


async def close_http_session(handle: Asgi, user: Any, session_id: str) -> None:
    """End a Streamable HTTP session as its client would: a DELETE with its id, with the same
    credential (``scope["user"]``) that opened it."""
    delete: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "DELETE",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"mcp-session-id", session_id.encode("latin-1"))],
        "client": None,
        "server": None,
    }
    if user is not None:
        delete["user"] = user

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def discard(message: Message) -> None:
        pass

    with trio.CancelScope(shield=True):
        await handle(delete, receive, discard)
