"""Logging and metrics as an ASGI middleware, apart from routing: the access log line, request
durations by route template, requests by transport, how long streams stayed open, and the count
of requests in flight that a graceful shutdown waits out.

Every response's status is seen on its way out through a wrapped ``send``, except the browser
event stream's: its frames are the hot path and go straight to the server's ``send`` (no call per
frame). That handler reports its status itself with ``Exchange.responded``.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import trio

from mapsrv.http.routes import Family, RouteMatch, lookup
from mapsrv.http.types import App, Message, Receive, Send
from mapsrv.observability.metrics import Metrics

__all__ = ["Exchange", "Observer", "exchange_of"]


access = logging.getLogger("mapsrv.access")

_SCOPE_KEY = "mapsrv.exchange"
_SESSIONS = ("browser_stream", "mcp_sse")  # transports whose 200 opens a long-lived stream


@dataclass
class Exchange:
    """One request as the middleware sees it, shared with the app through the ASGI scope."""

    match: RouteMatch
    method: str
    started: float
    metrics: Metrics
    status: int = 0

    def responded(self, status: int) -> None:
        """The response's status is known: observe its duration once (for a stream, the time
        until its headers)."""
        if self.status:
            return
        self.status = status
        self.metrics.observe_request(
            self.match.route.template, self.method, status, trio.current_time() - self.started
        )


def exchange_of(scope: MutableMapping[str, Any]) -> Exchange | None:
    exchange: Exchange | None = scope.get(_SCOPE_KEY)
    return exchange


class Observer:
    def __init__(self, app: App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.in_flight = 0
        self._quiet = trio.Event()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = lookup(scope["path"])
        route = match.route
        exchange = Exchange(match, scope["method"], trio.current_time(), self.metrics)
        scope[_SCOPE_KEY] = exchange
        self.metrics.received(route.transport)

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.responded(message["status"])
            await send(message)

        self.in_flight += 1
        try:
            if route.family is Family.BROWSER_STREAM:
                await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, send_noting_status)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._quiet.set()
                self._quiet = trio.Event()
            self._log(scope, exchange)

    def _log(self, scope: MutableMapping[str, Any], exchange: Exchange) -> None:
        duration = trio.current_time() - exchange.started
        transport = exchange.match.route.transport
        if transport in _SESSIONS and exchange.status == 200:
            self.metrics.session_duration.labels(transport).observe(duration)
        if not access.isEnabledFor(logging.INFO):
            return  # --log-level warning: not even the line's fields are made
        client = scope.get("client") or ("", 0)
        template = exchange.match.route.template
        access.info(
            "%s %s %s",
            exchange.method,
            template,
            exchange.status,
            extra={
                "route": template,
                "status": exchange.status,
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
