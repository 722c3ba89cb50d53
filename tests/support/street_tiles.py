"""Street basemap tiles for the tests, in Protomaps' basemap schema (v4) as ``mapsrv places
import`` builds them, encoded by ``mapbox_vector_tile`` (an encoder that is not mapsrv's, so the
decoder is checked against another's bytes): a small tile with one of each thing, and a dense
synthetic city block (a street grid, a building on every lot, a house number on most) for the
draw time."""

from __future__ import annotations

import random
from typing import Any

import mapbox_vector_tile
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

__all__ = ["EXTENT", "ROAD", "city_tile", "encode", "small_tile"]

EXTENT = 4096
ROAD = LineString([(0, 2048), (4096, 2048)])  # across the middle: tile pixel y = 128
Features = dict[str, list[tuple[BaseGeometry, dict[str, Any]]]]


def encode(layers: Features) -> bytes:
    """The layers as one tile, coordinates in tile units (y down), extent 4096."""
    data = [
        {"name": name, "features": [{"geometry": g, "properties": p} for g, p in features]}
        for name, features in layers.items()
    ]
    encoded: bytes = mapbox_vector_tile.encode(
        data, default_options={"y_coord_down": True, "extents": EXTENT}
    )
    return encoded


def small_tile(road_kind: str = "minor_road", road_name: str = "Rue Lepic") -> Features:
    """One of each: land, a lake, a stream, a park, a building with a courtyard and its number,
    a named road across the middle, a rail line, a place."""
    courtyard = Polygon(
        [(400, 400), (1600, 400), (1600, 1600), (400, 1600)],
        [[(800, 800), (1200, 800), (1200, 1200), (800, 1200)]],
    )
    return {
        "earth": [(box(-64, -64, 4160, 4160), {"kind": "earth"})],
        "landuse": [
            (box(2400, 2600, 3800, 3800), {"kind": "park"}),
            (box(0, 0, 10, 10), {"kind": "no_such_kind"}),
        ],
        "water": [
            (box(400, 2600, 1600, 3800), {"kind": "lake"}),
            (LineString([(2000, 0), (2000, 1800)]), {"kind": "stream", "name": "Ru"}),
        ],
        "buildings": [
            (courtyard, {"kind": "building"}),
            (Point(1000, 1800), {"kind": "address", "addr_housenumber": "12"}),
        ],
        "roads": [(ROAD, {"kind": road_kind, "kind_detail": "residential", "name": road_name})],
        "transit": [(LineString([(3000, 0), (3000, 1900)]), {"kind": "rail", "kind_detail": "rail"})],
        "places": [(Point(3000, 1000), {"kind": "neighbourhood", "name": "Abbesses"})],
        "pois": [(Point(100, 100), {"kind": "cafe"})],  # a layer the basemap does not draw
    }


def city_tile(seed: int, blocks: int = 8) -> bytes:
    """A dense city tile: ``blocks`` x ``blocks`` blocks between named streets (every fourth a
    major road, one highway, footpaths through some blocks), eight buildings to a block with
    a house number each, a park, a river, a railway and a few places."""
    rng = random.Random(seed)
    step = EXTENT / blocks
    layers: Features = {
        name: [] for name in ("earth", "landuse", "water", "buildings", "roads", "transit", "places")
    }
    layers["earth"].append((box(-64, -64, EXTENT + 64, EXTENT + 64), {"kind": "earth"}))
    for i in range(blocks + 1):
        kind = "major_road" if i % 4 == 2 else "minor_road"
        # a node at every crossing, as OpenStreetMap's streets have
        wobble = [(j * step, i * step + rng.uniform(-12, 12)) for j in range(blocks + 1)]
        layers["roads"].append(
            (LineString(wobble), {"kind": kind, "kind_detail": "x", "name": f"Rue {seed}-{i}"})
        )
        layers["roads"].append(
            (
                LineString([(y, x) for x, y in wobble]),
                {"kind": kind, "kind_detail": "x", "name": f"Avenue {i}"},
            )
        )
    layers["roads"].append((LineString([(0, 200), (EXTENT, 3900)]), {"kind": "highway", "name": "A1"}))
    for bx in range(blocks):
        for by in range(blocks):
            x0, y0 = bx * step + 40, by * step + 40
            if (bx, by) == (2, 5):
                layers["landuse"].append((box(x0, y0, x0 + step - 80, y0 + step - 80), {"kind": "park"}))
                layers["roads"].append(
                    (LineString([(x0, y0), (x0 + step - 80, y0 + step - 80)]), {"kind": "path"})
                )
                continue
            lot = (step - 80) / 4
            for j in range(8):
                lx, ly = x0 + (j % 4) * lot, y0 + (j // 4) * (step - 80) / 2
                house = box(lx + 6, ly + 6, lx + lot - 6, ly + (step - 80) / 2 - 6 - rng.uniform(0, 60))
                layers["buildings"].append((house, {"kind": "building"}))
                centre = house.centroid
                layers["buildings"].append(
                    (centre, {"kind": "address", "addr_housenumber": str(rng.randint(1, 180))})
                )
    layers["water"].append(
        (LineString([(0, 3500), (1500, 3300), (EXTENT, 3600)]), {"kind": "river", "name": "Seine"})
    )
    layers["transit"].append((LineString([(600, 0), (900, EXTENT)]), {"kind": "rail", "kind_detail": "rail"}))
    for name, at in (("Montmartre", (1500, 1200)), ("Pigalle", (3000, 2500))):
        layers["places"].append((Point(*at), {"kind": "neighbourhood", "name": name}))
    return encode(layers)
