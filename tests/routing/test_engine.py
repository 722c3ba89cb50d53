"""The routing tests' engine itself: a real Valhalla on the street grid of support/street_grid.py
answers routes, isochrones and matrices as the grid says it should, and fails as recorded here.

The error bodies below are Valhalla 3.9.1's (pyvalhalla 3.9.1), verbatim; mapsrv maps them."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from support.street_grid import (
    COLUMNS,
    FOOTWAY,
    ISLAND_ENDS,
    NORTH_EAST,
    ROWS,
    SOUTH_WEST,
    SPACING_M,
    intersection,
    metres,
    nearest_street,
)
from support.valhalla import Valhalla, decode_polyline6, open_valhalla

GRID_STREETS = ROWS + COLUMNS
FAR_AWAY = (SOUTH_WEST[0], SOUTH_WEST[1] + 0.58)  # ~50 km east, in the fields by Pegões


def at(point: tuple[float, float]) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1]}


async def ask(valhalla: Valhalla, action: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=valhalla.url, timeout=10) as http:
        return await http.post(f"/{action}", json=body)


async def route(valhalla: Valhalla, costing: str, *points: tuple[float, float]) -> dict[str, Any]:
    response = await ask(valhalla, "route", {"locations": [at(p) for p in points], "costing": costing})
    assert response.status_code == 200, response.text
    trip: dict[str, Any] = response.json()["trip"]
    return trip


def inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    """Whether a (lat, lon) point is inside a GeoJSON ring of [lon, lat] (ray casting)."""
    lat, lon = point
    crossings = 0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            crossings += 1
    return crossings % 2 == 1


async def test_a_car_follows_the_grid_and_its_maneuvers_name_the_streets(valhalla: Valhalla) -> None:
    trip = await route(valhalla, "auto", SOUTH_WEST, NORTH_EAST)

    (leg,) = trip["legs"]
    shape = decode_polyline6(leg["shape"])
    assert metres(shape[0], SOUTH_WEST) < 1 and metres(shape[-1], NORTH_EAST) < 1
    off_street = [(p, nearest_street(p, among=GRID_STREETS)) for p in shape]
    assert all(distance < 3 for _, (_, distance) in off_street), off_street
    along = sum(metres(a, b) for a, b in itertools.pairwise(shape))
    blocks = len(ROWS) - 1 + len(COLUMNS) - 1  # no diagonal for a car: a staircase of whole blocks
    assert math.isclose(along, blocks * SPACING_M, rel_tol=0.01)
    assert math.isclose(trip["summary"]["length"] * 1000, along, rel_tol=0.01)  # km
    assert trip["summary"]["time"] > 0  # seconds

    *turns, arrival = leg["maneuvers"]
    assert arrival["instruction"] == "You have arrived at your destination."
    for maneuver in turns:  # e.g. "Drive east on Rua 1.", "Turn left onto Avenida F."
        (name,) = maneuver["street_names"]
        assert name in GRID_STREETS and name in maneuver["instruction"], maneuver
        assert maneuver["travel_mode"] == "drive"
    assert turns[0]["instruction"] in ("Drive east on Rua 1.", "Drive north on Avenida A.")


async def test_on_foot_the_footway_is_the_shorter_way(valhalla: Valhalla) -> None:
    by_car = await route(valhalla, "auto", SOUTH_WEST, NORTH_EAST)
    on_foot = await route(valhalla, "pedestrian", SOUTH_WEST, NORTH_EAST)

    (leg,) = on_foot["legs"]
    assert leg["maneuvers"][0]["instruction"] == f"Walk northeast on {FOOTWAY}."
    assert all(nearest_street(p, among=[FOOTWAY])[1] < 3 for p in decode_polyline6(leg["shape"]))
    diagonal = metres(SOUTH_WEST, NORTH_EAST)
    assert math.isclose(on_foot["summary"]["length"] * 1000, diagonal, rel_tol=0.01)
    assert on_foot["summary"]["length"] < by_car["summary"]["length"]


async def test_an_isochrone_is_a_polygon_around_its_centre(valhalla: Valhalla) -> None:
    centre = intersection(2, 2)
    body = {"locations": [at(centre)], "costing": "pedestrian", "contours": [{"time": 5}], "polygons": True}
    response = await ask(valhalla, "isochrone", body)

    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["properties"]["contour"] == 5 and feature["properties"]["metric"] == "time"
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]  # [lon, lat] pairs, closed
    assert ring[0] == ring[-1] and inside(centre, ring)
    assert not inside(NORTH_EAST, ring)  # 5 minutes' walk is ~400 m; the corner is ~550 m away


async def test_a_matrix_gives_each_pair_its_distance_and_time(valhalla: Valhalla) -> None:
    body = {
        "sources": [at(SOUTH_WEST)],
        "targets": [at(NORTH_EAST), at(intersection(0, len(COLUMNS) - 1))],
        "costing": "auto",
    }
    response = await ask(valhalla, "sources_to_targets", body)

    assert response.status_code == 200, response.text
    (row,) = response.json()["sources_to_targets"]
    assert [(cell["from_index"], cell["to_index"]) for cell in row] == [(0, 0), (0, 1)]
    kilometres = [cell["distance"] for cell in row]
    assert kilometres == pytest.approx([10 * SPACING_M / 1000, 5 * SPACING_M / 1000], rel=0.01)
    assert row[0]["time"] > row[1]["time"] > 0  # whole seconds


async def test_a_matrix_cell_with_no_path_is_null(valhalla: Valhalla) -> None:
    body = {"sources": [at(SOUTH_WEST)], "targets": [at(ISLAND_ENDS[0])], "costing": "auto"}
    response = await ask(valhalla, "sources_to_targets", body)

    assert response.status_code == 200, response.text
    (cell,) = response.json()["sources_to_targets"][0]
    assert (cell["time"], cell["distance"], cell["cost"]) == (None, None, None)


def failure(code: int, error: str) -> dict[str, Any]:
    return {"error_code": code, "error": error, "status_code": 400, "status": "Bad Request"}


# What Valhalla answers, each with HTTP 400, e.g. for 171:
# {"error_code":171,"error":"No suitable edges near location","status_code":400,"status":"Bad Request"}
FAILURES = {
    "far from any road": (
        "route",
        {"locations": [at(SOUTH_WEST), at(FAR_AWAY)], "costing": "auto"},
        failure(171, "No suitable edges near location"),
    ),
    "no path to the island": (
        "route",
        {"locations": [at(SOUTH_WEST), at(ISLAND_ENDS[0])], "costing": "auto"},
        failure(442, "No path could be found for input"),
    ),
    "a matrix to a point far from any road": (
        "sources_to_targets",
        {"sources": [at(SOUTH_WEST)], "targets": [at(FAR_AWAY)], "costing": "auto"},
        failure(170, "Locations are in unconnected regions. Go check/edit the map at osm.org"),
    ),
    "too many locations": (
        "route",
        {"locations": [at(SOUTH_WEST)] * 21, "costing": "auto"},  # service_limits.auto.max_locations
        failure(150, "Exceeded max locations: 20"),
    ),
    "one location": (
        "route",
        {"locations": [at(SOUTH_WEST)], "costing": "auto"},
        failure(120, "Insufficient number of locations provided"),
    ),
    "an isochrone too long": (
        "isochrone",
        {"locations": [at(SOUTH_WEST)], "costing": "auto", "contours": [{"time": 121}]},
        failure(151, "Exceeded max time: 120"),  # service_limits.isochrone.max_time_contour
    ),
    "an unknown costing": (
        "route",
        {"locations": [at(SOUTH_WEST), at(NORTH_EAST)], "costing": "hovercraft"},
        failure(125, "No costing method found: 'hovercraft'"),
    ),
}


@pytest.mark.parametrize("case", FAILURES)
async def test_failures_come_back_as_recorded(valhalla: Valhalla, case: str) -> None:
    action, body, expected = FAILURES[case]
    response = await ask(valhalla, action, body)
    assert (response.status_code, response.json()) == (400, expected)


async def test_an_isochrone_far_from_any_road_is_a_small_polygon_not_an_error(valhalla: Valhalla) -> None:
    """Unlike a route (171 above), Valhalla draws an isochrone around a point with no road near:
    a ring of ~75 m about it. mapsrv cannot tell "no road here" from the isochrone alone."""
    body = {"locations": [at(FAR_AWAY)], "costing": "auto", "contours": [{"time": 5}], "polygons": True}
    response = await ask(valhalla, "isochrone", body)

    assert response.status_code == 200, response.text
    ring = response.json()["features"][0]["geometry"]["coordinates"][0]
    assert inside(FAR_AWAY, ring)
    assert max(metres(FAR_AWAY, (lat, lon)) for lon, lat in ring) < 200


async def test_a_route_beyond_the_distance_limit_fails_as_recorded(valhalla_config: Path) -> None:
    """service_limits.auto.max_distance bounds the straight line between locations, in metres;
    the grid's diagonal is ~1.2 km, a block 175 m."""
    limits = {"service_limits": {"auto": {"max_distance": 500.0}}}
    async with open_valhalla(valhalla_config, overrides=limits) as valhalla:
        too_far = await ask(
            valhalla, "route", {"locations": [at(SOUTH_WEST), at(NORTH_EAST)], "costing": "auto"}
        )
        one_block = await route(valhalla, "auto", SOUTH_WEST, intersection(0, 1))

    # {"error_code":154,"error":"Path distance exceeds the max distance limit: 500 meters",
    #  "status_code":400,"status":"Bad Request"}
    expected = failure(154, "Path distance exceeds the max distance limit: 500 meters")
    assert (too_far.status_code, too_far.json()) == (400, expected)
    assert one_block["summary"]["length"] == pytest.approx(SPACING_M / 1000, rel=0.01)


async def test_the_router_goes_down_and_comes_back_on_the_same_port(valhalla_config: Path) -> None:
    async with open_valhalla(valhalla_config) as first:
        assert (await route(first, "auto", SOUTH_WEST, NORTH_EAST))["summary"]["length"] > 0
        first.process.kill()
        with trio.fail_after(5):
            await first.process.wait()
        with pytest.raises(httpx.ConnectError):
            await ask(first, "route", {"locations": [at(SOUTH_WEST), at(NORTH_EAST)], "costing": "auto"})

        async with open_valhalla(valhalla_config, port=first.port) as again:
            assert again.url == first.url and again.pid != first.pid
            assert (await route(again, "auto", SOUTH_WEST, NORTH_EAST))["summary"]["length"] > 0
