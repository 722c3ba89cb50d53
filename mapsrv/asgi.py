"""The ASGI entry point: Host checks, then a path dispatch between the raw handlers (browser
event streams, MCP transports) and the Quart app (everything else)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, MutableMapping
from typing import Any

import trio

from mapsrv.access import host_allowed, resolve, user_from_cookies
from mapsrv.config import Config
from mapsrv.core.codec import dumps
from mapsrv.errors import MapsrvError
from mapsrv.hub import MapHub
from mapsrv.mcp_server import McpEndpoints
from mapsrv.metrics import CONTENT_TYPE, Metrics, route_of
from mapsrv.sse_stream import Message, Receive, Send, serve_event_stream
from mapsrv.web import create_app, security_headers

__all__ = ["Dispatcher"]

access = logging.getLogger("mapsrv.access")

_UNCHECKED = frozenset({"/health", "/ready", "/metrics"})
_EVENTS = re.compile(r"/(m|v)/([^/]{1,64})/events")


def _header(scope: MutableMapping[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _transport(path: str) -> str:
    if path.startswith("/mcp"):
        return "mcp_http"
    if path == "/sse" or path.startswith("/messages/"):
        return "mcp_sse"
    if _EVENTS.fullmatch(path):
        return "browser_stream"
    return "web"


class Dispatcher:
    def __init__(
        self,
        config: Config,
        hub: MapHub,
        mcp: McpEndpoints,
        metrics: Metrics,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.hub = hub
        self.mcp = mcp
        self.metrics = metrics
        self.app = create_app(config, hub, draining)
        # Quart types its ASGI arguments with TypedDicts; this dispatcher speaks plain dicts.
        self._app: Any = self.app
        self._headers = security_headers(config)
        self.in_flight = 0
        self._quiet = trio.Event()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._app(scope, receive, send)
            return
        if kind != "http":
            return  # no websockets here; returning closes the connection
        path, method = scope["path"], scope["method"]
        route, transport = route_of(path), _transport(path)
        self.metrics.messages_received.labels(transport).inc()
        started = trio.current_time()
        status = 0

        def note(response_status: int) -> None:
            nonlocal status
            status = response_status
            self.metrics.observe_request(route, method, status, trio.current_time() - started)

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                note(message["status"])
            await send(message)

        self.in_flight += 1
        try:
            if transport == "browser_stream":
                # Every frame of a stream goes through `send`: no wrapper on that path.
                await self._stream(scope, receive, send, note)
            else:
                await self._http(scope, receive, send_noting_status)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._quiet.set()
                self._quiet = trio.Event()
            duration = trio.current_time() - started
            if transport in ("browser_stream", "mcp_sse") and status == 200:
                self.metrics.session_duration.labels(transport).observe(duration)
            client = scope.get("client") or ("", 0)
            access.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "route": route,
                    "status": status,
                    "transport": transport,
                    "duration_ms": round(duration * 1000, 2),
                    "client": client[0],
                },
            )

    async def wait_quiet(self) -> None:
        """Until no request is in flight (for a graceful shutdown: hypercorn itself would also
        wait out idle keep-alive connections that Quart has answered)."""
        while self.in_flight:
            await self._quiet.wait()

    async def _http(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        # Probes and scrapers address the pod by IP; these three hold no user data, so they need
        # no DNS-rebinding defence.
        if scope["path"] not in _UNCHECKED and not host_allowed(self.config, _header(scope, b"host")):
            await _plain(send, 421, b'{"error":{"code":"http","message":"unknown host"}}')
            return
        if scope["path"] == "/metrics" and self.config.metrics:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE.encode())],
                }
            )
            await send({"type": "http.response.body", "body": self.metrics.render()})
            return
        if self.mcp.handles(scope["path"]):
            await self.mcp(scope, receive, send)
            return
        await self._app(scope, receive, send)

    async def _stream(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send, note: Callable[[int], None]
    ) -> None:
        """A browser's event stream, or the error that stands in for it."""
        match = _EVENTS.fullmatch(scope["path"])
        if not host_allowed(self.config, _header(scope, b"host")):
            note(421)
            await _plain(send, 421, b'{"error":{"code":"http","message":"unknown host"}}')
            return
        if not match or scope["method"] not in ("GET", "HEAD"):
            note(405)
            await _plain(send, 405, b'{"error":{"code":"http","message":"method not allowed"}}')
            return
        try:
            user = user_from_cookies(_header(scope, b"cookie"))
            entry = await resolve(self.hub, match.group(1), match.group(2), user)
        except MapsrvError as exc:
            note(exc.status)
            await _plain(send, exc.status, dumps({"error": exc.to_json()}).encode())
            return
        note(200)
        await serve_event_stream(
            self.hub,
            entry,
            _header(scope, b"last-event-id"),
            receive,
            send,
            headers=self._headers,
            retry_ms=int(self.config.sse_retry * 1000),
        )
