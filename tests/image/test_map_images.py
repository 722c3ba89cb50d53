"""The map as an image, with real parts: the ``map_image`` tool through the SDK's client (the
PNG decoded with Pillow, pixels checked where the features are), ``/m/<id>/image.png`` and the
view key's with their ETag, the link preview in the page, tiles from a real (local) tile server,
one that hangs, and twenty images asked for at once."""

from __future__ import annotations

import base64
import io
from collections.abc import Awaitable, Callable
from functools import partial

import httpx
import trio
from mcp import Client
from PIL import Image
from support import Browser, start_server

from mapsrv.core import MapState
from mapsrv.image.projection import ImageView
from mapsrv.image.render import ImageRequest
from mapsrv.image.service import MapImages

TILE_COLOR = (255, 0, 255)
CAPITALS = [[38.72, -9.14], [40.42, -3.70], [48.86, 2.35], [52.52, 13.40], [41.90, 12.50]]


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def near(color: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))


async def test_the_tool_shows_the_agent_what_it_drew(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)  # tiles unreachable (tests' default): the offline basemap
    async with Client(server.url + "mcp") as agent:
        items = [{"at": p, "color": "#16a34a", "label": f"city {i}"} for i, p in enumerate(CAPITALS)]
        drawn = await agent.call_tool("draw", {"items": items, "title": "Capitals"})
        map_id = drawn.structured_content["map_id"]
        moved = await agent.call_tool("set_view", {"map_id": map_id, "at": [46, 3], "zoom": 5})
        assert not moved.is_error, moved.content
        result = await agent.call_tool("map_image", {"map_id": map_id, "width": 640, "height": 480})
        assert not result.is_error, result.content
        [picture, caption] = result.content
        assert picture.type == "image" and picture.mime_type == "image/png"
        image = png(base64.b64decode(picture.data))
        assert image.size == (640, 480)
        view = ImageView.centered(46, 3, 5, 640, 480)
        for lat, lon in CAPITALS[1:4]:  # inland: the marker's fill over land
            x, y = view.pixel(lat, lon)
            assert near(image.getpixel((round(x), round(y) + 3)), (89, 187, 123), 30), (lat, lon)
        assert caption.type == "text" and "'Capitals'" in caption.text and "5 features" in caption.text
        assert "natural earth" in caption.text

        big = await agent.call_tool("map_image", {"map_id": map_id, "width": 5000})
        assert big.is_error and "1280" in big.content[0].text
        gone = await agent.call_tool("map_image", {"map_id": "nope"})
        assert gone.is_error and gone.content[0].text.startswith("not_found")
        only = await agent.call_tool("map_image", {"map_id": map_id, "ids": ["x"]})
        assert only.is_error and "'x'" in only.content[0].text


async def test_the_image_over_http_with_its_etag_and_the_link_preview(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    marker = {"op": "add_feature", "id": "a", "type": "marker", "coords": [40.0, -4.0], "label": "Here"}
    assert (await owner.ops(map_id, marker)).status_code == 200
    page = (await owner.client.get(f"/m/{map_id}")).text
    preview = page.split('property="og:image" content="', 1)[1].split('"', 1)[0]
    assert "/v/" in preview and map_id not in preview, "the preview never shows the edit id"
    assert 'name="twitter:card" content="summary_large_image"' in page
    view_path = preview.split(server.url.rstrip("/"), 1)[1].replace("&amp;", "&")
    answer = await owner.client.get(f"/m/{map_id}/image.png?w=400&h=300")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert png(answer.content).size == (400, 300)
    etag = answer.headers["etag"]
    again = await owner.client.get(f"/m/{map_id}/image.png?w=400&h=300", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    async with httpx.AsyncClient(base_url=server.url) as stranger:  # no cookie: the view key is enough
        shared = await stranger.get(view_path)
        assert shared.status_code == 200 and png(shared.content).size == (1200, 630)
        assert (await stranger.get(f"/m/{map_id}/image.png")).status_code in (403, 404)
        assert (await stranger.get("/v/nope/image.png")).status_code == 404
    await owner.ops(map_id, {"op": "update_feature", "id": "a", "label": "Moved"})
    changed = await owner.client.get(f"/m/{map_id}/image.png?w=400&h=300", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    wrong = await owner.client.get(f"/m/{map_id}/image.png?w=99999")
    assert wrong.status_code == 400 and "1280" in wrong.json()["error"]["message"]
    await owner.aclose()


async def serve_tiles(nursery: trio.Nursery, answer: Callable[[trio.SocketStream], Awaitable[None]]) -> str:
    listeners = await nursery.start(partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"


def magenta_tile() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), TILE_COLOR).save(out, "PNG")
    return out.getvalue()


async def test_tiles_from_a_tile_server_and_the_basemap_when_it_hangs(nursery: trio.Nursery) -> None:
    tile = magenta_tile()
    asked = []

    async def tiles(stream: trio.SocketStream) -> None:
        request = await stream.receive_some(65536)
        asked.append(request.split(b" ")[1])
        head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(tile)}\r\n\r\n"
        await stream.send_all(head.encode() + tile)

    async def hang(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    images = MapImages(await serve_tiles(nursery, tiles), deadline=2.0)
    first = await images.render(MapState("m"), ImageRequest(width=300, height=200))
    assert first.basemap == "tiles" and asked, "the tiles were fetched"
    assert near(png(first.png).getpixel((150, 100)), TILE_COLOR, 10)
    fetched = len(asked)
    await images.render(MapState("m"), ImageRequest(width=300, height=200))
    assert len(asked) == fetched, "the second image came from the tile cache"

    stuck = MapImages(await serve_tiles(nursery, hang), deadline=0.5)
    with trio.fail_after(5):
        started = trio.current_time()
        offline = await stuck.render(MapState("m"), ImageRequest(width=300, height=200))
        waited = trio.current_time() - started
    assert offline.basemap == "natural earth" and waited >= 0.5
    started = trio.current_time()
    again = await stuck.render(MapState("m"), ImageRequest(width=300, height=200))
    assert again.basemap == "natural earth"
    assert trio.current_time() - started < 0.5, "a hung tile server is not waited for again at once"


async def test_twenty_images_at_once_all_come(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    ops = [
        {"op": "add_feature", "id": f"p{i}", "type": "marker", "coords": [i / 10, i / 7]} for i in range(500)
    ]
    assert (await owner.ops(map_id, *ops)).status_code == 200
    sizes: list[tuple[int, int]] = []

    async def one(i: int) -> None:
        answer = await owner.client.get(f"/m/{map_id}/image.png?w={300 + i}&h=200", timeout=60)
        sizes.append(png(answer.content).size)

    async with trio.open_nursery() as many:
        for i in range(20):
            many.start_soon(one, i)
    assert sorted(sizes) == [(300 + i, 200) for i in range(20)]
    await owner.aclose()


async def test_a_tile_server_stopped_mid_render(nursery: trio.Nursery) -> None:
    """Two tiles come, then the server stops (its listener closed, the connections waiting cut):
    the image comes at once with those two tiles and the offline basemap everywhere else."""
    tile = magenta_tile()
    served: list[bytes] = []
    stop = trio.CancelScope()

    async def then_stop(stream: trio.SocketStream) -> None:
        request = await stream.receive_some(65536)
        if len(served) < 2:
            served.append(request.split(b" ")[1])
            head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(tile)}\r\n\r\n"
            await stream.send_all(head.encode() + tile)
            return
        stop.cancel()  # the server goes away with this request unanswered

    async def tile_server(*, task_status: trio.TaskStatus[str]) -> None:
        with stop:
            async with trio.open_nursery() as inner:
                listeners = await inner.start(partial(trio.serve_tcp, then_stop, 0, host="127.0.0.1"))
                port = listeners[0].socket.getsockname()[1]
                task_status.started(f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png")

    images = MapImages(await nursery.start(tile_server), deadline=5.0)
    with trio.fail_after(5):
        rendered = await images.render(MapState("m"), ImageRequest(width=800, height=600))
    assert len(served) == 2 and rendered.basemap == "tiles"
    image = png(rendered.png)
    colours = {image.getpixel((x, y)) for x in range(0, 800, 50) for y in range(0, 600, 50)}
    assert any(near(c, TILE_COLOR, 10) for c in colours), "the tiles that came are drawn"
    assert any(near(c, (214, 226, 235), 12) for c in colours), "the offline basemap fills the rest"
    assert images.statistics.tiles_failed > 0
