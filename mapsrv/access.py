"""Who may touch what: the browser's user cookie, map capabilities, Host and Origin checks.

A map is reached in one of two ways: by its id, which is an edit capability and whose browser page
also needs the owner's cookie; or by its view key, which can only ever read. Unknown, expired and
foreign maps all get the same ``NotFound``, so a probe learns nothing.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from http.cookies import CookieError, SimpleCookie

from mapsrv.config import Config
from mapsrv.errors import NotFound
from mapsrv.hub import MapEntry, MapHub

__all__ = [
    "USER_COOKIE",
    "ApiKeys",
    "ClientIdentity",
    "host_allowed",
    "origin_allowed",
    "parse_host",
    "resolve",
    "unclaimed",
    "user_cookie_header",
    "user_from_cookies",
]

USER_COOKIE = "mapsrv_user"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,64}")


def user_from_cookies(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(USER_COOKIE)
    except CookieError:
        return None
    if morsel is None or not _TOKEN.fullmatch(morsel.value):
        return None
    return morsel.value


def user_cookie_header(user: str, *, secure: bool) -> str:
    """HttpOnly (scripts never see it), SameSite=Lax (no cross-site writes), one year."""
    flags = "; Secure" if secure else ""
    return f"{USER_COOKIE}={user}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{flags}"


async def resolve(hub: MapHub, kind: str, key: str, user: str | None, *, claim: bool = False) -> MapEntry:
    """The map behind ``/m/<id>`` (kind "m", owner only) or ``/v/<view key>`` (kind "v").
    With ``claim`` (the owner's page), an agent-made map nobody owns yet becomes ``user``'s."""
    if not _TOKEN.fullmatch(key):
        raise NotFound("map not found")
    if kind == "v":
        return await hub.get_by_view_key(key)
    entry = await hub.get(key)
    if claim and user is not None:
        await hub.claim(entry, user)
    if entry.owner is None or entry.owner != user:
        raise NotFound("map not found")
    return entry


async def unclaimed(hub: MapHub, key: str) -> MapEntry:
    """The agent-made map behind ``/m/<id>`` that no browser has claimed yet; ``NotFound`` for
    every other map (owned by someone, unknown or expired: the same answer)."""
    if not _TOKEN.fullmatch(key):
        raise NotFound("map not found")
    entry = await hub.get(key)
    if entry.owner is not None:
        raise NotFound("map not found")
    return entry


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


def host_allowed(config: Config, host: str | None) -> bool:
    """DNS-rebinding defence: only names we serve, on any port."""
    parsed = parse_host(host)
    if parsed is None:
        return False
    return "*" in config.allowed_hosts or parsed[0] in {h.lower() for h in config.allowed_hosts}


def origin_allowed(config: Config, origin: str | None, host: str | None, *, any_port: bool = False) -> bool:
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


class ApiKeys:
    """``name:secret`` pairs from the configuration. A map made with a key is that key's alone."""

    def __init__(self, entries: Sequence[str]) -> None:
        self._keys: list[tuple[str, bytes]] = []
        for index, entry in enumerate(entries):
            name, sep, secret = entry.partition(":")
            if not sep:
                name, secret = f"key{index + 1}", entry
            self._keys.append((name, secret.encode()))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, headers: Mapping[str, str] | None) -> str | None:
        """The key's name for ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, else None."""
        if not headers or not self._keys:
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        offered = lowered.get("x-api-key", "")
        auth = lowered.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            offered = auth[7:].strip()
        if not offered:
            return None
        found = None
        for name, secret in self._keys:  # compare with every key: no timing hint of which matched
            if hmac.compare_digest(secret, offered.encode()):
                found = name
        return found


class ClientIdentity:
    """Which client sent a request, for quotas and rate limits: the peer address, or, when the
    peer is one of ``trusted_proxies``, the address X-Forwarded-For names: the rightmost one that
    is not itself a trusted proxy (the entries left of it are whatever the client wrote)."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 (one instance per server; few proxies)
    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, peer: str, forwarded_for: str | None) -> str:
        if not self._trusted or not forwarded_for or not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer
