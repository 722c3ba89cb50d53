"""Several mapsrv processes sharing one real redis-server: any process serves and recovers any
map, every viewer sees every change, and no acknowledged write is lost or overwritten."""

from __future__ import annotations

import collections
import itertools
import os
import signal
from contextlib import AsyncExitStack
from typing import Any

import httpx
import trio
from bench.harness import ServerProcess, open_server
from mcp import Client
from support import Browser, EventStream, RedisServer, open_stream, wait_until


def marker(fid: str, lat: float = 10, lon: float = 20) -> dict[str, Any]:
    return {"op": "add_feature", "id": fid, "type": "marker", "coords": [lat, lon], "label": fid}


class Proc(Browser):
    """One mapsrv process and an HTTP client for it carrying the shared browser cookie."""

    def __init__(self, server: ServerProcess, cookies: httpx.Cookies) -> None:
        super().__init__(server.url, cookies)
        self.server = server


async def start(stack: AsyncExitStack, redis: RedisServer, n: int) -> tuple[list[Proc], str]:
    """``n`` processes on one Redis, a browser cookie, and a map made on the first."""
    servers = [await stack.enter_async_context(open_server("--store", redis.url)) for _ in range(n)]
    first = httpx.AsyncClient(base_url=servers[0].url, timeout=10)
    stack.push_async_callback(first.aclose)
    map_id = (await first.get("/")).headers["location"].rsplit("/", 1)[1]
    procs = [Proc(s, first.cookies) for s in servers]
    for proc in procs:
        stack.push_async_callback(proc.client.aclose)
    return procs, map_id


def versions(stream: EventStream) -> list[int]:
    return [int(i) for kind, i, _ in stream.events if kind == "change"]


async def test_any_process_serves_any_map_and_every_viewer_sees_every_change(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a, b), map_id = await start(stack, redis_server, 2)
        page = await b.client.get(f"/m/{map_id}")
        assert page.status_code == 200, "the owner's cookie works on the other process"
        on_b = await open_stream(nursery, b.client, f"/m/{map_id}/events")
        on_a = await open_stream(nursery, a.client, f"/m/{map_id}/events")
        acked = [(await a.ops(map_id, marker(f"a{i}"))).json()["version"] for i in range(3)]
        acked += [(await b.ops(map_id, marker(f"b{i}"))).json()["version"] for i in range(3)]
        assert acked == [1, 2, 3, 4, 5, 6]
        with trio.fail_after(10):
            for stream in (on_a, on_b):
                await stream.wait_for(lambda ev: ev and int(ev[-1][1]) == 6)
        assert versions(on_a) == versions(on_b) == [1, 2, 3, 4, 5, 6]
        assert (await a.state(map_id)) == (await b.state(map_id))
        # a stranger's cookie gets the same 404 on every process
        for proc in (a, b):
            stranger = await httpx.AsyncClient(base_url=proc.server.url).get(f"/m/{map_id}/state")
            assert stranger.status_code == 404


async def test_agent_on_one_process_user_on_another(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a, b), _ = await start(stack, redis_server, 2)
        async with Client(a.server.url + "mcp") as agent_a, Client(b.server.url + "mcp") as agent_b:
            ref = (await agent_a.call_tool("create_map", {"title": "shared"})).structured_content
            view_key = ref["view_url"].rsplit("/", 1)[1]
            watcher = await open_stream(nursery, b.client, f"/v/{view_key}/events")
            result = await agent_b.call_tool("draw", {"map_id": ref["map_id"], "items": [{"at": [1, 2]}]})
            assert not result.is_error, result.content
            version = result.structured_content["version"]

            async def seen_on_a() -> bool:  # a has it once Redis has carried it there
                summary = (await agent_a.call_tool("read", {"map_id": ref["map_id"]})).structured_content
                assert summary["version"] <= version, summary
                return summary["version"] == version and summary["count"] == 1

            await wait_until(seen_on_a, timeout=10)
        with trio.fail_after(10):
            await watcher.wait_for(lambda ev: ev and int(ev[-1][1]) == version)


async def test_concurrent_writers_on_two_processes_lose_nothing(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a, b), map_id = await start(stack, redis_server, 2)
        watcher = await open_stream(nursery, a.client, f"/m/{map_id}/events")
        acks: list[tuple[int, str]] = []

        async def writer(proc: Proc, name: str) -> None:
            for i in range(15):
                fid = f"{name}-{i}"
                response = await proc.ops(map_id, marker(fid, lat=i, lon=len(name)))
                assert response.status_code == 200, response.text
                acks.append((response.json()["version"], fid))

        async with trio.open_nursery() as writers:
            for k in range(4):
                writers.start_soon(writer, a, f"a{k}")
                writers.start_soon(writer, b, f"b{k}")
        total = len(acks)
        assert total == 120
        assert sorted(v for v, _ in acks) == list(range(1, total + 1)), "one version per acknowledged write"
        with trio.fail_after(15):
            await watcher.wait_for(lambda ev: ev and int(ev[-1][1]) == total)
        # the viewer's stream is the serial history of the acknowledged writes, in version order
        history = {int(i): data["features"][0]["id"] for kind, i, data in watcher.events if kind == "change"}
        assert history == dict(acks)

        # each process has every write once Redis has carried the other's to it (milliseconds)
        async def caught_up() -> bool:
            versions = [(await proc.state(map_id))["version"] for proc in (a, b)]
            return versions == [total, total]

        await wait_until(caught_up, timeout=15)
        state_a, state_b = await a.state(map_id), await b.state(map_id)
        assert state_a == state_b and len(state_a["features"]) == total


async def test_a_paused_process_cannot_overwrite_newer_versions(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a, b), map_id = await start(stack, redis_server, 2)
        assert (await a.ops(map_id, marker("first"))).json() == {"version": 1}
        await b.state(map_id)  # b holds the map too
        os.kill(a.server.pid, signal.SIGSTOP)
        try:
            assert (await b.ops(map_id, marker("while-a-slept"))).json() == {"version": 2}
        finally:
            os.kill(a.server.pid, signal.SIGCONT)
        late = await a.ops(map_id, marker("after-wake"))
        assert late.json() == {"version": 3}, "a caught up instead of writing over version 2"
        stale = await a.ops(map_id, marker("stale"), expected_version=1)
        assert stale.status_code == 409 and stale.json()["error"]["current_version"] == 3

        # b has a's last write once Redis has carried it there (milliseconds; in CI once, later
        # than b's state was read)
        async def caught_up() -> bool:
            return [(await proc.state(map_id))["version"] for proc in (a, b)] == [3, 3]

        await wait_until(caught_up, timeout=15)
        for proc in (a, b):
            ids = [f["id"] for f in (await proc.state(map_id))["features"]]
            assert ids == ["first", "while-a-slept", "after-wake"]


async def test_resume_on_another_process_comes_from_the_redis_log(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a, b), map_id = await start(stack, redis_server, 2)
        for i in range(6):
            await a.ops(map_id, marker(f"m{i}"))
        # b has never seen this map: the missed events come from Redis, not a snapshot
        resumed = await open_stream(nursery, b.client, f"/m/{map_id}/events", last_event_id="3")
        with trio.fail_after(10):
            await resumed.wait_for(lambda ev: len(ev) >= 3)
        assert [(kind, i) for kind, i, _ in resumed.events] == [
            ("change", "4"),
            ("change", "5"),
            ("change", "6"),
        ]


async def test_redis_outage_keeps_held_maps_writable_then_converges(redis_server, nursery):
    async with AsyncExitStack() as stack:
        (a,), map_id = await start(stack, redis_server, 1)
        viewer = await open_stream(nursery, a.client, f"/m/{map_id}/events")
        assert (await a.ops(map_id, marker("before"))).status_code == 200
        assert (await a.client.get("/ready")).status_code == 200
        await redis_server.stop()
        during = []
        for i in range(5):
            response = await a.ops(map_id, marker(f"during-{i}"))
            assert response.status_code == 200, response.text  # no failed write on a held map
            during.append(response.json()["version"])
        assert during == [2, 3, 4, 5, 6]

        async def ready() -> bool:
            return (await a.client.get("/ready")).status_code == 200

        async def not_ready() -> bool:
            return not await ready()

        await wait_until(not_ready, timeout=10)
        with trio.fail_after(10):
            await viewer.wait_for(lambda ev: ev and int(ev[-1][1]) == 6)
        await redis_server.start()  # same port and data directory (append-only file)
        await wait_until(ready, timeout=15)
        # the writes held during the outage reached Redis: a fresh process sees all of them
        fresh = await stack.enter_async_context(open_server("--store", redis_server.url))
        other = Proc(fresh, a.client.cookies)
        stack.push_async_callback(other.client.aclose)
        state = await other.state(map_id)
        assert state["version"] == 6
        assert [f["id"] for f in state["features"]] == ["before", *[f"during-{i}" for i in range(5)]]
        after = await other.ops(map_id, marker("after"))
        assert after.json() == {"version": 7}
        with trio.fail_after(10):
            await viewer.wait_for(lambda ev: ev and int(ev[-1][1]) == 7)
        # the viewer stayed connected through the outage: every change, once each, in order
        assert [kind for kind, _, _ in viewer.events] == ["snapshot"] + ["change"] * 7
        assert versions(viewer) == [1, 2, 3, 4, 5, 6, 7]


async def test_writes_while_redis_hangs_are_each_applied_exactly_once(redis_server, nursery):
    """Redis stopped (SIGSTOP: a hung host, a long fork) while two processes write one map:
    commits time out but sit in Redis's socket buffer and land when it resumes. Every acknowledged
    write must be in the map exactly once, and no write twice."""
    async with AsyncExitStack() as stack:
        (a, b), map_id = await start(stack, redis_server, 2)
        assert (await a.ops(map_id, marker("first"))).status_code == 200
        await b.state(map_id)
        acked: list[str] = []
        failed: list[str] = []
        stop = trio.Event()

        async def writer(proc: Proc, name: str) -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                label = f"{name}-{i}"
                op = {"op": "add_feature", "type": "marker", "coords": [i % 80, len(name)], "label": label}
                response = await proc.ops(map_id, op)
                if response.status_code == 200:
                    acked.append(label)
                else:
                    failed.append(f"{label}: {response.status_code} {response.text}")

        async def not_ready(proc: Proc) -> bool:
            return (await proc.client.get("/ready")).status_code == 503

        async with trio.open_nursery() as writers:
            for k in range(3):
                writers.start_soon(writer, a, f"a{k}")
                writers.start_soon(writer, b, f"b{k}")
            await wait_until(lambda: len(acked) >= 20, timeout=10)
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            try:
                hung_at = trio.current_time()
                for proc in (a, b):  # well before the 2 s socket timeout ends the first commit
                    await wait_until(lambda proc=proc: not_ready(proc), timeout=5)
                noticed = trio.current_time() - hung_at
                during = len(acked)
                # the hang lasts until writes have gone on (held) through it
                await wait_until(lambda: len(acked) > during + 10, timeout=10)
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)
            await wait_until(lambda: len(acked) >= during + 60, timeout=20)
            stop.set()

        async def converged() -> bool:
            ready = all([(await p.client.get("/ready")).status_code == 200 for p in (a, b)])
            return ready and (await a.state(map_id)) == (await b.state(map_id))

        await wait_until(converged, timeout=20)
        fresh = await stack.enter_async_context(open_server("--store", redis_server.url))
        other = Proc(fresh, a.client.cookies)
        stack.push_async_callback(other.client.aclose)
        stored = collections.Counter(f.get("label") for f in (await other.state(map_id))["features"])
        twice = {label for label, n in stored.items() if n > 1}
        assert not twice, f"applied twice: {sorted(twice)}"
        missing = set(acked) - set(stored)
        assert not missing, f"acknowledged but lost: {sorted(missing)}"
        assert not failed, f"refused during the hang: {failed[:5]}"
        assert noticed < 2, f"/ready noticed the hang after {noticed:.2f} s"
