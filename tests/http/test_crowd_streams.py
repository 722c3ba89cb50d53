"""A crowd on one map, over real sockets: a sliced broadcast (``mapsrv.hub.broadcast``) delivers
every event once and in order to every stream, those that join or leave mid-broadcast included;
streams the hub ends together wake a few per loop turn (``Pacer.soon``); and ended streams release
everything (no viewer left in the map's subscribers, no task left)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import trio
from support import Browser, start_server, wait_until

from mapsrv.http.pacing import PER_TURN, connections
from mapsrv.hub.broadcast import CROWD_FROM
from mapsrv.server import Server

ID = re.compile(rb"^id: (\d+)$", re.M)


class Stream:
    """One event stream on a socket of its own, read into ``ids`` until it ends or is closed."""

    def __init__(self, sock: trio.SocketStream) -> None:
        self.sock = sock
        self.data = b""
        self.ids: list[int] = []
        self.open = trio.Event()  # its snapshot came
        self.ended = False  # the connection closed
        self.finished = False  # the response ended (its last chunk came)

    @classmethod
    async def open_on(cls, server: Server, path: str, cookie: str) -> Stream:
        host, port = server.binds[0].removeprefix("http://").rsplit(":", 1)
        sock = await trio.open_tcp_stream(host, int(port))
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n"
        await sock.send_all(request.encode())
        return cls(sock)

    async def read(self) -> None:
        try:
            while data := await self.sock.receive_some(65536):
                self.data += data
                self.finished = self.finished or self.data.endswith(b"\r\n0\r\n\r\n")
                *frames, self.data = self.data.split(b"\n\n")
                self.ids += [int(m.group(1)) for f in frames if (m := ID.search(f))]
                if self.ids:
                    self.open.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        self.ended = True


def tasks() -> int:
    """Every task in this trio run."""
    count, todo = 0, [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        count += 1
        todo += [child for nursery in task.child_nurseries for child in nursery.child_tasks]
    return count


@pytest.fixture
async def crowd(nursery: trio.Nursery) -> AsyncIterator[tuple[Server, Browser, str, str]]:
    server = await start_server(
        nursery, heartbeat_interval=60, subscriber_buffer=64, max_streams_per_client=100_000, rate_streams=0
    )
    owner = Browser(server.url)
    map_id = await owner.new_map()
    cookie = "; ".join(f"{k}={v}" for k, v in owner.client.cookies.items())
    yield server, owner, map_id, cookie
    await owner.aclose()


async def test_a_crowd_gets_every_event_once_in_order_while_streams_come_and_go(crowd) -> None:
    server, owner, map_id, cookie = crowd
    entry = server.hub.find(map_id)
    assert entry is not None
    path = f"/m/{map_id}/events"
    before = tasks()
    streams: list[Stream] = []
    with trio.fail_after(60):
        async with trio.open_nursery() as readers:

            async def open_one() -> Stream:
                stream = await Stream.open_on(server, path, cookie)
                streams.append(stream)
                readers.start_soon(stream.read)
                await stream.open.wait()
                return stream

            async with trio.open_nursery() as opening:
                for _ in range(CROWD_FROM + 44):
                    opening.start_soon(open_one)
            leavers = streams[:20]
            final = 0
            for n in range(12):
                response = await owner.ops(map_id, {"op": "set_title", "title": f"t{n}"})
                assert response.status_code == 200, response.text
                final = response.json()["version"]
                if n == 4:  # mid-broadcast: some leave, some join
                    for stream in leavers:
                        await stream.sock.aclose()
                    async with trio.open_nursery() as opening:
                        for _ in range(10):
                            opening.start_soon(open_one)
            staying = [s for s in streams if s not in leavers]
            await wait_until(lambda: all(s.ids[-1] == final for s in staying), timeout=30)
            for stream in staying:
                assert stream.ids == list(range(stream.ids[0], final + 1)), stream.ids
            metrics = (await owner.client.get("/metrics")).text  # deliveries to the crowd, timed
            batches = re.search(r"^mapsrv_crowd_delivery_seconds_count (\S+)$", metrics, re.M)
            took = re.search(r"^mapsrv_crowd_delivery_seconds_sum (\S+)$", metrics, re.M)
            assert batches is not None and float(batches.group(1)) >= 1, "no delivery to the crowd was timed"
            assert took is not None and float(took.group(1)) > 0
            for stream in staying:
                await stream.sock.aclose()
        await wait_until(lambda: not entry.subscribers and not entry.members, timeout=30)
        await wait_until(lambda: tasks() <= before, timeout=30)
    assert not entry.frames.outbox.running


async def test_streams_the_hub_ends_together_wake_a_few_per_turn(crowd) -> None:
    server, _owner, map_id, cookie = crowd
    entry = server.hub.find(map_id)
    assert entry is not None
    count = 5 * PER_TURN
    streams = []
    with trio.fail_after(30):
        async with trio.open_nursery() as readers:
            for _ in range(count):
                stream = await Stream.open_on(server, f"/m/{map_id}/events", cookie)
                streams.append(stream)
                readers.start_soon(stream.read)
                await stream.open.wait()
            await trio.testing.wait_all_tasks_blocked()
            parked = connections().parked
            server.hub.close_all_subscribers()  # as a shutdown does
            assert connections().parked - parked >= count - PER_TURN, (
                "the streams' ends took their turns, PER_TURN a turn"
            )
            await wait_until(lambda: all(s.finished for s in streams))
            for stream in streams:
                await stream.sock.aclose()
        await wait_until(lambda: not entry.subscribers)
