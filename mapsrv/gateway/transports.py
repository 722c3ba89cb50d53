"""The two HTTP transports of MCP, as raw ASGI handlers over ``Sessions``.

Streamable HTTP (``/mcp``), the 2025-11-25 session era: ``initialize`` without a session opens
one (a child of its own) and names it in ``Mcp-Session-Id``; each request's answer is the POST's
JSON body (one message, so the SDK client's 1 MiB cap on SSE events never applies); server
messages that answer nothing go to the session's GET stream; DELETE ends the session and its
child. Requests of the stateless 2026-07-28 era (no session, an envelope in ``_meta``) go to
``stateless``. Legacy HTTP+SSE (``/sse`` then ``POST /messages?session_id=``): the stream's lifetime is
the session's. Unknown and ended sessions get 404, so clients start a new one.
"""

from __future__ import annotations

import json
import logging

import trio

from mapsrv.gateway.asgi_io import query_param, read_body, respond, serve_sse
from mapsrv.gateway.jsonrpc import INVALID_REQUEST, PARSE_ERROR, SERVER_GONE, Envelope, error_body, peek
from mapsrv.gateway.session import Session, SessionEnded
from mapsrv.gateway.sessions import Refused, Sessions
from mapsrv.gateway.stateless import handle_stateless, is_stateless, modern_header
from mapsrv.http.types import Receive, Scope, Send, header

__all__ = ["handle_legacy_messages", "handle_legacy_sse", "handle_streamable"]

log = logging.getLogger("mapsrv.gateway.http")

SESSION_HEADER = b"mcp-session-id"


async def _error(send: Send, status: int, code: int, message: str, key: str | None = None) -> None:
    await respond(send, status, error_body(key, code, message))


async def _refused(send: Send, refused: Refused) -> None:
    retry = str(max(1, round(refused.retry_after))).encode()
    await respond(send, 503, error_body(None, SERVER_GONE, refused.reason), [(b"retry-after", retry)])


async def _read_message(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions
) -> tuple[bytes, Envelope] | None:
    """The body as one line and its envelope, or None once an error has been answered."""
    body = await read_body(receive, sessions.config.max_body_size)
    if body is None:
        limit = sessions.config.max_body_size
        await _error(send, 413, INVALID_REQUEST, f"request body over {limit} bytes, the limit here")
        return None
    line = body.strip()
    if b"\n" in line or b"\r" in line:  # raw newlines in JSON are only ever whitespace
        line = line.replace(b"\r", b" ").replace(b"\n", b" ")
    if len(line) > sessions.config.max_line:
        await _error(send, 413, INVALID_REQUEST, f"message over {sessions.config.max_line} bytes")
        return None
    if line.startswith(b"["):
        await _error(send, 400, INVALID_REQUEST, "JSON-RPC batches are not supported; send one message")
        return None
    envelope = peek(line)
    if envelope is None:
        await _error(send, 400, PARSE_ERROR, "the body is not one JSON-RPC 2.0 message")
        return None
    return line, envelope


async def handle_streamable(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions, server: str
) -> None:
    method = scope["method"]
    session_id = header(scope, SESSION_HEADER)
    if await _forwarded(scope, receive, send, sessions, session_id):
        return
    if method == "POST":
        await _post(scope, receive, send, sessions, server, session_id)
        return
    session = _find(sessions, server, session_id, "http")
    if method == "GET":
        if session is None:
            await _error(send, 404 if session_id else 400, INVALID_REQUEST, "session not found")
        elif session.streaming:
            await _error(send, 409, INVALID_REQUEST, "this session already has a GET stream open")
        else:
            session.streaming = True
            try:
                await serve_sse(receive, send, session.outbound, sessions.config.heartbeat_interval)
            finally:
                session.streaming = False
    elif method == "DELETE":
        if session is None:
            await _error(send, 404, INVALID_REQUEST, "session not found")
            return
        session.close("deleted")
        with trio.move_on_after(sessions.config.kill_grace + 5):
            await session.child.gone.wait()
        await respond(send, 200, b"")
    else:
        await respond(send, 405, b"", [(b"allow", b"GET, POST, DELETE")])


async def _forwarded(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions, session_id: str | None
) -> bool:
    """Forward a request for a session another gateway process owns; False when it is ours."""
    if not session_id or sessions.forwarder is None or sessions.get(session_id) is not None:
        return False
    owner = sessions.forwarder.owner(scope, session_id)
    if owner is None:
        return False
    await sessions.forwarder.forward(scope, receive, send, owner)
    return True


def _find(sessions: Sessions, server: str, session_id: str | None, transport: str) -> Session | None:
    session = sessions.get(session_id)
    if (
        session is None
        or session.server != server
        or session.transport != transport
        or session.ended.is_set()
    ):
        return None
    return session


async def _post(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions, server: str, session_id: str | None
) -> None:
    read = await _read_message(scope, receive, send, sessions)
    if read is None:
        return
    line, envelope = read
    if session_id is None:
        modern = sessions.config.stateless_children > 0 and modern_header(scope)
        if envelope.method != "initialize" or envelope.key is None or modern:
            await _sessionless(scope, receive, send, sessions, server, line, envelope)
            return
        try:
            opened = await sessions.open_session(server, "http")
        except Refused as refused:
            await _refused(send, refused)
            return
        answer = await _ask(opened, envelope.key, line)
        headers = [] if opened.ended.is_set() else [(SESSION_HEADER, opened.id.encode())]
        await respond(send, 200, answer, headers)
        return
    session = _find(sessions, server, session_id, "http")
    if session is None:
        await _error(send, 404, INVALID_REQUEST, "session not found; initialize a new one", envelope.key)
        return
    if envelope.is_request:
        assert envelope.key is not None
        await respond(send, 200, await _ask(session, envelope.key, line))
        return
    try:
        await session.send(line)
    except SessionEnded:
        await _error(send, 404, INVALID_REQUEST, "session ended; initialize a new one")
        return
    await respond(send, 202, b"")


async def _sessionless(
    scope: Scope,
    receive: Receive,
    send: Send,
    sessions: Sessions,
    server: str,
    line: bytes,
    envelope: Envelope,
) -> None:
    """A message without a session: a stateless-era request for the shared children, a
    notification to acknowledge, or a client that must initialise first."""
    message = json.loads(line)
    if not sessions.config.stateless_children or not is_stateless(scope, message):
        reason = "no Mcp-Session-Id: send initialize first (or a 2026-07-28 request with its _meta envelope)"
        if not sessions.config.stateless_children:
            reason = "no Mcp-Session-Id: this gateway serves MCP sessions only; send initialize first"
        await _error(send, 400, INVALID_REQUEST, reason, envelope.key)
    elif envelope.key is None:
        await respond(send, 202, b"")  # no client notification means anything without a session
    elif sessions.closing:  # while draining, before that, a stateless request is a call like any other
        await _refused(send, Refused("the gateway is shutting down", 1))
    else:
        shared = sessions.shared[server]
        heartbeat = sessions.config.heartbeat_interval
        await handle_stateless(scope, receive, send, shared, message, envelope.key, heartbeat)


async def _ask(session: Session, key: str, line: bytes) -> bytes:
    try:
        return await session.request(key, line)
    except SessionEnded:
        return error_body(key, SERVER_GONE, "the MCP server process of this session has exited")


async def handle_legacy_sse(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions, server: str, prefix: str
) -> None:
    try:
        session = await sessions.open_session(server, "sse")
    except Refused as refused:
        await _refused(send, refused)
        return
    endpoint = f"{scope.get('root_path', '')}{prefix}/messages?session_id={session.id}".encode()
    try:
        await serve_sse(
            receive,
            send,
            session.outbound,
            sessions.config.heartbeat_interval,
            first=b"event: endpoint\ndata: " + endpoint + b"\n\n",
        )
    finally:
        session.close("client gone" if not session.ended.is_set() else session.end_reason or "ended")


async def handle_legacy_messages(
    scope: Scope, receive: Receive, send: Send, sessions: Sessions, server: str
) -> None:
    if scope["method"] != "POST":
        await respond(send, 405, b"", [(b"allow", b"POST")])
        return
    if await _forwarded(scope, receive, send, sessions, query_param(scope, "session_id")):
        return
    session = _find(sessions, server, query_param(scope, "session_id"), "sse")
    if session is None:
        await _error(send, 404, INVALID_REQUEST, "session not found; open a new /sse stream")
        return
    read = await _read_message(scope, receive, send, sessions)
    if read is None:
        return
    line, envelope = read
    try:
        await session.send(line, envelope.key if envelope.is_request else None)
    except SessionEnded:
        await _error(send, 404, INVALID_REQUEST, "session ended; open a new /sse stream")
        return
    await respond(send, 202, b"Accepted", content_type=b"text/plain")
