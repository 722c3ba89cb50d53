"""Routes along real roads, through mapsrv over MCP with the SDK's client, from a real Valhalla
(``valhalla_service`` from pyvalhalla, on tiles built from a small street grid written with
pyosmium: tests/support/street_grid.py).

The line follows the streets; its distance and time are the engine's own; the directions name the
streets; stops reuse markers already drawn; ``reachable`` draws the engine's isochrones and
``travel_times`` answers its matrix; a stop off the roads, an unreachable island and a router
killed mid-session each give a tool error that says what to do, and the map is left as it was.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from support import start_server
from support.agents import agent, call, failing
from support.street_grid import COLUMNS, FOOTWAY, ISLAND_ENDS, ROWS, intersection, nearest_street
from support.valhalla import Valhalla, open_valhalla

from mapsrv.routing.polyline import decode

SW, NE = intersection(0, 0), intersection(5, 5)
ON_A_STREET_M = 3.0  # Valhalla's shape points sit on the ways it was given, to the centimetre


async def engine_route(engine: Valhalla, stops: list[tuple[float, float]], costing: str) -> dict[str, Any]:
    """What the engine itself answers for the same route, asked directly."""
    body = {"locations": [{"lat": a, "lon": b} for a, b in stops], "costing": costing, "units": "kilometers"}
    async with httpx.AsyncClient() as client:
        response = await client.post(engine.url + "/route", json=body)
    response.raise_for_status()
    return dict(response.json()["trip"])


async def features(client: Any, map_id: str) -> list[dict[str, Any]]:
    return list((await call(client, "read", map_id=map_id, format="geojson"))["features"])


async def test_a_route_follows_the_streets_with_the_engines_distance_time_and_directions(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        drawn = await call(
            client, "draw", items=[{"type": "route", "points": [list(SW), list(NE)], "label": "Across"}]
        )
        [route] = drawn["routes"]
        trip = await engine_route(valhalla, [SW, NE], "auto")
        assert route["by"] == "car"
        assert route["distance_km"] == pytest.approx(trip["summary"]["length"], abs=0.001)
        assert route["duration_min"] == pytest.approx(trip["summary"]["time"] / 60, abs=0.1)
        assert route["summary"].endswith("by car") and "km" in route["summary"]
        named = " ".join(route["directions"])
        assert any(street in named for street in ROWS + COLUMNS), route["directions"]
        assert FOOTWAY not in named, "a car may not take the footway"
        assert len(route["stops"]) == 2

        line = next(f for f in await features(client, drawn["map_id"]) if f["id"] == route["id"])
        points = [(lat, lon) for lon, lat in line["geometry"]["coordinates"]]
        assert len(points) > 2, "not a straight line"
        for point in points:
            street, off = nearest_street(point)
            assert off <= ON_A_STREET_M and street != FOOTWAY, (point, street, off)
        assert points == [tuple(p) for p in decode(trip["legs"][0]["shape"])]
        props = line["properties"]
        assert props["by"] == "car" and props["distance_m"] == round(trip["summary"]["length"] * 1000)

        summary = await call(client, "read", map_id=drawn["map_id"])
        rows = summary["latest"] + summary["named"]
        assert any(row.get("route") == route["summary"] for row in rows), summary
        history = await call(client, "changes", map_id=drawn["map_id"], since=0)
        assert any(route["summary"] in c["summary"] for c in history["changes"]), history
        exported = await client.call_tool("read", {"map_id": drawn["map_id"], "format": "gpx"})
        gpx = exported.content[1].resource.text  # type: ignore[union-attr]
        assert "<rte><name>Across</name><type>car</type>" in gpx and gpx.count("<rtept ") == len(points)


async def test_foot_takes_the_footway_and_is_shorter(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "walker") as client:
        drawn = await call(
            client,
            "draw",
            items=[
                {"type": "route", "points": [list(SW), list(NE)], "by": "foot", "id": "walk"},
                {"type": "route", "points": [list(SW), list(NE)], "by": "car", "id": "drive"},
            ],
        )
        walk, drive = drawn["routes"]
        assert walk["by"] == "foot" and drive["by"] == "car"
        assert walk["distance_km"] < drive["distance_km"]
        assert any(FOOTWAY in step for step in walk["directions"]), walk["directions"]
        assert drawn["routes"][0]["stops"] == ["walk.1", "walk.2"]
        assert drawn["routes"][1]["stops"] == ["walk.1", "walk.2"], (
            "the second route reuses the first's stops"
        )


async def test_stops_reuse_the_markers_already_drawn_there(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    stops = [intersection(0, 0), intersection(3, 2), intersection(5, 5)]
    async with agent(server.url + "mcp", "planner") as client:
        marked = await call(
            client,
            "draw",
            items=[{"at": list(p), "label": f"Stop {i}", "id": f"m{i}"} for i, p in enumerate(stops)],
        )
        map_id = marked["map_id"]
        near = (stops[1][0] + 0.00005, stops[1][1])  # ~6 m from the marker: the same place
        drawn = await call(
            client,
            "draw",
            map_id=map_id,
            items=[
                {
                    "type": "route",
                    "points": [list(stops[0]), list(near), list(stops[2]), list(intersection(5, 0))],
                }
            ],
        )
        [route] = drawn["routes"]
        assert route["stops"][:3] == ["m0", "m1", "m2"]
        new_marker = route["stops"][3]
        kinds = {f["id"]: f["geometry"]["type"] for f in await features(client, map_id)}
        assert sorted(k for k, v in kinds.items() if v == "Point") == sorted(["m0", "m1", "m2", new_marker])


async def test_what_cannot_be_routed_is_a_tool_error_and_nothing_is_drawn(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        made = await call(client, "draw", items=[{"at": list(SW), "label": "Start"}])
        map_id, version = made["map_id"], made["version"]
        far = [SW[0] + 0.5, SW[1] - 0.5]  # 60 km off, in the sea: no road of these tiles near it
        off = [SW[0], SW[1] - 0.09]  # 7.8 km west of the grid: a road is there, too far to be this stop's
        for points, said in (
            ([list(SW), far], "no road for car near"),
            ([list(SW), off], "no road for car near"),
            ([list(SW), list(ISLAND_ENDS[0])], "no way by car between"),
        ):
            text, _ = await failing(
                client, "draw", map_id=map_id, items=[{"at": list(NE)}, {"type": "route", "points": points}]
            )
            assert text.startswith("invalid: items[1]: " + said), text
        assert (await call(client, "read", map_id=map_id))["version"] == version, "nothing drawn"


async def test_reachable_areas_and_travel_times_are_the_engines(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    centre = intersection(2, 2)
    async with agent(server.url + "mcp", "planner") as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert {"reachable", "travel_times"} <= listed
        reached = await call(client, "reachable", at=list(centre), minutes=[1, 2], by="foot")
        assert [area["minutes"] for area in reached["areas"]] == [2.0, 1.0], "the larger below"
        shapes = {f["id"]: f for f in await features(client, reached["map_id"])}
        for area in reached["areas"]:
            polygon = shapes[area["id"]]
            assert polygon["geometry"]["type"] == "Polygon"
            assert polygon["properties"]["minutes"] == area["minutes"]
        times = await call(
            client,
            "travel_times",
            origins=[list(SW)],
            destinations=[list(NE), list(intersection(0, 1)), list(ISLAND_ENDS[0])],
        )
        [row] = times["rows"]
        nearest = intersection(0, 1)
        assert times["destinations"][1] == row["nearest"] == f"[{nearest[0]}, {nearest[1]}]"
        to_ne, to_next, to_island = row["km"]
        trip = await engine_route(valhalla, [SW, NE], "auto")
        assert to_ne == pytest.approx(trip["summary"]["length"], abs=0.01)
        assert row["min"][0] == pytest.approx(trip["summary"]["time"] / 60, abs=0.6)
        assert to_next < to_ne
        assert to_island is None and row["min"][2] is None and "no way by car" in times["null"]


async def test_a_router_killed_mid_session_fails_clearly_and_works_again_when_back(
    nursery: trio.Nursery, valhalla_config: Path
) -> None:
    async with open_valhalla(valhalla_config) as engine:
        port = engine.port
        server = await start_server(nursery, router=f"valhalla+{engine.url}")
        async with agent(server.url + "mcp", "planner") as client:
            first = await call(client, "draw", items=[{"type": "route", "points": [list(SW), list(NE)]}])
            map_id = first["map_id"]
            engine.process.kill()
            with trio.fail_after(10):
                await engine.process.wait()
            text, said = await failing(
                client, "draw", map_id=map_id, items=[{"type": "route", "points": [list(NE), list(SW)]}]
            )
            assert text.startswith("unavailable: the router is unavailable"), text
            assert "nothing was drawn" in text and said["retry_after"] >= 1
            assert (await call(client, "read", map_id=map_id))["version"] == first["version"]
            async with open_valhalla(valhalla_config, port=port):
                again = await call(
                    client, "draw", map_id=map_id, items=[{"type": "route", "points": [list(NE), list(SW)]}]
                )
                assert again["routes"][0]["distance_km"] > 0


async def test_without_a_router_a_route_is_a_straight_line_and_says_so(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with agent(server.url + "mcp", "planner") as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert not {"reachable", "travel_times"} & listed, "a tool that could only fail is not listed"
        drawn = await call(
            client, "draw", items=[{"type": "route", "points": [list(SW), list(NE)], "by": "foot"}]
        )
        [route] = drawn["routes"]
        assert drawn["routes_along"].startswith("straight lines: this server has no router")
        assert "distance_km" not in route and len(route["stops"]) == 2
        line = next(f for f in await features(client, drawn["map_id"]) if f["id"] == route["id"])
        assert len(line["geometry"]["coordinates"]) == 2


async def test_a_hung_router_fails_the_call_within_its_timeout(nursery: trio.Nursery) -> None:
    """A router that takes the connection and never answers (a stuck process, a black-holed
    service): the call fails after --router-timeout, saying so, and nothing is drawn."""
    held: list[trio.SocketStream] = []

    async def hold(stream: trio.SocketStream) -> None:
        held.append(stream)  # read nothing, answer nothing
        await trio.sleep_forever()

    [listener] = await nursery.start(partial(trio.serve_tcp, hold, 0, host="127.0.0.1"))
    port = listener.socket.getsockname()[1]
    server = await start_server(nursery, router=f"valhalla+http://127.0.0.1:{port}", router_timeout=0.5)
    async with agent(server.url + "mcp", "planner") as client:
        made = await call(client, "draw", items=[{"at": list(SW), "label": "Start"}])
        with trio.fail_after(10):
            text, said = await failing(
                client,
                "draw",
                map_id=made["map_id"],
                items=[{"type": "route", "points": [list(SW), list(NE)]}],
            )
        assert "(no answer within 0.5 s); nothing was drawn" in text and said["retry_after"] >= 1, text
        assert str(port) not in text, "the router's address is the operator's, not the agent's"
        assert held, "the router was asked"
        assert (await call(client, "read", map_id=made["map_id"]))["version"] == made["version"]


async def test_a_route_past_the_routers_limit_says_to_split_it(
    nursery: trio.Nursery, valhalla_config: Path
) -> None:
    limits = {"service_limits": {"auto": {"max_distance": 500.0}}}
    async with open_valhalla(valhalla_config, overrides=limits) as engine:
        server = await start_server(nursery, router=f"valhalla+{engine.url}")
        async with agent(server.url + "mcp", "planner") as client:
            text, _ = await failing(client, "draw", items=[{"type": "route", "points": [list(SW), list(NE)]}])
            assert text.startswith("invalid: items[0]: the route is longer than this router allows by car"), (
                text
            )
            assert "500 meters" in text and "several shorter routes" in text
            short = await call(
                client, "draw", items=[{"type": "route", "points": [list(SW), list(intersection(0, 1))]}]
            )
            assert short["routes"][0]["distance_km"] == pytest.approx(0.175, abs=0.005)


async def test_stops_reuse_markers_drawn_earlier_in_the_same_call(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    middle = intersection(3, 3)
    async with agent(server.url + "mcp", "planner") as client:
        drawn = await call(
            client,
            "draw",
            items=[
                {"at": list(SW), "label": "Home"},
                {"type": "route", "points": [list(SW), list(middle)]},
                {"type": "route", "points": [list(middle), list(NE)]},
            ],
        )
        home, first, second = drawn["ids"][0], *drawn["routes"]
        assert first["stops"][0] == home, "the marker drawn just before stands for the first stop"
        assert second["stops"][0] == first["stops"][1], "the second route starts on the first's end"
        points = [f for f in await features(client, drawn["map_id"]) if f["geometry"]["type"] == "Point"]
        assert len(points) == 3, [p["properties"] for p in points]
