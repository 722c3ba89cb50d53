"""Guards for the MCP SDK's private names that mapsrv uses (all in ``mapsrv.mcp.sdk``): one test
per name, named after it, each checking that the name is still there AND still has the shape
mapsrv relies on, with real SDK objects (a real mapsrv server on port 0, a real low-level server
session in-process). When one fails after an SDK upgrade, its message says what moved; fix the
accessor in mapsrv/mcp/sdk.py (and its docstring), nothing else."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx
import httpx2
import trio
from mcp import Client
from mcp.server import Server as LowLevelServer
from mcp.server.connection import Connection
from mcp.server.session import ServerSession
from mcp.types import CallToolResult, ListToolsResult, TextContent, Tool
from support import start_server, wait_until
from support.mcp import INITIALIZE, MCP_ACCEPT
from typing_extensions import get_protocol_members

from mapsrv.mcp import sdk


async def test_sdk_session_manager_keeps_server_instances(nursery: trio.Nursery) -> None:
    """``StreamableHTTPSessionManager._server_instances``: a Mapping of the open stateful sessions,
    keyed by the ``Mcp-Session-Id`` the client got, that a session leaves when it ends."""
    server = await start_server(nursery)
    manager = server.mcp.sessions
    assert hasattr(manager, "_server_instances"), (
        "mcp's StreamableHTTPSessionManager no longer has _server_instances: find the SDK's new table"
        " of open Streamable HTTP sessions (or a public count) for mapsrv.mcp.sdk.live_http_sessions"
    )
    table = sdk.live_http_sessions(manager)
    assert isinstance(table, Mapping), f"_server_instances is a {type(table).__name__} now, not a Mapping"
    assert len(table) == 0, f"_server_instances holds {len(table)} entries before any session opened"
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(server.url + "mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        assert list(sdk.live_http_sessions(manager)) == [session_id], (
            f"after one initialize, _server_instances is keyed by {list(sdk.live_http_sessions(manager))},"
            f" not by the session id the client got ({session_id!r})"
        )
        closed = await http.delete(
            server.url + "mcp",
            headers={**MCP_ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"},
        )
        assert closed.status_code == 200, closed.text
    try:
        await wait_until(lambda: session_id not in sdk.live_http_sessions(manager), timeout=5)
    except trio.TooSlowError:
        raise AssertionError(
            "a session ended by DELETE is still in _server_instances: the SDK keeps ended sessions"
            " there now, so it no longer counts the open ones"
        ) from None


async def test_sdk_session_manager_keeps_server_instances_by_session(nursery: trio.Nursery) -> None:
    """``http_session_transport`` (``_server_instances`` again): one session's transport by its id,
    with the public ``is_terminated`` and ``idle_scope`` that ``mapsrv.mcp.session_requests``
    reads and moves, and nothing for an id the manager does not hold."""
    from mcp.server.streamable_http import StreamableHTTPServerTransport

    server = await start_server(nursery)
    manager = server.mcp.sessions
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(server.url + "mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        session_id = opened.headers["mcp-session-id"]
        transport = sdk.http_session_transport(manager, session_id)
        assert isinstance(transport, StreamableHTTPServerTransport), (
            f"_server_instances holds a {type(transport).__name__} for a session now, not its transport"
        )
        assert transport.mcp_session_id == session_id and not transport.is_terminated
        assert isinstance(transport.idle_scope, anyio.CancelScope), (
            "a session's transport has no idle_scope (mapsrv sets mcp_session_idle_timeout): find how"
            " the SDK now times a session out, for mapsrv.mcp.session_requests"
        )
        assert sdk.http_session_transport(manager, "no-such-session") is None
        closed = await http.delete(
            server.url + "mcp",
            headers={**MCP_ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"},
        )
        assert closed.status_code == 200, closed.text
    await wait_until(lambda: sdk.http_session_transport(manager, session_id) is None, timeout=5)
    assert transport.is_terminated


async def test_sdk_server_session_keeps_its_connection() -> None:
    """``ServerSession._connection``: the one ``Connection`` of a session, the same object for
    every request of it, with what mapsrv uses of it (``state``, ``exit_stack``, ``notify``,
    ``has_standalone_channel``); its ``exit_stack`` unwinds when the session ends."""
    contexts: list[Any] = []  # what the handler got; checked outside it, where a failure is plain

    async def call_tool(ctx: Any, params: Any) -> CallToolResult:
        contexts.append(ctx)
        return CallToolResult(content=[TextContent(type="text", text="ok")])

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=[Tool(name="t", input_schema={"type": "object"})])

    lowlevel = LowLevelServer("guard", on_call_tool=call_tool, on_list_tools=list_tools)
    unwound = trio.Event()
    async with Client(lowlevel, mode="legacy") as client:  # a 2025-11-25 session
        await client.call_tool("t", {})
        await client.call_tool("t", {})
        sessions = [ctx.session for ctx in contexts]
        assert len(sessions) == 2 and all(isinstance(s, ServerSession) for s in sessions), (
            f"a low-level handler's ctx.session is a {type(sessions[0]).__name__} now, not a ServerSession"
        )
        assert all(hasattr(s, "_connection") for s in sessions), (
            "mcp's ServerSession no longer has _connection: find the SDK's new way from a"
            " ServerRequestContext to its Connection for mapsrv.mcp.sdk.connection_of"
        )
        first, second = (sdk.connection_of(ctx) for ctx in contexts)
        assert isinstance(first, Connection), f"ServerSession._connection is a {type(first).__name__} now"
        assert first is second, (
            "ServerSession._connection differs between two requests of one session: per-session data"
            " (agents' secrets, map watches) kept on it would be lost after each request"
        )
        assert sessions[0] is not sessions[1]  # why mapsrv keeps nothing on the ServerSession itself
        assert isinstance(first.state, dict), f"Connection.state is a {type(first.state).__name__} now"
        assert isinstance(first.exit_stack, AsyncExitStack), "Connection.exit_stack is no AsyncExitStack now"
        assert inspect.iscoroutinefunction(first.notify), "Connection.notify is no coroutine function now"
        assert first.has_standalone_channel is True, (
            "a 2025-11-25 session's Connection has no standalone channel"
        )
        first.exit_stack.callback(unwound.set)
    with trio.move_on_after(5):
        await unwound.wait()
    assert unwound.is_set(), (
        "Connection.exit_stack did not unwind when the session ended: watches would outlive it"
    )


async def test_sdk_httpx_utils_keeps_create_mcp_http_client() -> None:
    """``mcp.shared._httpx_utils.create_mcp_http_client``: takes ``headers``, makes an
    ``httpx2.AsyncClient`` that sends them, with room for response hooks and a read timeout long
    enough for a response stream that waits for a slow tool call."""
    from mcp.shared import _httpx_utils

    factory = getattr(_httpx_utils, "create_mcp_http_client", None)
    assert factory is not None, "mcp.shared._httpx_utils has no create_mcp_http_client any more"
    assert sdk.http_client.__globals__["create_mcp_http_client"] is factory
    assert "headers" in inspect.signature(factory).parameters, "create_mcp_http_client takes no headers now"
    client = sdk.http_client({"authorization": "Bearer guard"})
    async with client:
        assert isinstance(client, httpx2.AsyncClient), f"create_mcp_http_client makes a {type(client)} now"
        assert client.headers.get("authorization") == "Bearer guard", "create_mcp_http_client drops headers"
        assert isinstance(client.event_hooks["response"], list)  # the relay appends its hook
        read = client.timeout.read
        assert read is None or read >= 60, (
            f"create_mcp_http_client's read timeout is {read} s now: a relayed call that runs longer"
            " fails; pass the relay a timeout of its own"
        )


def test_sdk_stream_protocols_keep_read_stream() -> None:
    """``mcp.shared._stream_protocols.ReadStream``: a generic Protocol that ``async for`` reads
    (the relay's ``serve_link`` iterates the client's stream)."""
    from mcp.shared import _stream_protocols

    assert getattr(_stream_protocols, "ReadStream", None) is sdk.ReadStream, (
        "mcp.shared._stream_protocols.ReadStream is gone: find the type the SDK's transports yield"
    )
    members = get_protocol_members(sdk.ReadStream)
    assert {"__aiter__", "__anext__", "aclose"} <= members, f"ReadStream's members are {sorted(members)} now"
    sdk.ReadStream[object]  # generic, as the relay's annotations use it


def test_sdk_stream_protocols_keep_write_stream() -> None:
    """``mcp.shared._stream_protocols.WriteStream``: a generic Protocol with ``send`` and
    ``aclose``, and an async context manager (the relay closes the client's stream with it)."""
    from mcp.shared import _stream_protocols

    assert getattr(_stream_protocols, "WriteStream", None) is sdk.WriteStream, (
        "mcp.shared._stream_protocols.WriteStream is gone: find the type the SDK's transports yield"
    )
    members = get_protocol_members(sdk.WriteStream)
    assert {"send", "aclose", "__aenter__", "__aexit__"} <= members, (
        f"WriteStream's members are {sorted(members)} now"
    )
    sdk.WriteStream[object]


async def test_sdk_transport_keeps_its_get_stream_in_request_streams(nursery: trio.Nursery) -> None:
    """``StreamableHTTPServerTransport._request_streams`` holds ``GET_STREAM_KEY`` exactly while
    the session's client has its standalone GET stream open: a new session's first notification
    waits on it (``mapsrv.mcp.subscriptions``)."""
    from mcp.server.streamable_http import GET_STREAM_KEY

    server = await start_server(nursery)
    manager = server.mcp.sessions
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(server.url + "mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        session_id = opened.headers["mcp-session-id"]
        transport = sdk.live_http_sessions(manager)[session_id]
        assert isinstance(getattr(transport, "_request_streams", None), Mapping), (
            "mcp's StreamableHTTPServerTransport no longer has a _request_streams Mapping: find how"
            " the SDK now tells that a session's GET stream is open (mapsrv.mcp.sdk.standalone_stream_open)"
        )
        assert not sdk.standalone_stream_open(manager, session_id), "open before any GET"
        headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session_id,
            "mcp-protocol-version": "2025-11-25",
        }
        async with http.stream("GET", server.url + "mcp", headers=headers) as stream:
            assert stream.status_code == 200
            try:
                await wait_until(lambda: sdk.standalone_stream_open(manager, session_id), timeout=5)
            except trio.TooSlowError:
                raise AssertionError(
                    f"an open GET stream is not in _request_streams under {GET_STREAM_KEY!r}:"
                    f" it holds {list(transport._request_streams)}"  # type: ignore[attr-defined]
                ) from None
    await wait_until(lambda: not sdk.standalone_stream_open(manager, session_id), timeout=5)
    assert sdk.standalone_stream_open(manager, "no-such-session"), "a session it does not hold has its stream"


def test_sdk_otel_keeps_open_telemetry_middleware() -> None:
    """``mcp.server._otel.OpenTelemetryMiddleware``: the SDK puts one on every server's
    ``middleware``; ``without_idle_tracing`` takes it off when nothing records spans, keeps it
    when something does, and leaves every other middleware where it was."""
    from mcp.server import _otel
    from mcp.server.mcpserver import MCPServer

    middleware_class = getattr(_otel, "OpenTelemetryMiddleware", None)
    assert middleware_class is not None, "mcp.server._otel has no OpenTelemetryMiddleware any more"
    built = MCPServer(name="guard").middleware
    assert any(isinstance(m, middleware_class) for m in built), (
        "MCPServer no longer puts an OpenTelemetryMiddleware on its middleware: find where the SDK"
        " traces calls now for mapsrv.mcp.sdk.without_idle_tracing"
    )
    others = [m for m in built if not isinstance(m, middleware_class)]
    kept = list(built)
    sdk.without_idle_tracing(kept, tracing=True)
    assert kept == built, "a process with a tracer provider lost the SDK's spans"
    sdk.without_idle_tracing(built, tracing=False)
    assert built == others, "the tracing middleware is still there, or another one went with it"
