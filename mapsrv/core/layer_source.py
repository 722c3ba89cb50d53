"""Layers from elsewhere: a layer's ``source``, as its JSON (the layer JSON in docs/protocol.md).

``xyz`` and ``wms`` are raster tiles the page loads itself, straight from the source, and
``map_image`` draws; ``geojson`` and ``csv`` name the URL the server fetched a layer's features
from, once. Only the shape is checked here (sans-IO): which hosts may be used is the operator's
choice (``--allowed-sources``), checked at the edge (``mapsrv.http.fetch``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from mapsrv.errors import InvalidInput

__all__ = [
    "RASTER",
    "SOURCE_TYPES",
    "check_allowed_source",
    "check_layer_source",
    "check_source_url",
    "tile_url",
]

RASTER = ("xyz", "wms")
SOURCE_TYPES = (*RASTER, "geojson", "csv")
MAX_URL = 2000
MAX_TEXT = 200
WMS_FORMATS = ("image/png", "image/jpeg")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_KEYS = {
    "xyz": {"type", "url", "attribution", "opacity"},
    "wms": {"type", "url", "attribution", "opacity", "layers", "styles", "format", "transparent"},
    "geojson": {"type", "url"},
    "csv": {"type", "url"},
}


def check_allowed_source(entry: str) -> bool:
    """Whether an ``--allowed-sources`` entry is a host name, an address or a CIDR network."""
    try:
        ipaddress.ip_network(entry.strip("[]"), strict=False)
        return True
    except ValueError:
        return bool(_HOST.match(entry.lower()))


def check_source_url(url: Any) -> str:
    """An http(s) URL with a host and no credentials in it."""
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"url must be an http(s) URL, got {url!r:.60}; give the source's address")
    if len(url) > MAX_URL:
        raise InvalidInput(f"url must be at most {MAX_URL} characters, got {len(url)}; give a shorter URL")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InvalidInput(f"url must be an http(s) URL, got {url!r:.60}; check its host part") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            f"url must be http or https, got {parts.scheme or 'none'!r} in {url!r:.60}; give an http(s) URL"
        )
    if not host:
        raise InvalidInput(f"url must name a host, got {url!r:.60}; give a full http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"url must not carry a user name or password, got {parts.username!r}; give a public URL"
        )
    return url


def _text(source: Mapping[str, Any], key: str, default: str = "") -> str:
    value = source.get(key, default)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidInput(
            f"{key} must be text of at most {MAX_TEXT} characters, got {value!r:.60}; shorten it"
        )
    return value


def check_layer_source(source: Mapping[str, Any]) -> dict[str, Any]:
    """The source as stored: its type's keys, checked, with defaults spelt out."""
    if not isinstance(source, Mapping):
        raise InvalidInput(f"source must be an object, got {type(source).__name__}; give type and url")
    kind = source.get("type")
    if kind not in _KEYS:
        raise InvalidInput(
            f"source type must be one of {', '.join(SOURCE_TYPES)}, got {kind!r:.40}; pick one of them"
        )
    unknown = sorted(set(source) - _KEYS[kind])
    if unknown:
        raise InvalidInput(
            f"source of type {kind} takes no {', '.join(unknown)}: {unknown[0]!r} is not a {kind} key;"
            f" give only {', '.join(sorted(_KEYS[kind]))}"
        )
    url = check_source_url(source.get("url"))
    out: dict[str, Any] = {"type": kind, "url": url}
    if kind not in RASTER:
        return out
    if kind == "xyz" and not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise InvalidInput(f"url of an xyz source needs {{z}}, {{x}} and {{y}}, got {url!r:.80}; add them")
    out["attribution"] = _text(source, "attribution")
    opacity = source.get("opacity", 1.0)
    if isinstance(opacity, bool) or not isinstance(opacity, int | float) or not 0 <= opacity <= 1:
        raise InvalidInput(f"opacity must be between 0 and 1, got {opacity!r:.20}; 1 is opaque")
    out["opacity"] = float(opacity)
    if kind == "wms":
        out["layers"] = _text(source, "layers")
        if not out["layers"]:
            raise InvalidInput(
                "layers of a wms source must be given, got ''; name its WMS layers, comma-separated"
            )
        out["styles"] = _text(source, "styles")
        out["format"] = _text(source, "format", "image/png")
        if out["format"] not in WMS_FORMATS:
            raise InvalidInput(
                f"format must be one of {', '.join(WMS_FORMATS)}, got {out['format']!r:.40};"
                " leave it out for png"
            )
        transparent = source.get("transparent", True)
        if not isinstance(transparent, bool):
            raise InvalidInput(f"transparent must be true or false, got {transparent!r:.20}; give a boolean")
        out["transparent"] = transparent
    return out


def tile_url(source: Mapping[str, Any], z: int, x: int, y: int) -> str:
    """The URL of one 256-pixel tile of a raster source (a WMS GetMap in EPSG:3857)."""
    if source["type"] == "xyz":
        url = str(source["url"]).replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        return url.replace("{s}", "abc"[(x + y) % 3]).replace("{r}", "")
    half = 20037508.342789244
    size = 2 * half / 2**z
    west, north = -half + x * size, half - y * size
    bbox = f"{west:.6f},{north - size:.6f},{west + size:.6f},{north:.6f}"
    params = {
        "SERVICE": "WMS",
        "REQUEST": "GetMap",
        "VERSION": "1.1.1",
        "LAYERS": source["layers"],
        "STYLES": source.get("styles", ""),
        "FORMAT": source.get("format", "image/png"),
        "TRANSPARENT": "TRUE" if source.get("transparent", True) else "FALSE",
        "SRS": "EPSG:3857",
        "BBOX": bbox,
        "WIDTH": "256",
        "HEIGHT": "256",
    }
    base = str(source["url"])
    return base + ("&" if "?" in base else "?") + urlencode(params)
