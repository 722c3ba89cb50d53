"""A client that leaves mid-``map_image`` frees its worker (issue 60): the drawing, in a worker
thread, stops at its next feature once the call is cancelled (in the process, and by an agent
through the SDK's client), the image pool's slot is given back only when the thread has ended,
and the next image is drawn."""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
from mcp import Client
from support import start_server, wait_until

import mapsrv.image.render as render_module
from mapsrv.core import Feature, MapState
from mapsrv.image.render import ImageRequest
from mapsrv.image.service import MapImages
from mapsrv.workers import workers

SHAPES = 20_000


async def test_a_map_image_cancelled_mid_drawing_stops_and_frees_its_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = [0]
    shape = render_module._shape

    def slow_shape(*args: Any) -> None:  # each shape a millisecond: the drawing takes 20 s
        drawn[0] += 1
        time.sleep(0.001)
        shape(*args)

    monkeypatch.setattr(render_module, "_shape", slow_shape)
    lines = {
        f"l{i}": Feature(f"l{i}", "polyline", ((i % 80 - 40.0, -10.0), (i % 80 - 39.0, 10.0)))
        for i in range(SHAPES)
    }
    state = MapState("m", 1, "many lines", None, features=lines)
    images = MapImages("")
    pool = workers().pools["image"].stats
    cancelled = pool.cancelled
    client = trio.CancelScope()

    async def call() -> None:
        with client:
            await images.render(state, ImageRequest(width=400, height=300))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await wait_until(lambda: drawn[0] > 10)
            client.cancel()  # the client left
        assert pool.running == 0 and pool.cancelled == cancelled + 1
        assert drawn[0] < SHAPES / 2, f"the drawing stopped ({drawn[0]} of {SHAPES} shapes drawn)"
        again = await images.render(MapState("m"), ImageRequest(width=200, height=100))
    assert again.shown == 0 and images.statistics.rendered == 1


async def test_an_agent_that_leaves_mid_map_image_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the SDK's client over a real socket: the call cancelled (the client gives up on it,
    which tells the server), the server's drawing stops and the next image is served."""
    drawn = [0]
    shape = render_module._shape

    def slow_shape(*args: Any) -> None:  # each shape 20 ms: the drawing takes 20 s
        drawn[0] += 1
        time.sleep(0.02)
        shape(*args)

    monkeypatch.setattr(render_module, "_shape", slow_shape)
    lines = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[-10, i % 80 - 40], [10, i % 80 - 39]]},
        }
        for i in range(1000)
    ]
    server = await start_server(nursery)
    pool = workers().pools["image"].stats
    async with Client(server.url + "mcp") as agent:
        collection = {"type": "FeatureCollection", "features": lines}
        made = await agent.call_tool("draw", {"items": [], "geojson": collection})
        assert not made.is_error, made.content
        map_id = made.structured_content["map_id"]
        leaving = trio.CancelScope()

        async def call() -> None:
            with leaving:
                await agent.call_tool("map_image", {"map_id": map_id, "width": 400, "height": 300})

        with trio.fail_after(15):
            async with trio.open_nursery() as inner:
                inner.start_soon(call)
                await wait_until(lambda: drawn[0] > 5)
                leaving.cancel()
            await wait_until(lambda: pool.running == 0)
            stopped_at = drawn[0]
            assert stopped_at < 500, f"the drawing stopped ({stopped_at} of 1000 shapes drawn)"
            monkeypatch.setattr(render_module, "_shape", shape)
            served = await agent.call_tool("map_image", {"map_id": map_id, "width": 200, "height": 100})
        assert not served.is_error and "1000 features" in served.content[1].text
