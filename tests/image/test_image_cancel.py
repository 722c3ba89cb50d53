"""A client that leaves mid-``map_image`` frees its worker (issue 60): the drawing, in a worker
thread, stops at its next feature once the call is cancelled, the image pool's slot is given back
only when the thread has ended, and the next image is drawn."""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
from support import wait_until

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
