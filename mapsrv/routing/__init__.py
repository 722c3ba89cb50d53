"""Routes along real roads from a routing engine: directions, distance and time, the areas
reachable within some minutes, and distances and times between places.

The engine is its own service, reached over HTTP (``--router valhalla+http://HOST:PORT``), so that
the tools, the page and the image share one client of it. Without a router, mapsrv draws routes
as straight lines and says so.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import trio

from mapsrv.routing.model import Contour, Matrix, Route, Router, RouteRefused, RouterUnavailable, Step
from mapsrv.routing.valhalla import ANSWER_TIMEOUT, ValhallaRouter

__all__ = [
    "ROUTER_SCHEMES",
    "Contour",
    "Matrix",
    "Route",
    "RouteRefused",
    "Router",
    "RouterUnavailable",
    "Step",
    "ValhallaRouter",
    "check_router_url",
    "router_for",
    "serve_router",
]

ROUTER_SCHEMES = ("valhalla+http", "valhalla+https")


def check_router_url(url: str) -> str:
    """``url`` as the engine's own URL (``http://host:port``); ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ROUTER_SCHEMES:
        raise ValueError(f"Use {' or '.join(s + '://HOST:PORT' for s in ROUTER_SCHEMES)}")
    if not parts.hostname:
        raise ValueError("It names no host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("Give only the scheme, host, port and path")
    return url.removeprefix("valhalla+").rstrip("/")


async def serve_router(router: Router | None) -> None:
    """Hold ``router``'s connections for as long as this task runs (the server's nursery), and
    close them when it is cancelled."""
    try:
        await trio.sleep_forever()
    finally:
        if router is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await router.aclose()


def router_for(url: str, timeout: float = ANSWER_TIMEOUT) -> Router | None:
    """The router a ``--router`` URL names, or None for none ("" or "none"); ``timeout``: the
    longest wait for an answer."""
    if url in ("", "none"):
        return None
    return ValhallaRouter(check_router_url(url), timeout=timeout)
