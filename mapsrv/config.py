"""One typed configuration, built from defaults, then ``MAPSRV_*`` environment variables, then
command-line flags. An unknown ``MAPSRV_*`` variable is an error, and a bad value names its key."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mapsrv.core.layer_source import check_allowed_source
from mapsrv.places.urls import check_geocoder_url
from mapsrv.routing import check_router_url
from mapsrv.store.redis.url import parse_redis_url
from mapsrv.store.sqlite import default_path, sqlite_path

__all__ = [
    "HOURS",
    "KIB",
    "MAX_RATE",
    "MIB",
    "MINUTES",
    "SECONDS",
    "STDIO_ONLY",
    "Config",
    "ConfigError",
    "add_arguments",
    "add_setting_flags",
    "check_logging",
    "check_range",
    "convert",
    "settings_from_sources",
]

SECONDS = 1.0
MINUTES = 60 * SECONDS
HOURS = 60 * MINUTES
KIB = 1024
MIB = 1024 * KIB

ENV_PREFIX = "MAPSRV_"
GATEWAY_ENV_PREFIX = "MAPSRV_GATEWAY_"
STDIO_ONLY = ("server", "server_key")  # settings only `mapsrv stdio` reads (no flags on serve)
SECRETS = ("api_keys", "server_key", "oidc_client_secret")  # never shown, not even their defaults
# The most any rate_* may be, per second: the rate limiter's microsecond of slack must stay a
# small part of one interval (mapsrv.http.ratelimit), or a burst of one lets two through.
MAX_RATE = 10_000


class ConfigError(ValueError):
    pass


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class Config:
    host: str = field(default="127.0.0.1", metadata=_help("address to listen on"))
    port: int = field(default=8000, metadata=_help("port to listen on (0 picks a free one)"))
    store: str = field(
        default="",
        metadata=_help(
            "where maps live: sqlite:///path/maps.db (on disk; the default is maps.db in the user's data "
            "directory), memory:// (this process only, gone when it stops), redis://host:port/db (shared), "
            "redis+sentinel://host:port,.../service/db or redis+cluster://host:port,... (docs/redis.md)"
        ),
    )
    retention: float = field(
        default=0.0,
        metadata=_help(
            "forget maps nobody opened or changed for this long (90d, 12h); 0 keeps them until deleted"
        ),
    )
    public_url: str = field(
        default="",
        metadata=_help("base URL people open, for links given to agents (default: the bind address)"),
    )
    idle_timeout: float = field(
        default=1 * HOURS,
        metadata=_help(
            "unload from memory a map nobody used or watched for this long (90s, 15m, 1h); a stored map comes"
            " back on its next use, a memory:// one is forgotten"
        ),
    )
    heartbeat_interval: float = field(
        default=15 * SECONDS, metadata=_help("seconds between SSE heartbeat comments")
    )
    sse_retry: float = field(default=2 * SECONDS, metadata=_help("reconnect delay suggested to browsers"))
    event_log_size: int = field(default=1024, metadata=_help("events kept per map for Last-Event-ID resume"))
    subscriber_buffer: int = field(
        default=256, metadata=_help("events queued per viewer before a slow viewer is dropped")
    )
    max_body_size: int = field(
        default=4 * MIB,
        metadata=_help("largest request body in bytes (a 10,000-point GeoJSON with names is about 1.2 MB)"),
    )
    max_file_size: int = field(
        default=16 * MIB,
        metadata=_help("largest file imported through the page (a 50,000-point GPX track is about 6 MB)"),
    )
    body_timeout: float = field(
        default=10 * SECONDS,
        metadata=_help("longest a client may take to send a request body (slower ones are cut off)"),
    )
    max_features: int = field(default=100_000, metadata=_help("most features on one map"))
    max_maps: int = field(default=100_000, metadata=_help("most maps held at once (new ones get 503)"))
    tile_url: str = field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        metadata=_help("map tile URL template with {z}, {x} and {y}"),
    )
    tile_attribution: str = field(
        default="© OpenStreetMap contributors", metadata=_help("attribution shown for the tiles")
    )
    allowed_sources: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "hosts and CIDRs layers from elsewhere may come from (add_layer): the page's CSP allows tiles"
            " from these hosts only; loopback and private addresses only when listed"
        ),
    )
    allowed_hosts: tuple[str, ...] = field(
        default=("localhost", "127.0.0.1", "[::1]"),
        metadata=_help("Host header names accepted, any port (comma-separated; * accepts any)"),
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "extra Origins allowed to write and to call MCP (the origin a request addressed always is)"
        ),
    )
    api_keys: tuple[str, ...] = field(
        default=(),
        repr=False,
        metadata=_help(
            "API keys for the MCP endpoints, as name:secret (comma-separated); name@sub:secret acts for the"
            " person whose OpenID subject is sub (their maps, their lists); none = open"
        ),
    )
    router: str = field(
        default="",
        metadata=_help(
            "a routing engine, valhalla+http://HOST:PORT: routes then follow the roads, with distance,"
            " time and directions, and the reachable and travel_times tools appear; none = straight lines"
        ),
    )
    router_timeout: float = field(
        default=20 * SECONDS,
        metadata=_help(
            "longest wait for the router's answer (a continental route takes a few seconds); past it the"
            " call fails, nothing drawn"
        ),
    )
    geocoder: str = field(
        default="",
        metadata=_help(
            "a geocoder speaking Nominatim's API, nominatim+https://HOST[:PORT][/PATH]: addresses, streets"
            " and shops it knows, beside the offline index (mapsrv places import); none = offline only"
        ),
    )
    geocoder_timeout: float = field(
        default=10 * SECONDS,
        metadata=_help("longest wait for the geocoder's answer; past it the call fails, nothing drawn"),
    )
    places_dir: str = field(
        default="",
        metadata=_help(
            "where `mapsrv places import` keeps the offline index of extracts, which serve and stdio use"
            " (default: places/ beside maps.db in the user's data directory)"
        ),
    )
    oidc_issuer: str = field(
        default="",
        metadata=_help(
            "an OpenID Connect issuer URL: MCP clients then need its access tokens for this server (MCP"
            " authorization; API keys still work); none = API keys or open"
        ),
    )
    oidc_client_id: str = field(
        default="",
        metadata=_help(
            "this server's client id at the OpenID Connect issuer: people then sign in at /login (the"
            " issuer needs <public URL>/auth/callback as a redirect URI)"
        ),
    )
    oidc_client_secret: str = field(
        default="",
        repr=False,
        metadata=_help("this server's client secret at the issuer (none: a public client)"),
    )
    oidc_leeway: float = field(
        default=30 * SECONDS,
        metadata=_help(
            "how far the issuer's clock may be from this server's when checking a token's exp, iat and"
            " nbf (0 to 600 seconds)"
        ),
    )
    max_mcp_sessions: int = field(
        default=1000, metadata=_help("most open MCP sessions (Streamable HTTP and SSE each)")
    )
    mcp_session_idle_timeout: float = field(
        default=30 * MINUTES, metadata=_help("close an MCP session idle for this long")
    )
    mcp_handshake_timeout: float = field(
        default=10 * SECONDS,
        metadata=_help("close an MCP session that has sent no request since its initialize after this long"),
    )
    max_mcp_sessions_per_client: int = field(
        default=32, metadata=_help("most open MCP sessions one client address may hold (429 past it)")
    )
    max_mcp_sessions_per_key: int = field(
        default=256, metadata=_help("most open MCP sessions one API key may hold (429 past it)")
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "proxy addresses or networks (comma-separated CIDRs) whose X-Forwarded-For names the client"
        ),
    )
    rate_maps: float = field(
        default=1.0, metadata=_help("new maps per second one client may create (0: no limit)")
    )
    burst_maps: int = field(default=20, metadata=_help("new maps one client may create at once"))
    rate_maps_global: float = field(
        default=100.0, metadata=_help("new maps per second for the whole server (0: no limit)")
    )
    burst_maps_global: int = field(default=500, metadata=_help("new maps the whole server creates at once"))
    rate_writes: float = field(
        default=20.0, metadata=_help("map writes (POST /m/<id>/ops) per second per client (0: no limit)")
    )
    burst_writes: int = field(default=200, metadata=_help("map writes one client may send at once"))
    rate_writes_person: float = field(
        default=10.0,
        metadata=_help("map writes per second per person (a browser, by its cookie; 0: no limit)"),
    )
    burst_writes_person: int = field(default=100, metadata=_help("map writes one person may send at once"))
    rate_mcp: float = field(
        default=20.0, metadata=_help("MCP messages (tool calls and all) per second per client (0: no limit)")
    )
    burst_mcp: int = field(default=200, metadata=_help("MCP messages one client may send at once"))
    rate_streams: float = field(
        default=2.0, metadata=_help("new event streams per second per client (0: no limit)")
    )
    burst_streams: int = field(default=50, metadata=_help("event streams one client may open at once"))
    max_streams_per_client: int = field(
        default=100, metadata=_help("event streams (browser, MCP) one client may hold open per process")
    )
    secure_cookies: bool = field(
        default=False, metadata=_help("mark cookies Secure even without TLS (set behind a TLS proxy)")
    )
    drain_delay: float = field(
        default=0.0, metadata=_help("on SIGTERM, answer /ready with 503 this long before closing anything")
    )
    drain_spread: float = field(
        default=0.0,
        metadata=_help(
            "on SIGTERM, end the event streams in batches over this many seconds, so their browsers"
            " reconnect to the other processes a few at a time (0: all at once)"
        ),
    )
    graceful_timeout: float = field(
        default=10 * SECONDS, metadata=_help("seconds to finish in-flight work on SIGTERM")
    )
    log_level: str = field(default="info", metadata=_help("debug, info, warning or error"))
    log_format: str = field(
        default="text", metadata=_help("text (for a terminal) or json (one event per line)")
    )
    metrics: bool = field(default=True, metadata=_help("serve Prometheus metrics at /metrics"))
    server: str = field(
        default="",
        metadata=_help(
            "stdio only: the mapsrv whose maps to work on, as http://host:port; none keeps maps in"
            " this process; empty uses the one at --host/--port when a mapsrv answers there"
        ),
    )
    server_key: str = field(
        default="", repr=False, metadata=_help("stdio only: the API key --server wants (the secret part)")
    )

    def __post_init__(self) -> None:
        check_range(self, "port", 0, 65535)
        for name in (
            "idle_timeout",
            "heartbeat_interval",
            "sse_retry",
            "graceful_timeout",
            "mcp_session_idle_timeout",
            "body_timeout",
            "mcp_handshake_timeout",
        ):
            check_range(self, name, 0.001, 365 * 24 * HOURS)
        for name in (
            "event_log_size",
            "subscriber_buffer",
            "max_features",
            "max_mcp_sessions",
            "max_maps",
            "max_mcp_sessions_per_client",
            "max_mcp_sessions_per_key",
            "burst_maps",
            "burst_maps_global",
            "burst_writes",
            "burst_writes_person",
            "burst_mcp",
            "burst_streams",
            "max_streams_per_client",
        ):
            check_range(self, name, 1, 10_000_000)
        check_range(self, "max_body_size", 1 * KIB, 1024 * MIB)
        check_range(self, "max_file_size", 1 * KIB, 1024 * MIB)
        check_range(self, "drain_delay", 0, 3600)
        check_range(self, "drain_spread", 0, 3600)
        check_range(self, "oidc_leeway", 0, 10 * MINUTES)
        rates = (
            "rate_maps",
            "rate_maps_global",
            "rate_writes",
            "rate_writes_person",
            "rate_mcp",
            "rate_streams",
        )
        for name in rates:
            check_range(self, name, 0, MAX_RATE)
        check_range(self, "retention", 0, 100 * 365 * 24 * HOURS)
        if 0 < self.retention < 1 * HOURS:
            raise ConfigError(
                f"Config 'retention' has value {self.retention:g}. Keep maps at least an hour (1h),"
                " or 0 for ever."
            )
        if self.store.startswith("sqlite:"):
            try:
                sqlite_path(self.store)
            except ValueError as exc:
                raise ConfigError(f"Config 'store' has value {self.store!r}. {exc}.") from None
        elif self.store and urlsplit(self.store).scheme != "memory":
            try:
                parse_redis_url(self.store)
            except ValueError as exc:
                raise ConfigError(
                    f"Config 'store' has value {self.store!r}. Use sqlite:///path/maps.db, memory://, "
                    "redis://host:port/db, redis+sentinel://host:port,.../service/db or "
                    f"redis+cluster://host:port,... ({exc})"
                ) from None
        if not all(part in self.tile_url for part in ("{z}", "{x}", "{y}")):
            raise ConfigError(
                f"Config 'tile_url' has value {self.tile_url!r}. It needs {{z}}, {{x}} and {{y}}."
            )
        self._check_router()
        self._check_places()
        for source in self.allowed_sources:
            if not check_allowed_source(source):
                raise ConfigError(
                    f"Config 'allowed_sources' has value {source!r}. Not a host name, address or CIDR."
                )
        check_logging(self)
        for network in self.trusted_proxies:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"Config 'trusted_proxies' has value {network!r}. Not an address or CIDR network."
                ) from None
        if self.server not in ("", "none") and (
            urlsplit(self.server).scheme not in ("http", "https") or not urlsplit(self.server).hostname
        ):
            raise ConfigError(f"Config 'server' has value {self.server!r}. Use http://host:port, or none.")
        if self.public_url and urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ConfigError(f"Config 'public_url' has value {self.public_url!r}. Not an http(s) URL.")
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

    def _check_places(self) -> None:
        if self.geocoder_timeout <= 0:
            raise ConfigError(
                f"Config 'geocoder_timeout' has value {self.geocoder_timeout:g}. Give a time, e.g. 10s."
            )
        if self.geocoder not in ("", "none"):
            try:
                check_geocoder_url(self.geocoder)
            except ValueError as exc:
                raise ConfigError(f"Config 'geocoder' has value {self.geocoder!r}. {exc}.") from None

    def _check_router(self) -> None:
        if self.router_timeout <= 0:
            raise ConfigError(
                f"Config 'router_timeout' has value {self.router_timeout:g}. Give a time, e.g. 20s."
            )
        if self.router not in ("", "none"):
            try:
                check_router_url(self.router)
            except ValueError as exc:
                raise ConfigError(f"Config 'router' has value {self.router!r}. {exc}.") from None

    @classmethod
    def from_sources(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Config:
        """Defaults, then ``MAPSRV_*`` variables from ``environ``, then ``overrides`` (CLI)."""
        # MAPSRV_GATEWAY_* belong to `mapsrv gateway`, which may share the environment
        environ = {k: v for k, v in (environ or {}).items() if not k.startswith(GATEWAY_ENV_PREFIX)}
        for key, raw in environ.items():
            name = key[len(ENV_PREFIX) :].lower()
            if key.startswith(ENV_PREFIX) and (
                raw.startswith("tcp://")
                or name.endswith(("_service_host", "_service_port"))
                or "_port_" in name
            ):
                raise ConfigError(
                    f"{key} looks like a Kubernetes service link, not a mapsrv setting; set"
                    " enableServiceLinks: false in the pod spec (deploy/k8s does)"
                )
        return cls(**settings_from_sources(cls, ENV_PREFIX, environ, overrides))

    @property
    def store_url(self) -> str:
        """The store's URL, the default (the SQLite file in the user's data directory) spelt out."""
        return self.store or "sqlite://"

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def places_path(self) -> Path:
        """Where the offline index of imported extracts lives: ``places_dir``, else ``places/``
        beside the default maps.db (in the user's data directory)."""
        if self.places_dir:
            return Path(self.places_dir).expanduser()
        return default_path().parent / "places"


def settings_from_sources(
    cls: Any, prefix: str, environ: Mapping[str, str] | None, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values of a settings dataclass: ``prefix``-named variables from ``environ``, then
    ``overrides`` (flags) over them. An unknown name is an error that lists the known ones."""
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in (environ or {}).items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :].lower()
        if name not in known:
            raise ConfigError(f"Unknown setting {key}; known: {', '.join(prefix + n.upper() for n in known)}")
        values[name] = convert(name, known[name].type, raw)
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ConfigError(f"Unknown setting {name!r}")
        if value is not None:
            values[name] = convert(name, known[name].type, value) if isinstance(value, str) else value
    return values


def check_range(settings: Any, name: str, low: float, high: float) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"Config {name!r} has value {value!r}. It must be between {low:g} and {high:g}.")


def check_logging(settings: Any) -> None:
    """``log_level`` and ``log_format``, which ``serve`` and ``gateway`` both have."""
    if settings.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            f"Config 'log_level' has value {settings.log_level!r}. Use debug, info, warning or error."
        )
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"Config 'log_format' has value {settings.log_format!r}. Use text or json.")


_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": SECONDS, "m": MINUTES, "h": HOURS, "d": 24 * HOURS, None: SECONDS}
_SIZE = re.compile(r"\s*([0-9][0-9_]*)\s*(KiB|MiB|GiB)?\s*")
_BYTES = {None: 1, "KiB": KIB, "MiB": MIB, "GiB": 1024 * MIB}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def convert(name: str, type_: Any, raw: str) -> Any:
    """A setting's text (a variable or a flag) as its field's type: whole numbers (and sizes such
    as ``32MiB``), durations (``90s``, ``15m``, ``1h``, plain seconds), booleans, comma lists."""
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    if type_name == "int" and (size := _SIZE.fullmatch(raw)):
        return int(size.group(1).replace("_", "")) * _BYTES[size.group(2)]
    if type_name == "float" and (duration := _DURATION.fullmatch(raw)):
        return float(duration.group(1)) * _UNITS[duration.group(2)]
    if type_name == "bool" and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    if type_name.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if type_name == "str":
        return raw
    kind = {"int": "a valid int or size", "float": "a valid number or duration", "bool": "true or false"}
    raise ConfigError(f"Config {name!r} has value {raw!r}. Not {kind.get(type_name, type_name)}.")


def add_setting_flags(
    parser: argparse.ArgumentParser,
    cls: Any,
    prefix: str,
    *,
    secrets: Sequence[str],
    only: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    switches: bool = False,
) -> None:
    """One ``--flag`` per setting of ``cls``, with its help text, environment name and default
    (never a secret's). With ``switches``, a boolean's flag takes no value (``--shell``)."""
    for f in fields(cls):
        if (only is not None and f.name not in only) or f.name in exclude:
            continue
        shown = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        if f.name in secrets:
            shown = "none (secrets never shown)"
        flag: dict[str, Any] = {"dest": f.name, "default": None, "metavar": f.name.upper()}
        if switches and f.type in (bool, "bool"):
            flag = {"dest": f.name, "default": None, "action": "store_const", "const": "true"}
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            help=f"{f.metadata['help']} (env {prefix}{f.name.upper()}; default {shown!s})",
            **flag,
        )


def add_arguments(
    parser: argparse.ArgumentParser, only: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> None:
    """``mapsrv serve``'s and ``mapsrv stdio``'s flags."""
    add_setting_flags(parser, Config, ENV_PREFIX, secrets=SECRETS, only=only, exclude=exclude)
