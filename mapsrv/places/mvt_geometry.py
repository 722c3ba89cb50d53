"""A layer's geometries as MVT commands (spec 2.1, section 4.3), all at once with numpy: the
street basemap's tiles hold tens of thousands of small rings, and a Python loop over their
points was most of the build (``mvt_encode``).

For every part (a point set, a line, a polygon's ring), in order: its coordinates rounded to
whole units, points that rounding made repeat dropped (a ring's closing point too), parts left
too short dropped (a line of one point, a ring of fewer than three or of no area, and a
polygon's holes when its exterior went), rings turned to the spec's winding (an exterior's area
positive by the surveyor's formula in tile coordinates, y down; a hole's negative). Then each
part's commands: ``MoveTo(1)`` and its first point, ``LineTo(n - 1)`` and the rest,
``ClosePath`` after a ring; a multipoint is one ``MoveTo(n)``. Each point is a zigzagged delta
from the one before it in the same feature (the cursor runs on across parts), the first from
(0, 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["Commands", "commands"]

POINT, LINE, POLYGON = 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
# by shapely's type id + 1 (-1 is a missing geometry): point, line, polygon or nothing (0)
_KINDS = np.array([0, POINT, LINE, LINE, POLYGON, POINT, LINE, POLYGON, 0])


@dataclass(frozen=True)
class Commands:
    """Each geometry's type (0: it encodes to nothing) and the span of its commands in ``values``."""

    kinds: np.ndarray
    values: np.ndarray  # uint64: command headers and zigzagged deltas, geometry after geometry
    starts: np.ndarray
    ends: np.ndarray


def commands(geometries: Sequence[BaseGeometry], frames: np.ndarray | None = None) -> Commands:
    """The geometries' commands; with ``frames`` (one row a geometry: a tile's left and top edges
    and its units per unit of the geometries), each geometry's coordinates are taken into its
    tile first, ``(x - left) * scale, (top - y) * scale`` (y down): on the arrays of coordinates
    already read, where a shapely ``transform`` per tile made new geometries (a third of a
    basemap's build)."""
    array = np.asarray(geometries, dtype=object)
    kinds = _KINDS[shapely.get_type_id(array) + 1]
    chunks, owners, spans = [], [], []
    for kind in (POINT, LINE, POLYGON):
        chosen = np.flatnonzero(kinds == kind)
        if len(chosen):
            framed = frames[chosen] if frames is not None else None
            values, owner, start, end = _encode(array[chosen], kind, framed)
            chunks.append(values)
            owners.append(chosen[owner])
            spans.append((start, end))
    starts = np.zeros(len(array), dtype=np.int64)
    ends = np.zeros(len(array), dtype=np.int64)
    at = 0
    found = np.zeros(len(array), dtype=bool)
    for values, owner, (start, end) in zip(chunks, owners, spans, strict=True):
        starts[owner], ends[owner] = start + at, end + at
        found[owner] = True
        at += len(values)
    kinds = np.where(found, kinds, 0)
    joined = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)
    return Commands(kinds, joined, starts, ends)


def _encode(
    geometries: np.ndarray, kind: int, frames: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The commands of geometries of one kind: the values, and for each geometry that encodes to
    something, its index among ``geometries`` and its span."""
    if kind == POINT:  # a multipoint is one MoveTo(n): its points are one piece
        parts, owner = geometries, np.arange(len(geometries))
    else:
        parts, owner = shapely.get_parts(geometries, return_index=True)
    if kind == POLYGON:
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        exterior = np.ones(len(rings), dtype=bool)
        exterior[1:] = ring_part[1:] != ring_part[:-1]
        pieces, piece_owner = rings, owner[ring_part]
    else:
        pieces, piece_owner, exterior, ring_part = parts, owner, None, None
    counts = shapely.get_num_coordinates(pieces).astype(np.int64)
    piece_of = np.repeat(np.arange(len(pieces)), counts)
    xy = np.rint(_framed(shapely.get_coordinates(pieces), frames, piece_owner[piece_of])).astype(np.int64)
    first = np.ones(len(xy), dtype=bool)
    first[1:] = piece_of[1:] != piece_of[:-1]
    keep = np.ones(len(xy), dtype=bool)
    if kind != POINT:
        keep[1:] = np.any(xy[1:] != xy[:-1], axis=1) | first[1:]  # repeats that rounding made
    if kind == POLYGON:  # a ring's closing point, and a last point rounded onto its first
        last = np.r_[first[1:], True]
        keep &= ~last
        xy, piece_of, keep = _closing(xy[keep], piece_of[keep])
    else:
        xy, piece_of = xy[keep], piece_of[keep]
    counts = np.bincount(piece_of, minlength=len(pieces))
    if kind == POINT:
        valid = counts >= 1
    elif kind == LINE:
        valid = counts >= 2
    else:
        assert exterior is not None and ring_part is not None
        valid, xy = _wound(xy, piece_of, counts, exterior, ring_part)
    return _write(xy, piece_of, counts, valid, piece_owner, kind, len(geometries))


def _framed(xy: np.ndarray, frames: np.ndarray | None, owner: np.ndarray) -> np.ndarray:
    """``xy`` (each point of geometry ``owner``) in its geometry's frame, when there are frames."""
    if frames is None:
        return xy
    left, top, scale = frames[owner].T
    return np.column_stack(((xy[:, 0] - left) * scale, (top - xy[:, 1]) * scale))


def _closing(xy: np.ndarray, piece_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ring whose last point (its closing one gone) rounded onto its first loses that one too."""
    if not len(xy):
        return xy, piece_of, np.ones(0, dtype=bool)
    first = np.r_[True, piece_of[1:] != piece_of[:-1]]
    last = np.r_[first[1:], True]
    starts = np.flatnonzero(first)
    start_of = starts[np.cumsum(first) - 1]
    drop = last & ~first & np.all(xy == xy[start_of], axis=1)
    keep = ~drop
    return xy[keep], piece_of[keep], keep


def _wound(
    xy: np.ndarray, ring_of: np.ndarray, counts: np.ndarray, exterior: np.ndarray, ring_part: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which rings are kept (three points or more, some area, a hole only with its exterior), and
    the points with each ring turned to the spec's winding."""
    n = len(counts)
    offsets = np.cumsum(counts) - counts
    local = np.arange(len(xy)) - offsets[ring_of]
    nxt = np.where(local == counts[ring_of] - 1, offsets[ring_of], np.arange(len(xy)) + 1)
    nxt = np.minimum(nxt, max(len(xy) - 1, 0))
    cross = xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1] if len(xy) else np.zeros(0, dtype=np.int64)
    area = np.bincount(ring_of, weights=cross.astype(np.float64), minlength=n)
    valid = (counts >= 3) & (area != 0)
    exterior_ok = np.zeros(int(ring_part.max()) + 1 if n else 0, dtype=bool)
    exterior_ok[ring_part[exterior]] = valid[exterior]
    valid &= exterior_ok[ring_part]
    flip = valid & ((area > 0) != exterior)
    order = np.arange(len(xy))
    turned = flip[ring_of]
    order[turned] = offsets[ring_of[turned]] + counts[ring_of[turned]] - 1 - local[turned]
    return valid, xy[order]


def _write(
    xy: np.ndarray,
    piece_of: np.ndarray,
    counts: np.ndarray,
    valid: np.ndarray,
    piece_owner: np.ndarray,
    kind: int,
    geometries: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    kept = valid[piece_of]
    xy, piece_of = xy[kept], piece_of[kept]
    pieces = np.flatnonzero(valid)
    counts = counts[pieces]
    owner = piece_owner[pieces]
    renumber = np.full(len(valid), -1, dtype=np.int64)
    renumber[pieces] = np.arange(len(pieces))
    piece_of = renumber[piece_of]
    # deltas from the point before in the same geometry; a geometry's first from (0, 0)
    geometry_of = owner[piece_of]
    prev = np.zeros_like(xy)
    if len(xy):
        prev[1:] = xy[:-1]
        prev[np.r_[True, geometry_of[1:] != geometry_of[:-1]]] = 0
    delta = xy - prev
    zz = ((delta << 1) ^ (delta >> 63)).astype(np.uint64)
    # each piece's length in values, and where each of its points goes
    if kind == POINT:
        size = 1 + 2 * counts
    else:
        size = 2 + 2 * counts + (1 if kind == POLYGON else 0)
    start = (np.cumsum(size) - size).astype(np.int64)
    out = np.zeros(int(size.sum()), dtype=np.uint64)
    local = np.arange(len(xy)) - (np.cumsum(counts) - counts)[piece_of]
    if kind == POINT:
        out[start] = (counts.astype(np.uint64) << np.uint64(3)) | np.uint64(MOVE_TO)
        at = start[piece_of] + 1 + 2 * local
    else:
        out[start] = np.uint64((1 << 3) | MOVE_TO)
        out[start + 3] = ((counts - 1).astype(np.uint64) << np.uint64(3)) | np.uint64(LINE_TO)
        at = start[piece_of] + 1 + 2 * local + (local >= 1)
        if kind == POLYGON:
            out[start + size - 1] = np.uint64((1 << 3) | CLOSE_PATH)
    out[at] = zz[:, 0]
    out[at + 1] = zz[:, 1]
    # each geometry's span: from its first piece's start to its last piece's end
    index = np.unique(owner)
    first_piece = np.searchsorted(owner, index, side="left")
    last_piece = np.searchsorted(owner, index, side="right") - 1
    return out, index, start[first_piece], start[last_piece] + size[last_piece]
