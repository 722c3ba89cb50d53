"""Every private name of the MCP SDK (``mcp`` 2.3) that mapsrv uses, and only here: each behind a
small function (or, for two typing Protocols, a re-export) that says what it reads, why no public
name does, and what breaks if the SDK changes it. setup.cfg caps ``mcp`` below 3 for them, and
tests/mcp/test_sdk_seam.py has a guard test per name, named after it, that fails with a message
saying what moved when an SDK upgrade renames, removes or reshapes one.

Light on purpose: ``mapsrv.stdio.relay`` imports it, so it imports nothing of mapsrv's and only the
SDK modules it reads (the rest under ``TYPE_CHECKING``).

- ``StreamableHTTPSessionManager._server_instances`` (``live_http_sessions``): the open stateful
  Streamable HTTP sessions, by id.
  ``http_session_transport`` reads one session's transport from it.
- ``StreamableHTTPServerTransport._request_streams`` (``standalone_stream_open``): whether a
  session's GET stream is open, so that a notification is not sent before it can arrive.
- ``ServerSession._connection`` (``connection_of``): the per-client ``Connection`` of a request
  handed to a low-level handler.
- ``mcp.shared._httpx_utils.create_mcp_http_client`` (``http_client``): the HTTP client the SDK's
  own client transports use.
- ``mcp.shared._stream_protocols.ReadStream`` and ``WriteStream`` (re-exported): the types of the
  streams the SDK's transports hand over, for the relay's annotations only.
- ``mcp.server._otel.OpenTelemetryMiddleware`` (``without_idle_tracing``): the SDK's tracing
  middleware, taken off a server when the process has no tracer to record its spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.shared._httpx_utils import create_mcp_http_client

# ``ReadStream`` / ``WriteStream``: what ``stdio_server`` and ``streamable_http_client`` yield are
# typed with these Protocols (read: ``async for``, ``receive``, ``aclose``; write: ``send``,
# ``aclose``, ``async with``), and mcp 2.3 exports them from no public module. The relay uses them
# in annotations only: if the SDK moves them, this import fails at once (every stdio test with
# it), and if it reshapes them mypy flags the relay; tests/mcp/test_sdk_seam.py names which.
from mcp.shared._stream_protocols import ReadStream, WriteStream

if TYPE_CHECKING:
    import httpx2
    from mcp.server.connection import Connection
    from mcp.server.context import ServerRequestContext
    from mcp.server.streamable_http import StreamableHTTPServerTransport
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

__all__ = [
    "ReadStream",
    "WriteStream",
    "connection_of",
    "http_client",
    "http_session_transport",
    "live_http_sessions",
    "standalone_stream_open",
    "without_idle_tracing",
]


def live_http_sessions(manager: StreamableHTTPSessionManager) -> Mapping[str, object]:
    """The stateful Streamable HTTP sessions open now, keyed by their ``Mcp-Session-Id``.

    Uses ``StreamableHTTPSessionManager._server_instances`` (a dict of session id to transport):
    mcp 2.3 has no public count of the sessions and no public hook when one ends (an idle timeout
    ends a session inside the manager). ``McpEndpoints`` counts it against ``max_mcp_sessions``,
    reports it in its statistics and drops from its own book every session no longer in it. If
    the SDK renames it, every count and statistics call raises AttributeError; if it stops
    keying it by session id, or keeps ended sessions in it, the quotas and the session book go
    wrong silently: the guard test opens and closes a real session to catch both.
    """
    sessions: Mapping[str, object] = manager._server_instances
    return sessions


def http_session_transport(
    manager: StreamableHTTPSessionManager, session_id: str
) -> StreamableHTTPServerTransport | None:
    """The transport of stateful session ``session_id``, while the manager holds it.

    Uses ``_server_instances`` (above): mcp 2.3 has no public lookup of a session. mapsrv answers
    a tool call in a session itself (``mapsrv.mcp.session_requests``) only while the session's
    transport is live, and then restarts its idle countdown through the transport's public
    ``idle_scope``. If the SDK renames the dict, every call in a session raises AttributeError;
    if it keys it otherwise, calls in sessions go to the SDK's own path: the guard test opens a
    real session and finds its transport.
    """
    transport: StreamableHTTPServerTransport | None = manager._server_instances.get(session_id)
    return transport


def standalone_stream_open(manager: StreamableHTTPSessionManager, session_id: str | None) -> bool:
    """Whether a stateful Streamable HTTP session's client has its standalone GET stream open now:
    the only way the SDK has to send it a notification that answers no request. True for a
    session the manager does not hold (legacy SSE, stdio: their one stream is always open).

    Uses ``_server_instances`` (above) and the transport's ``_request_streams``, keyed by
    ``GET_STREAM_KEY`` for that stream: mcp 2.3 drops a notification for the GET stream while it
    is not open (a client opens it only after ``initialize``), and tells nobody. mapsrv holds a
    new session's first notification until the stream is open (``mapsrv.mcp.subscriptions``). If
    the SDK renames either, this raises AttributeError and notifications wait their bound out; the
    guard test opens a real GET stream and checks both.
    """
    from mcp.server.streamable_http import GET_STREAM_KEY  # here: the relay imports this module

    transport = manager._server_instances.get(session_id) if session_id is not None else None
    if transport is None:
        return True
    streams: Mapping[int | str, object] = transport._request_streams
    return GET_STREAM_KEY in streams


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection:
    """The SDK connection a request came on: its ``state`` and ``exit_stack`` (the SDK's own place
    for per-connection cleanup) outlive the request.

    Uses ``ServerSession._connection``: mcp 2.3 hands low-level handlers a ``ServerRequestContext``
    whose ``session`` wraps the ``Connection`` without exposing it (only the unused high-level
    ``Context`` has a public ``connection``). mapsrv keeps per-session data on it: the agent's
    secret (``mapsrv.mcp.agents``), the session's map watches and their cancellation at the
    session's end (``mapsrv.mcp.subscriptions``), and reads ``has_standalone_channel`` and
    ``notify``. If the SDK renames it, every tool call and subscription fails with AttributeError;
    if it points at something else, or at a new object per request, agents and watches stop being
    per session: the guard test checks it is the one ``Connection`` for every request of a session.
    """
    connection: Connection = ctx.session._connection
    return connection


def http_client(headers: dict[str, str]) -> httpx2.AsyncClient:
    """An HTTP client for the SDK's ``streamable_http_client``, sending ``headers`` with every
    request, with the timeouts the SDK's own client transports use.

    Uses ``mcp.shared._httpx_utils.create_mcp_http_client`` (a private module of mcp 2.3): a
    transport given no client makes one with it, but one given its own (the relay's: its API key
    and a response hook that notices lost sessions) must make it itself, and the SDK's defaults
    (a read timeout of minutes, which a response stream waiting for a long tool call needs) are
    kept in step by calling the SDK's factory rather than copying its numbers. If the SDK moves or
    removes it, ``mapsrv stdio`` cannot start relaying (ImportError); if it changes the timeouts
    or stops taking ``headers``, the guard test says so.
    """
    return create_mcp_http_client(headers=headers)


def without_idle_tracing(middleware: list[Any], *, tracing: bool | None = None) -> None:
    """Take the SDK's OpenTelemetry middleware out of a server's ``middleware`` (the public list
    of ``MCPServer.middleware``) when nothing would record its spans: ``tracing`` says whether a
    tracer provider is set, by default whether the process has one now (set it before the server
    is built, as ``opentelemetry-instrument`` does, and the spans stay).

    Without a provider every span is a no-op, yet opening one, its attributes and the trace
    context read from ``_meta`` cost each tool call about 4 % of mapsrv's CPU (profiled,
    docs/benchmarks.md "Issue 47"). Uses ``mcp.server._otel.OpenTelemetryMiddleware`` (a private
    module of mcp 2.3, which puts one on every server): if the SDK moves it, this import fails at
    once; if it renames the class, the guard test says the middleware was not found.
    """
    from mcp.server._otel import OpenTelemetryMiddleware  # here: the relay imports this module
    from opentelemetry import trace

    if tracing is None:
        tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    if not tracing:
        middleware[:] = [m for m in middleware if not isinstance(m, OpenTelemetryMiddleware)]
