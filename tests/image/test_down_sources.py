"""``map_image`` never waits on what is down (issue 60), with real tile servers on 127.0.0.1: one
that hangs (accepts, never answers) and one that dies (its port closed). The first image waits
out the deadline and its caption says the basemap was skipped; the next is drawn at once without
the server seeing a connection (its accepts counted); once the backoff is over one tile probes
it, and when it answers again the tiles are drawn again. A raster layer whose host hangs is left
out the same way, through the guarded fetcher's memory. The memory's clock is turned by the
test, so nothing waits for a backoff."""

from __future__ import annotations

import re

import httpx
import trio
from mcp import Client
from support import start_server
from support.flaky import Flaky, TurnedClock
from support.sources import http_answer, png_tile

from mapsrv.core import Layer, MapState
from mapsrv.core.origins import Origins
from mapsrv.http.fetch import SourcePolicy, tile_fetcher
from mapsrv.image.render import ImageRequest
from mapsrv.image.service import MapImages

TILE = http_answer("200 OK", png_tile((255, 0, 255)), "image/png")
SMALL = ImageRequest(width=300, height=200)
SKIPPED = re.compile(
    r"basemap 127\.0\.0\.1 skipped: unreachable since \d\d:\d\d:\d\d UTC \((.+)\),"
    r" retrying after \d\d:\d\d:\d\d UTC"
)


def images(port: int, clock: TurnedClock) -> MapImages:
    return MapImages(
        f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png",
        deadline=0.5,
        origins=Origins(5.0, 60.0, clock=clock),
    )


async def test_a_hanging_tile_server_costs_one_deadline_then_one_probe(nursery: trio.Nursery) -> None:
    clock = TurnedClock()
    server = Flaky(TILE, "hang")
    maps = images(await server.serve(nursery), clock)
    with trio.fail_after(5):
        first = await maps.render(MapState("m"), SMALL)
    found = SKIPPED.search(first.caption)
    assert found and found[1] == "no answer within 0.5 s", first.caption
    assert first.basemap == "natural earth" and server.accepted > 1
    asked = server.accepted

    again = await maps.render(MapState("m"), SMALL)
    assert SKIPPED.search(again.caption) and again.basemap == "natural earth"
    assert server.accepted == asked, "no connection to a tile server that is down"

    clock.now += 6  # the backoff is over: one tile probes it, and it still hangs
    with trio.fail_after(5):
        probed = await maps.render(MapState("m"), SMALL)
    assert server.accepted == asked + 1, "one probe, not the image's every tile"
    assert SKIPPED.search(probed.caption)
    clock.now += 6  # the backoff doubled: not over yet
    await maps.render(MapState("m"), SMALL)
    assert server.accepted == asked + 1

    server.mode = "answer"  # back
    clock.now += 6
    with trio.fail_after(5):
        back = await maps.render(MapState("m"), SMALL)
    assert back.basemap == "tiles" and "skipped" not in back.caption
    assert server.accepted > asked + 2 and len(maps.origins) == 0
    assert maps.origins.statistics().marked == 1 and maps.origins.statistics().skipped == 2


async def test_a_tile_server_that_dies_is_skipped_at_once_until_it_is_back(nursery: trio.Nursery) -> None:
    clock = TurnedClock()
    server = Flaky(TILE, "answer")
    maps = images(await server.serve(nursery), clock)
    spain = ImageRequest(width=300, height=200, bbox=(40.0, -4.0, 41.0, -3.0))
    assert (await maps.render(MapState("m"), spain)).basemap == "tiles"
    server.gone()
    wider = ImageRequest(width=900, height=600)  # the world: tiles not in the cache
    with trio.fail_after(5):
        dead = await maps.render(MapState("m"), wider)
    found = SKIPPED.search(dead.caption)
    assert found and found[1] == "ConnectError" and dead.basemap == "natural earth", dead.caption
    served = server.accepted
    await server.serve(nursery)  # back on the same port, but the backoff is not over
    skipped = await maps.render(MapState("m"), wider)
    assert SKIPPED.search(skipped.caption) and server.accepted == served, "not asked while down"
    clock.now += 6
    with trio.fail_after(5):
        back = await maps.render(MapState("m"), wider)
    assert back.basemap == "tiles" and "skipped" not in back.caption and server.accepted > served


async def test_a_layer_whose_host_hangs_is_left_out_at_once(nursery: trio.Nursery) -> None:
    clock = TurnedClock()
    server = Flaky(TILE, "hang")
    port = await server.serve(nursery)
    policy = SourcePolicy.of(("127.0.0.1",), deadline=5.0, origins=Origins(5.0, 60.0, clock=clock))
    maps = MapImages("", fetch=tile_fetcher(policy), deadline=0.5, origins=policy.origins)
    source = {"type": "xyz", "url": f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png", "opacity": 1.0}
    state = MapState("m", layers={"ortho": Layer("ortho", "Ortho", source=source)})
    with trio.fail_after(5):
        first = await maps.render(state, SMALL)
    assert re.search(
        r"layer ortho \(127\.0\.0\.1\) skipped: unreachable since .* \(no answer within 0\.5 s\)",
        first.caption,
    )
    asked = server.accepted
    assert asked >= 1
    with trio.fail_after(5):
        again = await maps.render(state, SMALL)
    assert "layer ortho (127.0.0.1) skipped" in again.caption and server.accepted == asked
    server.mode = "answer"
    clock.now += 6
    with trio.fail_after(5):
        await maps.render(state, SMALL)  # the probe: one tile through the fetcher, the others still refused
    assert server.accepted == asked + 1 and len(policy.origins) == 0
    with trio.fail_after(5):
        back = await maps.render(state, SMALL)
    assert "skipped" not in back.caption and server.accepted > asked + 1


async def test_through_the_tools_a_source_that_is_down_is_said_at_once_and_counted(
    nursery: trio.Nursery,
) -> None:
    tiles = Flaky(TILE, "hang")
    tile_port = await tiles.serve(nursery)
    layer_host = Flaky(b"", "answer")
    layer_port = await layer_host.serve(nursery)
    layer_host.gone()  # the GeoJSON's host: its port closed
    server = await start_server(
        nursery,
        tile_url=f"http://127.0.0.1:{tile_port}/{{z}}/{{x}}/{{y}}.png",
        allowed_sources=("127.0.0.1",),
    )
    async with Client(server.url + "mcp") as agent, httpx.AsyncClient(base_url=server.url) as scraper:
        drawn = await agent.call_tool("draw", {"items": [{"at": [40, -4]}]})
        map_id = drawn.structured_content["map_id"]
        with trio.fail_after(10):
            first = await agent.call_tool("map_image", {"map_id": map_id, "width": 300, "height": 200})
        assert SKIPPED.search(first.content[1].text), first.content[1].text
        asked = tiles.accepted
        metrics = (await scraper.get("/metrics")).text
        assert "mapsrv_sources_down 1.0" in metrics and "mapsrv_sources_marked_down_total 1.0" in metrics
        with trio.fail_after(10):
            again = await agent.call_tool("map_image", {"map_id": map_id, "width": 300, "height": 200})
        assert SKIPPED.search(again.content[1].text) and tiles.accepted == asked

        url = f"http://127.0.0.1:{layer_port}/places.geojson"
        arguments = {"map_id": map_id, "layer": "places", "type": "geojson", "url": url}
        failed = await agent.call_tool("add_layer", arguments)
        assert failed.is_error and "could not be fetched (ConnectError)" in failed.content[0].text
        assert "'127.0.0.1' is not tried again before" in failed.content[0].text
        refused = await agent.call_tool("add_layer", arguments)
        text = refused.content[0].text
        assert refused.is_error and text.startswith("unavailable"), text
        assert "source '127.0.0.1' is unreachable since" in text and "(ConnectError), retrying after" in text
        assert (
            str(layer_port) not in text and "mapsrv_sources_down 2.0" in (await scraper.get("/metrics")).text
        )
