"""Isochrones kept whole: Valhalla's answer for a time is one area, however many parts and holes
it has (a lake the roads go around, an island reached by a bridge), read by ``isochrones`` and
drawn by ``reachable`` as one feature (a router stand-in here: the engine's own answers are
checked in test_routes_over_mcp when Valhalla is installed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mapsrv.core.model import LatLon
from mapsrv.core.routes import Mode
from mapsrv.hub import MapHub
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.routing import reachable
from mapsrv.routing import Contour
from mapsrv.routing.valhalla import isochrones


def closed(ring: list[list[float]]) -> list[list[float]]:
    return [*ring, ring[0]]


OUTLINE = closed([[9.0, 45.0], [9.2, 45.0], [9.2, 45.2], [9.0, 45.2]])  # [lon, lat], as GeoJSON
LAKE = closed([[9.05, 45.05], [9.1, 45.05], [9.1, 45.1]])
ISLAND = closed([[9.3, 45.0], [9.35, 45.0], [9.35, 45.05]])
SLIVER = [[9.4, 45.0], [9.4, 45.0]]  # too few points to be drawn


def answer() -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"contour": 20},
                "geometry": {"type": "MultiPolygon", "coordinates": [[OUTLINE, LAKE], [ISLAND], [SLIVER]]},
            },
            {
                "type": "Feature",
                "properties": {"contour": 10},
                "geometry": {"type": "Polygon", "coordinates": [LAKE]},
            },
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [9.1, 45.1]}},
        ],
    }


def test_a_time_with_parts_and_holes_is_one_contour() -> None:
    far, near = isochrones(answer())
    assert far.minutes == 20 and len(far.polygons) == 2  # the sliver left out
    (outline, lake), (island,) = far.polygons
    assert outline[0] == (45.0, 9.0) and len(outline) == 4 and len(lake) == 3 and len(island) == 3
    kind, coords = far.geometry
    assert kind == "multipolygon" and coords == far.polygons
    kind, coords = near.geometry
    assert kind == "polygon" and coords == ((45.05, 9.05), (45.05, 9.1), (45.1, 9.1))  # flat: no hole


class Isochrones:
    """A router that answers ``reachable`` with ``answer()`` and nothing else."""

    async def reachable(self, at: LatLon, minutes: Sequence[float], by: Mode) -> list[Contour]:
        return isochrones(answer())


async def test_reachable_draws_one_feature_per_time_with_its_holes() -> None:
    tc = ToolContext(MapHub(), "http://x/", router=Isochrones())  # type: ignore[arg-type]
    drawn = (await reachable(tc, at=[45.1, 9.1], minutes=[10, 20], by="car")).structured_content
    assert drawn is not None
    assert [a["minutes"] for a in drawn["areas"]] == [20.0, 10.0]
    assert [a["points"] for a in drawn["areas"]] == [4 + 3 + 3, 3]
    state = (await tc.hub.get(drawn["map_id"])).state
    far = state.features[drawn["areas"][0]["id"]]
    assert far.type == "multipolygon" and len(far.coords[0]) == 2  # the island a part, the lake a hole
    assert far.label == "20 min by car"
