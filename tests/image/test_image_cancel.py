"""A client that leaves mid-``map_image`` frees its worker (issue 60): the drawing, in a worker
thread, stops at its next feature once the call is cancelled (in the process, and by an agent
through the SDK's client), the image pool's slot is given back only when the thread has ended,
and the next image is drawn."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from mcp import Client
from support import start_server, wait_until
from support.raw_http import RawConnection
from support.slow_image import SlowDrawing, draw_lines

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
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        map_id, _ = await draw_lines(agent)
        with trio.fail_after(15):
            await drawing.leave(agent, map_id)
            drawing.fast()
            served = await agent.call_tool("map_image", {"map_id": map_id, "width": 200, "height": 100})
        assert not served.is_error and "1000 features" in served.content[1].text


async def test_a_browser_that_leaves_mid_image_png_frees_the_worker(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's and the HTTP API's ``/v/<key>/image.png``, asked on a raw socket that closes
    mid-drawing (a card scrolled away, a curl stopped): Quart-Trio cancels the route on the
    request's ``http.disconnect``, and the drawing stops; the next image is drawn."""
    drawing = SlowDrawing(monkeypatch)
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        _, view_url = await draw_lines(agent)
    path = urlsplit(view_url).path + "/image.png?w=400&h=300"
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    assert host is not None and port is not None
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    with trio.fail_after(15):
        browser = await RawConnection.open(host, port)
        await browser.send(request)
        await drawing.started()
        await browser.stream.aclose()  # the browser left
        await drawing.freed()
        drawing.fast()
        again = await RawConnection.open(host, port)
        await again.send(request.replace(b"w=400&h=300", b"w=200&h=100"))
        answer = await again.read_response()
        await again.stream.aclose()
    assert answer.status == 200 and answer.body.startswith(b"\x89PNG")
