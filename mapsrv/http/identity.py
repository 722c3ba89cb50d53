"""Who is asking: the browser's user cookie, API keys, and the client's address behind trusted
proxies (for quotas and rate limits). ``mapsrv serve`` and ``mapsrv gateway`` both use it."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote, unquote

from mapsrv.core.changes import clean_name
from mapsrv.core.ids import looks_like_token
from mapsrv.errors import InvalidInput
from mapsrv.http.tokens import PERSON_PREFIX

__all__ = [
    "EMAIL_COOKIE",
    "NAME_COOKIE",
    "USER_COOKIE",
    "ApiKeys",
    "ClientIdentity",
    "clean_email",
    "cleared_cookie_header",
    "email_cookie_header",
    "email_from_cookies",
    "name_cookie_header",
    "name_from_cookies",
    "user_cookie_header",
    "user_from_cookies",
]

USER_COOKIE = "mapsrv_user"
NAME_COOKIE = "mapsrv_name"  # the display name a person chose (mapsrv.core.changes.clean_name)
EMAIL_COOKIE = "mapsrv_email"  # a signed-in person's email, from their provider (the header says it)
MAX_EMAIL = 254  # RFC 5321's longest path
_PRINCIPAL = "mapsrv.principal"  # the ASGI scope key where ApiKeys.principal_of keeps its answer


def user_from_cookies(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(USER_COOKIE)
    except CookieError:
        return None
    if morsel is None or not looks_like_token(morsel.value):
        return None
    return morsel.value


def user_cookie_header(user: str, *, secure: bool) -> str:
    """HttpOnly (scripts never see it), SameSite=Lax (no cross-site writes), one year."""
    flags = "; Secure" if secure else ""
    return f"{USER_COOKIE}={user}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{flags}"


def _cookie(cookie_header: str | None, name: str) -> str | None:
    if not cookie_header or name not in cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(name)
    except CookieError:
        return None
    return None if morsel is None else unquote(morsel.value)


def name_from_cookies(cookie_header: str | None) -> str | None:
    """The display name this browser chose, as it was cleaned when set (cleaned again: a cookie
    is the client's to change)."""
    value = _cookie(cookie_header, NAME_COOKIE)
    if value is None:
        return None
    try:
        return clean_name(value)
    except InvalidInput:
        return None


def clean_email(text: object) -> str | None:
    """An address as a provider gave it, if it looks like one: printable, no spaces, one ``@``."""
    if not isinstance(text, str) or not 3 <= len(text) <= MAX_EMAIL or text.count("@") != 1:
        return None
    return text if text.isprintable() and not any(c.isspace() for c in text) else None


def email_from_cookies(cookie_header: str | None) -> str | None:
    return clean_email(_cookie(cookie_header, EMAIL_COOKIE))


def email_cookie_header(email: str, *, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{EMAIL_COOKIE}={quote(email, safe='@')}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{flags}"


def cleared_cookie_header(name: str, *, secure: bool, path: str = "/") -> str:
    """The header that makes a browser forget cookie ``name`` (set at ``path``)."""
    flags = "; Secure" if secure else ""
    return f"{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax{flags}"


def name_cookie_header(name: str, *, secure: bool) -> str:
    """The name, percent-encoded (any script, no cookie syntax), for as long as the user cookie."""
    flags = "; Secure" if secure else ""
    return f"{NAME_COOKIE}={quote(name, safe='')}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{flags}"


class ApiKeys:
    """``name:secret`` pairs from the configuration. A map made with a key is that key's alone.
    ``name@subject:secret`` is a key that belongs to a person (their OpenID ``sub``): it acts
    for them as their access token would, its maps in their lists (principal ``oidc:<sub>``)."""

    def __init__(self, entries: Sequence[str]) -> None:
        self._keys: list[tuple[str, bytes]] = []
        for index, entry in enumerate(entries):
            name, sep, secret = entry.partition(":")
            if not sep:
                name, secret = f"key{index + 1}", entry
            name, at, subject = name.partition("@")
            self._keys.append((PERSON_PREFIX + subject if at and subject else name, secret.encode()))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, headers: Mapping[str, str] | None) -> str | None:
        """Whom ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` acts for (the key's name,
        or its person's ``oidc:<sub>``), else None."""
        if not headers or not self._keys:
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        return self._holder(lowered.get("x-api-key", ""), lowered.get("authorization", ""))

    def principal_of(self, scope: MutableMapping[str, Any]) -> str | None:
        """``principal`` of an ASGI request, read from its raw headers (whose names ASGI gives in
        lower case) once and remembered in its scope: the throttle, the MCP endpoint and every
        tool call of the request ask it, and the headers do not change."""
        if _PRINCIPAL in scope:
            remembered: str | None = scope[_PRINCIPAL]
            return remembered
        found = None
        if self._keys:
            offered = auth = b""
            for name, value in scope["headers"]:
                if name == b"x-api-key":
                    offered = value
                elif name == b"authorization":
                    auth = value
            found = self._holder(offered.decode("latin-1"), auth.decode("latin-1"))
        scope[_PRINCIPAL] = found
        return found

    def _holder(self, offered: str, auth: str) -> str | None:
        """The principal of the key offered (``X-API-Key``), or of ``Authorization``'s bearer."""
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
