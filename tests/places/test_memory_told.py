"""What a process holds, told (issue 78): ``/ready`` says its resident memory, the maps it
holds, the places file it reads per question, and the outlines it keeps prepared, none before a
question needs one and never past their bound, through a real server and the SDK's client."""

from __future__ import annotations

import httpx
import trio
from mcp import Client
from support import start_server
from support.agents import call

from mapsrv.places.shape_file import KEPT_POINTS


async def test_ready_tells_what_the_process_holds(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url) as web:
        before = (await web.get("/ready")).json()["memory"]
        async with Client(server.url + "mcp") as agent:
            towns = "name,lat,lon\nAustin,30.27,-97.74\nDenver,39.74,-104.99\n"
            map_id = (await call(agent, "import", content=towns))["map_id"]
            chosen = await call(agent, "select", map_id=map_id, within="Texas")
        after = (await web.get("/ready")).json()["memory"]
    assert [f["label"] for f in chosen["features"]] == ["Austin"]
    assert 20 < before["rss_mb"] < 2000 and before["places_file_mb"] > 1, before
    assert after["maps_held"] == before["maps_held"] + 1, (before, after)
    assert after["outlines_kept"] >= 1, after
    assert 0 < after["outline_points_kept"] <= after["outline_points_bound"] == KEPT_POINTS, after
