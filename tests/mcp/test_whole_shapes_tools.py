"""The spatial, measuring and image tools on whole features, through the real server with the SDK's
client: Natural Earth's South Africa (Lesotho its hole), Lesotho, Fiji (across the 180th meridian)
and Canada imported as GeoJSON, one feature each. ``measure`` gives South Africa's area as
pyproj's Geod does, ``select within`` the feature or the country by name leaves out a marker in
Lesotho, ``derive`` draws one feature (a buffer keeping the hole, Fiji's union one multipolygon),
and ``select``'s mark outlines a multipolygon whole."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import shapely
from mcp import Client
from pyproj import CRS, Geod, Transformer
from shapely.geometry import shape
from support.agents import call
from support.natural_earth import countries_geojson, countries_table

from mapsrv.server import Server
from mapsrv.spatial.index import MARK_LAYER

GEOD = Geod(ellps="WGS84")
IDS = {"710": "South Africa", "426": "Lesotho", "242": "Fiji", "124": "Canada"}
MASERU_EAST = [-29.6, 28.25]  # Lesotho's middle
KIMBERLEY = [-28.74, 24.77]


def geodesic_km2(geometry: Any) -> float:
    return abs(float(GEOD.geometry_area_perimeter(geometry)[0])) / 1e6


def reference_buffer_km2(geometry: Any, km: float) -> float:
    """The buffer with the reference libraries only: an aeqd projection (pyproj's CRS), Shapely's
    buffer there, back to degrees, Geod's area."""
    lon0, lat0 = geometry.centroid.x, geometry.centroid.y
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84")
    there = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    made = shapely.transform(geometry, lambda xy: np.column_stack(there.transform(xy[:, 0], xy[:, 1])))
    grown = made.buffer(km * 1000, quad_segs=16)
    return geodesic_km2(
        shapely.transform(grown, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    )


async def test_whole_countries_are_measured_selected_and_derived_whole(server: Server) -> None:
    raw = countries_geojson("110m")
    raw["features"] = [f for f in raw["features"] if f["id"] in IDS]
    reference = {f["id"]: shape(f["geometry"]) for f in raw["features"]}
    async with Client(server.url + "mcp") as agent:
        made = await call(agent, "import", content=json.dumps(raw), fit=False)
        map_id = made["map_id"]
        state = (await server.hub.get(map_id)).state
        by_name = {f.label: f for f in state.features.values()}
        assert {f.type for f in state.features.values()} == {"polygon", "multipolygon"}
        south_africa = by_name["South Africa"]
        assert len(state.features) == 4 and len(south_africa.coords) == 2  # outline and hole

        measured = await call(agent, "measure", map_id=map_id, ids=[south_africa.id], unit="km")
        (found,) = measured["features"]
        assert abs(found["area"] / geodesic_km2(reference["710"]) - 1) < 1e-3
        outline = shapely.Polygon(reference["710"].exterior)
        assert abs(found["area"] / (geodesic_km2(outline) - geodesic_km2(reference["426"])) - 1) < 1e-3

        towns = [{"at": MASERU_EAST, "id": "lesotho-town"}, {"at": KIMBERLEY, "id": "kimberley"}]
        await call(agent, "draw", map_id=map_id, items=towns, layer="towns")
        for within in (south_africa.id, "South Africa"):
            chosen = await call(agent, "select", map_id=map_id, within=within, layer="towns")
            assert [f["id"] for f in chosen["features"]] == ["kimberley"], within

        buffered = await call(agent, "derive", map_id=map_id, op="buffer", ids=[south_africa.id], km=5)
        (grown,) = buffered["ids"]
        drawn = (await server.hub.get(map_id)).state.features[grown]
        assert drawn.type == "polygon" and len(drawn.coords) == 2  # Lesotho's hole, 5 km smaller
        expected = reference_buffer_km2(reference["710"], 5)
        assert abs(buffered["area_km2"] / expected - 1) < 0.01

        fiji = by_name["Fiji"]
        union = await call(agent, "derive", map_id=map_id, op="union", ids=[fiji.id])
        (whole,) = union["ids"]
        drawn = (await server.hub.get(map_id)).state.features[whole]
        assert drawn.type == "multipolygon" and "cut at the 180th meridian" in union["note"]
        assert abs(union["area_km2"] / geodesic_km2(reference["242"]) - 1) < 0.01

        marked = await call(agent, "select", map_id=map_id, within=[[40, -150], [85, -50]], mark=True)
        assert [f["id"] for f in marked["features"]] == [by_name["Canada"].id]
        state = (await server.hub.get(map_id)).state
        (outline_mark,) = [f for f in state.features.values() if f.layer == MARK_LAYER]
        assert outline_mark.type == "multipolygon" and outline_mark.coords == by_name["Canada"].coords


async def test_the_union_of_the_worlds_countries_is_as_big_as_they_are(server: Server) -> None:
    """GDAL's Natural Earth countries (177, Antarctica and Russia across 180 among them) share
    their borders and do not overlap: their union is as big as they are together, where a local
    projection of the whole world tore on the far side (176 million km2 for 147, and 122 for 81
    with the first 60). Natural Earth's own 1:110m outlines that cross themselves are repaired,
    and the answer says how many."""
    table = countries_table()
    together = sum(geodesic_km2(shape(f["geometry"])) for f in table["features"])
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "import", content=json.dumps(table), fit=False))["map_id"]
        ids = list((await server.hub.get(map_id)).state.features)
        union = await call(agent, "derive", map_id=map_id, op="union", ids=ids)
        assert abs(union["area_km2"] / together - 1) < 1e-4, (union["area_km2"], together)
        first = ids[:60]
        part = await call(agent, "derive", map_id=map_id, op="union", ids=first)
        some = sum(geodesic_km2(shape(f["geometry"])) for f in table["features"][:60])
        assert abs(part["area_km2"] / some - 1) < 1e-4, (part["area_km2"], some)

        raw = countries_geojson("110m")
        crossing = [f for f in raw["features"] if not shape(f["geometry"]).is_valid]
        assert crossing, "Natural Earth's 1:110m has outlines that cross themselves"
        made = await call(agent, "import", content=json.dumps(raw), fit=False)
        ids = list((await server.hub.get(made["map_id"])).state.features)
        union = await call(agent, "derive", map_id=made["map_id"], op="union", ids=ids)
        said = re.search(r"(\d+) self-crossing outlines? made valid first", union["note"])
        assert said and 1 <= int(said[1]) <= len(crossing), union["note"]
