"""The ASGI dispatcher: each request's route comes from ``mapsrv.http.routes``; its Host and Origin
are checked as the route says, then its client's budget (``mapsrv.http.throttle``); then the
route's family answers it: a browser event stream, one of the MCP transports, a page's write, an
upload link, a static file, the metrics, or the Quart app (pages, the rest of the JSON API, probes).

Logging and metrics are not here: ``mapsrv.http.observe`` wraps this app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mapsrv.config import Config
from mapsrv.errors import Forbidden, HttpError, MapsrvError, Unavailable
from mapsrv.http.guards import host_allowed, origin_allowed
from mapsrv.http.identity import user_from_cookies
from mapsrv.http.observe import exchange_of
from mapsrv.http.responses import send_error
from mapsrv.http.routes import Family, Route, RouteMatch, lookup
from mapsrv.http.throttle import Kind, Throttle, kind_of
from mapsrv.http.types import Receive, Scope, Send, header
from mapsrv.hub import MapHub
from mapsrv.hub.access import resolve
from mapsrv.mcp.endpoints import McpEndpoints
from mapsrv.observability.metrics import CONTENT_TYPE, Metrics
from mapsrv.web import create_app, security_headers
from mapsrv.web.basemap_tiles import BasemapTiles
from mapsrv.web.static import StaticFiles
from mapsrv.web.stream import StreamCounts, person_member, serve_event_stream, stream_start
from mapsrv.web.upload_links import UploadLinks
from mapsrv.web.writes import PageWrites

__all__ = ["Dispatcher"]

Handler = Callable[[Scope, Receive, Send, RouteMatch], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        config: Config,
        hub: MapHub,
        mcp: McpEndpoints,
        metrics: Metrics,
        throttle: Throttle,
        draining: Callable[[], bool] = lambda: False,
        streams: StreamCounts | None = None,
    ) -> None:
        self.config = config
        self.streams = streams if streams is not None else StreamCounts()
        self.throttle = throttle
        self.hub = hub
        self.mcp = mcp
        self.metrics = metrics
        self.draining = draining
        self.app = create_app(config, hub, draining, mcp.images, mcp.issuer, mcp.places, mcp.basemaps)
        # Quart types its ASGI arguments with TypedDicts; this dispatcher speaks plain dicts.
        self._app: Any = self.app
        self._headers = security_headers(config)
        self._writes = PageWrites(
            hub,
            self._headers,
            config.max_body_size,
            config.max_file_size,
            person_refusal=throttle.person_refusal,
            areas=mcp.places.join_area,
            router=mcp.router,
        )
        self._uploads = UploadLinks(hub, self._headers, areas=mcp.places.join_area, router=mcp.router)
        self._static = StaticFiles(self._headers)
        self._basemap = BasemapTiles(mcp.basemaps, self._headers)
        # A view stream is read-only and carries no cookie: any origin holding the view key may
        # read it, such as the MCP App in a host's sandboxed (opaque-origin) iframe.
        self._stream_starts = {
            "m": stream_start(self._headers),
            "v": stream_start([*self._headers, ("Access-Control-Allow-Origin", "*")]),
        }
        self._handlers: dict[Family, Handler] = {
            Family.BROWSER_STREAM: self._stream,
            Family.MCP_HTTP: self._mcp,
            Family.MCP_SSE: self._mcp,
            Family.MCP_MESSAGES: self._mcp,
            Family.OAUTH_METADATA: self._oauth_metadata,
            Family.PAGE_WRITE: self._write,
            Family.UPLOAD_LINK: self._upload,
            Family.STATIC: self._static_file,
            Family.BASEMAP: self._basemap_tile,
            Family.METRICS: self._metrics,
            Family.PROBE: self._web,
            Family.WEB: self._web,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._app(scope, receive, send)
            return
        if kind != "http":
            return  # no websockets here; returning closes the connection
        exchange = exchange_of(scope)
        match = exchange.match if exchange is not None else lookup(scope["path"])
        refusal = self._check(match.route, scope)
        kind = kind_of(match, scope) if refusal is None else None
        client = ""
        if kind is not None:
            client = self.throttle.client_of(scope)
            refusal = await self.throttle.check(kind, client)
            if refusal is None and kind is Kind.STREAMS:
                refusal = self.throttle.stream_refusal(client)
        if refusal is not None:
            if exchange is not None:
                exchange.responded(refusal.status)
            await send_error(send, refusal, jsonrpc=match.route.family.is_mcp)
            return
        handler = self._handlers[match.route.family]
        if kind is Kind.STREAMS:
            with self.throttle.holding_stream(client):
                await handler(scope, receive, send, match)
        else:
            await handler(scope, receive, send, match)

    def _check(self, route: Route, scope: Scope) -> MapsrvError | None:
        """The one Host check and the one Origin check, for the routes that need them. The MCP
        SDK's own DNS-rebinding protection is off (``mapsrv.mcp.endpoints``): this runs
        first for every MCP path."""
        host = header(scope, b"host")
        if route.host_checked and not host_allowed(self.config, host):
            return HttpError(421, "unknown host")
        origin = header(scope, b"origin")
        if route.origin_checked and not origin_allowed(
            self.config, origin, host, any_port=route.family.is_mcp
        ):
            return Forbidden("cross-origin request refused")
        return None

    async def _web(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self._app(scope, receive, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self._writes(scope, receive, send, match.key, scope["path"].rsplit("/", 1)[1], match.kind)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self._uploads(scope, receive, send, match.key)

    async def _static_file(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self._static(scope, receive, send)

    async def _basemap_tile(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self._basemap(scope, receive, send)

    async def _mcp(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        await self.mcp(scope, receive, send)

    async def _oauth_metadata(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        if not self.config.oidc_issuer:
            await self._app(scope, receive, send)  # a 404 like any unknown path
            return
        await self.mcp.resource_metadata(scope, send)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        if not self.config.metrics:
            await self._app(scope, receive, send)  # a 404 like any unknown path
            return
        headers = [(b"content-type", CONTENT_TYPE.encode()), (b"x-content-type-options", b"nosniff")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.metrics.render()})

    async def _stream(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        """A browser's event stream, or the error that stands in for it. ``send`` here is the
        server's own (no wrapper per frame), so the status is reported to the exchange."""
        exchange = exchange_of(scope)
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise HttpError(405, "method not allowed")
            if self.draining():
                # This process is leaving: a proxy that retries a 503 (deploy/local's nginx) takes
                # the stream to another process now, rather than here until the drain ends it.
                raise Unavailable("this server is stopping: reconnect", retry_after=1)
            cookie = header(scope, b"cookie")
            user = user_from_cookies(cookie)
            entry = await resolve(self.hub, match.kind, match.key, user)
        except MapsrvError as exc:
            if exchange is not None:
                exchange.responded(exc.status)
            await send_error(send, exc)
            return
        if exchange is not None:
            exchange.responded(200)
        await serve_event_stream(
            self.hub,
            entry,
            header(scope, b"last-event-id"),
            scope,
            receive,
            send,
            start=self._stream_starts["v" if match.kind == "v" else "m"],  # "e": no cross-origin
            retry_ms=int(self.config.sse_retry * 1000),
            counts=self.streams,
            member=person_member(match.kind, match.key, user, cookie, header(scope, b"user-agent")),
        )
