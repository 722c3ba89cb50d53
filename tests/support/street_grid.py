"""The street network the routing tests run Valhalla on, described once.

Pure Python with no imports outside the standard library: ``valhalla_network.py`` reads it under
the Python 3.12 of $VALHALLA_HOME to write the network as OSM, and the tests read it under mapsrv's
3.11 to know where the streets are and what they are called.

Six east-west streets (``ROWS``, south to north) cross six north-south ones (``COLUMNS``, west to
east) in Lisbon's Alcântara, every ~175 m; all ``highway=residential``, two-way. A footway
(``FOOTWAY``) runs diagonally from the south-west corner to the north-east one through the
intersections (i, i): a pedestrian takes it, a car may not, so their routes differ. ``ISLAND`` is a
street of its own east of the grid, joined to nothing: no path reaches it from the grid.
``MOTORWAY`` (``highway=motorway``, one way, 120 km/h) leaves the north-east corner, runs one block
north of the grid westwards and rejoins it at the north-west corner: from the first to the second
a car takes it (three times Rua 6's speed), unless told to avoid highways.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

__all__ = [
    "COLUMNS",
    "FOOTWAY",
    "ISLAND",
    "ISLAND_ENDS",
    "LAT_STEP",
    "MOTORWAY",
    "MOTORWAY_NODES",
    "LON_STEP",
    "NORTH_EAST",
    "ORIGIN",
    "ROWS",
    "SOUTH_WEST",
    "SPACING_M",
    "intersection",
    "metres",
    "nearest_street",
]

ROWS = ("Rua 1", "Rua 2", "Rua 3", "Rua 4", "Rua 5", "Rua 6")  # east-west, south to north
COLUMNS = ("Avenida A", "Avenida B", "Avenida C", "Avenida D", "Avenida E", "Avenida F")  # west to east
FOOTWAY = "Caminho do Parque"
ISLAND = "Rua Isolada"
MOTORWAY = "Autoestrada Norte"

ORIGIN = (38.7, -9.17)  # (lat, lon) of the south-west intersection: Rua 1 and Avenida A
EARTH_RADIUS_M = 6_371_008.8  # the mean radius, as Valhalla's midgard uses
SPACING_M = 175.0  # between neighbouring intersections, both ways
LAT_STEP = math.degrees(SPACING_M / EARTH_RADIUS_M)
LON_STEP = LAT_STEP / math.cos(math.radians(ORIGIN[0]))


def intersection(row: int, column: int) -> tuple[float, float]:
    """(lat, lon) where ``ROWS[row]`` crosses ``COLUMNS[column]``; indices beyond the grid give
    points on the same lattice outside it."""
    return ORIGIN[0] + row * LAT_STEP, ORIGIN[1] + column * LON_STEP


SOUTH_WEST = intersection(0, 0)
NORTH_EAST = intersection(len(ROWS) - 1, len(COLUMNS) - 1)
# ISLAND runs north from the first to the last of these: two blocks east of the grid's east edge
ISLAND_ENDS = (intersection(1, len(COLUMNS) + 1), intersection(len(ROWS) - 2, len(COLUMNS) + 1))
# MOTORWAY, in its one direction: NORTH_EAST, a block north, west to above the north-west corner, down
MOTORWAY_NODES = (
    NORTH_EAST,
    intersection(len(ROWS), len(COLUMNS) - 1),
    intersection(len(ROWS), 0),
    intersection(len(ROWS) - 1, 0),
)


def _xy(point: tuple[float, float]) -> tuple[float, float]:
    """Metres east and north of ORIGIN (equirectangular: exact enough over a kilometre)."""
    lat, lon = point
    y = math.radians(lat - ORIGIN[0]) * EARTH_RADIUS_M
    x = math.radians(lon - ORIGIN[1]) * EARTH_RADIUS_M * math.cos(math.radians(ORIGIN[0]))
    return x, y


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance between two (lat, lon) points near the grid, in metres."""
    (ax, ay), (bx, by) = _xy(a), _xy(b)
    return math.hypot(ax - bx, ay - by)


def _to_segment(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = _xy(p), _xy(a), _xy(b)
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def nearest_street(point: tuple[float, float], among: Iterable[str] | None = None) -> tuple[str, float]:
    """The street of the network (or of the streets named ``among``) nearest to a (lat, lon)
    point, and how far it is in metres."""
    last_row, last_column = len(ROWS) - 1, len(COLUMNS) - 1
    streets = [(name, intersection(r, 0), intersection(r, last_column)) for r, name in enumerate(ROWS)]
    streets += [(name, intersection(0, c), intersection(last_row, c)) for c, name in enumerate(COLUMNS)]
    streets += [(FOOTWAY, SOUTH_WEST, NORTH_EAST), (ISLAND, *ISLAND_ENDS)]
    streets += [(MOTORWAY, a, b) for a, b in itertools.pairwise(MOTORWAY_NODES)]
    wanted = set(among) if among is not None else {name for name, _, _ in streets}
    distances = [(name, _to_segment(point, a, b)) for name, a, b in streets if name in wanted]
    return min(distances, key=lambda pair: pair[1])
