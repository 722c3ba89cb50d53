"""The stateless 2026-07-28 era over HTTP: a POST to ``/mcp`` without ``Mcp-Session-Id`` whose
``MCP-Protocol-Version`` header or ``_meta`` envelope names a 2026-07-28 version.

Each request is checked as the SDK's own servers check it (the envelope, the routing headers
against the body, a supported version), with the same errors and HTTP statuses, then answered by
a child the server's stateless requests share (``shared``). The answer is a JSON body, unless
the child sends notifications for the request first (progress, or a ``subscriptions/listen``
stream's events): then the response is an event stream, those notifications, then the answer,
as the SDK's servers do. ``initialize`` does not exist in this era (404, method not found);
client notifications get 202 and are dropped, as the SDK does.
"""

from __future__ import annotations

from typing import Any

import trio
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import (
    HEADER_MISMATCH,
    METHOD_NOT_FOUND,
    PROTOCOL_VERSION_META_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from mapsrv.gateway.asgi_io import SSE_HEADERS, respond
from mapsrv.gateway.jsonrpc import SERVER_GONE, error_body, error_code
from mapsrv.gateway.shared import NotModern, SharedChildren
from mapsrv.http.types import Receive, Scope, Send, header

__all__ = ["handle_stateless", "is_stateless", "modern_header"]

STREAM_BUFFER = 64  # notifications held for one response stream before more are dropped


def modern_header(scope: Scope) -> bool:
    return header(scope, b"mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS


def is_stateless(scope: Scope, message: Any) -> bool:
    """A request of the stateless era: a modern version in its header or in its envelope."""
    if modern_header(scope):
        return True
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta


def _rejection(scope: Scope, message: dict[str, Any]) -> InboundLadderRejection | None:
    raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    if message.get("method") == "initialize":
        return InboundLadderRejection(
            METHOD_NOT_FOUND, "initialize does not exist at 2026-07-28; send requests"
        )
    if duplicated := find_duplicated_routing_header(raw_headers):
        return InboundLadderRejection(HEADER_MISMATCH, f"{duplicated} header appears more than once")
    verdict = classify_inbound_request(message, headers=dict(raw_headers))
    return verdict if isinstance(verdict, InboundLadderRejection) else None


async def handle_stateless(
    scope: Scope,
    receive: Receive,
    send: Send,
    shared: SharedChildren,
    message: dict[str, Any],
    key: str,
    heartbeat: float,
) -> None:
    """One stateless request, checked as the SDK checks it, answered by a shared child."""
    rejection = _rejection(scope, message)
    if rejection is not None:
        body = error_body(key, rejection.code, rejection.message, rejection.data)
        await respond(send, ERROR_CODE_HTTP_STATUS.get(rejection.code, 400), body)
        return
    streams = "text/event-stream" in (header(scope, b"accept") or "")
    if message.get("method") == "subscriptions/listen" and not streams:
        await respond(send, 406, b"")  # a listen answer is a stream, always
        return
    if wait := shared.retry_after():
        reason = "the server keeps exiting on stateless requests; not starting another now"
        retry = str(max(1, round(wait))).encode()
        await respond(send, 503, error_body(key, SERVER_GONE, reason), [(b"retry-after", retry)])
        return
    if streams:
        await _answer_streaming(receive, send, shared, message, key, heartbeat)
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
        answer = await _ask(shared, message, key)
        await _respond_json(send, answer)
        nursery.cancel_scope.cancel()


async def _ask(
    shared: SharedChildren,
    message: dict[str, Any],
    key: str,
    stream: trio.MemorySendChannel[bytes] | None = None,
) -> bytes:
    try:
        return await shared.ask(message, key, stream)
    except NotModern:
        reason = "the MCP server behind this path serves sessions only: send initialize without a session"
        version = ((message.get("params") or {}).get("_meta") or {}).get(PROTOCOL_VERSION_META_KEY)
        data = {"supported": list(HANDSHAKE_PROTOCOL_VERSIONS), "requested": version}
        return error_body(key, UNSUPPORTED_PROTOCOL_VERSION, reason, data)
    except OSError as exc:
        return error_body(key, SERVER_GONE, f"cannot start the server: {exc.strerror or exc}")


async def _respond_json(send: Send, answer: bytes) -> None:
    code = error_code(answer)
    await respond(send, 200 if code is None else ERROR_CODE_HTTP_STATUS.get(code, 200), answer)


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _answer_streaming(
    receive: Receive, send: Send, shared: SharedChildren, message: dict[str, Any], key: str, heartbeat: float
) -> None:
    """JSON if the answer comes before any notification for it; else an event stream of the
    notifications, in order, then the answer."""
    notify, notifications = trio.open_memory_channel[bytes](STREAM_BUFFER)
    answered: list[bytes] = []

    async def ask_then_close() -> None:
        with notify:
            answered.append(await _ask(shared, message, key, notify))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
        nursery.start_soon(ask_then_close)
        with notifications:
            try:
                first: bytes | None = await notifications.receive()
            except trio.EndOfChannel:
                first = None
            if first is None:
                await _respond_json(send, answered[0])
            else:
                await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                await _event(send, b"event: message\ndata: " + first + b"\n\n")
                while True:
                    with trio.move_on_after(heartbeat) as idle:
                        try:
                            item = await notifications.receive()
                        except trio.EndOfChannel:
                            break
                    await _event(
                        send,
                        b": ping\n\n"
                        if idle.cancelled_caught
                        else b"event: message\ndata: " + item + b"\n\n",
                    )
                await _event(send, b"event: message\ndata: " + answered[0] + b"\n\n")
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        nursery.cancel_scope.cancel()


async def _event(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})
