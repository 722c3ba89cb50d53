"""The settings of what mapsrv works with, one frozen dataclass per concern, each checking its own
values (``check``): tiles and layers from elsewhere, sign-in, the router, places."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mapsrv.config.sources import (
    HOURS,
    MINUTES,
    SECONDS,
    ConfigError,
    about,
    check_range,
)
from mapsrv.core.layer_source import check_allowed_source
from mapsrv.places.urls import check_geocoder_url
from mapsrv.routing import check_router_url

__all__ = [
    "LayerSettings",
    "PlaceSettings",
    "RoutingSettings",
    "SigninSettings",
]

YEAR = 365 * 24 * HOURS
BASEMAP_MODES = ("auto", "osm", "extract", "none")


@dataclass(frozen=True)
class LayerSettings:
    """The map's tiles and the layers from elsewhere it may show."""

    tile_url: str = field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        metadata=about("map tile URL template with {z}, {x} and {y}"),
    )
    tile_attribution: str = field(
        default="© OpenStreetMap contributors", metadata=about("attribution shown for the tiles")
    )
    allowed_sources: tuple[str, ...] = field(
        default=(),
        metadata=about(
            "hosts and CIDRs layers from elsewhere may come from (add_layer): the page's CSP allows tiles"
            " from these hosts only; loopback and private addresses only when listed"
        ),
    )
    basemap: str = field(
        default="auto",
        metadata=about(
            "what is drawn under the map: auto (the tile server, and an imported extract's street map"
            " where the tile server cannot be reached), osm (the tile server only), extract (the imported"
            " extracts' street maps, no tile server), none (the offline world map only), or a PMTiles"
            " archive's path or https URL (its street map, no tile server)"
        ),
    )
    tile_deadline: float = field(
        default=2 * SECONDS,
        metadata=about(
            "seconds a map image waits for its tiles and its layers' tiles (a slow WMS may need more);"
            " what is late is left out and said"
        ),
    )

    def check(self) -> None:
        if not all(part in self.tile_url for part in ("{z}", "{x}", "{y}")):
            raise ConfigError(
                f"Config 'tile_url' has value {self.tile_url!r}. It needs {{z}}, {{x}} and {{y}}."
            )
        for source in self.allowed_sources:
            if not check_allowed_source(source):
                raise ConfigError(
                    f"Config 'allowed_sources' has value {source!r}. Not a host name, address or CIDR."
                )
        check_range(self, "tile_deadline", 0.1, 10 * MINUTES)
        if self.basemap not in BASEMAP_MODES and not self.basemap.endswith(".pmtiles"):
            raise ConfigError(
                f"Config 'basemap' has value {self.basemap!r:.200}. It must be auto, osm, extract, none"
                " or a PMTiles archive (a path or an https URL ending .pmtiles)."
            )
        if self.basemap.endswith(".pmtiles") and urlsplit(self.basemap).scheme not in ("", "https", "http"):
            raise ConfigError(f"Config 'basemap' has value {self.basemap!r:.200}. A URL must be https.")

    def online_tiles(self) -> str:
        """The tile server's URL template when the basemap uses it, else ''."""
        return self.tile_url if self.basemap in ("auto", "osm") else ""


@dataclass(frozen=True)
class SigninSettings:
    """Who may call: API keys, the OpenID Connect issuer (MCP authorization, people signing in),
    MCP sessions."""

    api_keys: tuple[str, ...] = field(
        default=(),
        repr=False,
        metadata=about(
            "API keys for the MCP endpoints, as name:secret (comma-separated); name@sub:secret acts for the"
            " person whose OpenID subject is sub (their maps, their lists); none = open"
        ),
    )
    oidc_issuer: str = field(
        default="",
        metadata=about(
            "an OpenID Connect issuer URL: MCP clients then need its access tokens for this server (MCP"
            " authorization; API keys still work); none = API keys or open"
        ),
    )
    oidc_client_id: str = field(
        default="",
        metadata=about(
            "this server's client id at the OpenID Connect issuer: people then sign in at /login (the"
            " issuer needs <public URL>/auth/callback as a redirect URI)"
        ),
    )
    oidc_client_secret: str = field(
        default="",
        repr=False,
        metadata=about("this server's client secret at the issuer (none: a public client)"),
    )
    oidc_leeway: float = field(
        default=30 * SECONDS,
        metadata=about(
            "how far the issuer's clock may be from this server's when checking a token's exp, iat and"
            " nbf (0 to 600 seconds)"
        ),
    )
    max_mcp_sessions: int = field(
        default=1000, metadata=about("most open MCP sessions (Streamable HTTP and SSE each)")
    )
    mcp_session_idle_timeout: float = field(
        default=30 * MINUTES, metadata=about("close an MCP session idle for this long")
    )
    mcp_handshake_timeout: float = field(
        default=10 * SECONDS,
        metadata=about("close an MCP session that has sent no request since its initialize after this long"),
    )
    max_mcp_sessions_per_client: int = field(
        default=32, metadata=about("most open MCP sessions one client address may hold (429 past it)")
    )
    max_mcp_sessions_per_key: int = field(
        default=256, metadata=about("most open MCP sessions one API key may hold (429 past it)")
    )
    mcp_direct_calls: bool = field(
        default=True,
        metadata=about(
            "answer 2026-07-28 tool calls in mapsrv's own path, with the SDK's checks (false: every"
            " call through the SDK's pipeline, slower per call)"
        ),
    )

    def check(self) -> None:
        for name in ("mcp_session_idle_timeout", "mcp_handshake_timeout"):
            check_range(self, name, 0.001, YEAR)
        for name in ("max_mcp_sessions", "max_mcp_sessions_per_client", "max_mcp_sessions_per_key"):
            check_range(self, name, 1, 10_000_000)
        check_range(self, "oidc_leeway", 0, 10 * MINUTES)
        if self.oidc_client_id and not self.oidc_issuer:
            raise ConfigError(
                f"Config 'oidc_client_id' has value {self.oidc_client_id!r} but no oidc_issuer: give the"
                " issuer's URL too."
            )
        issuer = urlsplit(self.oidc_issuer)
        if self.oidc_issuer and (
            issuer.scheme not in ("http", "https") or not issuer.hostname or issuer.query
        ):
            raise ConfigError(
                f"Config 'oidc_issuer' has value {self.oidc_issuer!r}. Use the issuer's https:// URL, as its"
                " tokens name it (iss)."
            )


@dataclass(frozen=True)
class RoutingSettings:
    """Routes on the roads: the routing engine and how long to wait for it."""

    router: str = field(
        default="",
        metadata=about(
            "a routing engine, valhalla+http://HOST:PORT: routes then follow the roads, with distance,"
            " time and directions, and the reachable and travel_times tools appear; none = straight lines"
        ),
    )
    router_timeout: float = field(
        default=20 * SECONDS,
        metadata=about(
            "longest wait for the router's answer (a continental route takes a few seconds); past it the"
            " call fails, nothing drawn"
        ),
    )

    def check(self) -> None:
        if self.router_timeout <= 0:
            raise ConfigError(
                f"Config 'router_timeout' has value {self.router_timeout:g}. Give a time, e.g. 20s."
            )
        if self.router not in ("", "none"):
            try:
                check_router_url(self.router)
            except ValueError as exc:
                raise ConfigError(f"Config 'router' has value {self.router!r}. {exc}.") from None


@dataclass(frozen=True)
class PlaceSettings:
    """Places: the geocoder, how long to wait for it, the offline index."""

    geocoder: str = field(
        default="",
        metadata=about(
            "a geocoder speaking Nominatim's API, nominatim+https://HOST[:PORT][/PATH]: addresses, streets"
            " and shops it knows, beside the offline index (mapsrv places import); none = offline only"
        ),
    )
    geocoder_timeout: float = field(
        default=10 * SECONDS,
        metadata=about("longest wait for the geocoder's answer; past it the call fails, nothing drawn"),
    )
    places_dir: str = field(
        default="",
        metadata=about(
            "where `mapsrv places import` keeps the offline index of extracts, which serve and stdio use"
            " (default: places/ beside maps.db in the user's data directory)"
        ),
    )

    def check(self) -> None:
        if self.geocoder_timeout <= 0:
            raise ConfigError(
                f"Config 'geocoder_timeout' has value {self.geocoder_timeout:g}. Give a time, e.g. 10s."
            )
        if self.geocoder not in ("", "none"):
            try:
                check_geocoder_url(self.geocoder)
            except ValueError as exc:
                raise ConfigError(f"Config 'geocoder' has value {self.geocoder!r}. {exc}.") from None
