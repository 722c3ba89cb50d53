"""What an operator relies on: metrics that pass promtool and move, and a SIGTERM that drains
(not ready first, streams told to reconnect, no acknowledged write lost, out in time)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from contextlib import AsyncExitStack

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families
from support import Browser, open_server, open_stream, require, wait_until

from mapsrv.server import Server

PROMTOOL = shutil.which("promtool")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_pass_promtool_and_count_what_happens(server: Server, nursery: trio.Nursery) -> None:
    require(PROMTOOL is not None, "promtool (Debian package prometheus)")
    alice = Browser(server.url)
    map_id = await alice.new_map()
    before = samples((await alice.client.get("/metrics")).text)
    streams = [await open_stream(nursery, alice.client, f"/m/{map_id}/events") for _ in range(2)]
    with trio.fail_after(5):
        for stream in streams:
            await stream.wait_for(lambda ev: len(ev) >= 1)
    for i in range(3):
        assert (await alice.ops(map_id, {"op": "set_title", "title": f"t{i}"})).status_code == 200
    assert (await alice.client.get("/m/unknown-map-id-xxxxxxxx/state")).status_code == 404
    response = await alice.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    check = await trio.run_process(
        [PROMTOOL, "check", "metrics"],
        stdin=response.content,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    after = samples(response.text)
    assert value(after, "mapsrv_events_published_total") - value(before, "mapsrv_events_published_total") == 3
    assert value(after, "mapsrv_sse_connections_active") == 2
    assert value(after, "mapsrv_maps_held") >= 1
    ops = dict(route="/m/{id}/ops", method="POST", status="200")
    assert (
        value(after, "mapsrv_request_duration_seconds_count", **ops)
        - value(before, "mapsrv_request_duration_seconds_count", **ops)
        == 3
    )
    assert (
        value(after, "mapsrv_errors_total", status="4xx") - value(before, "mapsrv_errors_total", status="4xx")
        == 1
    )
    assert value(after, "mapsrv_messages_received_total", transport="browser_stream") >= 2
    assert value(after, "mapsrv_ready") == 1
    assert ("mapsrv_mcp_sessions", (("transport", "sse"),)) in after
    for generation in "012":  # the collector's pauses, measured once `mapsrv serve` installs it
        assert ("mapsrv_gc_longest_pause_seconds", (("generation", generation),)) in after
        assert ("mapsrv_gc_passes_total", (("generation", generation),)) in after
    assert value(after, "mapsrv_gc_frozen_objects") >= 0
    # no label carries a map id: they are capabilities
    assert map_id not in response.text
    await alice.aclose()


async def test_sigterm_drains_without_losing_acknowledged_writes(redis_server, nursery: trio.Nursery) -> None:
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            open_server("--store", redis_server.url, "--drain-delay", "1", "--graceful-timeout", "5")
        )
        http = httpx.AsyncClient(base_url=server.url, timeout=10)
        stack.push_async_callback(http.aclose)
        map_id = (await http.get("/")).headers["location"].rsplit("/", 1)[1]
        stream = await open_stream(nursery, http, f"/m/{map_id}/events")
        with trio.fail_after(5):
            await stream.wait_for(lambda ev: len(ev) >= 1)
        acked: list[int] = []
        writing = trio.Event()

        async def writer() -> None:
            i = 0
            while True:
                try:
                    response = await http.post(f"/m/{map_id}/ops", json={"op": "set_title", "title": f"t{i}"})
                except httpx.TransportError:
                    return  # the server has stopped accepting
                if response.status_code != 200:
                    return
                acked.append(response.json()["version"])
                writing.set()
                i += 1

        probe = httpx.AsyncClient(base_url=server.url, timeout=10)  # its own keep-alive connection
        stack.push_async_callback(probe.aclose)
        assert (await probe.get("/ready")).status_code == 200
        nursery.start_soon(writer)
        await writing.wait()
        killed_at = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        # not ready first, while streams are still open
        await wait_until(lambda: _status(probe, "/ready", 503))
        assert not stream.ended.is_set()
        with trio.fail_after(10):
            await stream.ended.wait()
        assert stream.retries[-1] == 2000 and len(stream.retries) >= 2, "a retry hint before the end"
        assert stream.last == "retry", "the retry hint is the stream's last message, after every event"
        with trio.fail_after(10):
            await server.process.wait()
        took = time.monotonic() - killed_at
        assert server.process.returncode == 0
        assert took < 1 + 5 + 2, f"exited {took:.1f} s after SIGTERM"
        # every acknowledged write is in Redis: a fresh process serves all of them
        fresh = await stack.enter_async_context(open_server("--store", redis_server.url))
        reader = httpx.AsyncClient(base_url=fresh.url, cookies=http.cookies)
        stack.push_async_callback(reader.aclose)
        state = (await reader.get(f"/m/{map_id}/state")).json()
        assert acked and state["version"] >= acked[-1]
        assert acked == list(range(1, len(acked) + 1))


async def _status(client: httpx.AsyncClient, path: str, status: int) -> bool:
    try:
        return (await client.get(path)).status_code == status
    except httpx.TransportError:
        return False
