"""Areas drawn by name (issue 77): a ``draw`` item ``{"type": "polygon", "bounds": "Kallio"}``
draws the outline of the area the name means, where ``bounds`` alone draws its box. A country or
a first-level region is Natural Earth's (the outlines a table joined to countries or regions gets:
1:50m countries, ~2 km regions), whole with its islands and holes; any other name is an imported
extract's area (a district, a park, a campus: ``mapsrv places import``), its outline as mapped.
A name that is neither is refused, saying what it is instead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput
from mapsrv.formats.join import outline_shapes
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.outlines import map_country
from mapsrv.mcp.tools.places import map_anchors
from mapsrv.places.areas import read_area
from mapsrv.places.boundaries import Boundary, find_country, find_region
from mapsrv.places.offline_areas import as_boundary
from mapsrv.workers import run

__all__ = ["Outline", "area_outlines", "named_areas", "outline_of", "outlined"]

Outline = tuple[str, Any, str, str]  # the feature's type, its coords, the area's name, what it is


def named_areas(items: Iterable[Any]) -> list[str]:
    """The names ``items`` ask the outline of: a polygon given ``bounds`` as a name."""
    return [
        item["bounds"]
        for item in items
        if isinstance(item, dict)
        and item.get("type") == "polygon"
        and "points" not in item
        and isinstance(item.get("bounds"), str)
    ]


async def area_outlines(tc: ToolContext, names: Sequence[str], map_id: str | None) -> dict[str, Outline]:
    """Each name's outline, found before the items are read (the extract's need the event loop)."""
    points = map_anchors((await tc.entry(map_id)).state).anchors if map_id is not None else ()
    out: dict[str, Outline] = {}
    for name in dict.fromkeys(names):
        found = await run("geometry", _natural_earth, name, points)
        boundary, what = found if found is not None else (None, "")
        if boundary is None:
            extract = await tc.places.area_named(name, points)
            if extract is not None:
                boundary = as_boundary(extract, await tc.places.outline(extract))
                level = f" (admin level {extract.admin_level})" if extract.admin_level is not None else ""
                what = f"{extract.kind}{level} of the imported region {extract.region}"
        if boundary is not None:
            out[name] = (*await run("geometry", _shaped, boundary), what)
    return out


def outlined(outlines: dict[str, Outline]) -> dict[str, str]:
    """What each name drew, for the answer: ``{"Kallio": "Kallio: administrative (admin level 10)
    of the imported region helsinki"}``."""
    return {name: f"{outline[2]}: {outline[3]}" for name, outline in outlines.items()}


def _natural_earth(name: str, points: Sequence[LatLon]) -> tuple[Boundary, str] | None:
    named = read_area(name, map_country(points))
    if named is None:
        return None
    boundary = find_country(named.code) if named.kind == "country" else find_region(named.code)
    scale = "1:50m" if named.kind == "country" else "1:10m, ~2 km"
    what = f"{named.kind} {named.code}, Natural Earth's {scale} outline"
    return (boundary, what) if isinstance(boundary, Boundary) else None


def _shaped(boundary: Boundary) -> tuple[str, Any, str]:
    """The outline as a feature's type and coords, as a join draws it (``formats.join``)."""
    polygons, _ = outline_shapes(boundary)
    if len(polygons) == 1:
        rings = polygons[0]
        return "polygon", rings[0] if len(rings) == 1 else rings, boundary.name
    return "multipolygon", polygons, boundary.name


def outline_of(outlines: dict[str, Outline], field: str, name: str) -> Outline:
    """The outline found for ``name``, or the refusal that says what it is instead."""
    if name not in outlines:
        raise InvalidInput(
            f"{field} must name an area for a polygon (a country, a state or region, or an imported"
            f" extract's district or park), got {name!r:.40}; draw a circle at a city instead"
        )
    return outlines[name]
