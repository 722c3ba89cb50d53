"""A region's or a country's exact border from an imported extract, for ``within``.

Natural Earth's 1:10m borders put a point a median 458 m from the US Census's state lines
(docs/benchmarks.md, "Borders"): the data's limit. An OpenStreetMap extract imported with
``mapsrv places import`` holds the administrative boundaries as mapped, to the metre. When one of
its boundaries is the region or country a ``within`` names (same name, ``boundary=administrative``,
and the same place: its point inside Natural Earth's area, nine tenths of it inside that area,
and at least a quarter of its size), its outline is the one points are tested against; a
boundary that only shares the name (a small box called "Uusimaa") is not. Natural Earth's area
stays the answer's ``area``; the answer says ``"border": "extract"``.

The check's overlay takes tens to hundreds of milliseconds once (GEOS, in a worker); its answer is
kept per pair of shapes (both are handed out again by their caches while they live).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely

from mapsrv.core.kept import Kept
from mapsrv.core.model import LatLon
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.outlines import Area
from mapsrv.workers import run

__all__ = ["exact_border", "same_area"]

INSIDE = 0.9  # of the extract's boundary inside Natural Earth's area (which reaches out to sea)
SIZE = 0.25  # of Natural Earth's area (its sea reach counted) the boundary covers at least

_judged: Kept[tuple[int, int], Any, bool] = Kept(64)


async def exact_border(tc: ToolContext, named: Area, points: Sequence[LatLon]) -> Any | None:
    """The imported extracts' outline of ``named`` (lon, lat, prepared), or None when none has it."""
    extract = await tc.places.area_named(named.named.name, points)
    if extract is None or extract.kind != "administrative":
        return None
    outline = await tc.places.outline(extract)
    return outline if await run("geometry", same_area, outline, named.shape) else None


def same_area(outline: Any, area: Any) -> bool:
    """Whether ``outline`` (an extract's boundary) is the place Natural Earth's ``area`` is."""
    key = (id(outline), id(area))
    found = _judged.get(key, outline)
    if found is None:
        found = _judged.put(key, outline, _same(outline, area))
    return found


def _same(outline: Any, area: Any) -> bool:
    if outline.is_empty or not area.covers(outline.representative_point()):
        return False
    overlap = shapely.intersection(outline, area).area
    return bool(overlap >= INSIDE * outline.area and outline.area >= SIZE * area.area)
