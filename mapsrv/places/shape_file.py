"""The places file's region outlines, read per question (issue 78): ``Shapes`` gives them by
index as an array did, ``BoxTree`` answers the queries a shapely ``STRtree`` over them answered,
from the file's R*Tree of their boxes and then the same GEOS predicate on the candidates.

Parsed and prepared, the 4,596 outlines held ~120 MB in every process; here the outlines read
most recently are kept prepared, up to ``KEPT_POINTS`` points in all (a state's outline has
hundreds to a few thousand; Nunavut's, the largest, 95,000).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from mapsrv.places.stored import connect

__all__ = ["KEPT_POINTS", "BoxTree", "Shapes", "reaches"]

KEPT_POINTS = 400_000  # points of the outlines kept prepared: ~34 MB, measured with 2,197 kept
_PREDICATES = {  # STRtree's predicate(input, tree geometry), asked of the tree's prepared geometry
    "intersects": shapely.intersects,
    "within": shapely.contains,
    "contains": shapely.within,
    "covered_by": shapely.covers,
    "covers": shapely.covered_by,
    "touches": shapely.touches,
    "crosses": shapely.crosses,
    "overlaps": shapely.overlaps,
}


class Shapes:
    """The outlines by index: ``shapes[i]`` one, ``shapes[[i, j]]`` an array, each valid and
    prepared; the most recently read kept."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._kept: OrderedDict[int, BaseGeometry] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def kept(self) -> tuple[int, int]:
        """The outlines kept prepared now, and their points (at most ``KEPT_POINTS``)."""
        with self._lock:
            return len(self._kept), self._points

    def __getitem__(self, which: Any) -> Any:
        if isinstance(which, (int, np.integer)):
            return self._many([int(which)])[0]
        return self._many([int(i) for i in np.asarray(which, dtype=np.intp).ravel()])

    def _many(self, ids: Sequence[int]) -> NDArray[np.object_]:
        out = np.empty(len(ids), dtype=object)
        missing: dict[int, list[int]] = {}
        with self._lock:
            for n, i in enumerate(ids):
                if i in self._kept:
                    self._kept.move_to_end(i)
                    out[n] = self._kept[i]
                else:
                    missing.setdefault(i, []).append(n)
        if missing:
            read = _read(sorted(missing), "regions")
            # prepared: which region a map's points are in is ~100 point tests a question
            shapely.prepare(list(read.values()))
            for i, shape in read.items():
                out[missing[i]] = shape
            self._keep(read)
        return out

    def _keep(self, read: dict[int, BaseGeometry]) -> None:
        with self._lock:
            for i, shape in read.items():
                if i not in self._kept:
                    self._kept[i] = shape
                    self._points += int(shapely.get_num_coordinates(shape))
            while self._points > KEPT_POINTS and len(self._kept) > 1:
                _, dropped = self._kept.popitem(last=False)
                self._points -= int(shapely.get_num_coordinates(dropped))


def reaches(ids: list[int]) -> NDArray[np.object_]:
    """The regions' reaches out to sea (``borders.reach_of``), in the order asked, unprepared:
    an area is made of each once and kept (``borders``), so none is kept here."""
    read = _read(sorted(set(ids)), "reaches")
    out = np.empty(len(ids), dtype=object)
    out[:] = [read[i] for i in ids]
    return out


def _read(ids: list[int], table: str) -> dict[int, BaseGeometry]:
    marks = ",".join("?" * len(ids))
    rows = connect().execute(f"SELECT id, wkb FROM {table} WHERE id IN ({marks})", ids).fetchall()
    if len(rows) != len(ids):
        raise IndexError(f"{table} {sorted(set(ids) - {i for i, _ in rows})[:5]} out of range")
    shapes = shapely.from_wkb([wkb for _, wkb in rows])
    return {i: shape for (i, _), shape in zip(rows, shapes, strict=True)}


class BoxTree:
    """``query`` and ``query_nearest`` as a shapely ``STRtree`` of ``shapes`` answers them (the
    indices sorted), from the file's R*Tree of their boxes."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes

    def query(self, geometry: Any, predicate: str | None = None, distance: float = 0.0) -> NDArray[np.intp]:
        """One geometry: the indices of the outlines it meets by ``predicate``. An array of them:
        two rows, each geometry's position and an outline's index, by position then index."""
        if isinstance(geometry, BaseGeometry):
            return self._one(geometry, predicate, distance)
        inputs = np.asarray(geometry, dtype=object)
        pairs: list[NDArray[np.intp]] = []
        # by 1-degree cell of their boxes' corner: one R*Tree query a cell, and each outline tested
        # against all of a cell's geometries at once (a map's 20,000 points: ~1,500 queries, not
        # 20,000)
        bounds = shapely.bounds(inputs)
        cells = np.floor(bounds[:, :2]).astype(np.int64)
        keys = cells[:, 0] * 1_000 + cells[:, 1]
        order = np.argsort(keys, kind="stable")
        starts = np.flatnonzero(np.diff(keys[order])) + 1
        for group in np.split(order, starts):
            if not len(group):
                continue
            west, south = bounds[group, 0].min(), bounds[group, 1].min()
            east, north = bounds[group, 2].max(), bounds[group, 3].max()
            reach = distance if predicate == "dwithin" else 0.0
            for i in _boxes([west, south, east, north], reach).tolist():
                kept = (
                    group if predicate is None else group[self._test(i, inputs[group], predicate, distance)]
                )
                pairs += [np.stack([kept, np.full(len(kept), i)])]
        if not pairs:
            return np.empty((2, 0), dtype=np.intp)
        found = np.concatenate(pairs, axis=1).astype(np.intp)
        ranked: NDArray[np.intp] = found[:, np.lexsort((found[1], found[0]))]
        return ranked

    def _test(self, i: int, geometries: Any, predicate: str, distance: float) -> Any:
        shape = self.shapes[i]
        if predicate == "dwithin":
            return shapely.dwithin(shape, geometries, distance)
        return _PREDICATES[predicate](shape, geometries)

    def query_nearest(self, geometry: BaseGeometry, max_distance: float) -> NDArray[np.intp]:
        """The outlines nearest ``geometry`` within ``max_distance`` (all of them, when several
        are as near): what ``STRtree.query_nearest(geometry, max_distance=...)`` gives."""
        ids = _boxes(shapely.bounds(geometry).tolist(), max_distance)
        if not len(ids):
            return ids
        away = shapely.distance(self.shapes[ids], geometry)
        near = away <= max_distance
        if not near.any():
            return np.array([], dtype=np.intp)
        found: NDArray[np.intp] = ids[near & (away == away[near].min())]
        return found

    def _one(self, geometry: BaseGeometry, predicate: str | None, distance: float) -> NDArray[np.intp]:
        reach = distance if predicate == "dwithin" else 0.0
        # by part: a country's box may span the world (the US's, from Guam to the Virgin
        # Islands) where its parts' boxes hold only their neighbours
        parts = shapely.get_parts(geometry) if predicate is not None else [geometry]
        found = [_boxes(shapely.bounds(part).tolist(), reach) for part in parts]
        ids = np.unique(np.concatenate(found)).astype(np.intp) if found else np.array([], dtype=np.intp)
        if predicate is None or not len(ids):
            return ids
        shapes = self.shapes[ids]
        if predicate == "dwithin":
            kept = shapely.dwithin(shapes, geometry, distance)
        else:
            kept = _PREDICATES[predicate](shapes, geometry)
        found_ids: NDArray[np.intp] = ids[kept]
        return found_ids


def _boxes(bounds: list[float], reach: float) -> NDArray[np.intp]:
    """The outlines whose box meets ``bounds`` (west, south, east, north) grown by ``reach``."""
    west, south, east, north = bounds
    rows = connect().execute(
        "SELECT id FROM region_boxes WHERE west <= ? AND east >= ? AND south <= ? AND north >= ? ORDER BY id",
        (east + reach, west - reach, north + reach, south - reach),
    )
    return np.array([i for (i,) in rows], dtype=np.intp)
