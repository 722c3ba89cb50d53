"""Layers from elsewhere: a layer's ``source``, as its JSON (the layer JSON in docs/protocol.md).

``xyz`` and ``wms`` are raster tiles the page loads itself, straight from the source, and
``map_image`` draws; ``pmtiles`` is an archive of raster or vector tiles the page reads itself with
range requests, stored with what the server found in its header (``tiles``, ``format``, the zooms
and bounds), and ``map_image`` draws its raster tiles; ``geojson`` and ``csv`` name the URL the
server fetched a layer's features from, once. Only the shape is checked here (sans-IO): which
hosts may be used is the operator's choice (``--allowed-sources``), checked at the edge
(``mapsrv.http.fetch``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from mapsrv.errors import InvalidInput

__all__ = [
    "ARCHIVE_FORMATS",
    "RASTER",
    "SOURCE_TYPES",
    "check_allowed_source",
    "check_layer_source",
    "check_source_url",
    "tile_url",
]

RASTER = ("xyz", "wms")
SOURCE_TYPES = (*RASTER, "pmtiles", "geojson", "csv")
ARCHIVE_FORMATS = {"mvt": "vector", "png": "raster", "jpeg": "raster", "webp": "raster"}
MAX_ZOOM = 30
MAX_URL = 2000
MAX_TEXT = 200
WMS_FORMATS = ("image/png", "image/jpeg")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_KEYS = {
    "xyz": {"type", "url", "attribution", "opacity"},
    "wms": {"type", "url", "attribution", "opacity", "layers", "styles", "format", "transparent"},
    "pmtiles": {"type", "url", "attribution", "opacity", "tiles", "format", "minzoom", "maxzoom", "bounds"},
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
    if kind not in (*RASTER, "pmtiles"):
        return out
    if kind == "xyz" and not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise InvalidInput(f"url of an xyz source needs {{z}}, {{x}} and {{y}}, got {url!r:.80}; add them")
    out["attribution"] = _text(source, "attribution")
    opacity = source.get("opacity", 1.0)
    if isinstance(opacity, bool) or not isinstance(opacity, (int, float)) or not 0 <= opacity <= 1:
        raise InvalidInput(f"opacity must be between 0 and 1, got {opacity!r:.20}; 1 is opaque")
    out["opacity"] = float(opacity)
    if kind == "pmtiles":
        out |= _archive(source)
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


def _archive(source: Mapping[str, Any]) -> dict[str, Any]:
    """A PMTiles source's facts from its header, as add_layer found them."""
    form = source.get("format")
    if form not in ARCHIVE_FORMATS or source.get("tiles") != ARCHIVE_FORMATS[form]:
        raise InvalidInput(
            f"format and tiles must be one of {', '.join(f'{f}/{t}' for f, t in ARCHIVE_FORMATS.items())},"
            f" got {form!r:.20}/{source.get('tiles')!r:.20}; add_layer reads them from the archive"
        )
    low, high = source.get("minzoom"), source.get("maxzoom")
    if type(low) is not int or type(high) is not int or not 0 <= low <= high <= MAX_ZOOM:
        raise InvalidInput(
            f"minzoom and maxzoom must be whole numbers 0 <= minzoom <= maxzoom <= {MAX_ZOOM},"
            f" got {low!r:.20} and {high!r:.20}; add_layer reads them from the archive"
        )
    bounds = source.get("bounds")
    if (
        not isinstance(bounds, (list, tuple))
        or len(bounds) != 4
        or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
        or not (-180 <= bounds[0] <= 180 and -180 <= bounds[2] <= 180)
        or not -90 <= bounds[1] <= bounds[3] <= 90
    ):
        raise InvalidInput(
            f"bounds must be [west, south, east, north] in degrees, got {bounds!r:.60};"
            " add_layer reads them from the archive"
        )
    out = {"tiles": source["tiles"], "format": form, "minzoom": low, "maxzoom": high}
    return out | {"bounds": [float(b) for b in bounds]}


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
