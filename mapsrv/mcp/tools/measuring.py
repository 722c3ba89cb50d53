"""The ``measure`` tool: distances, areas, bearings and boxes a model computes badly, on the WGS84
ellipsoid (core.measure), for points, place names or features already on a map."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.id_ranges import expanded
from mapsrv.core.measure import area, bbox, bearing, legs
from mapsrv.core.model import check_id
from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.places import Resolver
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import FeatureIds, Points, Unit
from mapsrv.spatial.measure import feature_area, feature_length
from mapsrv.workers import run

__all__ = ["measure"]

_AREA_OF = {"m": "ha", "km": "km2", "mi": "mi2", "nmi": "km2", "ft": "acres"}
_MAX_LEGS = 25  # legs listed one by one; longer routes give the total only


def _r(value: float) -> float:
    return float(f"{value:.4g}") if abs(value) < 1000 else round(value, 1)


async def measure(
    tc: ToolContext,
    points: Points | None = None,
    closed: Annotated[bool, Field(description="points outline an area: add its area")] = False,
    map_id: Annotated[str | None, Field(description="with ids")] = None,
    ids: FeatureIds = None,
    unit: Unit = "km",
) -> CallToolResult:
    """Measure points or places (distance, legs, bearing, bbox, area if closed) or a map's
    features (length, area, bbox)."""
    if (points is None) == (ids is None):
        raise InvalidInput(
            "measure must get points or ids (with map_id), got "
            + ("both" if points else "neither")
            + "; give one"
        )
    square = _AREA_OF[unit]
    out: dict[str, Any] = {"unit": unit}
    if points is not None:
        places = await Resolver.open(tc, points, map_id)
        path = places.points("points", points)
        if len(path) < 2:
            raise InvalidInput(f"points needs at least 2 points, got {len(path)}; add another")
        parts = legs(path, unit)
        out["distance"] = _r(sum(parts))
        if 1 < len(parts) <= _MAX_LEGS:
            out["legs"] = [_r(part) for part in parts]
        elif len(parts) > _MAX_LEGS:
            out["legs_cut"] = f"{len(parts)} legs, more than the {_MAX_LEGS} listed one by one in an answer"
        turn = bearing(path[0], path[-1]) if path[0] != path[-1] else None
        if turn is not None:
            out["bearing"] = {"degrees": round(turn.degrees, 1), "compass": turn.compass}
        if closed:
            out["area"], out["area_unit"] = _r(area(path, square)), square
        (s, w), (n, e) = bbox(path)
        out["bbox"] = [[s, w], [n, e]]
        if places.places:
            out.update(places.resolved())
        return answer(out)
    if map_id is None:
        raise InvalidInput("map_id is required with ids, got none; give the map the features are on")
    state = (await tc.entry(map_id)).state
    found = []
    for fid in expanded(ids or (), state.features):
        feature = state.features.get(check_id("feature", fid))
        if feature is None:
            raise InvalidInput(
                f"ids must name features on this map, got {fid!r:.40}; read the map for its ids"
            )
        found.append(feature)
    out["area_unit"] = square

    def measured() -> list[dict[str, Any]]:  # a country's outline: tens of ms of PROJ per feature
        return [
            {"id": f.id}
            | ({"label": f.label} if f.label else {})
            | {"length": _r(feature_length(f, unit)), "area": _r(feature_area(f, square))}
            for f in found
        ]

    out["features"] = await run("geometry", measured)
    (s, w), (n, e) = bbox(found)
    out["bbox"] = [[round(s, 5), round(w, 5)], [round(n, 5), round(e, 5)]]
    return answer(out)
