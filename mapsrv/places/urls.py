"""The ``--geocoder`` URL: which service, and where."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["GEOCODER_SCHEMES", "check_geocoder_url"]

GEOCODER_SCHEMES = ("nominatim+http", "nominatim+https")


def check_geocoder_url(url: str) -> str:
    """``url`` as the service's own base URL (``https://host:port/path``); ValueError says what is
    wrong."""
    parts = urlsplit(url)
    if parts.scheme not in GEOCODER_SCHEMES:
        raise ValueError(f"Use {' or '.join(s + '://HOST[:PORT]' for s in GEOCODER_SCHEMES)}")
    if not parts.hostname:
        raise ValueError("It names no host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("Give only the scheme, host, port and path")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError("Its port is not a number from 1 to 65535") from None
    return url.removeprefix("nominatim+").rstrip("/")
