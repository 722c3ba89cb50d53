"""Countries and first-level regions as areas to test points against: Natural Earth's 1:10m
'Admin 1 - States, Provinces' (public domain), every island and hole included, unsimplified on a
~11 m grid (``world/admin1-borders.npz``: 4,596 regions, 1.29 million points, 4.7 MB; made by
``scripts/natural-earth.sh``). ``boundaries.py`` finds a region or country by name or code; its
outlines are simplified to ~2 km for drawing, and here is where a point near a border is decided.

A country is the union of its regions. An area reaches ``REACH_DEGREES`` out to sea, so that a
pier, a heliport or an airport on fill that the coastline leaves in the water still counts, but
never into a neighbour: the reach stops at every other region's border.

Water between two regions is split down its middle: each keeps the water nearer its own shore
(the Downtown Manhattan Heliport's pier is New York's, not New Jersey's too).

What each region reaches (``reach_of``: its outline grown out to sea, less its neighbours' land
and the water nearer them) takes 5 ms to 3 s a region (Alaska 1.3 s, Nunavut 2.6 s; all 4,596
~105 s of a core), so it is made once, by ``scripts/reaches.py``, and shipped beside the
borders (``world/admin1-reaches.npz``, on the same grid). The regions and their reaches are read
per question from the places file (``mapsrv.places.stored``: WKB behind an R*Tree, the recently
used outlines kept prepared); an area is a union of the two, 2-3 ms a US state (Alaska 25 ms),
~0.2 s for the United States, and is kept: call from a worker thread
(``tests/bench/within_areas.py``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from mapsrv.core.slices import by_parts, running_sum
from mapsrv.places.shape_file import BoxTree, Shapes, reaches
from mapsrv.places.stored import connect
from mapsrv.places.text import fold
from mapsrv.places.world import BORDERS_FILE, DIRECTORY, REACHES_FILE

__all__ = [
    "BORDERS_FILE",
    "GRID_DEGREES",
    "REACHES_FILE",
    "REACH_DEGREES",
    "Borders",
    "borders",
    "borders_digest",
    "country_area",
    "read_borders",
    "read_reaches",
    "country_at",
    "reach_of",
    "region_area",
    "region_at",
]

GRID_DEGREES = 1e-4  # the file's step (~11 m); scripts/admin1.py's DETAIL_GRID
PARTS = 1_000  # rings or polygons made into shapes a call (``by_parts``): a few ms each
REACH_DEGREES = 0.2  # out to sea: 12 nautical miles of latitude, the territorial sea (UNCLOS art. 3)
_SEA_DEGREES = 0.005  # the outline the reach is grown from is simplified this much (~500 m)
_SHORE_STEP = 0.01  # degrees between the shore points that split shared water (~1 km)
_SHORE_REACH = REACH_DEGREES + _SHORE_STEP  # how far a shore point's water reaches
_KEPT_AREAS = 64  # areas kept built, most recently used


@dataclass(frozen=True)
class Borders:
    """Every region's shape (a valid MultiPolygon of (lon, lat), read from the places file when
    asked: ``shape_file.Shapes``), a tree over them (``shape_file.BoxTree``, answering as a
    shapely STRtree does), and the regions by ISO 3166-2 code, by country (ISO 3166-1 alpha-2
    and alpha-3) and by (country, folded name)."""

    shapes: Shapes
    tree: BoxTree
    countries: list[str]  # each region's country, ISO alpha-2
    names: list[str]  # each region's name
    by_code: dict[str, list[int]]
    by_country: dict[str, list[int]]
    by_name: dict[tuple[str, str], list[int]]

    def regions(self, code: str, country: str = "", name: str = "") -> list[int]:
        """The regions of ``code`` (one code may cover two of Natural Earth's pieces), else of
        ``name`` in ``country``."""
        found = self.by_code.get(code.upper()) if code else None
        return found or self.by_name.get((country.upper(), fold(name)), [])


@functools.cache
def borders() -> Borders:
    """The places file's regions: their codes and names read once per process (~0.5 MB), their
    shapes per question."""
    (text,) = connect().execute("SELECT value FROM meta WHERE key = 'regions'").fetchone()
    regions = json.loads(text)
    by_code: dict[str, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    by_name: dict[tuple[str, str], list[int]] = {}
    for i, (code, iso2, iso3, name) in enumerate(regions):
        by_code.setdefault(code.upper(), []).append(i)
        for country in {iso2.upper(), iso3.upper()} - {"", "-99"}:
            by_country.setdefault(country, []).append(i)
        by_name.setdefault((iso2.upper(), fold(name)), []).append(i)
    countries = [iso2.upper() for _, iso2, _, _ in regions]
    names = [name for _, _, _, name in regions]
    shapes = Shapes(len(regions))
    return Borders(shapes, BoxTree(shapes), countries, names, by_code, by_country, by_name)


def read_borders() -> tuple[NDArray[np.object_], list[Any]]:
    """The borders file's regions (``world/admin1-borders.npz``): their shapes, made valid, and
    each one's [code, ISO alpha-2, ISO alpha-3, name]; what the places file is written from."""
    with np.load(DIRECTORY / BORDERS_FILE) as archive:
        regions = json.loads(str(archive["regions"]))
        return _shapes(archive), regions


def read_reaches() -> NDArray[np.object_]:
    """Each region's reach (``reach_of``) as ``scripts/reaches.py`` made it from the borders file
    (``world/admin1-reaches.npz``, the same encoding on the same grid), made valid; refused when
    it was made from other borders."""
    with np.load(DIRECTORY / REACHES_FILE) as archive:
        made_from = str(archive["borders_digest"])
        if made_from != borders_digest():
            raise ValueError(f"{REACHES_FILE} was made from other borders: run scripts/reaches.py")
        shapes = _shapes(archive)
        if len(shapes) != int(archive["regions"]):
            raise ValueError(f"{REACHES_FILE} holds {len(shapes)} reaches of {int(archive['regions'])}")
        return shapes


def borders_digest() -> str:
    """The borders file's SHA-256: what a reaches file was made from."""
    return hashlib.sha256((DIRECTORY / BORDERS_FILE).read_bytes()).hexdigest()


def _shapes(archive: Any) -> NDArray[np.object_]:
    """MultiPolygons from integer steps of GRID_DEGREES from (-180, -90): ``steps`` (each point
    less the one before it, across all rings, none closed), ``ring_sizes``, ``ring_polygon``
    (each ring's polygon, its outer ring first) and ``polygon_region`` (each polygon's shape;
    every shape has one)."""
    steps = archive["steps"].astype(np.int64)
    ring_sizes = archive["ring_sizes"]
    xy = running_sum(steps) * GRID_DEGREES - np.array([180.0, 90.0])
    rings = by_parts(shapely.linearrings, xy, np.repeat(np.arange(len(ring_sizes)), ring_sizes))
    polygons = by_parts(shapely.polygons, rings, archive["ring_polygon"], PARTS)
    shapes = by_parts(shapely.multipolygons, polygons, archive["polygon_region"], PARTS)
    invalid = ~shapely.is_valid(shapes)
    shapes[invalid] = shapely.make_valid(shapes[invalid])
    return shapes


def region_area(code: str, country: str = "", name: str = "") -> BaseGeometry | None:
    """The area of the region ``code`` (ISO 3166-2), else ``name`` in ``country``; None when the
    file has no such region."""
    return _area(tuple(borders().regions(code, country, name)))


def country_area(iso: str) -> BaseGeometry | None:
    """The area of the country ``iso`` (ISO 3166-1 alpha-2 or alpha-3): all its regions; None
    when it has none here."""
    return _area(tuple(borders().by_country.get(iso.upper(), ())))


def region_at(lon: float, lat: float) -> tuple[str, str]:
    """The region that holds the point and its country (ISO alpha-2), or ``("", "")``."""
    found = borders()
    hits = found.tree.query(shapely.Point(lon, lat), predicate="intersects")
    return (found.names[hits[0]], found.countries[hits[0]]) if len(hits) else ("", "")


def country_at(lon: float, lat: float) -> str:
    """The country (ISO 3166-1 alpha-2) whose region holds the point, or, off the coast, whose
        region is nearest within ``REACH_DEGREES``; "" for none (the open sea, or a region Natural
        Earth gives no code). An R*Tree query and a test of the few regions whose box holds it: tens
    of microseconds once their outlines are read."""
    found = borders()
    point = shapely.Point(lon, lat)
    hits = found.tree.query(point, predicate="intersects")
    if not len(hits):
        hits = found.tree.query_nearest(point, max_distance=REACH_DEGREES)
    countries = sorted({found.countries[i] for i in hits} - {"", "-99"})
    return countries[0] if countries else ""


_areas: OrderedDict[tuple[int, ...], BaseGeometry] = OrderedDict()
_lock = threading.Lock()


def _area(regions: tuple[int, ...]) -> BaseGeometry | None:
    if not regions:
        return None
    with _lock:
        if regions in _areas:
            _areas.move_to_end(regions)
            return _areas[regions]
    area = _reaching(regions)
    with _lock:
        _areas[regions] = area
        while len(_areas) > _KEPT_AREAS:
            _areas.popitem(last=False)
    return area


def _reaching(regions: tuple[int, ...]) -> BaseGeometry:
    """The regions with what they reach (``reach_of``, read from the places file), prepared for
    many tests. Only the parts of a region its reach does not hold are unioned with it: Alaska's
    181 islands and coast are in its reach but for the mainland's interior, 87 -> 36 ms."""
    found = borders()
    pieces = []
    for own, reach in zip(found.shapes[list(regions)], reaches(list(regions)), strict=True):
        shapely.prepare(reach)
        parts = shapely.get_parts(own)
        pieces += [reach, *parts[~shapely.contains_properly(reach, parts)]]
    area = shapely.union_all(pieces)
    shapely.prepare(area)
    return area


def reach_of(region: int, shapes: Any, tree: Any) -> BaseGeometry:
    """What the region ``region`` of ``shapes`` (indexed by ``tree``, an STRtree or a
    ``BoxTree``) reaches: its outline grown ``REACH_DEGREES`` out to sea, less every other
    region's land and the water nearer to it (a bay between two states is split down its
    middle). What ``scripts/reaches.py`` ships, made once: Alaska 1.3 s, New York 0.2 s."""
    own = shapely.union_all(shapes[[region]])  # as one: the parts' rings as a union orders them
    reach: BaseGeometry = shapely.simplify(own, _SEA_DEGREES).buffer(REACH_DEGREES)
    near = np.setdiff1d(tree.query(reach, predicate="intersects"), [region])
    if len(near):
        theirs = shapely.union_all(shapely.clip_by_rect(shapes[near], *_around(reach)))
        reach = shapely.difference(reach, theirs)
        reach = _nearer(own, theirs, reach)
    return reach


def _around(reach: BaseGeometry) -> tuple[float, float, float, float]:
    """The box the neighbours are cut to: ``reach``'s grown by four times the shore's reach. What
    the split reads of them lies within it: their shore points within the reach of the sea
    (which is within ``reach``), and the own points facing those; an edge the cut makes is more
    than twice the reach from every own point that takes part, so it faces nothing. Quebec and
    Ontario, New York's neighbours, come down to the St. Lawrence's shores: New York 96 -> 63 ms.
    Only their outlines' simplification starts from other points of the cut rings: the same area
    for New York, Texas, California, Florida and Michigan, a few hundred metres of the median
    lines moved in Puget Sound, the Gulf of Maine and the Sabine's mouth."""
    x0, y0, x1, y1 = reach.bounds
    margin = 4 * _SHORE_REACH
    return x0 - margin, y0 - margin, x1 + margin, y1 + margin


def _nearer(own: BaseGeometry, theirs: BaseGeometry, water: BaseGeometry) -> BaseGeometry:
    """``water`` less what is nearer to ``theirs``'s shore than to ``own``'s: the Voronoi cells of
    the shores' points (every ``_SHORE_STEP`` degrees) that face each other across at most twice
    the reach; each of theirs cut to the reach around its point. (Water nearer a point of theirs
    than to any point of own's within twice the reach is also nearer it than to own's others.)

    Only points within the reach of the sea take part: a point of the sea is within the reach of
    its nearest own point, so a point further inland is nobody's nearest there, and its cell
    changes nothing the sea keeps (the land is ``own``'s anyway). A state's long land borders
    drop out, and with them most of the work: Texas 149 -> 35 ms, the same area
    (tests/places/test_borders.py)."""
    reach = _SHORE_REACH
    sea = shapely.difference(water, own)
    shapely.prepare(sea)
    lines = [
        shapely.segmentize(shapely.simplify(shape.boundary, _SEA_DEGREES), _SHORE_STEP)
        for shape in (own, theirs)
    ]
    shapely.prepare(lines)
    facing: list[NDArray[np.float64]] = []
    x0, y0, x1, y1 = sea.bounds
    for i, line in enumerate(lines):
        xy = shapely.get_coordinates(line)
        # outside the sea's box grown by the reach, a point is out of reach: no Point made for it
        x, y = xy.T
        keep = (x >= x0 - reach) & (x <= x1 + reach) & (y >= y0 - reach) & (y <= y1 + reach)
        shore = shapely.points(xy[keep])
        near_sea = shapely.dwithin(sea, shore, reach)
        keep[keep] = near_sea
        keep[keep] = shapely.dwithin(lines[1 - i], shore[near_sea], 2 * reach)
        facing.append(xy[keep])
    if not len(facing[1]):
        return water
    xy, first = np.unique(np.round(np.concatenate(facing), 6), axis=0, return_index=True)
    extent = water.envelope.buffer(reach)
    # ``ordered``: cell i is point i's (GEOS 3.12), no search for which cell holds which point
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=extent, ordered=True)
    cells = shapely.get_parts(cells)
    foreign = first >= len(facing[0])
    return shapely.difference(water, _cut_cells(cells[foreign], xy[foreign], reach))


def _cut_cells(cells: NDArray[np.object_], xy: NDArray[np.float64], reach: float) -> BaseGeometry:
    """The union of each cell cut to the reach around its point (a 16-gon of radius ``reach``).
    Unioned as they are, 800 cut cells took 22-25 ms (New York, Washington). The cells are a
    Voronoi diagram's, whose neighbours share their edges exactly: their union as a coverage is
    linear (1 ms), and only the cells that reach beyond their point's inscribed circle are cut,
    their parts beyond it taken off: 2-3x faster, the same area to 1e-15 square degrees."""
    coords, which = shapely.get_coordinates(cells, return_index=True)
    farthest = np.zeros(len(cells))
    np.maximum.at(farthest, which, np.hypot(*(coords - xy[which]).T))
    # a 16-gon's inscribed circle: cos(pi / 16) of its radius
    out = farthest > reach * 0.98
    whole = shapely.coverage_union_all(cells)
    if not out.any():
        return whole
    beyond = shapely.difference(cells[out], shapely.buffer(shapely.points(xy[out]), reach, quad_segs=4))
    return shapely.difference(whole, shapely.union_all(beyond))
