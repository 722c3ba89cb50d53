"""Every route mapsrv serves, in one table.

The ASGI dispatcher, the transport label on ``mapsrv_messages_received``, the route template on
``mapsrv_request_duration_seconds`` and the access log, and which paths belong to MCP are all read
from ``ROUTES``; nothing else classifies a path. A template never holds a map's id or view key
(both are capabilities): it is a bounded label value.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["OTHER", "ROUTES", "Family", "Route", "RouteMatch", "lookup", "route_of"]


class Family(enum.Enum):
    """Which handler answers a route."""

    BROWSER_STREAM = "browser_stream"  # a map's event stream, a raw ASGI handler
    MCP_HTTP = "mcp_http"  # MCP Streamable HTTP (the SDK's session manager)
    MCP_SSE = "mcp_sse"  # legacy MCP HTTP+SSE: the stream
    MCP_MESSAGES = "mcp_messages"  # legacy MCP HTTP+SSE: the client's POSTs
    PAGE_WRITE = "page_write"  # a page's ops, undo and redo (a raw ASGI handler)
    WEB = "web"  # the Quart app (pages, the rest of the JSON API)
    STATIC = "static"  # the page's scripts and styles, Leaflet's, the outlines (mapsrv.web.static)
    BASEMAP = "basemap"  # the street basemap's tiles and style (mapsrv.web.basemap_tiles)
    METRICS = "metrics"  # Prometheus
    PROBE = "probe"  # /health and /ready (answered by the Quart app)
    OAUTH_METADATA = "oauth_metadata"  # RFC 9728 metadata of the MCP endpoint (mapsrv.mcp.endpoints)
    UPLOAD_LINK = "upload_link"  # an agent's upload link: its page and its PUT (mapsrv.web.upload_links)

    @property
    def transport(self) -> str:
        """The ``transport`` label: how a client talks to us, not which handler answers."""
        return _TRANSPORTS.get(self, "web")

    @property
    def is_mcp(self) -> bool:
        return self in (Family.MCP_HTTP, Family.MCP_SSE, Family.MCP_MESSAGES)


_TRANSPORTS = {
    Family.BROWSER_STREAM: "browser_stream",
    Family.MCP_HTTP: "mcp_http",
    Family.MCP_SSE: "mcp_sse",
    Family.MCP_MESSAGES: "mcp_sse",
}


@dataclass(frozen=True)
class Route:
    template: str  # the metrics and log label
    pattern: re.Pattern[str]  # matched against the whole path
    family: Family
    # Probes and scrapers address a pod by IP and these answers hold no user data: no
    # DNS-rebinding defence needed. Everything else checks Host.
    host_checked: bool = True
    # Writes a browser could be tricked into sending, and every MCP path (the MCP spec asks
    # servers to refuse a foreign Origin with 403).
    origin_checked: bool = False

    @property
    def transport(self) -> str:
        return self.family.transport


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    kind: str  # "m" (the owner's), "e" (an editor's) or "v" (a viewer's) for a map's routes, else ""
    key: str  # the map id or view key in the path, else ""


def _route(template: str, pattern: str, family: Family, **flags: bool) -> Route:
    return Route(template, re.compile(pattern), family, **flags)


_KEY = r"(?P<kind>{kind})/(?P<key>[^/]+)"

ROUTES: tuple[Route, ...] = (
    _route("/", r"/", Family.WEB),
    _route("/new", r"/new", Family.WEB, origin_checked=True),
    _route("/health", r"/health", Family.PROBE, host_checked=False),
    _route("/ready", r"/ready", Family.PROBE, host_checked=False),
    _route("/metrics", r"/metrics", Family.METRICS, host_checked=False),
    _route("/mcp", r"/mcp/?", Family.MCP_HTTP, origin_checked=True),
    _route("/sse", r"/sse", Family.MCP_SSE, origin_checked=True),
    _route("/messages/", r"/messages/.*", Family.MCP_MESSAGES, origin_checked=True),
    # Public metadata for MCP clients (any origin may read it): where to get an access token
    _route(
        "/.well-known/oauth-protected-resource",
        r"/\.well-known/oauth-protected-resource(/mcp)?",
        Family.OAUTH_METADATA,
    ),
    _route("/name", r"/name", Family.WEB, origin_checked=True),
    # people signing in (mapsrv.web.signin): the issuer sends the browser back to /auth/callback
    _route("/login", r"/login", Family.WEB),
    _route("/auth/callback", r"/auth/callback", Family.WEB),
    _route("/logout", r"/logout", Family.WEB, origin_checked=True),
    _route("/signed-out", r"/signed-out", Family.WEB),  # where the issuer sends them after sign-out
    _route("/me", r"/me", Family.WEB),
    _route("/maps", r"/maps", Family.WEB),
    _route("/maps.json", r"/maps\.json", Family.WEB),
    _route(
        "/maps/{id}/action",
        r"/maps/(?P<key>[^/]+)/(rename|duplicate|delete)",
        Family.WEB,
        origin_checked=True,
    ),
    _route("/m/{id}/events", "/" + _KEY.format(kind="m") + "/events", Family.BROWSER_STREAM),
    _route("/e/{key}/events", "/" + _KEY.format(kind="e") + "/events", Family.BROWSER_STREAM),
    _route("/v/{key}/events", "/" + _KEY.format(kind="v") + "/events", Family.BROWSER_STREAM),
    _route("/m/{id}/ops", "/" + _KEY.format(kind="m") + "/ops", Family.PAGE_WRITE, origin_checked=True),
    _route("/m/{id}/claim", "/" + _KEY.format(kind="m") + "/claim", Family.WEB, origin_checked=True),
    _route("/m/{id}/undo", "/" + _KEY.format(kind="m") + "/undo", Family.PAGE_WRITE, origin_checked=True),
    _route("/m/{id}/redo", "/" + _KEY.format(kind="m") + "/redo", Family.PAGE_WRITE, origin_checked=True),
    _route("/m/{id}/import", "/" + _KEY.format(kind="m") + "/import", Family.PAGE_WRITE, origin_checked=True),
    _route("/m/{id}/links", "/" + _KEY.format(kind="m") + "/links", Family.WEB, origin_checked=True),
    # Where a person points (twice a second at most): not a write, not a write's budget.
    _route(
        "/m/{id}/pointer", "/" + _KEY.format(kind="m") + "/pointer", Family.PAGE_WRITE, origin_checked=True
    ),
    _route(
        "/e/{key}/pointer", "/" + _KEY.format(kind="e") + "/pointer", Family.PAGE_WRITE, origin_checked=True
    ),
    # An editor's writes (the edit link): the same handler, the same checks, a label of their own.
    _route(
        "/e/{key}/write",
        "/" + _KEY.format(kind="e") + "/(ops|undo|redo|import)",
        Family.PAGE_WRITE,
        origin_checked=True,
    ),
    _route(
        "/{m,v}/{id}/export",
        "/"
        + _KEY.format(kind="[mev]")
        + r"/(state|geojson|export\.(gpx|kml|kmz|csv|geojson|shp\.zip|gpkg|fgb|parquet))",
        Family.WEB,
    ),
    _route("/{m,v}/{id}/image.png", "/" + _KEY.format(kind="[mev]") + r"/image\.png", Family.WEB),
    # the page's search box (mapsrv.web.places): reads no map, so the view link searches too
    _route("/{m,v}/{id}/places", "/" + _KEY.format(kind="[mev]") + "/places", Family.WEB),
    _route("/m/{id}", "/" + _KEY.format(kind="m"), Family.WEB),
    _route("/e/{key}", "/" + _KEY.format(kind="e"), Family.WEB),
    _route("/v/{key}", "/" + _KEY.format(kind="v"), Family.WEB),
    _route("/static/", r"/static/.*", Family.STATIC),
    _route("/basemap/", r"/basemap/.*", Family.BASEMAP),
    # An upload link (its token, like a map's id, is a capability and never a label): the page a
    # person drops the file on, and the PUT of the file, from that page or from a client.
    _route("/u/{token}", r"/u/(?P<key>[^/]+)", Family.UPLOAD_LINK, origin_checked=True),
)
# Any other path: the Quart app answers 404 (after the Host check, like every page).
OTHER = Route("other", re.compile(r".*", re.DOTALL), Family.WEB)


def _literal_paths(pattern: str) -> list[str]:
    """The exact paths a pattern matches when it is a literal, or a literal with an optional
    trailing slash; none otherwise."""
    if re.escape(pattern) == pattern:
        return [pattern]
    if pattern.endswith("/?") and re.escape(pattern[:-2]) == pattern[:-2]:
        return [pattern[:-2], pattern[:-1]]
    return []


# Most requests (and every MCP call) name a fixed path: one dict lookup. The rest try each
# remaining pattern in table order.
# Its match is made once (it is frozen): a request asks it of each layer it goes through.
_FIXED = {path: RouteMatch(r, "", "") for r in ROUTES for path in _literal_paths(r.pattern.pattern)}
_PATTERNS = tuple(r for r in ROUTES if not _literal_paths(r.pattern.pattern))
_NO_KEY = ("", "")


def lookup(path: str) -> RouteMatch:
    """The route that serves ``path`` (``OTHER`` when none does)."""
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed
    for route in _PATTERNS:
        found = route.pattern.fullmatch(path)
        if found:
            groups = found.groupdict()
            return RouteMatch(route, groups.get("kind") or "", groups.get("key") or "")
    return RouteMatch(OTHER, *_NO_KEY)


def route_of(path: str) -> str:
    """The route template for a path: a bounded label value."""
    return lookup(path).route.template
