"""What a process holds, told (issue 78): ``/ready`` says its resident memory and its child
processes', the maps and features it holds, the places file it reads per question, and the
outlines it keeps prepared, none before a question needs one and never past their bound; and
``/metrics`` gives each part a gauge. Through a real server and the SDK's client."""

from __future__ import annotations

import httpx
import trio
from mcp import Client
from support import start_server
from support.agents import call
from support.waiting import wait_until

from mapsrv.observability.memory import child_pids, resident_bytes
from mapsrv.places.offline_areas import kept_outline_bytes
from mapsrv.places.shape_file import KEPT_POINTS


async def test_ready_tells_what_the_process_holds(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url) as web:

        async def warm() -> bool:  # the places file is told once the process has opened it
            return bool((await web.get("/ready")).json()["places"] == "warm")

        await wait_until(warm, timeout=60, what="places warm")
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
    assert after["features_held"] == before["features_held"] + 2, (before, after)
    # the import's sandboxed reader left its spare behind, a child process of this one
    assert after["worker_processes"] >= 1 and after["workers_mb"] > 1, after


def gauge(text: str, name: str, labels: str = "") -> float:
    """A gauge's value in a Prometheus text exposition."""
    [value] = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(f"{name}{labels} ")]
    return float(value)


async def test_metrics_give_each_part_of_memory_a_gauge(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        items = [{"at": [60 + i / 100, 24.9], "label": f"P{i}"} for i in range(25)]
        await call(agent, "draw", items=items)
        towns = "name,lat,lon\nAustin,30.27,-97.74\n"
        imported = await call(agent, "import", content=towns)
        await call(agent, "select", map_id=imported["map_id"], within="Texas")
        gdp = "country,gdp\nFrance,44747\n"  # joined to its outline: the join outlines are loaded
        await call(agent, "import", content=gdp, join="countries")
    async with httpx.AsyncClient(base_url=server.url) as web:
        text = (await web.get("/metrics")).text
    assert gauge(text, "mapsrv_features_held") == 27, "the 25 points, the town and France"
    own = gauge(text, "mapsrv_resident_bytes", '{process="server"}')
    assert abs(own - resident_bytes()) < 64 * 2**20, (own, resident_bytes())  # the test's own process
    children = child_pids()
    assert gauge(text, "mapsrv_worker_processes") == len(children) >= 1, children
    assert gauge(text, "mapsrv_resident_bytes", '{process="workers"}') > 2**20
    assert gauge(text, "mapsrv_border_points_kept") > 0, "Texas's outline kept prepared"
    assert gauge(text, "mapsrv_join_outlines_loaded") == 1, "a table was joined"
    # process-wide caches: earlier tests in this process may have filled them
    assert gauge(text, "mapsrv_cache_bytes", '{cache="area_outlines"}') == kept_outline_bytes()
