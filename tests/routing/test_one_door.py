"""One door for files (issue 80): a GPS track brought in through each way in (the ``import``
tool's content, the page's import, an upload link a client PUTs to) is put on the roads by a real
Valhalla the same way, and the same wrong asks are refused with the same words at every door,
over real sockets with the SDK's client and httpx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import trio
from support import Browser, start_server
from support.agents import agent, call, failing
from support.street_grid import ROWS, nearest_street
from support.valhalla import Valhalla
from test_routes_further import ON_A_STREET_M, noisy_track

from mapsrv.server import Server

ROW = 3


def plain(server: Server) -> httpx.AsyncClient:
    """Whoever holds an upload link: no cookie, no key."""
    return httpx.AsyncClient(base_url=server.url.rstrip("/"), timeout=60)


def ring(lat: float) -> list[list[float]]:
    return [[24, lat], [25, lat], [24.5, lat + 0.5], [24, lat]]


def track_of(state: Any) -> Any:
    [track] = [f for f in state.features.values() if f.type == "polyline"]
    return track


async def test_every_door_puts_a_track_on_the_roads_alike(nursery: trio.Nursery, valhalla: Valhalla) -> None:
    gpx, _, times = noisy_track(ROW)
    server = await start_server(nursery, router=f"valhalla+{valhalla.url}")
    owner = Browser(server.url)
    try:
        async with agent(server.url + "mcp", "runner") as client:
            by_tool = await call(client, "import", content=gpx, snap="car")
            assert "constant speed" in by_tool["times"]

            page_map = await owner.new_map()
            before = (await server.hub.get(page_map)).state.version
            query = urlencode({"filename": "drive.gpx", "snap": "car"})
            shown = await owner.client.post(f"/m/{page_map}/import?preview=1&{query}", content=gpx.encode())
            assert shown.status_code == 200, shown.text
            [previewed] = shown.json()["preview"]["features"]
            for lon, lat in previewed["geometry"]["coordinates"]:
                assert nearest_street((lat, lon), [ROWS[ROW]])[1] <= ON_A_STREET_M, "the preview is snapped"
            assert (await server.hub.get(page_map)).state.version == before, "a preview wrote"
            by_page = await owner.client.post(f"/m/{page_map}/import?{query}", content=gpx.encode())
            assert by_page.status_code == 200, by_page.text
            assert by_page.json()["times"] == by_tool["times"]

            link = await call(client, "import", upload=True, snap="car")  # asked once, by the agent
            async with plain(server) as http:
                path = httpx.URL(link["upload_url"]).raw_path.decode()
                put = await http.put(path, params={"filename": "drive.gpx"}, content=gpx.encode())
            assert put.status_code == 200, put.text
            assert put.json()["times"] == by_tool["times"]
            assert (await call(client, "import", upload=link["handle"]))["ids"] == put.json()["ids"]

        tracks = [
            track_of((await server.hub.get(map_id)).state)
            for map_id in (by_tool["map_id"], page_map, link["map_id"])
        ]
        first = tracks[0]
        for point in first.coords:
            assert nearest_street(point, [ROWS[ROW]])[1] <= ON_A_STREET_M, point
        properties = dict(first.properties)
        assert properties["snapped"] == "car"
        assert properties["times"][0] == times[0] and properties["times"][-1] == times[-1]
        for other in tracks[1:]:
            assert other.coords == first.coords, "another door, another road"
            assert dict(other.properties) == properties
    finally:
        await owner.aclose()


WRONG = [  # what is asked, and what every door says of it
    ({"snap": "car"}, "needs a routing engine and this server has none"),
    ({"key": "iso_a3"}, "key and country go with join"),
    ({"join": "countries", "snap": "car"}, "leave one of them out"),
    ({"simplify": 0.001}, "simplify must be between 0.01 and 10000"),
    ({"join": "layer"}, "got no layer"),
]


async def test_every_door_refuses_a_wrong_ask_in_the_same_words(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)  # no router
    csv = "lat,lon,time\n60.1,24.9,2026-05-01T08:00:00Z\n60.2,24.95,2026-05-01T08:10:00Z\n"
    owner = Browser(server.url)
    try:
        page_map = await owner.new_map()
        async with agent(server.url + "mcp", "runner") as client:
            link = await call(client, "import", upload=True)
            path = httpx.URL(link["upload_url"]).raw_path.decode()
            for asked, said in WRONG:
                text, _ = await failing(client, "import", content=csv, map_id=page_map, **asked)
                assert said in text, (asked, text)
                text, _ = await failing(client, "import", upload=True, map_id=page_map, **asked)
                assert said in text, (asked, text)
                query = urlencode({"filename": "fixes.csv", **asked})
                page = await owner.client.post(f"/m/{page_map}/import?{query}", content=csv.encode())
                assert page.status_code == 400 and said in page.json()["error"]["message"], (asked, page.text)
                async with plain(server) as http:
                    put = await http.put(
                        path, params={"filename": "fixes.csv", **asked}, content=csv.encode()
                    )
                assert put.status_code == 400 and said in put.json()["error"]["message"], (asked, put.text)
        state = (await server.hub.get(page_map)).state
        assert not state.features, "a refused ask added something"
        async with plain(server) as http:  # every refusal left the link open for the right file
            put = await http.put(path, params={"filename": "fixes.csv"}, content=csv.encode())
        assert put.status_code == 200 and put.json()["added"] == 2, put.text
    finally:
        await owner.aclose()


async def test_an_upload_link_joins_a_table_to_a_layer_as_the_tool_does(nursery: trio.Nursery) -> None:
    """``join: "layer"`` asked with ``upload: true``: the person's CSV is joined to the map's layer
    (its columns on the features its key names), one undoable change, as the tool joins it."""
    server = await start_server(nursery)
    districts = json.dumps({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": code, "name": code},
             "geometry": {"type": "Polygon", "coordinates": [ring(60 + n)]}}
            for n, code in enumerate(("A", "B"))
        ],
    })  # fmt: skip
    async with agent(server.url + "mcp", "joiner") as client:
        drawn = await call(client, "import", content=districts, format="geojson", layer="districts")
        map_id = drawn["map_id"]
        link = await call(client, "import", upload=True, map_id=map_id, join="layer", layer="districts")
        async with plain(server) as http:
            path = httpx.URL(link["upload_url"]).raw_path.decode()
            put = await http.put(
                path, params={"filename": "results.csv"}, content=b"code,votes\nA,10\nB,20\nC,5\n"
            )
        assert put.status_code == 200, put.text
        joined = put.json()["joined"]
        assert (joined["matched"], joined["rows"], joined["key"]) == (2, 3, "code"), joined
        heard = await call(client, "import", upload=link["handle"])
        assert heard["joined"] == joined
    state = (await server.hub.get(map_id)).state
    votes = {f.label: dict(f.properties).get("votes") for f in state.features.values()}
    assert votes == {"A": 10, "B": 20}, votes
