"""A ``map_image`` slow enough to leave in the middle of (issue 60): every shape of the drawing
takes 20 ms, so the 1,000 lines of ``LINES`` take 20 s, and ``SlowDrawing`` counts the shapes
drawn. ``freed`` waits until the image pool runs nothing again and checks the drawing stopped
far short of its end: a client that leaves frees its worker only if the cancellation reaches
the drawing (``mapsrv.workers.stop_if_cancelled``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
from mcp import Client

import mapsrv.image.render as render_module
from mapsrv.workers import workers

from .waiting import wait_until

__all__ = ["LINES", "SHAPES", "SlowDrawing", "draw_lines"]

SHAPES = 1000
LINES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[-10, i % 80 - 40], [10, i % 80 - 39]]},
        }
        for i in range(SHAPES)
    ],
}


async def draw_lines(agent: Client) -> tuple[str, str]:
    """A new map of ``LINES`` drawn by ``agent``: its id and its view link."""
    made = await agent.call_tool("draw", {"items": [], "geojson": LINES})
    assert not made.is_error, made.content
    return made.structured_content["map_id"], made.structured_content["view_url"]


class SlowDrawing:
    """The image renderer's shapes slowed (20 ms each) and counted, for one test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.drawn = 0
        self.monkeypatch = monkeypatch
        self._shape = render_module._shape
        self.pool = workers().pools["image"].stats
        monkeypatch.setattr(render_module, "_shape", self._slow_shape)

    def _slow_shape(self, *args: Any) -> None:
        self.drawn += 1
        time.sleep(0.02)
        self._shape(*args)

    async def started(self) -> None:
        """Once the drawing is well under way (a worker is busy with it)."""
        await wait_until(lambda: self.drawn > 5)
        assert self.pool.running == 1

    async def freed(self) -> None:
        """Once the image pool runs nothing: the drawing stopped at its next shape."""
        await wait_until(lambda: self.pool.running == 0)
        assert self.drawn < SHAPES / 2, f"the drawing stopped ({self.drawn} of {SHAPES} shapes drawn)"

    async def leave(self, agent: Client, map_id: str) -> None:
        """``agent`` asks for ``map_id``'s image and gives up on it mid-drawing (the SDK's client
        then tells the server: ``notifications/cancelled``); returns once the worker is free."""
        leaving = trio.CancelScope()

        async def call() -> None:
            with leaving:
                await agent.call_tool("map_image", {"map_id": map_id, "width": 400, "height": 300})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await self.started()
            leaving.cancel()
        await self.freed()

    def fast(self) -> None:
        """Shapes at their own speed again (for the image after)."""
        self.monkeypatch.setattr(render_module, "_shape", self._shape)
