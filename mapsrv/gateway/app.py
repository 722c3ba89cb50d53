"""The gateway's ASGI entry: operations routes, then Host/Origin checks and API keys (the same
rules as ``mapsrv serve``, from ``mapsrv.http.guards`` and ``mapsrv.http.identity``), then each
server's transports by path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import trio

from mapsrv.gateway.asgi_io import respond
from mapsrv.gateway.config import GatewayConfig, ServerSpec
from mapsrv.gateway.jsonrpc import INVALID_REQUEST, error_body
from mapsrv.gateway.metrics import GatewayMetrics
from mapsrv.gateway.sessions import Sessions
from mapsrv.gateway.transports import handle_legacy_messages, handle_legacy_sse, handle_streamable
from mapsrv.http.guards import host_allowed, origin_allowed
from mapsrv.http.identity import ApiKeys
from mapsrv.http.types import Receive, Scope, Send, header

__all__ = ["GatewayApp"]


class GatewayApp:
    def __init__(self, config: GatewayConfig, sessions: Sessions, draining: Callable[[], bool]) -> None:
        self.config = config
        self.sessions = sessions
        self.draining = draining
        self.metrics = GatewayMetrics(sessions)
        self._keys = ApiKeys(config.api_keys)
        self._routes: dict[str, tuple[str, ServerSpec]] = {}
        for server in sessions.servers.values():
            for suffix, kind in (("/mcp", "mcp"), ("/sse", "sse"), ("/messages", "messages")):
                self._routes[server.prefix + suffix] = (kind, server)
                self._routes[server.prefix + suffix + "/"] = (kind, server)
        self.in_flight = 0
        self.quiet = trio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        self.in_flight += 1
        try:
            await self._dispatch(scope, receive, send)
        except ConnectionResetError:
            pass
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.quiet.set()
                self.quiet = trio.Event()

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/health":
            await respond(send, 200, b'{"status":"ok"}')
            return
        if path == "/ready":
            ready = not self.draining()
            await respond(send, 200 if ready else 503, b'{"ready":%s}' % (b"true" if ready else b"false"))
            return
        if path == "/metrics" and self.config.metrics:
            await respond(send, 200, self.metrics.render(), content_type=GatewayMetrics.CONTENT_TYPE)
            return
        host = header(scope, b"host")
        if not host_allowed(self.config, host):
            await respond(send, 421, error_body(None, INVALID_REQUEST, f"host {host!r} is not served here"))
            return
        if not origin_allowed(self.config, header(scope, b"origin"), host, any_port=True):
            await respond(send, 403, error_body(None, INVALID_REQUEST, "origin not allowed"))
            return
        if self._keys.enabled:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if self._keys.principal(headers) is None:
                message = "a valid API key is required (Authorization: Bearer or X-API-Key)"
                await respond(send, 401, error_body(None, INVALID_REQUEST, message))
                return
        if path == "/status":
            await respond(send, 200, json.dumps(self.status()).encode())
            return
        route = self._routes.get(path)
        if route is None:
            await respond(send, 404, error_body(None, INVALID_REQUEST, "no such endpoint"))
            return
        kind, server = route
        if kind == "mcp":
            await handle_streamable(scope, receive, send, self.sessions, server.name)
        elif kind == "sse":
            if scope["method"] != "GET":
                await respond(send, 405, b"", [(b"allow", b"GET")])
                return
            await handle_legacy_sse(scope, receive, send, self.sessions, server.name, server.prefix)
        else:
            await handle_legacy_messages(scope, receive, send, self.sessions, server.name)

    def status(self) -> dict[str, Any]:
        """Sessions without their ids (capabilities) or payloads: a hash names each one."""
        now = trio.current_time()
        forwarder = self.sessions.forwarder
        return {
            "draining": self.draining(),
            "forwarded": forwarder.forwarded if forwarder else 0,
            "owner_unreachable": forwarder.unreachable if forwarder else 0,
            "owner_unresponsive": forwarder.unresponsive if forwarder else 0,
            "servers": {
                name: {
                    "warm": pool.ready,
                    "retry_after": round(self.sessions.breakers[name].retry_after(), 1),
                    "shared_children": len(self.sessions.shared[name].live),
                    "stateless_in_flight": sum(s.in_flight for s in self.sessions.shared[name].live),
                    "stateless_requests": self.sessions.shared[name].requests,
                }
                for name, pool in self.sessions.pools.items()
            },
            "sessions": [
                {
                    "ref": hashlib.sha256(s.id.encode()).hexdigest()[:12],
                    "server": s.server,
                    "transport": s.transport,
                    "pid": s.child.pid,
                    "age_s": round(now - s.started, 1),
                    "idle_s": round(now - s.last_active, 1),
                    "messages_in": s.stats.messages_in,
                    "messages_out": s.stats.messages_out,
                    "in_flight": s.in_flight,
                }
                for s in self.sessions.open.values()
            ],
        }
