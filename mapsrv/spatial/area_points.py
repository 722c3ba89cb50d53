"""Which points an area covers, fast and exactly as ``shapely.covers(area, point)`` says.

``within`` a state on a map of 100,000 markers tested every marker in the state's box with GEOS's
point-in-polygon (~1.4 us a point against a prepared state of 2,000-20,000 vertices: 14 ms for
Texas, 39 ms for the United States). Here an area gets a grid over its box (at most ``CELLS``
cells, square in degrees), each cell wholly covered, wholly outside, or on the edge; a point
takes its cell's mark, and only the points of edge cells are tested exactly
(``shapely.intersects_xy``: for a point, meeting the area is being covered by it, and the arrays
need no Point objects). A point is placed in its cell by arithmetic, then checked against the
very edges the cells were built from (one that rounding put past them is tested exactly): the
answer is the exact test's, not an approximation of it.

The edge cells are those of every vertex of the area's rings, lines and points, cut into pieces at
most half a cell long, and the cells next to them; the cells between two edge cells of a row (a
run) are all on one side of the edge, so one point test of the run's first centre marks it. A grid
is built for an area with at least ``GRID_VERTICES`` vertices (15-30 ms for a state, 20-100 ms for
the United States, in the caller's worker thread; marking each cell by GEOS's ``covers`` of its
box took 40-70 times that, at a quarter of the cells) when it pays: at the area's second question,
or at its first when ``GRID_POINTS`` or more points are in its box (a first question on a small
map is answered point by point: a state's cold ``within`` is not kept waiting for a grid it does
not need). It is kept for the same area object, which the places' caches hand out again: ``KEPT``
grids at most, 1 MB each (int8 marks), held weakly so that an area let go of takes its grid along.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from mapsrv.core.kept import Kept

__all__ = ["CELLS", "GRID_POINTS", "GRID_VERTICES", "KEPT", "AreaGrid", "covered_points"]

CELLS = 1 << 20  # cells of a grid at most: 1 MB of marks
GRID_VERTICES = 256  # an area with fewer is tested point by point: a grid would not pay
GRID_POINTS = 20_000  # points in a box that pay for a grid at the first question (~1.4 us each)
KEPT = 16  # grids kept, most recently used (16 MB at most)
_OUTSIDE, _COVERED, _EDGE = 0, 1, 2
_POLYGON, _COLLECTIONS = 3, (4, 5, 6, 7)  # GEOS's type ids


class AreaGrid:
    """An area's box cut into cells, each wholly outside the area, wholly covered, or neither."""

    def __init__(self, area: BaseGeometry) -> None:
        west, south, east, north = area.bounds
        width, height = east - west, north - south
        side = math.sqrt(width * height / CELLS)
        across = max(1, min(math.ceil(width / side), CELLS))
        up = max(1, min(math.ceil(height / side), CELLS // across))
        self.xs = np.linspace(west, east, across + 1)
        self.ys = np.linspace(south, north, up + 1)
        self.marks = np.full((up, across), _OUTSIDE, dtype=np.int8)
        edge = _edge_cells(area, self.xs, self.ys)
        # the cells a run of cells off the edge holds are all on one side of it: its first's centre
        free = ~edge.ravel()
        first = free & np.concatenate([[True], ~free[:-1]])
        first[:: self.marks.shape[1]] |= free[:: self.marks.shape[1]]  # each row starts a run
        starts = np.flatnonzero(first)
        i, j = starts % across, starts // across
        x, y = (self.xs[i] + self.xs[i + 1]) / 2, (self.ys[j] + self.ys[j + 1]) / 2
        side_of = np.where(shapely.intersects_xy(area, x, y), _COVERED, _OUTSIDE).astype(np.int8)
        run = np.cumsum(first) - 1
        marks = self.marks.ravel()
        marks[free] = side_of[run[free]]
        marks[~free] = _EDGE

    def covered(
        self, area: BaseGeometry, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        """Whether ``area`` (this grid's) covers each point ``(x, y)``, all inside its box."""
        i, j = _cell(self.xs, x), _cell(self.ys, y)
        # a cell's mark holds for its closed box: a point just past an edge (rounding) is tested
        mark = np.where(
            (self.xs[i] <= x) & (x <= self.xs[i + 1]) & (self.ys[j] <= y) & (y <= self.ys[j + 1]),
            self.marks[j, i],
            _EDGE,
        )
        found: NDArray[np.bool_] = mark == _COVERED
        edge = np.flatnonzero(mark == _EDGE)
        found[edge] = shapely.intersects_xy(area, x[edge], y[edge])
        return found


def _cell(edges: NDArray[np.float64], at: NDArray[np.float64]) -> NDArray[np.intp]:
    """The cell between ``edges`` each of ``at`` is in, to a rounding error of a cell
    (``np.searchsorted`` is exact but 8 times slower on 100,000 unsorted points)."""
    last = len(edges) - 2
    scale = (last + 1) / (edges[-1] - edges[0])
    cells: NDArray[np.intp] = np.clip(((at - edges[0]) * scale).astype(np.intp), 0, last)
    return cells


def _edge_cells(area: BaseGeometry, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The cells the area's edge may meet: every ring, line and point of its parts, cut into
    pieces at most half a cell long: a piece from a vertex stays within the cells next to the
    vertex's (found exactly, by ``np.searchsorted``)."""
    step = min(xs[1] - xs[0], ys[1] - ys[0]) / 2
    parts = shapely.get_parts(area)
    while np.isin(shapely.get_type_id(parts), _COLLECTIONS).any():
        parts = shapely.get_parts(parts)
    # rings, not polygons: GEOS's segmentize of a polygon folded to nothing (a spike of no area, as
    # a difference leaves) drops its tip, a point ``covers`` holds
    polygon = shapely.get_type_id(parts) == _POLYGON
    pieces = np.concatenate([shapely.get_rings(parts[polygon]), parts[~polygon]])
    xy = shapely.get_coordinates(shapely.segmentize(pieces, step))  # every ring, line and point
    edge = np.zeros((len(ys) + 1, len(xs) + 1), dtype=bool)  # a cell of margin each side
    i = np.clip(np.searchsorted(xs, xy[:, 0], side="right"), 1, len(xs) - 1)
    j = np.clip(np.searchsorted(ys, xy[:, 1], side="right"), 1, len(ys) - 1)
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            edge[j + dj, i + di] = True
    return edge[1:-1, 1:-1]


_grids: Kept[int, BaseGeometry, AreaGrid] = Kept(KEPT)  # by the area's id, while it lives
_asked: Kept[int, BaseGeometry, bool] = Kept(4 * KEPT)  # the areas tested once without a grid


def covered_points(area: BaseGeometry, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``shapely.covers(area, points(x, y))``, by ``area``'s grid when it has many vertices."""
    west, south, east, north = area.bounds
    if not shapely.is_prepared(area):
        shapely.prepare(area)  # a feature's own area, made for this question
    inbox = np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
    found = np.zeros(len(x), dtype=bool)
    if not len(inbox):
        return found
    if east > west and north > south and shapely.get_num_coordinates(area) >= GRID_VERTICES:
        grid = _grid(area, len(inbox) >= GRID_POINTS)
        if grid is not None:
            found[inbox] = grid.covered(area, x[inbox], y[inbox])
            return found
    found[inbox] = shapely.intersects_xy(area, x[inbox], y[inbox])
    return found


def _grid(area: BaseGeometry, pays: bool) -> AreaGrid | None:
    """The area's grid, made now when it ``pays`` or was asked about before; else None (and the
    area remembered as asked)."""
    key = id(area)
    if pays or _asked.get(key, area):
        return _grids.made(key, area, lambda: AreaGrid(area))
    _asked.put(key, area, True)
    return None
