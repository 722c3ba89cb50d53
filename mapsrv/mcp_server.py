"""The MCP transports, all in the one Trio process: Streamable HTTP at ``/mcp`` (both protocol
eras), legacy HTTP+SSE at ``/sse`` + ``/messages/``, and stdio.

The SDK's own transports do the protocol work; this module mounts them as raw ASGI handlers (never
through ``MCPServer.run``, which would start asyncio and uvicorn) and adds what a shared service
needs in front of them: API keys, a cap on legacy SSE sessions, and a ``Retry-After`` on 503s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.sse import SseServerTransport
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import Message, Receive, Scope, Send

from mapsrv import __version__
from mapsrv.access import ApiKeys
from mapsrv.config import Config
from mapsrv.errors import HttpError, MapsrvError, Unauthorized, Unavailable
from mapsrv.hub import MapHub
from mapsrv.responses import send_error
from mapsrv.routes import Family, lookup
from mapsrv.tools import INSTRUCTIONS, ToolContext, register_resources, sdk_tools

__all__ = [
    "McpEndpoints",
    "McpStatistics",
    "build_mcp",
    "open_stdio_streams",
    "security_settings",
    "sessions_full",
]

log = logging.getLogger("mapsrv.mcp")


def build_mcp(hub: MapHub, base_url: Callable[[], str], keys: ApiKeys) -> MCPServer:
    # MCPServer() calls logging.basicConfig; mapsrv configures logging before this runs, so that
    # call finds handlers in place and changes nothing.
    def context_of(ctx: Context) -> ToolContext:
        return ToolContext(hub, base_url(), keys.principal(ctx.headers))

    mcp = MCPServer(
        name="mapsrv",
        title="mapsrv live map",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=sdk_tools(context_of),
    )
    register_resources(mcp, context_of)
    return mcp


def security_settings(config: Config) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection, off: ``mapsrv.asgi`` checks Host and Origin for every
    MCP path before the SDK sees the request (one check, the same as the web app's)."""
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


# The SDK refuses a new session with a bare 503 when max_mcp_sessions are open; this is what that
# refusal means, and where its Retry-After comes from.
SESSION_RETRY_AFTER = 5


def sessions_full() -> Unavailable:
    return Unavailable("too many MCP sessions; retry later", retry_after=SESSION_RETRY_AFTER)


async def _refuse(send: Send, exc: MapsrvError) -> None:
    """A JSON-RPC error as the whole HTTP response, before the SDK sees the request."""
    await send_error(send, exc, jsonrpc=True)


@dataclass(frozen=True)
class McpStatistics:
    http_sessions: int  # stateful (2025-11-25) Streamable HTTP sessions
    sse_sessions: int  # legacy HTTP+SSE connections


class McpEndpoints:
    """The ASGI side of MCP. ``serve`` runs the session manager; ``__call__`` takes requests."""

    def __init__(self, config: Config, hub: MapHub, base_url: Callable[[], str]) -> None:
        self.config = config
        self.keys = ApiKeys(config.api_keys)
        self.mcp = build_mcp(hub, base_url, self.keys)
        security = security_settings(config)
        # The SDK's public way to serve its Streamable HTTP transport from another ASGI app: let
        # streamable_http_app() build the session manager, then run the manager and hand it
        # requests ourselves (the Starlette app it returns is not used). The manager's `app` is
        # the low-level server, which the legacy SSE transport and stdio run on their own streams.
        self.mcp.streamable_http_app(
            transport_security=security,
            max_sessions=config.max_mcp_sessions,
            session_idle_timeout=config.mcp_session_idle_timeout,
            max_request_body_size=config.max_body_size,
            # A tool call answers with one JSON body, not an SSE stream per POST: no tool sends
            # progress or log notifications mid-call, and the stream cost a task group, a memory
            # channel and a cancel scope per call (server CPU per call, see docs/benchmarks.md).
            json_response=True,
        )
        self.sessions = self.mcp.session_manager
        self.lowlevel = self.sessions.app
        self.sse = SseServerTransport(
            "/messages/", security_settings=security, max_request_body_size=config.max_body_size
        )
        self.sse_sessions = 0

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.sessions.run():
            task_status.started()
            await trio.sleep_forever()

    def statistics(self) -> McpStatistics:
        return McpStatistics(http_sessions=_open_http_sessions(self.sessions), sse_sessions=self.sse_sessions)

    def handles(self, path: str) -> bool:
        return lookup(path).route.family.is_mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.keys.enabled:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if self.keys.principal(headers) is None:
                await _refuse(
                    send,
                    Unauthorized(
                        "missing or wrong API key: send Authorization: Bearer <key> or X-API-Key: <key>"
                    ),
                )
                return
        family = lookup(scope["path"]).route.family
        if family is Family.MCP_SSE:
            await self._sse(scope, receive, send)
        elif family is Family.MCP_MESSAGES:
            await self.sse.handle_post_message(scope, receive, send)
        else:
            await self.sessions.handle_request(scope, receive, _with_retry_after(send))

    async def _sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await _refuse(send, HttpError(405, "use GET for /sse", headers=(("Allow", "GET"),)))
            return
        if self.sse_sessions >= self.config.max_mcp_sessions:
            await _refuse(send, sessions_full())
            return
        self.sse_sessions += 1
        try:
            async with self.sse.connect_sse(scope, receive, send) as (read, write):
                await self.lowlevel.run(read, write, self.lowlevel.create_initialization_options())
        except ValueError:
            pass  # the SDK refused the request and has already answered
        finally:
            self.sse_sessions -= 1


def _open_http_sessions(manager: StreamableHTTPSessionManager) -> int:
    """The stateful Streamable HTTP sessions open now.

    mcp 2.3 has no public count of them and no public hook when one ends (an idle timeout ends a
    session inside the manager), so this reads the manager's private table of live transports:
    the one place mapsrv touches an SDK private. tests/test_mcp.py has a test that fails when the
    table is gone or changes its type.
    """
    sessions: Mapping[str, object] = manager._server_instances
    return len(sessions)


def _with_retry_after(send: Send) -> Send:
    """The SDK answers 503 when the session cap is reached: add what ``sessions_full`` says about
    when to come back, and ``nosniff`` on every SDK response."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            if b"x-content-type-options" not in names:
                headers.append((b"x-content-type-options", b"nosniff"))
            if message["status"] == 503 and b"retry-after" not in names:
                headers.append((b"retry-after", str(sessions_full().retry_after).encode()))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


class _LineReader:
    """What the SDK's stdio server reads: ``async for line in stdin``, on a trio stream (so a
    cancel takes effect at once, unlike the SDK's default reader thread)."""

    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[str]:
        buffer = b""
        while chunk := await self._stream.receive_some(65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if buffer:
            yield buffer.decode("utf-8", "replace")


class _Writer:
    def __init__(self, stream: trio.lowlevel.FdStream) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        await self._stream.send_all(text.encode())

    async def flush(self) -> None:
        pass


@asynccontextmanager
async def open_stdio_streams() -> AsyncIterator[Any]:
    """The SDK's stdio transport on trio-native pipes. While it is open, fd 1 points at stderr so a
    stray print cannot corrupt the JSON-RPC stream on the real stdout."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    try:
        async with trio.lowlevel.FdStream(wire_in) as stdin, trio.lowlevel.FdStream(wire_out) as stdout:
            async with stdio_server(stdin=_LineReader(stdin), stdout=_Writer(stdout)) as streams:  # type: ignore[arg-type]
                yield streams
    finally:
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)
