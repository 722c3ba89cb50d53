"""The event stream end to end, on raw sockets (which see comments): heartbeats reach every
viewer whatever heartbeat slot it landed in, and a shutdown ends every stream with a ``retry:``
hint after its last event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from support import Browser, SseReader, start_server

from mapsrv.event_stream import pump
from mapsrv.server import Server

HEARTBEAT_SLOTS = 10  # mapsrv spreads heartbeats over this many ticks per interval
STREAMS = 2 * HEARTBEAT_SLOTS + 3  # every slot served by at least two streams, of both kinds


@pytest.fixture
async def viewers(nursery: trio.Nursery) -> AsyncIterator[tuple[Server, Browser, str, list[SseReader]]]:
    """A server with a short heartbeat and ``STREAMS`` raw streams on one map, alternately by its
    edit link (with the owner's cookie) and by its view link (with none)."""
    server = await start_server(nursery, heartbeat_interval=0.3)
    owner = Browser(server.url)
    map_id = await owner.new_map()
    page = (await owner.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    cookie = "; ".join(f"{name}={value}" for name, value in owner.client.cookies.items())
    host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
    readers = []
    for i in range(STREAMS):
        if i % 2:
            reader = await SseReader.open(host, int(port), f"/v/{view_key}/events")
        else:
            reader = await SseReader.open(host, int(port), f"/m/{map_id}/events", cookie)
        nursery.start_soon(reader.run)
        readers.append(reader)
    for reader in readers:
        await reader.wait(lambda r: len(r.ids) >= 1)  # the snapshot
    assert server.hub.statistics().subscribers == STREAMS
    yield server, owner, map_id, readers
    await owner.aclose()


async def test_every_stream_gets_heartbeats(viewers) -> None:
    server, _, _, readers = viewers
    # 0.3 s per round of all slots: 5 s is over 15 rounds, so a starved slot cannot pass by luck
    with trio.fail_after(5):
        for i, reader in enumerate(readers):
            await reader.wait(lambda r: len(r.comments) >= 2, timeout=5)
            assert set(reader.comments) == {b": hb"}, i
    assert server.hub.statistics().subscribers == STREAMS, "no stream was dropped on the way"


async def test_shutdown_ends_every_stream_with_a_retry_hint_after_its_last_event(viewers) -> None:
    server, owner, map_id, readers = viewers
    response = await owner.ops(map_id, {"op": "set_title", "title": "last words"})
    version = response.json()["version"]
    for reader in readers:
        await reader.wait_for(version)
    server.shutdown()
    retry_ms = round(server.config.sse_retry * 1000)
    with trio.fail_after(10):
        for i, reader in enumerate(readers):
            await reader.closed.wait()
            # the first hint opens the stream; the last one is the shutdown's, after every event
            assert reader.retries[0] == retry_ms and len(reader.retries) >= 2, (i, reader.retries)
            assert reader.last_frame == f"retry: {retry_ms}".encode(), (i, reader.last_frame)
            assert reader.ids[-1] == version, i


async def test_the_pump_writes_what_is_queued_at_once_then_a_retry_hint_when_the_channel_ends() -> None:
    send, receive = trio.open_memory_channel[bytes](10)
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)

    for data in (b"id: 1\n\n", b"id: 2\n\n", b"id: 3\n\n"):
        send.send_nowait(data)
    send.close()  # the hub ended this viewer with frames still queued: none is lost
    await pump(write, receive, retry_ms=1500)
    assert writes == [b"id: 1\n\nid: 2\n\nid: 3\n\n", b"retry: 1500\n\n"]


async def test_a_stream_is_neither_cached_nor_buffered_and_carries_the_page_headers(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    alice = Browser(server.url)
    map_id = await alice.new_map()
    page = await alice.client.get(f"/m/{map_id}")
    async with alice.client.stream("GET", f"/m/{map_id}/events") as stream:
        headers = stream.headers
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert headers["cache-control"] == "no-cache, no-store" and headers["x-accel-buffering"] == "no"
        for name in ("x-content-type-options", "referrer-policy"):
            assert headers[name] == page.headers[name], name
    await alice.aclose()
