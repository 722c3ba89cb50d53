"""Routes in the best order, routes that avoid highways, GPS tracks put on the roads and the climb
of a route, through mapsrv over MCP with the SDK's client and a real Valhalla on the tests' street
grid (tests/support/street_grid.py), each checked against an independent computation: a brute
force best order over Valhalla's own matrix, the grid's geometry, the test tile's slope.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from functools import partial
from typing import Any

import httpx
import pytest
import trio
from support import start_server
from support.agents import agent, call, failing
from support.street_grid import MOTORWAY, NORTH_EAST, ORIGIN, ROWS, intersection, nearest_street
from support.valhalla import Valhalla, slope_height

from mapsrv.mcp.tools.route_plans import MAX_STEPS

ON_A_STREET_M = 3.0  # Valhalla's shape points sit on the ways it was given, to the centimetre


async def features(client: Any, map_id: str) -> dict[str, dict[str, Any]]:
    read = await call(client, "read", map_id=map_id, format="geojson")
    return {f["id"]: f for f in read["features"]}


def latlons(feature: dict[str, Any]) -> list[tuple[float, float]]:
    return [(lat, lon) for lon, lat in feature["geometry"]["coordinates"]]


async def seconds_matrix(engine: Valhalla, points: list[tuple[float, float]]) -> list[list[float]]:
    """The engine's own times between every pair of points (by car), asked directly."""
    at = [{"lat": a, "lon": b} for a, b in points]
    body = {"sources": at, "targets": at, "costing": "auto"}
    async with httpx.AsyncClient() as client:
        response = await client.post(engine.url + "/sources_to_targets", json=body)
    response.raise_for_status()
    return [[cell["time"] for cell in row] for row in response.json()["sources_to_targets"]]


def brute_force_best(times: list[list[float]]) -> tuple[float, tuple[int, ...]]:
    """The quickest order through every point, first and last kept, by trying every order."""
    last = len(times) - 1
    best = min(
        (sum(times[a][b] for a, b in itertools.pairwise((0, *middle, last))), (0, *middle, last))
        for middle in itertools.permutations(range(1, last))
    )
    return best


async def test_order_best_takes_the_quickest_order_a_brute_force_finds(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    stops = [
        intersection(0, 0),
        intersection(4, 1),
        intersection(1, 4),
        intersection(3, 3),
        intersection(2, 0),
    ]
    stops.append(intersection(0, 5))
    names = ["Start", "", "", "", "", "End"]
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        items = [
            {"at": list(p), "label": n, "id": f"s{i}"}
            for i, (p, n) in enumerate(zip(stops, names, strict=True))
            if n
        ]
        items.append({"type": "route", "points": [list(p) for p in stops], "order": "best"})
        drawn = await call(client, "draw", items=items)
        [route] = drawn["routes"]
        taken = [step["stop"] for step in route["order"]]
        assert taken[0] == 0 and taken[-1] == len(stops) - 1, "the first and last stop are kept"
        assert sorted(taken) == list(range(len(stops)))
        assert route["order"][0]["name"] == "Start" and route["order"][-1]["name"] == "End"
        times = await seconds_matrix(valhalla, stops)
        fastest, _ = brute_force_best(times)
        given = sum(times[a][b] for a, b in itertools.pairwise(range(len(stops))))
        took = sum(times[a][b] for a, b in itertools.pairwise(taken))
        assert took == pytest.approx(fastest, abs=0.5), (taken, took, fastest)
        assert fastest < given - 10, "the stops as given are not already the best order"
        assert route["stops"][0] == "s0" and route["stops"][-1] == "s5"
        drawn_features = await features(client, drawn["map_id"])
        line = latlons(drawn_features[route["id"]])
        assert math.dist(line[0], stops[0]) < 1e-5 and math.dist(line[-1], stops[-1]) < 1e-5
        for number, stop_id in enumerate(route["stops"][1:-1], start=2):
            assert drawn_features[stop_id]["mapsrv"]["style"]["symbol"] == str(number), stop_id


async def test_order_best_is_capped_and_says_so(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        points = [list(intersection(i % 6, i // 6)) for i in range(13)]
        text, _ = await failing(client, "draw", items=[{"type": "route", "points": points, "order": "best"}])
        assert 'more than the 12 "order": "best" puts in order' in text, text
        again = await call(client, "draw", items=[{"type": "route", "points": points[:12], "order": "best"}])
        assert len(again["routes"][0]["order"]) == 12


async def test_avoiding_highways_keeps_off_the_motorway(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    start, end = NORTH_EAST, intersection(len(ROWS) - 1, 0)  # the motorway's two ends
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "driver") as client:
        drawn = await call(
            client,
            "draw",
            items=[
                {"type": "route", "points": [list(start), list(end)], "id": "fast"},
                {"type": "route", "points": [list(start), list(end)], "avoid": ["highways"], "id": "slow"},
            ],
        )
        fast, slow = drawn["routes"]
        shapes = await features(client, drawn["map_id"])
        on_fast = {nearest_street(p)[0] for p in latlons(shapes[fast["id"]])}
        assert MOTORWAY in on_fast, "without avoid, the motorway is the quickest way"
        for point in latlons(shapes[slow["id"]]):
            assert nearest_street(point, [ROWS[-1]])[1] <= ON_A_STREET_M, point
        assert slow["duration_min"] > fast["duration_min"]
        assert slow["distance_km"] == pytest.approx(0.875, abs=0.01)
        text, _ = await failing(
            client, "draw", items=[{"type": "route", "points": [list(start), list(end)], "avoid": ["hills"]}]
        )
        assert text.startswith("invalid: items[0].avoid must be a list of tolls, highways, ferries"), text


def noisy_track(row: int) -> tuple[str, list[tuple[float, float]], list[str]]:
    """A GPX track along the street of ``row``, west to east, each point 8-20 m off it to one side
    or the other, ten seconds apart."""
    (lat, west), (_, east) = intersection(row, 0), intersection(row, 5)
    metres_per_degree = 6_371_008.8 * math.pi / 180
    points, times = [], []
    for i in range(26):
        off = (8 + 12 * ((i * 7) % 5) / 4) * (1 if i % 2 else -1)
        points.append((lat + off / metres_per_degree, west + (east - west) * (i + 0.5) / 27))
        times.append(f"2026-05-01T08:{i // 6:02d}:{(i % 6) * 10:02d}Z")
    body = "".join(
        f'<trkpt lat="{a:.7f}" lon="{b:.7f}"><time>{t}</time></trkpt>'
        for (a, b), t in zip(points, times, strict=True)
    )
    gpx = (
        '<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>Morning drive</name><trkseg>{body}</trkseg></trk></gpx>"
    )
    return gpx, points, times


async def test_snap_puts_a_noisy_track_on_its_street_keeping_its_times(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    gpx, raw, times = noisy_track(2)
    street = ROWS[2]
    assert all(nearest_street(p, [street])[1] >= 7 for p in raw), "the recorded points are off the street"
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "runner") as client:
        imported = await call(client, "import", content=gpx, snap="car")
        [track_id] = imported["ids"]
        assert "constant speed" in imported["times"]
        track = (await features(client, imported["map_id"]))[track_id]
        points = latlons(track)
        for point in points:
            assert nearest_street(point, [street])[1] <= ON_A_STREET_M, point
        snapped_times = track["properties"]["times"]
        assert len(snapped_times) == len(points)
        assert snapped_times == sorted(snapped_times), "time goes forwards along the road"
        assert snapped_times[0] == times[0] and snapped_times[-1] == times[-1]
        assert track["properties"]["snapped"] == "car"

        text, _ = await failing(client, "import", content=gpx, snap="boat")
        assert "snap" in text, text


async def test_snap_puts_each_segment_of_a_track_on_the_street_and_keeps_it_one_track(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    gpx, _, times = noisy_track(2)
    cut = gpx.rindex("<trkpt", 0, gpx.index(times[13]))  # the 14th point starts a second segment
    gpx = gpx[:cut] + "</trkseg><trkseg>" + gpx[cut:]
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "runner") as client:
        imported = await call(client, "import", content=gpx, snap="car")
        [track_id] = imported["ids"]
        assert imported["kinds"] == {"multipolyline": 1}
        track = (await features(client, imported["map_id"]))[track_id]
        assert track["geometry"]["type"] == "MultiLineString"
        lines = [[(lat, lon) for lon, lat in line] for line in track["geometry"]["coordinates"]]
        assert len(lines) == 2
        for point in (p for line in lines for p in line):
            assert nearest_street(point, [ROWS[2]])[1] <= ON_A_STREET_M, point
        snapped_times = track["properties"]["times"]
        assert len(snapped_times) == sum(map(len, lines))
        assert snapped_times == sorted(snapped_times), "time goes forwards along the road, segment by segment"
        assert snapped_times[0] == times[0] and snapped_times[-1] == times[-1]
        assert snapped_times[len(lines[0]) - 1] == times[12] and snapped_times[len(lines[0])] == times[13]


async def test_without_a_router_snap_is_a_clear_error(nursery: trio.Nursery) -> None:
    gpx, _, _ = noisy_track(2)
    server = await start_server(nursery)
    async with agent(server.url + "mcp", "runner") as client:
        text, _ = await failing(client, "import", content=gpx, snap="foot")
        assert text.startswith("invalid: snap 'foot' needs a routing engine and this server has none"), text


async def test_a_route_climbs_the_tiles_slope(nursery: trio.Nursery, valhalla_with_heights: Valhalla) -> None:
    south, north = intersection(0, 2), intersection(5, 2)  # along Avenida C, due north
    rise = slope_height(north[0]) - slope_height(south[0])
    server = await start_server(nursery, router=f"valhalla+{valhalla_with_heights.url}")
    async with agent(server.url + "mcp", "cyclist") as client:
        drawn = await call(
            client,
            "draw",
            items=[
                {"type": "route", "points": [list(south), list(north)], "by": "bike", "id": "up"},
                {"type": "route", "points": [list(north), list(south)], "by": "bike", "id": "down"},
            ],
        )
        up, down = drawn["routes"]
        assert up["ascent_m"] == pytest.approx(rise, abs=1.5) and up["descent_m"] == pytest.approx(0, abs=1.5)
        assert down["descent_m"] == pytest.approx(rise, abs=1.5) and down["ascent_m"] == pytest.approx(
            0, abs=1.5
        )
        assert up["highest_m"] == pytest.approx(slope_height(north[0]), abs=1.5)
        line = (await features(client, drawn["map_id"]))["up"]
        profile = line["properties"]["elevations"]
        assert len(profile) == len(line["geometry"]["coordinates"])
        for (_lon, lat, z), height in zip(line["geometry"]["coordinates"], profile, strict=True):
            assert height == pytest.approx(slope_height(lat), abs=1.0), (lat, height)
            assert z == height, "the GeoJSON's third number is the profile's height"


async def test_without_elevation_data_a_route_has_no_climb(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "driver") as client:
        drawn = await call(
            client, "draw", items=[{"type": "route", "points": [list(intersection(0, 0)), list(NORTH_EAST)]}]
        )
        [route] = drawn["routes"]
        assert "ascent_m" not in route
        line = (await features(client, drawn["map_id"]))[route["id"]]
        assert "elevations" not in line["properties"]


async def test_a_route_takes_twenty_stops_and_not_twenty_one(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    snake = [intersection(r, c if r % 2 == 0 else 5 - c) for r in range(6) for c in range(6)]
    async with agent(server.url + "mcp", "planner") as client:
        drawn = await call(client, "draw", items=[{"type": "route", "points": [list(p) for p in snake[:20]]}])
        assert len(drawn["routes"][0]["stops"]) == 20
        text, _ = await failing(
            client, "draw", items=[{"type": "route", "points": [list(p) for p in snake[:21]]}]
        )
        assert "has 21 stops, more than the 20 a route may have" in text, text


async def test_reachable_from_a_point_at_sea_says_no_road_near(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    sea = [ORIGIN[0] + 0.5, ORIGIN[1] - 0.5]  # 60 km off, in the Atlantic: no road of these tiles near it
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        text, _ = await failing(client, "reachable", at=sea, minutes=[10])
        assert text.startswith("invalid: no road for car near"), text
        listed = await call(client, "list_maps")
        assert not listed.get("maps"), "nothing was drawn"


async def trickle(stream: trio.SocketStream) -> None:
    """A router that answers a byte at a time, for ever: each read comes in time, the answer never."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        while True:
            await stream.send_all(b"X-Wait: 1\r\n")
            await trio.sleep(0.05)  # the slow router under test: a header line every 50 ms


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("reachable", {"at": list(ORIGIN), "minutes": [10]}),
        ("travel_times", {"origins": [list(ORIGIN)], "destinations": [list(NORTH_EAST)]}),
        ("draw", {"items": [{"type": "route", "points": [list(ORIGIN), list(NORTH_EAST)]}]}),
    ],
)
async def test_a_router_that_never_finishes_answering_fails_every_tool_in_time(
    nursery: trio.Nursery, tool: str, arguments: dict[str, Any]
) -> None:
    [listener] = await nursery.start(partial(trio.serve_tcp, trickle, 0, host="127.0.0.1"))
    port = listener.socket.getsockname()[1]
    server = await start_server(nursery, router=f"valhalla+http://127.0.0.1:{port}", router_timeout=0.5)
    async with agent(server.url + "mcp", "planner") as client:
        text, said = "", {}
        with trio.move_on_after(10) as waited:
            text, said = await failing(client, tool, **arguments)
        assert not waited.cancelled_caught, f"{tool} waits for ever on a router that never finishes answering"
        assert text.startswith("unavailable: the router is unavailable (no answer within 0.5 s)"), text
        assert said["retry_after"] >= 1


async def test_snap_joins_a_csvs_timed_points_into_a_track_on_the_street(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    _, raw, times = noisy_track(3)
    rows = [(a, b, t) for (a, b), t in zip(raw, times, strict=True)]
    rows[3], rows[7] = rows[7], rows[3]  # the file's order is not the time order
    table = "lat,lon,time\n" + "".join(f"{a:.7f},{b:.7f},{t}\n" for a, b, t in rows)
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "runner") as client:
        imported = await call(client, "import", content=table, snap="foot")
        assert imported["kinds"] == {"polyline": 1}, imported
        track = (await features(client, imported["map_id"]))[imported["ids"][0]]
        for point in latlons(track):
            assert nearest_street(point, [ROWS[3]])[1] <= ON_A_STREET_M, point
        snapped_times = track["properties"]["times"]
        assert snapped_times[0] == times[0] and snapped_times[-1] == times[-1]
        assert snapped_times == sorted(snapped_times)


async def test_order_best_with_three_stops_says_the_only_order(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        points = [list(intersection(0, 0)), list(intersection(3, 3)), list(NORTH_EAST)]
        drawn = await call(client, "draw", items=[{"type": "route", "points": points, "order": "best"}])
        assert [step["stop"] for step in drawn["routes"][0]["order"]] == [0, 1, 2]


async def test_a_track_far_from_the_roads_is_a_clear_error_and_nothing_is_imported(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    gpx, _, _ = noisy_track(2)
    at_sea = gpx.replace(
        'lat="38.', 'lat="39.'
    )  # a degree north: the Atlantic's edge, no road of these tiles
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "runner") as client:
        text, _ = await failing(client, "import", content=at_sea, snap="car")
        assert text.startswith("invalid: track 1 (Morning drive): no roads for car along the track"), text
        assert text.endswith("or import without snap"), text
        listed = await call(client, "list_maps")
        assert not listed.get("maps"), "nothing was imported"


async def test_directions_cut_short_say_why_and_where_the_rest_are(
    nursery: trio.Nursery, valhalla: Valhalla
) -> None:
    """A route of more turns than ``MAX_STEPS`` lists the first of them and says why it stops; a
    short one lists them all and says nothing of a cut."""
    zigzag = [
        intersection(row, column) for column in range(6) for row in ((0, 5) if column % 2 == 0 else (5, 0))
    ]
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    async with agent(server.url + "mcp", "planner") as client:
        long = await call(client, "draw", items=[{"type": "route", "points": [list(p) for p in zigzag]}])
        short = await call(
            client, "draw", items=[{"type": "route", "points": [list(zigzag[0]), list(zigzag[1])]}]
        )
    [route] = long["routes"]
    assert len(route["directions"]) == MAX_STEPS and route["directions"][-1].endswith(
        "more steps, then arrive"
    )
    assert f"the first {MAX_STEPS - 1} of" in route["directions_cut"], route
    [one] = short["routes"]
    assert "directions_cut" not in one and len(one["directions"]) < MAX_STEPS, one
