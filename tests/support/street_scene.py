"""A small street basemap for the page's tests (issue 79): one made-up neighbourhood in Helsinki's
Kamppi as Mapbox Vector Tiles in Protomaps' basemap schema (v4), encoded by ``mapbox-vector-tile``
as mapsrv's tile builder encodes them, at zooms 14 to 16 over ``BOUNDS``.

The scene, in Web Mercator metres from ``CENTRE`` (the middle of z16 tile ``CENTRE_TILE``): land
all over; a park north-west; a lake with an island (a hole) south-east; a block of buildings with
house numbers south-west; ``MAJOR`` running west-east a little north of the centre, ``MINOR``
north-south across it west of the centre, a footpath, a railway, a stream; the locality ``PLACE``."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import mapbox_vector_tile
from shapely.geometry import LineString, Point, Polygon, box

__all__ = [
    "BOUNDS",
    "CENTRE",
    "CENTRE_TILE",
    "MAJOR",
    "MAJOR_AT",
    "MAXZOOM",
    "MINOR",
    "MINZOOM",
    "NAME",
    "PLACE",
    "describe",
    "lon_lat",
    "tile_bytes",
]

NAME = "kamppi"
MINZOOM, MAXZOOM = 14, 16
HALF_WORLD = 20037508.342789244
EXTENT = 4096
MAJOR, MINOR, PLACE = "Mannerheimintie", "Fredrikinkatu", "Kamppi"
REACH = 900.0  # metres from the centre the scene and its bounds run


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int(x), int(y)


def _metres(x: float, y: float, z: int) -> tuple[float, float, float, float]:
    """The tile's bounds in Web Mercator metres: west, south, east, north."""
    size = 2 * HALF_WORLD / 2**z
    west, north = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return west, north - size, west + size, north


def lon_lat(mx: float, my: float) -> tuple[float, float]:
    lon = mx / HALF_WORLD * 180
    lat = math.degrees(math.atan(math.sinh(my / HALF_WORLD * math.pi)))
    return lon, lat


CENTRE_TILE = (16, *_tile_of(24.9316, 60.1690, 16))
_w, _s, _e, _n = _metres(CENTRE_TILE[1], CENTRE_TILE[2], 16)
_CX, _CY = (_w + _e) / 2, (_s + _n) / 2
CENTRE = lon_lat(_CX, _CY)[::-1]  # [lat, lon]
MAJOR_AT = lon_lat(_CX + 150, _CY + 40 + 150 * 0.05)[::-1]  # [lat, lon] on MAJOR, east of the centre
_sw, _ne = lon_lat(_CX - REACH, _CY - REACH), lon_lat(_CX + REACH, _CY + REACH)
BOUNDS = [_sw[0], _sw[1], _ne[0], _ne[1]]


def _at(dx: float, dy: float) -> tuple[float, float]:
    return _CX + dx, _CY + dy


def _buildings() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    for x0 in (-300, -250, -110, -60):  # either side of MINOR
        for j in range(3):
            x, y = x0, -270 + j * 60
            out.append(
                {"geometry": box(*_at(x, y), *_at(x + 36, y + 40)), "properties": {"kind": "building"}}
            )
            address = {"kind": "address", "addr_housenumber": str(number)}
            out.append({"geometry": Point(_at(x + 18, y + 20)), "properties": address})
            number += 1
    return out


def _layers() -> dict[str, list[dict[str, Any]]]:
    far = REACH + 200
    lake = Polygon(
        [_at(60, -280), _at(280, -280), _at(280, -60), _at(60, -60)],
        [[_at(140, -200), _at(200, -200), _at(200, -140), _at(140, -140)]],
    )
    return {
        "earth": [{"geometry": box(*_at(-far, -far), *_at(far, far)), "properties": {"kind": "earth"}}],
        "landuse": [
            {"geometry": box(*_at(-280, 80), *_at(-40, 280)), "properties": {"kind": "park"}},
            {"geometry": box(*_at(40, 100), *_at(280, 280)), "properties": {"kind": "no_such_kind"}},
        ],
        "water": [
            {"geometry": lake, "properties": {"kind": "lake"}},
            {
                "geometry": LineString([_at(-far, -20), _at(-60, -40), _at(60, -300)]),
                "properties": {"kind": "stream"},
            },
        ],
        "buildings": _buildings(),
        "roads": [
            {
                "geometry": LineString([_at(-far, 40 - far * 0.05), _at(far, 40 + far * 0.05)]),
                "properties": {"kind": "major_road", "kind_detail": "primary", "name": MAJOR},
            },
            {
                "geometry": LineString([_at(-160, -far), _at(-140, far)]),
                "properties": {"kind": "minor_road", "kind_detail": "residential", "name": MINOR},
            },
            {
                "geometry": LineString([_at(-280, -20), _at(-40, 70)]),
                "properties": {"kind": "path", "kind_detail": "footway"},
            },
        ],
        "transit": [
            {
                "geometry": LineString([_at(-far, 290), _at(far, 300)]),
                "properties": {"kind": "rail", "kind_detail": "rail"},
            }
        ],
        "places": [{"geometry": Point(_at(160, 200)), "properties": {"kind": "locality", "name": PLACE}}],
    }


@functools.cache
def tile_bytes(z: int, x: int, y: int) -> bytes | None:
    """Tile z/x/y of the scene, or None where there is none (the server answers 204)."""
    if not MINZOOM <= z <= MAXZOOM:
        return None
    west, south, east, north = _metres(x, y, z)
    if east < _CX - REACH or west > _CX + REACH or north < _CY - REACH or south > _CY + REACH:
        return None
    layers = [{"name": name, "features": features} for name, features in _layers().items()]
    options = {"extents": EXTENT, "quantize_bounds": (west, south, east, north)}
    with warnings.catch_warnings():  # its use of shapely.ops.transform, deprecated in shapely 2.1
        warnings.simplefilter("ignore", DeprecationWarning)
        return bytes(mapbox_vector_tile.encode(layers, default_options=options))


def describe(url_prefix: str = "") -> dict[str, Any]:
    """The basemap's description as the server hands it to the page (data-basemaps)."""
    return {
        "name": NAME,
        "title": "Streets of Kamppi",
        "url": f"{url_prefix}/basemap/{NAME}/{{z}}/{{x}}/{{y}}.mvt",
        "minzoom": MINZOOM,
        "maxzoom": MAXZOOM,
        "bounds": BOUNDS,
        "attribution": "© OpenStreetMap contributors",
    }
