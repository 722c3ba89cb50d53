"""Routes on a server without a router (issue 77), through mapsrv over MCP with the SDK's client:
``"order": "best"`` puts the stops in the shortest order by straight lines, checked against every
order measured with pyproj's Geod (not mapsrv's geographiclib), and a route whose points are edited
renumbers its stop markers in the same change, which one undo takes back.
"""

from __future__ import annotations

import itertools
from typing import Any

import trio
from pyproj import Geod
from support import start_server
from support.agents import agent, call

GEOD = Geod(ellps="WGS84")

# Helsinki: from the station to the market square, by the cathedral (east) and Kamppi (west) in
# the order that crosses town twice; Kamppi first, then the cathedral, is ~930 m shorter.
STOPS = [(60.1710, 24.9414), (60.1702, 24.9525), (60.1690, 24.9320), (60.1675, 24.9530)]


def metres(points: list[tuple[float, float]]) -> float:
    """The length of a line through ``points``, leg by leg on the ellipsoid."""
    return sum(GEOD.inv(a[1], a[0], b[1], b[0])[2] for a, b in itertools.pairwise(points))


async def drawn_features(client: Any, map_id: str) -> dict[str, dict[str, Any]]:
    read = await call(client, "read", map_id=map_id, format="geojson")
    return {f["id"]: f for f in read["features"]}


def latlons(feature: dict[str, Any]) -> list[tuple[float, float]]:
    coords = feature["geometry"]["coordinates"]
    return [(coords[1], coords[0])] if feature["geometry"]["type"] == "Point" else [(a, b) for b, a in coords]


def symbol(feature: dict[str, Any]) -> str:
    """The symbol a marker shows (mapsrv's own fields are the export's ``mapsrv`` member)."""
    return str(feature["mapsrv"].get("style", {}).get("symbol", ""))


def symbols(features: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    return [symbol(features[fid]) for fid in ids]


async def test_order_best_without_a_router_takes_the_shortest_straight_order_and_says_so(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    async with agent(server.url + "mcp", "planner") as client:
        items = [{"type": "route", "points": [list(p) for p in STOPS], "order": "best"}]
        drawn = await call(client, "draw", items=items)
        [route] = drawn["routes"]
        assert "no router" in route["ordered_by"] and "straight-line" in route["ordered_by"], route
        taken = [step["stop"] for step in route["order"]]
        assert taken[0] == 0 and taken[-1] == len(STOPS) - 1, "the first and last stop are kept"
        features = await drawn_features(client, drawn["map_id"])
        line = latlons(features[route["id"]])
        assert line == [STOPS[i] for i in taken], "the line goes through the stops in the order taken"
        every = [(0, *middle, 3) for middle in itertools.permutations((1, 2))]
        shortest = min(metres([STOPS[i] for i in order]) for order in every)
        assert metres(line) <= shortest + 1e-6, (taken, metres(line), shortest)
        assert metres(STOPS) > shortest + 100, "the stops as given are not already the best order"
        stop_at = {tuple(latlons(features[fid])[0]): fid for fid in route["stops"]}
        numbers = [symbol(features[stop_at[point]]) for point in line]
        assert numbers == ["1", "2", "3", "4"], "each stop's marker is numbered by the order taken"


async def test_a_route_given_new_points_renumbers_its_stops_and_undo_takes_both_back(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    stops = ["trip.1", "trip.2", "trip.3", "trip.4"]
    async with agent(server.url + "mcp", "planner") as client:
        items = [{"type": "route", "id": "trip", "points": [list(p) for p in STOPS]}]
        map_id = (await call(client, "draw", items=items))["map_id"]
        before = await drawn_features(client, map_id)
        assert symbols(before, stops) == ["1", "2", "3", "4"]
        swapped = [STOPS[0], STOPS[2], STOPS[1], STOPS[3]]
        edited = await call(
            client, "edit", map_id=map_id, changes=[{"id": "trip", "points": [list(p) for p in swapped]}]
        )
        assert sorted(edited.get("renumbered", [])) == ["trip.2", "trip.3"], edited
        after = await drawn_features(client, map_id)
        assert latlons(after["trip"]) == swapped
        assert symbols(after, stops) == ["1", "3", "2", "4"], "the markers follow the line's new order"
        await call(client, "undo", map_id=map_id)
        undone = await drawn_features(client, map_id)
        assert latlons(undone["trip"]) == STOPS and symbols(undone, stops) == ["1", "2", "3", "4"]
