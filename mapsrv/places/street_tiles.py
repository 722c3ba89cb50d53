"""An extract's street basemap as vector tiles (issue 79): ``street_read``'s features cut into Mapbox
Vector Tiles (extent 4096) at zooms 10-16 in Protomaps' basemap schema and written into a
PMTiles v3 archive beside the region's index (``<region>.pmtiles``).

Per zoom, every feature shown from that zoom is simplified once (half a pixel; a quarter at the
highest zoom, which the page and ``map_image`` draw larger past it), areas under a pixel or two
are dropped, and an STRtree gives each tile its features, clipped to the tile and a buffer
(``BUFFER`` px: lines and outlines run past the edge, so no seam shows). Coordinates are Web
Mercator metres until they are put into the tile's units. The sea is made from the coastline:
its ways and the extract's box cut the box into faces, and a face is sea when the points just
right of the coastline (the sea side, by OSM's rule) fall in it; the land faces are ``earth``.
An extract without a coastline is all ``earth``.

``mvt_encode`` encodes each tile (``mapbox-vector-tile``'s encoder took twice as long for the
whole build; the tests hold the two to the same tiles), ``pmtiles`` writes the archive (tiles
spooled to a temporary file: its memory stays small), gzip (level 6) on each tile as Protomaps'
builds do. The archive is written beside its final name and renamed over it, as the index is.
"""

from __future__ import annotations

import gzip
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mapsrv.places.mvt_encode import Frame, Layer, encode_tiles
from mapsrv.places.street_read import Drawn, read_drawn

__all__ = [
    "BasemapResult",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "build_basemap",
    "earth_and_sea",
    "mercator",
    "tile_bounds",
    "tiles_over",
]

MIN_ZOOM, MAX_ZOOM = 10, 16
EXTENT = 4096
BUFFER = 8  # px of 256 around a tile
_PLAIN = 5  # coordinates a shape may have and not be simplified (``_zoom_layers``)
BATCH = 256  # tiles encoded together (their clipped features held at once)
MAX_TILES = 100_000  # tiles in all; past it, the highest zooms are left to overzoom
HALF_WORLD = 20037508.342789244  # Web Mercator's x at 180 degrees
LAYERS = ("earth", "water", "landuse", "buildings", "transit", "roads", "places")
MIN_AREA_PX = 2.0  # an area smaller than this many square pixels at a zoom is not in its tiles
ATTRIBUTION = "© OpenStreetMap contributors"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BasemapResult:
    path: Path
    tiles: int
    zooms: tuple[int, int]
    size: int
    seconds: float
    features: int

    def describe(self) -> str:
        low, high = self.zooms
        return (
            f"basemap: {self.tiles} tiles at zooms {low}-{high} from {self.features} features,"
            f" {self.size / 2**20:.1f} MB in {self.seconds:.1f} s ({self.path.name})"
        )


def mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.clip(lat, -85.05112878, 85.05112878)
    x = np.radians(lon) * 6378137.0
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * 6378137.0
    return x, y


def _to_mercator(coords: np.ndarray) -> np.ndarray:
    x, y = mercator(coords[:, 0], coords[:, 1])
    return np.column_stack((x, y))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A tile's box in Web Mercator metres: (min x, min y, max x, max y)."""
    size = 2 * HALF_WORLD / 2**z
    return (
        -HALF_WORLD + x * size,
        HALF_WORLD - (y + 1) * size,
        -HALF_WORLD + (x + 1) * size,
        HALF_WORLD - y * size,
    )


def tiles_over(box: tuple[float, float, float, float], z: int) -> Iterator[tuple[int, int]]:
    """The tiles at ``z`` that a (west, south, east, north) box in degrees meets."""
    west, south, east, north = box
    n = 1 << z
    (left, right), (bottom, top) = mercator(np.array([west, east]), np.array([south, north]))
    size = 2 * HALF_WORLD / n

    def index(metres: float) -> int:
        return min(n - 1, max(0, int(metres // size)))

    for x in range(index(left + HALF_WORLD), index(right + HALF_WORLD) + 1):
        for y in range(index(HALF_WORLD - top), index(HALF_WORLD - bottom) + 1):
            yield x, y


def earth_and_sea(
    coastline: list[BaseGeometry], box: BaseGeometry
) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
    """The box's land and sea faces, cut by the coastline (in any one planar coordinate system).
    OSM draws coastline ways with the land on their left: a face holding more of the points just
    right of them than of those just left is sea. No coastline: the box is land."""
    cut = [shapely.clip_by_rect(line, *box.bounds) for line in coastline]
    cut = [c for c in cut if not c.is_empty]
    if not cut:
        return [box], []
    noded = shapely.unary_union([*cut, box.boundary])
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    span = max(box.bounds[2] - box.bounds[0], box.bounds[3] - box.bounds[1])
    step = span * 1e-6
    sea_side, land_side = [], []
    for line in shapely.get_parts(shapely.unary_union(cut)):
        xy = shapely.get_coordinates(line)
        for (x0, y0), (x1, y1) in itertools.pairwise(xy):
            length = math.hypot(x1 - x0, y1 - y0)
            if length == 0:
                continue
            mx, my, nx, ny = (x0 + x1) / 2, (y0 + y1) / 2, (y1 - y0) / length, -(x1 - x0) / length
            sea_side.append((mx + nx * step, my + ny * step))  # right of the way
            land_side.append((mx - nx * step, my - ny * step))
    land: list[BaseGeometry] = []
    sea: list[BaseGeometry] = []
    sea_points, land_points = shapely.points(sea_side), shapely.points(land_side)
    for face in faces:
        shapely.prepare(face)
        wet = int(np.count_nonzero(shapely.contains(face, sea_points)))
        dry = int(np.count_nonzero(shapely.contains(face, land_points)))
        (sea if wet > dry else land).append(face)
    if faces and not sea and not land:  # pragma: no cover - polygonize gave nothing usable
        return [box], []
    return land, sea


@dataclass
class _Layer:
    geoms: np.ndarray  # shapely geometries in Web Mercator metres
    props: list[dict[str, str]]
    zooms: np.ndarray  # the first zoom each is shown at
    areas: np.ndarray  # square metres (0 for lines and points)


def _layers(drawn: Drawn, box: tuple[float, float, float, float]) -> dict[str, _Layer]:
    out: dict[str, _Layer] = {}
    mbox = shapely.transform(shapely.box(*box), _to_mercator)
    for name, items in drawn.layers.items():
        geoms = shapely.transform(shapely.from_wkb([wkb for wkb, _, _ in items]), _to_mercator)
        numbers = np.array([p.get("kind") == "address" for _, p, _ in items], dtype=bool)
        if numbers.any():  # a building's house number: at a point inside it (a node's: the node)
            geoms[numbers] = shapely.point_on_surface(geoms[numbers])
        out[name] = _Layer(
            geoms, [p for _, p, _ in items], np.array([z for _, _, z in items]), shapely.area(geoms)
        )
    coast = (
        list(shapely.transform(shapely.from_wkb(drawn.coastline), _to_mercator)) if drawn.coastline else []
    )
    land, sea = earth_and_sea(coast, mbox)
    lands = np.array(land, dtype=object)
    out["earth"] = _Layer(
        lands, [{"kind": "earth"}] * len(land), np.full(len(land), MIN_ZOOM), shapely.area(lands)
    )
    if sea:
        water = out.get("water")
        seas = np.array(sea, dtype=object)
        geoms = np.concatenate([seas, water.geoms]) if water else seas
        props = [{"kind": "ocean"}] * len(sea) + (water.props if water else [])
        zooms = (
            np.concatenate([np.full(len(sea), MIN_ZOOM), water.zooms])
            if water
            else np.full(len(sea), MIN_ZOOM)
        )
        out["water"] = _Layer(geoms, props, zooms, shapely.area(geoms))
    return out


_Zoomed = tuple[np.ndarray, list[int], Any, np.ndarray]  # shapes, their features, an STRtree, their boxes


def _zoom_layers(layers: dict[str, _Layer], z: int, top: int) -> dict[str, _Zoomed]:
    """Each layer's features shown at ``z``, simplified for it, with an STRtree over them and
    their boxes."""
    pixel = 2 * HALF_WORLD / (256 * 2**z)
    tolerance = pixel * (0.25 if z == top else 0.5)
    out = {}
    for name, layer in layers.items():
        keep = layer.zooms <= z
        keep &= (layer.areas == 0) | (layer.areas >= MIN_AREA_PX * pixel * pixel)
        index = np.flatnonzero(keep)
        if not len(index):
            continue
        shapes = layer.geoms[index]
        # a shape of five coordinates or fewer (a point, a segment, a four-cornered building: most
        # of a city's features) is taken as it is: simplified, it could move by the tolerance at
        # most, and simplifying them was most of this step; the rest are simplified
        detailed = shapely.get_num_coordinates(shapes) > _PLAIN
        simple = shapes.copy()
        simple[detailed] = shapely.simplify(shapes[detailed], tolerance, preserve_topology=True)
        out[name] = (simple, [int(i) for i in index], shapely.STRtree(simple), shapely.bounds(simple))
    return out


def _tiles(
    zoomed: dict[str, _Zoomed],
    layers: dict[str, _Layer],
    z: int,
    at: list[tuple[int, int]],
) -> list[bytes]:
    """The tiles at ``at`` (x, y at ``z``), encoded together (``mvt_encode.encode_tiles``), each
    tile's features in Web Mercator metres taken into its units by its frame."""
    bounds = [tile_bounds(z, x, y) for x, y in at]
    frames: list[Frame] = [(x0, y1, EXTENT / (x1 - x0)) for x0, _, x1, y1 in bounds]
    return encode_tiles([_content(zoomed, layers, edges) for edges in bounds], EXTENT, frames)


def _content(
    zoomed: dict[str, _Zoomed], layers: dict[str, _Layer], tile: tuple[float, float, float, float]
) -> list[Layer]:
    """One tile's layers (``tile``: its bounds in Web Mercator metres): the features that meet it
    and its buffer, clipped (in metres: its frame takes them into its units)."""
    x0, y0, x1, y1 = tile
    pad = (x1 - x0) * BUFFER / 256
    encoded: list[Layer] = []
    for name in LAYERS:
        if name not in zoomed:
            continue
        simple, index, tree, bounds = zoomed[name]
        edges = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        hits = tree.query(shapely.box(*edges))
        if not len(hits):
            continue
        hits.sort()  # the extract's order, the same in every tile
        # clipped where they cross the tile's edge; most lie inside it, and are taken as they are
        clipped, box = simple[hits], bounds[hits]
        crossing = np.flatnonzero(
            (box[:, 0] < edges[0]) | (box[:, 1] < edges[1]) | (box[:, 2] > edges[2]) | (box[:, 3] > edges[3])
        )
        clipped[crossing] = shapely.clip_by_rect(clipped[crossing], *edges)
        props = layers[name].props
        encoded.append((name, clipped, [props[index[h]] for h in hits]))
    return encoded


def _top_zoom(box: tuple[float, float, float, float]) -> int:
    """The highest zoom whose tiles, with all those under it, stay within MAX_TILES."""
    total = 0
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        total += sum(1 for _ in tiles_over(box, z))
        if total > MAX_TILES:
            return max(MIN_ZOOM, z - 1)
    return MAX_ZOOM


def build_basemap(file: Path, target: Path, progress: Progress | None = None) -> BasemapResult:
    """Reads ``file``'s drawn features and writes its basemap archive to ``target`` (replaced whole)."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    started = time.perf_counter()
    drawn = read_drawn(file)
    box = drawn.box or _data_box(drawn)
    if box is None:
        raise ValueError(f"{file} holds nothing to draw a basemap of")
    layers = _layers(drawn, box)
    features = drawn.count
    del drawn  # its WKB (~10 MB for a 7 km city): the layers' shapes are made
    top = _top_zoom(box)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.building-{os.getpid()}")
    count = 0
    try:
        with open(temporary, "wb") as out:
            writer = Writer(out)  # type: ignore[no-untyped-call]
            for z in range(MIN_ZOOM, top + 1):
                zoomed = _zoom_layers(layers, z, top)
                wanted = sorted(tiles_over(box, z), key=lambda t: zxy_to_tileid(z, *t))
                for i in range(0, len(wanted), BATCH):
                    batch = wanted[i : i + BATCH]
                    for (x, y), data in zip(batch, _tiles(zoomed, layers, z, batch), strict=True):
                        if data:
                            writer.write_tile(zxy_to_tileid(z, x, y), gzip.compress(data, 6, mtime=0))  # type: ignore[no-untyped-call]
                            count += 1
                    if progress and len(wanted) > BATCH:
                        progress(f"basemap zoom {z}: {min(i + BATCH, len(wanted))} of {len(wanted)} tiles")
                del zoomed  # let go before the next zoom's are made: one zoom's shapes at a time
            west, south, east, north = box
            writer.finalize(  # type: ignore[no-untyped-call]
                {
                    "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
                    "min_zoom": MIN_ZOOM, "max_zoom": top,
                    "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
                    "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
                    "center_zoom": min(top, 14), "center_lon_e7": int((west + east) / 2 * 1e7),
                    "center_lat_e7": int((south + north) / 2 * 1e7),
                },
                {"name": target.stem, "attribution": ATTRIBUTION, "type": "baselayer",
                 "vector_layers": [{"id": name, "fields": {}} for name in LAYERS]},
            )  # fmt: skip
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    return BasemapResult(target, count, (MIN_ZOOM, top), target.stat().st_size, seconds, features)


def _data_box(drawn: Drawn) -> tuple[float, float, float, float] | None:
    wkbs = [wkb for items in drawn.layers.values() for wkb, _, _ in items] + drawn.coastline
    if not wkbs:
        return None
    west, south, east, north = shapely.total_bounds(shapely.from_wkb(wkbs))
    return (float(west), float(south), float(east), float(north))
