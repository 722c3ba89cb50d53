"""The one error writer: a ``MapsrvError`` becomes an HTTP response, in the shape of the route it
answers. Web routes get ``{"error": {"code", "message", ...}}``; MCP routes get a JSON-RPC error
(``id`` null: the request was refused before it was read). Both carry the error's own headers, so
an ``Unavailable`` always says ``Retry-After`` with its own ``retry_after``.

The Quart app (``mapsrv.web``), the raw ASGI handlers (``mapsrv.dispatch``) and the MCP refusals
(``mapsrv.mcp.endpoints``) all write errors through here.
"""

from __future__ import annotations

from typing import Any

from mapsrv.core.codec import dumps
from mapsrv.errors import MapsrvError
from mapsrv.http.types import Send

__all__ = ["error_body", "error_headers", "send_error"]


def error_body(exc: MapsrvError, *, jsonrpc: bool = False) -> bytes:
    if not jsonrpc:
        return dumps({"error": exc.to_json()}).encode()
    error: dict[str, Any] = {"code": exc.jsonrpc_code, "message": exc.message}
    extra = {k: v for k, v in exc.to_json().items() if k not in ("code", "message")}
    if extra:
        error["data"] = extra
    return dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()


def error_headers(exc: MapsrvError) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
        *exc.headers(),
    ]


async def send_error(send: Send, exc: MapsrvError, *, jsonrpc: bool = False) -> None:
    """The whole response, on a raw ASGI ``send``."""
    body = error_body(exc, jsonrpc=jsonrpc)
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error_headers(exc)]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
