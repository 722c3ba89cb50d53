"""Every error on an MCP path as a JSON-RPC error, so that an MCP client shows what went wrong.

The SDK (mcp 2.3) answers a few refusals in plain text: a body past ``max_request_body_size``
("Request body too large", 413), an unparsable legacy SSE message ("Could not parse message",
400), an unknown legacy session (404). A client then shows only "Server returned an error
response". ``json_rpc_errors`` rewrites any non-JSON error response on its way out into the one
error writer's JSON-RPC shape (``mapsrv.http.responses``), naming the limit where there is one.
"""

from __future__ import annotations

from typing import Any

from mapsrv.errors import BodyTooLarge, HttpError, MapsrvError, ParseError
from mapsrv.http.responses import send_error
from mapsrv.http.types import Message, Send

__all__ = ["as_json_rpc_error", "json_rpc_errors", "sdk_answers"]


def as_json_rpc_error(status: int, text: str, max_body_size: int) -> MapsrvError:
    """What a plain-text refusal of the SDK's means, as one of mapsrv's errors."""
    said = " ".join(text.split()).lower()[:200] or "error"
    if status == 413:
        return BodyTooLarge(max_body_size)
    if status == 400 and "parse" in said:
        return ParseError(f"body is not a JSON-RPC message: {said}")
    return HttpError(status, said)


def json_rpc_errors(send: Send, max_body_size: int) -> Send:
    state: dict[str, Any] = {}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = {k.lower(): v for k, v in message.get("headers", [])}
            json = headers.get(b"content-type", b"").startswith(b"application/json")
            if message["status"] >= 400 and not json:
                state["start"], state["body"] = message, b""
                return
        elif message["type"] == "http.response.body" and "start" in state:
            state["body"] += message.get("body", b"")
            if not message.get("more_body", False):
                text = state["body"].decode("utf-8", "replace")
                error = as_json_rpc_error(state["start"]["status"], text, max_body_size)
                await send_error(send, error, jsonrpc=True)
            return
        await send(message)

    return wrapped


def sdk_answers(send: Send, *, retry_after: int | None = None) -> Send:
    """``nosniff`` on every response the SDK writes (its legacy SSE stream and its refusals have
    none), and on its bare 503 at the session cap the ``Retry-After`` mapsrv means by it."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            if b"x-content-type-options" not in names:
                headers.append((b"x-content-type-options", b"nosniff"))
            if retry_after is not None and message["status"] == 503 and b"retry-after" not in names:
                headers.append((b"retry-after", str(retry_after).encode()))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped
