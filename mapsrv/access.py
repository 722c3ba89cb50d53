"""Who may touch what: the browser's user cookie, map capabilities, Host and Origin checks.

A map is reached in one of two ways: by its id, which is an edit capability and whose browser page
also needs the owner's cookie; or by its view key, which can only ever read. Unknown, expired and
foreign maps all get the same ``NotFound``, so a probe learns nothing.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from mapsrv.config import Config
from mapsrv.errors import NotFound
from mapsrv.hub import MapEntry, MapHub

__all__ = [
    "USER_COOKIE",
    "ApiKeys",
    "host_allowed",
    "origin_allowed",
    "resolve",
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


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(config: Config, host: str | None) -> bool:
    """DNS-rebinding defence: only names we serve, on any port."""
    if not host:
        return False
    if "*" in config.allowed_hosts:
        return True
    return _host_name(host) in {h.lower() for h in config.allowed_hosts}


def origin_allowed(config: Config, origin: str | None, host: str | None) -> bool:
    """A write from a page must come from our own origin (or one configured)."""
    if origin is None:
        return True  # not a browser (curl, agents); cookies still bind browser writes to owners
    if origin in config.allowed_origins or "*" in config.allowed_origins:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc.lower() == (host or "").lower() and parts.scheme in ("http", "https")


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
