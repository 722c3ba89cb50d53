"""mapsrv's own settings, one frozen dataclass per concern, each checking its own values (``check``):
the network, the store, streams, rate limits, logs, stdio. ``Config`` (``mapsrv.config``) is them
and ``mapsrv.config.services``' groups at once, as flags and ``MAPSRV_*`` variables set them."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mapsrv.config.sources import (
    HOURS,
    KIB,
    MAX_RATE,
    MIB,
    SECONDS,
    ConfigError,
    about,
    check_logging,
    check_range,
)
from mapsrv.store.redis.url import parse_redis_url
from mapsrv.store.sqlite import sqlite_path

__all__ = [
    "LogSettings",
    "NetworkSettings",
    "RateSettings",
    "StdioSettings",
    "StoreSettings",
    "StreamSettings",
]

YEAR = 365 * 24 * HOURS


@dataclass(frozen=True)
class NetworkSettings:
    """How clients reach this server: where it listens, the names and origins it answers, the
    proxies it trusts, cookies, request bodies."""

    host: str = field(default="127.0.0.1", metadata=about("address to listen on"))
    port: int = field(default=8000, metadata=about("port to listen on (0 picks a free one)"))
    public_url: str = field(
        default="",
        metadata=about("base URL people open, for links given to agents (default: the bind address)"),
    )
    allowed_hosts: tuple[str, ...] = field(
        default=("localhost", "127.0.0.1", "[::1]"),
        metadata=about("Host header names accepted, any port (comma-separated; * accepts any)"),
    )
    allowed_origins: tuple[str, ...] = field(
        default=(),
        metadata=about(
            "extra Origins allowed to write and to call MCP (the origin a request addressed always is)"
        ),
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata=about(
            "proxy addresses or networks (comma-separated CIDRs) whose X-Forwarded-For names the client"
        ),
    )
    secure_cookies: bool = field(
        default=False, metadata=about("mark cookies Secure even without TLS (set behind a TLS proxy)")
    )
    max_body_size: int = field(
        default=4 * MIB,
        metadata=about("largest request body in bytes (a 10,000-point GeoJSON with names is about 1.2 MB)"),
    )
    body_timeout: float = field(
        default=10 * SECONDS,
        metadata=about(
            "longest a client may take to send a request body, plus 1 s per 64 KiB received"
            " (slower ones are cut off)"
        ),
    )
    header_timeout: float = field(
        default=10 * SECONDS,
        metadata=about(
            "longest a client may take to send a request head once begun (the connection is then closed)"
        ),
    )
    keep_alive_timeout: float = field(
        default=75 * SECONDS,
        metadata=about("close a client's connection after this long with no request (above proxies' 60 s)"),
    )

    def check(self) -> None:
        check_range(self, "port", 0, 65535)
        check_range(self, "body_timeout", 0.001, YEAR)
        check_range(self, "header_timeout", 0.001, YEAR)
        check_range(self, "keep_alive_timeout", 0.001, YEAR)
        check_range(self, "max_body_size", 1 * KIB, 1024 * MIB)
        for network in self.trusted_proxies:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"Config 'trusted_proxies' has value {network!r}. Not an address or CIDR network."
                ) from None
        if self.public_url and urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ConfigError(f"Config 'public_url' has value {self.public_url!r}. Not an http(s) URL.")


@dataclass(frozen=True)
class StoreSettings:
    """Where maps are kept and how long: the store, retention, maps in memory."""

    store: str = field(
        default="",
        metadata=about(
            "where maps live: sqlite:///path/maps.db (on disk; the default is maps.db in the user's data "
            "directory), memory:// (this process only, gone when it stops), redis://host:port/db (shared), "
            "redis+sentinel://host:port,.../service/db or redis+cluster://host:port,... (docs/redis.md)"
        ),
    )
    retention: float = field(
        default=0.0,
        metadata=about(
            "forget maps nobody opened or changed for this long (90d, 12h); 0 keeps them until deleted"
        ),
    )
    idle_timeout: float = field(
        default=1 * HOURS,
        metadata=about(
            "unload from memory a map nobody used or watched for this long (90s, 15m, 1h); a stored map comes"
            " back on its next use, a memory:// one is forgotten"
        ),
    )
    event_log_size: int = field(default=1024, metadata=about("events kept per map for Last-Event-ID resume"))
    max_maps: int = field(default=100_000, metadata=about("most maps held at once (new ones get 503)"))
    max_features: int = field(default=100_000, metadata=about("most features on one map"))
    # 256 MiB: a 100 MB GeoPackage (issue 61) with room to spare. The file is spooled to disk as it
    # comes and a GeoPackage, FlatGeobuf or GeoParquet read from there in batches, so memory grows
    # with the features (max_features), not the file; a format read whole stops at 64 MiB
    # (formats.MAX_WHOLE); an import by URL streams to disk the same way, to this limit
    max_file_size: int = field(
        default=256 * MIB,
        metadata=about(
            "largest file imported through the page, spooled to disk as it comes (a 100 MB GeoPackage"
            " fits; GeoJSON, GPX, KML and CSV, read whole, stop at 64 MiB whatever this says)"
        ),
    )

    # Every file is read by a process of its own under these (issue 72): GDAL, SQLite and Arrow
    # are C code a forged file can make count or inflate for ever (docs/security.md)
    import_memory: int = field(
        default=1024 * MIB,
        metadata=about(
            "memory the process reading one imported file may take beyond its libraries; past it the"
            " file is refused (every file is read by a sandboxed process of its own)"
        ),
    )
    import_cpu: float = field(
        default=60 * SECONDS, metadata=about("CPU seconds the process reading one imported file may use")
    )
    files_dir: tuple[str, ...] = field(
        default=(),
        metadata=about(
            "folders whose files the import tool may read by path, separated by commas;"
            " none by default (mapsrv stdio: the folder it starts in)"
        ),
    )
    import_timeout: float = field(
        default=120 * SECONDS,
        metadata=about("seconds one imported file may take to read in all, before its process is killed"),
    )

    def check(self) -> None:
        check_range(self, "idle_timeout", 0.001, YEAR)
        check_range(self, "import_memory", 64 * MIB, 64 * 1024 * MIB)
        check_range(self, "import_cpu", 1, 3600)
        check_range(self, "import_timeout", 1, 3600)
        for folder in self.files_dir:
            if not os.path.isdir(os.path.expanduser(folder)):
                raise ConfigError(f"Config 'files_dir' has value {folder!r}. Not a folder.")
        for name in ("event_log_size", "max_features", "max_maps"):
            check_range(self, name, 1, 10_000_000)
        check_range(self, "max_file_size", 1 * KIB, 1024 * MIB)
        check_range(self, "retention", 0, 100 * YEAR)
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


@dataclass(frozen=True)
class StreamSettings:
    """Event streams: heartbeats, reconnect hints, slow viewers, a drain on SIGTERM."""

    heartbeat_interval: float = field(
        default=15 * SECONDS, metadata=about("seconds between SSE heartbeat comments")
    )
    sse_retry: float = field(default=2 * SECONDS, metadata=about("reconnect delay suggested to browsers"))
    subscriber_buffer: int = field(
        default=256,
        metadata=about("events queued per viewer before a slow one is dropped (a write's are taken whole)"),
    )
    max_streams_per_client: int = field(
        default=100, metadata=about("event streams (browser, MCP) one client may hold open per process")
    )
    drain_delay: float = field(
        default=0.0,
        metadata=about("on SIGTERM, answer /ready with 503 this long before closing anything"),
    )
    drain_spread: float = field(
        default=0.0,
        metadata=about(
            "on SIGTERM, end the event streams in batches over this many seconds, so their browsers"
            " reconnect to the other processes a few at a time (0: all at once)"
        ),
    )
    graceful_timeout: float = field(
        default=10 * SECONDS, metadata=about("seconds to finish in-flight work on SIGTERM")
    )

    def check(self) -> None:
        for name in ("heartbeat_interval", "sse_retry", "graceful_timeout"):
            check_range(self, name, 0.001, YEAR)
        for name in ("subscriber_buffer", "max_streams_per_client"):
            check_range(self, name, 1, 10_000_000)
        check_range(self, "drain_delay", 0, 3600)
        check_range(self, "drain_spread", 0, 3600)


@dataclass(frozen=True)
class RateSettings:
    """Rate limits per client, per person and for the whole server (GCRA)."""

    rate_maps: float = field(
        default=1.0, metadata=about("new maps per second one client may create (0: no limit)")
    )
    burst_maps: int = field(default=20, metadata=about("new maps one client may create at once"))
    rate_maps_global: float = field(
        default=100.0, metadata=about("new maps per second for the whole server (0: no limit)")
    )
    burst_maps_global: int = field(default=500, metadata=about("new maps the whole server creates at once"))
    rate_writes: float = field(
        default=20.0, metadata=about("map writes (POST /m/<id>/ops) per second per client (0: no limit)")
    )
    burst_writes: int = field(default=200, metadata=about("map writes one client may send at once"))
    rate_writes_person: float = field(
        default=10.0,
        metadata=about("map writes per second per person (a browser, by its cookie; 0: no limit)"),
    )
    burst_writes_person: int = field(default=100, metadata=about("map writes one person may send at once"))
    rate_mcp: float = field(
        default=20.0,
        metadata=about("MCP messages (tool calls and all) per second per client (0: no limit)"),
    )
    burst_mcp: int = field(default=200, metadata=about("MCP messages one client may send at once"))
    rate_streams: float = field(
        default=2.0, metadata=about("new event streams per second per client (0: no limit)")
    )
    burst_streams: int = field(default=50, metadata=about("event streams one client may open at once"))

    def check(self) -> None:
        for name in (
            "rate_maps",
            "rate_maps_global",
            "rate_writes",
            "rate_writes_person",
            "rate_mcp",
            "rate_streams",
        ):
            check_range(self, name, 0, MAX_RATE)
        for name in (
            "burst_maps",
            "burst_maps_global",
            "burst_writes",
            "burst_writes_person",
            "burst_mcp",
            "burst_streams",
        ):
            check_range(self, name, 1, 10_000_000)


@dataclass(frozen=True)
class LogSettings:
    """Logs and metrics."""

    log_level: str = field(default="info", metadata=about("debug, info, warning or error"))
    log_format: str = field(
        default="text", metadata=about("text (for a terminal) or json (one event per line)")
    )
    metrics: bool = field(default=True, metadata=about("serve Prometheus metrics at /metrics"))

    def check(self) -> None:
        check_logging(self)


@dataclass(frozen=True)
class StdioSettings:
    """What `mapsrv stdio` alone reads: the mapsrv to work through and its key."""

    server: str = field(
        default="",
        metadata=about(
            "stdio only: the mapsrv whose maps to work on, as http://host:port; none keeps maps in"
            " this process; empty uses the one at --host/--port when a mapsrv answers there"
        ),
    )
    server_key: str = field(
        default="", repr=False, metadata=about("stdio only: the API key --server wants (the secret part)")
    )

    def check(self) -> None:
        if self.server not in ("", "none") and (
            urlsplit(self.server).scheme not in ("http", "https") or not urlsplit(self.server).hostname
        ):
            raise ConfigError(f"Config 'server' has value {self.server!r}. Use http://host:port, or none.")
