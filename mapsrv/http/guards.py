"""Which Host and Origin are ours: the DNS-rebinding and cross-site defences every route that
needs them applies once (``http.routes`` says which)."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["Origins", "host_allowed", "origin_allowed", "origin_of", "parse_host"]


class Origins(Protocol):
    """What the checks read: ``mapsrv serve``'s Config and the gateway's both have it."""

    @property
    def allowed_hosts(self) -> Collection[str]: ...

    @property
    def allowed_origins(self) -> Collection[str]: ...


# A Host header (RFC 9110 7.2) as we accept it: a DNS name, an IPv4 address or a bracketed IPv6
# address, then an optional numeric port; nothing else. Userinfo, paths and spaces are refused
# rather than guessed at: "127.0.0.1:80@evil.example" is not a host we serve, and the page
# reflects the Host into the links it shows.
_HOST = re.compile(
    r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_\-.]{0,251}[A-Za-z0-9_])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


@functools.lru_cache(maxsize=256)  # a server sees few distinct Host values; each request has one
def parse_host(value: str | None) -> tuple[str, int | None] | None:
    """``(name, port)`` from a Host header (the name lowercased), or None when it is not one."""
    found = _HOST.fullmatch(value or "")
    if found is None:
        return None
    port = found.group("port")
    if port is not None and int(port) > 65535:
        return None
    return found.group("name").lower(), int(port) if port is not None else None


def host_allowed(config: Origins, host: str | None) -> bool:
    """DNS-rebinding defence: only names we serve, on any port."""
    parsed = parse_host(host)
    if parsed is None:
        return False
    return "*" in config.allowed_hosts or parsed[0] in {h.lower() for h in config.allowed_hosts}


def origin_allowed(config: Origins, origin: str | None, host: str | None, *, any_port: bool = False) -> bool:
    """A browser's request must come from our own origin (the Host it addressed) or one
    configured. Requests without an Origin are not from a browser page (curl, agents).

    With ``any_port`` (the MCP endpoints, which no cookie authorises), a page on any port of an
    allowed host is accepted too, as the SDK's own check does: a local tool such as the MCP
    Inspector runs on a port of its own. Cookie-bearing writes never take it: SameSite treats
    every port of a host as the same site, so only the exact origin may write."""
    if origin is None:
        return True
    if origin in config.allowed_origins or "*" in config.allowed_origins:
        return True
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return False
    parsed = parse_host(rest)
    if parsed is None:
        return False
    if any_port and host_allowed(config, rest):
        return True
    return parsed == parse_host(host)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for a Content-Security-Policy source (a tile
    template's ``{s}`` becomes the CSP wildcard ``*``); empty for a URL with no host."""
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
