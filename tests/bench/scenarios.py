"""The benchmark scenarios. Each is ``async def x(**sizes) -> dict`` and starts its own server
process; ``run.py`` runs them and writes the table. Sizes are small in the smoke test
(tests/test_bench_smoke.py) and real in ``tox -e bench``."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import trio
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from .harness import (
    SseReader,
    cpu_seconds,
    new_browser_map,
    open_peer,
    open_redis,
    open_server,
    open_watchers,
    percentiles,
    rss_kib,
)
from .map_size import map_size
from .page_edits import person_edit_to_other_tab
from .reconnect_storm import reconnect_storm
from .soak10k import soak10k
from .sqlite_store import sqlite_store

__all__ = ["SCENARIOS"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_TILES = ("--tile-url", "http://127.0.0.1:9/{z}/{x}/{y}.png")  # no outside traffic
WAIT_S = 10  # the longest any one event may take to arrive before the run fails

# Runs inside the page: post a change with fetch, note when map.js has drawn that version.
PAGE_LOOP = """
async ([n, timeoutMs]) => {
  const mapId = document.body.dataset.mapId;
  // The page settles once a burst of events: one 'applied' may stand for several versions.
  let drawnVersion = 0, drawnAt = 0;
  window.addEventListener('mapsrv:applied', (e) => {
    if (e.detail.version > drawnVersion) { drawnVersion = e.detail.version; drawnAt = performance.now(); }
  });
  const post = (op) => fetch(`/m/${mapId}/ops`, {method: 'POST',
      headers: {'content-type': 'application/json'}, body: JSON.stringify(op)}).then((r) => r.json());
  await post({op: 'add_feature', id: 'probe', type: 'marker', coords: [0, 0], label: 'probe'});
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const {version} = await post({op: 'update_feature', id: 'probe',
        coords: [(i % 170) - 85, (i % 350) - 175], label: 'probe ' + i});
    while (drawnVersion < version) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`version ${version} was never drawn`);
      await new Promise((resolve) => {
        window.addEventListener('mapsrv:applied', resolve, {once: true});
        setTimeout(resolve, 100);
      });
    }
    samples.push((drawnAt - t0) / 1000);
  }
  return samples;
}
"""


async def change_to_page(changes: int = 1000) -> dict[str, Any]:
    """One change posted by the page's own fetch until map.js has drawn it: one map, one tab."""
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES) as server:

        def drive() -> list[float]:
            use_plain_asyncio()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.goto(server.url)
                    page.set_default_timeout(WAIT_S * 1000)
                    page.wait_for_function("() => window.mapsrv && window.mapsrv.state === 'live'")
                    return list(page.evaluate(PAGE_LOOP, [changes, WAIT_S * 1000]))
                finally:
                    browser.close()

        samples = await trio.to_thread.run_sync(drive)
    return {"what": f"change -> drawn in an open page (Chromium), {changes} changes", **percentiles(samples)}


async def _until_seen(reader: SseReader, write: Callable[[int], Awaitable[int]], count: int) -> list[float]:
    """For i in range(count): the time from starting ``write(i)`` (which returns the version it
    made) until that version's event arrives on ``reader``. Closes the reader."""
    samples = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader.run)
        for i in range(count):
            t0 = trio.current_time()
            samples.append(await reader.wait_for(await write(i), timeout=WAIT_S) - t0)
        await reader.aclose()
        nursery.cancel_scope.cancel()
    check_in_order(reader.ids)
    return samples


def check_in_order(ids: list[int]) -> None:
    """A stream's event ids (its snapshot's first) follow each other one by one: no event was
    lost, repeated or reordered on the way."""
    if not ids or ids != list(range(ids[0], ids[0] + len(ids))):
        raise RuntimeError(f"events lost or out of order on a stream: {ids}")


def _view_events(ref: dict[str, Any]) -> str:
    """The event-stream path of the view link in a ``create_map`` result."""
    return "/v/" + ref["view_url"].rsplit("/", 1)[1] + "/events"


async def change_to_stream(changes: int = 1000) -> dict[str, Any]:
    """HTTP POST of one op until its event arrives on an SSE stream of the same map."""
    async with open_server() as server, httpx.AsyncClient(base_url=server.url) as client:
        map_id, cookie = await new_browser_map(client)
        host, port = server.host_port

        async def write(i: int) -> int:
            op = {"op": "set_view", "center": [i % 80, i % 170], "zoom": 5}
            return int((await client.post(f"/m/{map_id}/ops", json=op)).json()["version"])

        reader = await SseReader.open(host, port, f"/m/{map_id}/events", cookie)
        samples = await _until_seen(reader, write, changes)
    return {"what": f"POST op -> event on an SSE stream, {changes} changes", **percentiles(samples)}


async def _open_readers(
    host: str, port: int, path: str, cookie: str, count: int, nursery: trio.Nursery
) -> list[SseReader]:
    readers: list[SseReader] = []
    limit = trio.CapacityLimiter(64)

    async def one() -> None:
        async with limit:
            reader = await SseReader.open(host, port, path, cookie)
        readers.append(reader)
        nursery.start_soon(reader.run)
        await reader.wait_for(0)

    async with trio.open_nursery() as openers:
        for _ in range(count):
            openers.start_soon(one)
    return readers


async def open_streams(counts: tuple[int, ...] = (1000, 5000, 10000)) -> dict[str, Any]:
    """Server RSS per open SSE stream, and the time to open them all, at several counts."""
    out: dict[str, Any] = {"what": "open SSE streams on one map: RSS per stream, time to open"}
    for count in counts:
        async with open_server() as server, httpx.AsyncClient(base_url=server.url) as client:
            map_id, cookie = await new_browser_map(client)
            host, port = server.host_port
            path = f"/m/{map_id}/events"
            async with trio.open_nursery() as nursery:
                warm = await _open_readers(host, port, path, cookie, 10, nursery)
                for reader in warm:
                    await reader.aclose()
                before = rss_kib(server.pid)
                t0 = trio.current_time()
                readers = await _open_readers(host, port, path, cookie, count, nursery)
                opened = trio.current_time() - t0
                after = rss_kib(server.pid)
                for reader in readers:
                    await reader.aclose()
                nursery.cancel_scope.cancel()
        out[f"streams_{count}"] = {
            "kib_per_stream": round((after - before) / count, 2),
            "rss_mib": round(after / 1024, 1),
            "open_all_s": round(opened, 3),
        }
    return out


@dataclass
class SseTarget:
    """A server with SSE viewers to measure: mapsrv, or the bare stack (peer_sse.py)."""

    host: str
    port: int
    pid: int
    path: str
    cookie: str | None
    publish: Callable[[int], Awaitable[int]]  # send n events (one request); returns the last id


@asynccontextmanager
async def mapsrv_target() -> AsyncIterator[SseTarget]:
    # Viewers are dropped when this many events queue up for them; the benchmark wants every
    # frame delivered, like the peers (whose queues are unbounded), so the bound is above a run.
    async with (
        open_server("--subscriber-buffer", "100000") as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        map_id, cookie = await new_browser_map(client)

        async def publish(count: int) -> int:
            ops = [{"op": "set_title", "title": f"t{i}"} for i in range(count)]
            response = await client.post(f"/m/{map_id}/ops", json={"ops": ops})
            return int(response.json()["version"])

        host, port = server.host_port
        yield SseTarget(host, port, server.pid, f"/m/{map_id}/events", cookie, publish)


@asynccontextmanager
async def peer_target(module: str, *args: str) -> AsyncIterator[SseTarget]:
    """An SSE peer (peer_sse.py or peer_raw.py): ``GET /events`` streams, ``POST /publish``."""
    async with open_peer(module, *args) as (url, pid), httpx.AsyncClient(base_url=url) as client:

        async def publish(count: int) -> int:
            version = 0
            for _ in range(count):
                version = int((await client.post("/publish")).json()["version"])
            return version

        parts = httpx.URL(url)
        yield SseTarget(parts.host, parts.port or 80, pid, "/events", None, publish)


# mapsrv; the bare stack it is built on (hypercorn's trio worker + a raw ASGI app); the floor under
# both (plain Trio sockets, no HTTP library, a task per stream); and that floor writing every
# stream from one loop (what a fan-out below ASGI could reach). All measured in the same run.
TARGETS: dict[str, Callable[[], Any]] = {
    "mapsrv": mapsrv_target,
    "bare_stack": partial(peer_target, "peer_sse"),
    "raw_trio": partial(peer_target, "peer_raw"),
    "raw_one_loop": partial(peer_target, "peer_raw", "one-loop"),
}
PEERS = ("bare_stack", "raw_trio", "raw_one_loop")


async def fan_out(watchers: int = 1000, events: int = 50, gap: float = 0.25) -> dict[str, Any]:
    """One event to ``watchers`` streams, events ``gap`` seconds apart: how long until the first,
    the median and the last watcher have it. The watchers are read by a process of their own
    (watchers.py). The gap lets the server finish each event before the next: without it, the
    next write waited behind the last event's bookkeeping (25 ms of 1,000 tasks going back to
    sleep, measured) and that wait showed up as the first watcher's latency."""
    out: dict[str, Any] = {
        "what": f"one event to {watchers} watchers, {events} events {gap:g} s apart, vs the bare stack"
    }
    for name, target in TARGETS.items():
        async with target() as t, open_watchers(t.host, t.port, t.path, watchers, t.cookie) as w:
            curves = []
            for _ in range(events):
                await trio.sleep(gap)
                t0 = time.monotonic()
                version = await t.publish(1)
                curves.append([at - t0 for at in await w.wait_for(version, timeout=WAIT_S)])
        out[name] = {
            "first_receiver": percentiles([curve[0] for curve in curves]),
            "median_receiver": percentiles([curve[5] for curve in curves]),
            "last_receiver": percentiles([curve[-1] for curve in curves]),
            # when 0, 10, ..., 100 % of the watchers had the event: the median over all events
            "curve_ms": [round(statistics.median(c[i] for c in curves) * 1000, 2) for i in range(11)],
        }
    for peer in PEERS:
        out[f"ratio_last_p50_vs_{peer}"] = _ratio(
            out[peer]["last_receiver"]["p50"], out["mapsrv"]["last_receiver"]["p50"]
        )
    return out


async def frames_per_second(
    streams: int = 200, events: int = 500, batch: int = 1, writers: tuple[int, ...] = (1, 4)
) -> dict[str, Any]:
    """SSE frames delivered per second of server CPU time (which includes taking the writes):
    ``events`` events, ``batch`` per request, to ``streams`` viewers, from one writer (the
    server is mostly idle between events: the cost of one frame) and from several concurrent
    writers (the server is saturated: its capacity); mapsrv and its peers in the same run."""
    out: dict[str, Any] = {
        "what": f"{events} events ({batch} per request) to {streams} streams, 1 or more writers, vs peers"
    }
    for count in writers:
        entry: dict[str, Any] = {}
        for name, target in TARGETS.items():
            entry[name] = await _frames(target, streams, events, batch, count)
        for peer in PEERS:
            entry[f"ratio_vs_{peer}"] = _ratio(
                entry["mapsrv"]["frames_per_cpu_second"], entry[peer]["frames_per_cpu_second"]
            )
        out[f"writers_{count}"] = entry
    return out


async def _frames(
    target: Callable[[], Any], streams: int, events: int, batch: int, writers: int
) -> dict[str, Any]:
    async with target() as t, open_watchers(t.host, t.port, t.path, streams, t.cookie) as w:
        cpu0, t0 = cpu_seconds(t.pid), time.monotonic()
        last = 0

        async def write(share: int) -> None:
            nonlocal last
            for start in range(0, share, batch):
                last = max(last, await t.publish(min(batch, share - start)))

        async with trio.open_nursery() as nursery:
            for i in range(writers):
                nursery.start_soon(write, events // writers + (i < events % writers))
        done = (await w.wait_for(last))[-1]
        await trio.sleep(0.3)  # the server's work after its last send (tasks going back to wait) counts too
        wall, cpu = done - t0, cpu_seconds(t.pid) - cpu0
    if cpu < 2 / os.sysconf("SC_CLK_TCK"):  # the kernel counts CPU time in clock ticks
        raise RuntimeError(f"{cpu} s of server CPU is below what can be measured: send more events")
    return {
        "server_cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "frames_per_cpu_second": round(streams * events / cpu),
    }


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else 0.0


async def _tool_latency(client: Client, host: str, port: int, calls: int) -> list[float]:
    created = (await client.call_tool("create_map", {"title": "bench"})).structured_content
    assert created is not None

    async def write(i: int) -> int:
        args = {"map_id": created["map_id"], "at": [i % 80, i % 170], "zoom": 5}
        result = await client.call_tool("set_view", args)
        assert result.structured_content is not None, result.content
        return int(result.structured_content["version"])

    return await _until_seen(await SseReader.open(host, port, _view_events(created)), write, calls)


@asynccontextmanager
async def _other_active_maps(url: str, host: str, port: int, count: int, rate: float) -> AsyncIterator[None]:
    """``count`` more maps, each watched by a viewer, written round-robin ``rate`` times a second
    by another MCP client for as long as the block runs."""
    async with Client(url) as client, trio.open_nursery() as nursery:
        refs = [(await client.call_tool("create_map", {})).structured_content for _ in range(count)]
        for ref in refs:
            assert ref is not None
            reader = await SseReader.open(host, port, _view_events(ref))
            nursery.start_soon(reader.run)

        stopping = trio.Event()

        async def write() -> None:
            for i in itertools.count():
                ref = refs[i % count]
                assert ref is not None
                args = {"map_id": ref["map_id"], "at": [i % 80, 1], "zoom": 3}
                await client.call_tool("set_view", args)
                with trio.move_on_after(1 / rate):
                    await stopping.wait()
                if stopping.is_set():
                    return

        # The writer stops between calls: a call cancelled in flight leaves the SDK's client a
        # reply to deliver after its streams are closed (BrokenResourceError as the client exits).
        async with trio.open_nursery() as writing:
            writing.start_soon(write)
            yield
            stopping.set()
        nursery.cancel_scope.cancel()


async def tool_to_stream(calls: int = 1000, active_maps: int = 100) -> dict[str, Any]:
    """An MCP tool call until its event arrives on a browser's SSE stream, per transport; and over
    Streamable HTTP again while ``active_maps - 1`` other maps are watched and written to."""
    out: dict[str, Any] = {"what": f"MCP tool call -> event on a browser stream, {calls} calls"}
    async with open_server() as server:
        host, port = server.host_port
        async with Client(server.url + "mcp") as client:
            out["streamable_http"] = percentiles(await _tool_latency(client, host, port, calls))
        async with (
            _other_active_maps(server.url + "mcp", host, port, active_maps - 1, rate=50),
            Client(server.url + "mcp") as client,
        ):
            out[f"streamable_http_{active_maps}_active_maps"] = percentiles(
                await _tool_latency(client, host, port, calls)
            )
        async with Client(server.url + "mcp", mode="legacy") as client:
            out["streamable_http_legacy"] = percentiles(await _tool_latency(client, host, port, calls))
        async with Client(sse_client(server.url + "sse"), mode="legacy") as client:
            out["legacy_sse"] = percentiles(await _tool_latency(client, host, port, calls))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mapsrv", "stdio", "--port", "0", "--log-level", "warning"],
        env={**os.environ},
    )
    async with Client(params) as client:
        created = (await client.call_tool("create_map", {})).structured_content
        assert created is not None
        url = httpx.URL(created["url"])
        await client.call_tool("read", {"map_id": created["map_id"]})
        out["stdio"] = percentiles(await _tool_latency(client, url.host, url.port or 80, calls))
    return out


async def _throughput(url: str, pid: int, clients: int, seconds: float) -> dict[str, Any]:
    done = connected = 0
    all_connected, go = trio.Event(), trio.Event()
    deadline = float("inf")

    async def one_client() -> None:
        nonlocal done, connected
        async with Client(url) as client:
            created = (await client.call_tool("create_map", {})).structured_content
            assert created is not None
            args = {"map_id": created["map_id"], "at": [1, 2], "zoom": 4}
            await client.call_tool("set_view", args)  # warm: schemas fetched, connection open
            connected += 1
            if connected == clients:
                all_connected.set()
            await go.wait()
            while trio.current_time() < deadline:
                await client.call_tool("set_view", args)
                done += 1

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one_client)
        with trio.fail_after(60):
            await all_connected.wait()
        start, cpu0 = trio.current_time(), cpu_seconds(pid)
        deadline = start + seconds
        go.set()
    cpu = cpu_seconds(pid) - cpu0
    return {
        "calls": done,
        "calls_per_s": round(done / (trio.current_time() - start), 1),
        "server_cpu_ms_per_call": round(1000 * cpu / max(done, 1), 3),
    }


async def tool_calls_per_second(
    seconds: float = 5.0, concurrency: tuple[int, ...] = (1, 20)
) -> dict[str, Any]:
    """Tool calls per second over Streamable HTTP (2026-07-28), for 1 and 20 concurrent clients,
    against mapsrv and, in the same run, the SDK's own MCPServer with the same tools
    (peer_server.py): as the SDK deploys it (uvicorn on asyncio), and on hypercorn + Trio, the
    stack mapsrv runs on. Also the server's CPU time per call: the client shares the machine."""
    out: dict[str, Any] = {
        "what": f"MCP tool calls/s over Streamable HTTP, {seconds:g} s each, vs the SDK on uvicorn"
    }
    async with open_server() as server:
        for clients in concurrency:
            out[f"clients_{clients}"] = await _throughput(server.url + "mcp", server.pid, clients, seconds)
    for peer, mode in (("peer", ()), ("sdk_on_hypercorn", ("hypercorn",))):
        async with open_peer("peer_server", *mode) as (peer_url, peer_pid):
            for clients in concurrency:
                result = await _throughput(peer_url + "/mcp", peer_pid, clients, seconds)
                out[f"{peer}_clients_{clients}"] = result
                ours = out[f"clients_{clients}"]["calls_per_s"]
                key = "ratio" if peer == "peer" else "ratio_vs_sdk_on_hypercorn"
                out[f"{key}_clients_{clients}"] = _ratio(ours, result["calls_per_s"])
    return out


async def redis_vs_memory(calls: int = 1000) -> dict[str, Any]:
    """What Redis adds to a tool call (Streamable HTTP) until its event reaches a viewer of the
    same process, and the lag to a viewer on another process."""
    out: dict[str, Any] = {"what": f"memory vs redis store, {calls} tool calls each"}
    async with open_server() as server:
        host, port = server.host_port
        async with Client(server.url + "mcp") as client:
            memory = await _tool_latency(client, host, port, calls)
    async with (
        open_redis() as redis_url,
        open_server("--store", redis_url) as a,
        open_server("--store", redis_url) as b,
    ):
        host, port = a.host_port
        async with Client(a.url + "mcp") as client:
            redis = await _tool_latency(client, host, port, calls)
            other_host, other_port = b.host_port
            lag = await _tool_latency(client, other_host, other_port, calls)
        out["redis_ping_floor"] = await _redis_ping_floor(redis_url)
    out["memory"] = percentiles(memory)
    out["redis"] = percentiles(redis)
    out["redis_other_process"] = percentiles(lag)
    out["added_p50_ms"] = round(out["redis"]["p50"] - out["memory"]["p50"], 3)
    out["added_p99_ms"] = round(out["redis"]["p99"] - out["memory"]["p99"], 3)
    return out


async def _redis_ping_floor(url: str, count: int = 1000) -> dict[str, Any]:
    """The least one Redis call costs: PING from Trio through trio-asyncio (how mapsrv's store
    calls redis-py) and on plain asyncio, measured by ``redis_floor.py`` in a process of its own
    (trio-asyncio installs a process-wide asyncio event loop policy)."""
    command = [sys.executable, "-m", "tests.bench.redis_floor", url, str(count)]
    with trio.fail_after(120):
        done = await trio.run_process(command, capture_stdout=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def soak(clients: int = 100, watchers: int = 1000, seconds: float = 300.0) -> dict[str, Any]:
    """``clients`` MCP clients (half stateless, half with sessions) drawing on 10 maps while
    ``watchers`` streams watch them, for ``seconds``: errors, RSS growth after warm-up, and what
    is left open once everyone has gone."""
    maps = 10
    errors = 0
    calls = 0
    async with open_server() as server, httpx.AsyncClient(base_url=server.url) as http:
        host, port = server.host_port
        owners = [await new_browser_map(http) for _ in range(1)]
        async with Client(server.url + "mcp") as setup:
            refs = [(await setup.call_tool("create_map", {})).structured_content for _ in range(maps)]
        views = [_view_events(ref) for ref in refs if ref]
        stop_at = float("inf")
        async with trio.open_nursery() as watching:
            readers: list[SseReader] = []
            for i in range(maps):
                readers += await _open_readers(host, port, views[i], owners[0][1], watchers // maps, watching)

            async def agent(n: int) -> None:
                nonlocal errors, calls
                ref = refs[n % maps]
                assert ref is not None
                async with Client(server.url + "mcp", mode="legacy" if n % 2 else "auto") as client:
                    i = 0
                    while trio.current_time() < stop_at:
                        at = [(n + i) % 80, i % 170]
                        item = {"at": at, "label": f"a{n}", "id": f"a{n}-{i % 50}"}
                        args = {"map_id": ref["map_id"], "items": [item], "fit": False}
                        result = await client.call_tool("draw", args)
                        if result.is_error and "already exists" in str(result.content):
                            change = {"id": item["id"], "at": at}
                            result = await client.call_tool(
                                "edit", {"map_id": ref["map_id"], "changes": [change]}
                            )
                        calls += 1
                        errors += bool(result.is_error)
                        i += 1
                        await trio.sleep(0.5)

            start = trio.current_time()
            stop_at = start + seconds
            async with trio.open_nursery() as agents:
                for n in range(clients):
                    agents.start_soon(agent, n)
                await trio.sleep(min(30.0, seconds / 4))
                rss_warm = rss_kib(server.pid)
                # by half-time each map's history and frame log are at their bounds (1,000 changes,
                # 1,024 frames): what grows after that is not them
                await trio.sleep(max(0.0, start + seconds / 2 - trio.current_time()))
                rss_half = rss_kib(server.pid)
            rss_end = rss_kib(server.pid)
            for reader in readers:
                await reader.aclose()
            watching.cancel_scope.cancel()

        async def left() -> dict[str, float]:
            text = (await http.get("/metrics")).text
            found = {}
            for line in text.splitlines():
                for name in ("mapsrv_mcp_sessions", "mapsrv_sse_connections_active"):
                    if line.startswith(name):
                        found[line.split(" ")[0]] = float(line.split(" ")[1])
            return found

        with trio.move_on_after(10):  # give the server a moment to notice every disconnect
            while any((await left()).values()):  # noqa: ASYNC110 - only /metrics knows
                await trio.sleep(0.2)
        remaining = await left()
    return {
        "what": f"soak: {clients} MCP clients + {watchers} watchers for {seconds:g} s",
        "calls": calls,
        "errors": errors,
        "rss_warm_mib": round(rss_warm / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_warm) / rss_warm, 2),
        "rss_half_mib": round(rss_half / 1024, 1),
        "rss_growth_second_half_pct": round(100 * (rss_end - rss_half) / rss_half, 2),
        "left_open": sum(remaining.values()),
    }


SCENARIOS = {
    "change_to_page": change_to_page,
    "change_to_stream": change_to_stream,
    "person_edit_to_other_tab": person_edit_to_other_tab,
    "open_streams": open_streams,
    "fan_out": fan_out,
    "tool_to_stream": tool_to_stream,
    "tool_calls_per_second": tool_calls_per_second,
    "redis_vs_memory": redis_vs_memory,
    "sqlite_store": sqlite_store,
    "frames_per_second": frames_per_second,
    "soak": soak,
    "soak10k": soak10k,
    "map_size": map_size,
    "reconnect_storm": reconnect_storm,
}
LONG = (
    "soak",
    "soak10k",
    "map_size",
    "reconnect_storm",
)  # minutes each: run with --only, not in the default run

QUICK = {
    "change_to_page": {"changes": 5},
    "change_to_stream": {"changes": 5},
    "person_edit_to_other_tab": {"edits": 5},
    "open_streams": {"counts": (5,)},
    "fan_out": {"watchers": 5, "events": 3, "gap": 0.01},
    "tool_to_stream": {"calls": 3, "active_maps": 3},
    "tool_calls_per_second": {"seconds": 0.3, "concurrency": (1, 2)},
    "redis_vs_memory": {"calls": 3},
    "sqlite_store": {"calls": 3, "seconds": 0.3, "clients": 2, "stored": 20},
    "frames_per_second": {"streams": 3, "events": 1000},  # every target's CPU measurable (one-loop peer)
    "soak": {"clients": 4, "watchers": 20, "seconds": 2.0},
    "soak10k": {"watchers": 200, "maps": 10, "rate": 20.0, "seconds": 5.0},
    "map_size": {"sizes": (300,)},
    "reconnect_storm": {"features": 3000, "browsers": 10},
}
