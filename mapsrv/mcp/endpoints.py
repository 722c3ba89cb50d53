"""The MCP transports, all in the one Trio process: Streamable HTTP at ``/mcp`` (both protocol
eras), legacy HTTP+SSE at ``/sse`` + ``/messages/``, and stdio.

The SDK's own transports do the protocol work; this module mounts them as raw ASGI handlers (never
through ``MCPServer.run``, which would start asyncio and uvicorn) and adds what a shared service
needs in front of them: API keys and access tokens (``authorization``; sessions bound to whoever
opened them), the session rules of ``mapsrv.mcp.sessions`` (quotas, fast expiry of unanswered
sessions, SSE idle timeout), a cap on legacy SSE sessions, and a ``Retry-After`` on 503s. Each
caller's writes are its agent's (``agents``); ``map://`` resources can be watched
(``subscriptions``); the live map is an MCP App (``apps``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio
from mcp.server.context import ServerRequestContext
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import ClientDisconnect

from mapsrv.config import Config
from mapsrv.errors import HttpError, MapsrvError, Unauthorized, Unavailable
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.identity import ApiKeys, ClientIdentity
from mapsrv.http.responses import send_error
from mapsrv.http.routes import Family, lookup
from mapsrv.http.tokens import Issuer, IssuerUnreachable, TokenRefused
from mapsrv.http.types import Message, Receive, Scope, Send, header
from mapsrv.hub import MapEntry, MapHub
from mapsrv.mcp.agents import client_of, request_principal, sdk_user
from mapsrv.mcp.authorization import McpAuthorization
from mapsrv.mcp.building import ToolContexts, build_mcp, serve_tools
from mapsrv.mcp.direct import DirectCalls
from mapsrv.mcp.errors import json_rpc_errors, sdk_answers
from mapsrv.mcp.images import map_images
from mapsrv.mcp.param_headers import annotated_only
from mapsrv.mcp.sdk import live_http_sessions, standalone_stream_open
from mapsrv.mcp.session_requests import SessionRequests
from mapsrv.mcp.sessions import (
    McpSession,
    Peek,
    SessionBook,
    SessionStatistics,
    close_http_session,
    handshake,
    is_real_request,
    json_rpc_failed,
)
from mapsrv.mcp.subscriptions import MapWatchers, SubscriptionStatistics
from mapsrv.mcp.tools import ToolContext, tool_runners
from mapsrv.places.service import PlaceService
from mapsrv.routing import Router

__all__ = [
    "McpEndpoints",
    "McpStatistics",
    "build_mcp",
    "security_settings",
    "sessions_full",
]

log = logging.getLogger("mapsrv.mcp")


class _QuietDisconnects(logging.Filter):
    """mcp 2.3 logs a traceback at ERROR for a POST whose client went away mid-body; mapsrv
    reports a body that came too slowly as ``http.disconnect`` (``mapsrv.http.hygiene``), so a slow
    client would write a traceback per attempt. Those records are dropped; others are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


logging.getLogger("mcp.server.streamable_http").addFilter(_QuietDisconnects())


def security_settings(config: Config) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection, off: ``mapsrv.dispatch`` checks Host and Origin for every
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
    sessions: SessionStatistics
    subscriptions: SubscriptionStatistics
    direct_calls: int = 0  # 2026-07-28 requests answered by mapsrv's own path (``direct``)
    handed_on: int = 0  # ... and those it handed to the SDK
    session_posts_direct: int = 0  # POSTs in 2025-11-25 sessions answered by mapsrv's own path
    session_posts_sdk: int = 0  # ... and by the SDK


_SSE_SESSION = re.compile(rb"session_id=([0-9a-fA-F]{32})")


def _may_have_session(scope: Scope) -> bool:
    """Whether a request names a session or could open one: if neither, it is a 2026-07-28 one."""
    return header(scope, b"mcp-session-id") is not None or _opens_session(scope)


def _opens_session(scope: Scope) -> bool:
    """Whether a request could open a Streamable HTTP session: a POST with no session id, in the
    era that has sessions (the SDK sends other protocol versions to its stateless handler)."""
    if scope["method"] != "POST" or header(scope, b"mcp-session-id") is not None:
        return False
    version = header(scope, b"mcp-protocol-version")
    return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS


class McpEndpoints:
    """The ASGI side of MCP. ``serve`` runs the session manager; ``__call__`` takes requests."""

    def __init__(
        self,
        config: Config,
        hub: MapHub,
        base_url: Callable[[], str],
        router: Router | None = None,
        places: PlaceService | None = None,
    ) -> None:
        self.config = config
        self.hub, self.base_url = hub, base_url
        self.keys = ApiKeys(config.api_keys)
        # the OpenID provider: MCP's access tokens and the people's sign-in (mapsrv.web.signin)
        self.issuer = Issuer(config.oidc_issuer, leeway=config.oidc_leeway) if config.oidc_issuer else None
        self.authorization = (
            McpAuthorization(config, self.issuer, self.keys, base_url) if self.issuer is not None else None
        )
        # the map as an image (the tool's, the web's); what the server fetches, the sources down
        self.sources = policy = SourcePolicy.from_config(config)
        # the street basemaps: imported extracts' or the one --basemap names (mapsrv.http.basemaps)
        self.basemaps = Basemaps.from_config(config, policy)
        self.images = map_images(config, policy, self.basemaps)
        self.router = router  # routes along the roads (``--router``), when there is one
        self.places = places or PlaceService()  # the one resolver of names (the tools', the page's)
        contexts = ToolContexts(
            hub, base_url, self.keys, config, self.images, self.router, self.places, policy, self.basemaps
        )
        runners = tool_runners(routing=router is not None)
        self.mcp = serve_tools(contexts, runners)
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
        self.lowlevel.get_tool_input_schema = annotated_only(self.lowlevel.get_tool_input_schema)
        # 2026-07-28 tool calls answered without the SDK's per-request pipeline (``direct``)
        self.direct = (
            DirectCalls(self.lowlevel, runners, contexts, config.max_body_size)
            if config.mcp_direct_calls
            else None
        )
        self.sse = SseServerTransport(
            "/messages/", security_settings=security, max_request_body_size=config.max_body_size
        )
        self.sse_sessions = 0
        self.openings = 0  # requests that may open a Streamable HTTP session, in flight
        self.clients = ClientIdentity(config.trusted_proxies)
        self.watchers = MapWatchers(
            hub,
            self._entry_of,
            partial(client_of, keys=self.keys, clients=self.clients),
            lambda session_id: standalone_stream_open(self.sessions, session_id),
        )
        self.watchers.install(self.lowlevel)
        self.book = SessionBook(
            handshake_timeout=config.mcp_handshake_timeout,
            idle_timeout=config.mcp_session_idle_timeout,
            per_client=config.max_mcp_sessions_per_client,
            per_key=config.max_mcp_sessions_per_key,
        )
        self.in_sessions = SessionRequests(self.sessions, self.book, config.mcp_session_idle_timeout)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.sessions.run(), trio.open_nursery() as nursery:
            nursery.start_soon(self._serve_reaper)
            await nursery.start(self.watchers.serve)
            task_status.started()
            await trio.sleep_forever()

    async def _entry_of(self, ctx: ServerRequestContext[Any, Any], map_id: str) -> MapEntry:
        principal = request_principal(ctx.request, self.keys)
        return await ToolContext(self.hub, self.base_url(), principal).entry(map_id)

    async def _serve_reaper(self) -> None:
        """Close Streamable HTTP sessions whose first request never came, and forget those the
        SDK ended itself."""
        tick = min(1.0, self.config.mcp_handshake_timeout / 4)
        while True:
            await trio.sleep(tick)
            self.book.keep_only(live_http_sessions(self.sessions))
            for session in self.book.overdue():
                self.book.closed_unanswered += 1
                self.book.ended(session.id)
                await close_http_session(self.sessions.handle_request, session.user, session.id)

    def statistics(self) -> McpStatistics:
        return McpStatistics(
            http_sessions=len(live_http_sessions(self.sessions)),
            sse_sessions=self.sse_sessions,
            sessions=self.book.statistics(),
            subscriptions=self.watchers.statistics(),
            direct_calls=self.direct.answered if self.direct else 0,
            handed_on=self.direct.handed_on if self.direct else 0,
            session_posts_direct=self.in_sessions.answered,
            session_posts_sdk=self.in_sessions.handed_on,
        )

    def handles(self, path: str) -> bool:
        return lookup(path).route.family.is_mcp

    async def resource_metadata(self, scope: Scope, send: Send) -> None:
        """RFC 9728 metadata of the resource this request addressed (``authorization``)."""
        if self.authorization is None:
            await send_error(send, HttpError(404, "no issuer: this server takes no access tokens"))
            return
        await self.authorization.serve_metadata(scope, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = None
        if self.authorization is not None:
            try:
                key, receive = await self.authorization.authorize(scope, receive)
            except (TokenRefused, IssuerUnreachable, HttpError) as exc:
                await _refuse(send, exc)
                return
            scope["user"] = sdk_user(key)
        elif self.keys.enabled:
            key = self.keys.principal_of(scope)
            if key is None:
                await _refuse(
                    send,
                    Unauthorized(
                        "missing or wrong API key: send Authorization: Bearer <key> or X-API-Key: <key>"
                    ),
                )
                return
            # The SDK binds each session to scope["user"] and answers another one's requests
            # as for an unknown session (404): that is what binds a session to its key.
            scope["user"] = sdk_user(key)
        peer = (scope.get("client") or ("", 0))[0]
        client = self.clients.of(peer, header(scope, b"x-forwarded-for"))
        family = lookup(scope["path"]).route.family
        if family is Family.MCP_HTTP and self.direct is not None and not _may_have_session(scope):
            # 2026-07-28: no session to book; the direct path writes whole JSON answers itself
            # (never a bare 4xx or a 503), and hands the rest to the SDK (``_handed_on``)
            await self.direct(scope, receive, send, client, partial(self._handed_on, send))
            return
        send = json_rpc_errors(send, self.config.max_body_size)
        if family is Family.MCP_SSE:
            await self._sse(scope, receive, send, client, key)
        elif family is Family.MCP_MESSAGES:
            await self._message(scope, receive, send)
        else:
            sdk_send = sdk_answers(send, retry_after=SESSION_RETRY_AFTER)
            await self._streamable(scope, receive, sdk_send, client, key)

    async def _handed_on(self, send: Send, scope: Scope, receive: Receive) -> None:
        """What the direct path hands on, answered by the SDK as any request of the era is."""
        sdk_send = sdk_answers(
            json_rpc_errors(send, self.config.max_body_size), retry_after=SESSION_RETRY_AFTER
        )
        await self.sessions.handle_request(scope, receive, sdk_send)

    async def _streamable(
        self, scope: Scope, receive: Receive, send: Send, client: str, key: str | None
    ) -> None:
        session_id = header(scope, b"mcp-session-id")
        if session_id is not None:
            await self.in_sessions(scope, receive, send, session_id, self.direct)
            return
        if not _opens_session(scope):  # 2026-07-28, or refused by the SDK: no session to book
            await self.sessions.handle_request(scope, receive, send)
            return
        if not await self._reserved(send, client, key):
            return
        self.openings += 1
        await self._make_room()
        peek = Peek(receive, send)
        kept = False
        try:
            await self.sessions.handle_request(scope, peek.receive, peek.send)
            kept = await self._opened(scope, peek, client, key)
        finally:
            self.openings -= 1
            if not kept:
                self.book.released(client, key)

    async def _reserved(self, send: Send, client: str, key: str | None) -> bool:
        """Whether ``client`` (with ``key``) may open another session: counted against its quotas
        if so, refused (429, ``SessionBook.refusal``) if not."""
        refusal = self.book.refusal(client, key)
        if refusal is not None:
            await _refuse(send, refusal)
            return False
        self.book.reserve(client, key)
        return True

    async def _make_room(self) -> None:
        """At the session cap, close the oldest session still waiting for its first request
        rather than refuse a newcomer (``sessions`` explains why)."""
        # Every opening request in flight (this one included) will want a place.
        excess = len(live_http_sessions(self.sessions)) + self.openings - self.config.max_mcp_sessions
        for _ in range(excess):
            oldest = self.book.oldest_unanswered()
            if oldest is None:
                return
            self.book.closed_unanswered += 1
            self.book.ended(oldest.id)
            await close_http_session(self.sessions.handle_request, oldest.user, oldest.id)

    async def _opened(self, scope: Scope, peek: Peek, client: str, key: str | None) -> bool:
        """After a request that could open a session: whether one was opened, and kept."""
        opened = peek.session_id
        if opened is None or opened in self.book.sessions:
            return False
        if peek.status >= 400 or json_rpc_failed(bytes(peek.answer)):
            # The SDK keeps a session whose initialize it answered with a JSON-RPC error
            # (HTTP 200): nothing was established, so nothing is kept.
            self.book.closed_failed_initialize += 1
            await close_http_session(self.sessions.handle_request, scope.get("user"), opened)
            return False
        settled = handshake(bytes(peek.request), bytes(peek.answer))
        self.book.opened(opened, "http", client, key, scope.get("user"), settled)
        return True

    async def _message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A legacy SSE client's POST: a real request keeps its session from idling out."""
        peek = Peek(receive, send)
        await self.sse.handle_post_message(scope, peek.receive, peek.send)
        found = re.search(r"session_id=([0-9a-fA-F-]{32,36})", scope["query_string"].decode("latin-1"))
        if found and peek.status < 300:
            try:
                session_id = uuid.UUID(found.group(1)).hex
            except ValueError:
                return
            self.book.used(session_id, real=is_real_request(bytes(peek.request)))

    async def _sse(self, scope: Scope, receive: Receive, send: Send, client: str, key: str | None) -> None:
        if scope["method"] != "GET":
            await _refuse(send, HttpError(405, "use GET for /sse", headers=(("Allow", "GET"),)))
            return
        if self.sse_sessions >= self.config.max_mcp_sessions:
            await _refuse(send, sessions_full())
            return
        if not await self._reserved(send, client, key):
            return
        self.sse_sessions += 1
        session: McpSession | None = None
        ended = [False, False]  # started, finished: a stream cut short is ended properly below
        with trio.CancelScope() as stream_scope:

            async def send_noting_session(message: Message) -> None:
                # The stream's first event names the session: its id starts the session's clock.
                nonlocal session
                if session is None and message["type"] == "http.response.body":
                    found = _SSE_SESSION.search(message.get("body", b""))
                    if found:
                        session = self.book.opened(found.group(1).decode().lower(), "sse", client, key)
                        session.scope = stream_scope
                        stream_scope.deadline = session.deadline
                ended[0] = True
                ended[1] = message["type"] == "http.response.body" and not message.get("more_body")
                await send(message)

            answer = sdk_answers(send_noting_session)
            try:
                async with self.sse.connect_sse(scope, receive, answer) as (read, write):
                    await self.lowlevel.run(read, write, self.lowlevel.create_initialization_options())
            except ValueError:
                pass  # the SDK refused the request and has already answered
            finally:
                self.sse_sessions -= 1
                if session is not None:
                    self.book.ended(session.id)
                else:
                    self.book.released(client, key)
        if stream_scope.cancelled_caught:
            log.info("closed an idle legacy SSE session")
            if ended[0] and not ended[1]:
                with trio.CancelScope(shield=True):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
