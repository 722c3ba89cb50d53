"""No stall from big work (issue 60): a real ``mapsrv serve`` on SQLite and on a real redis-server,
real SSE watchers on the map being worked on, and an agent calling every tool on big inputs
(``support.big_work``: sizes whose calls each stalled the loop 250 ms to 2.3 s before the work
moved off it). After each call the server's own loop watch is read: its longest stall, counting
only the time the process had the CPU (``mapsrv_loop_longest_busy_stall_seconds``, so that a
loaded CI machine that does not run the server is not blamed on it), must stay under the budget.

A stall the server makes, on its loop or in a worker thread holding the interpreter, is busy
time and counts whole: putting any of these calls back on the loop fails this test, naming it
(the benchmark, tests/bench/loop_stalls.py, holds the real goal: 50 ms)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import trio
from mcp import Client
from support import Browser, EventStream, RedisServer, open_server, open_stream
from support.agents import call
from support.big_work import BigInputs, ToolCall, calls
from support.chromium import TILES

BUDGET = 0.25  # seconds: the longest busy stall allowed while the tools run
INPUTS = BigInputs(polygons=3000, vertices=40, markers=5000, rows=1500)
BUSY = re.compile(r"^mapsrv_loop_longest_busy_stall_seconds (\S+)$", re.M)


async def busy_stall(http: httpx.AsyncClient) -> float:
    match = BUSY.search((await http.get("/metrics")).text)
    assert match is not None, "the server reports its busy stalls in /metrics"
    return float(match.group(1))


async def every_tool(*store: str) -> list[tuple[str, float]]:
    """Each call's name and the longest busy stall once it was answered, and the watchers' check."""
    seen: list[tuple[str, float]] = []
    async with (
        open_server("--tile-url", TILES, "--max-body-size", str(16 * 2**20), *store) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as http,
        Client(server.url + "mcp") as agent,
        trio.open_nursery() as nursery,
    ):
        before = await busy_stall(http)
        answers: dict[str, dict[str, Any]] = {}
        logged: list[str] = []
        watchers = []
        for item in calls(INPUTS):
            tool_call = item if isinstance(item, ToolCall) else item[1](answers["big"])
            result = await agent.call_tool(tool_call.tool, tool_call.arguments)
            assert not result.is_error, (
                tool_call.name,
                result.content,
                server.log[-3000:].decode(errors="replace"),
            )
            answer = dict(result.structured_content or {})
            if tool_call.name == "import big geojson":
                answers["big"] = answer
                watchers = await watch(nursery, answer["url"], 3)
            elif tool_call.name == "read a page":
                answers["big"] = {**answers["big"], "features": answer["features"]}
            seen.append((tool_call.name, await busy_stall(http)))
            stalls = [line for line in server.log.decode(errors="replace").splitlines() if "stalled" in line]
            logged.extend(stalls[len(logged) :])
        # the watchers were served all along: each has the map's last version
        version = (await call(agent, "read", map_id=answers["big"]["map_id"]))["version"]
        for stream in watchers:
            await stream.wait_for(lambda events: any(int(e[1] or 0) >= version for e in events))
        nursery.cancel_scope.cancel()
    assert before < BUDGET, f"the server stalled {before:.3f} s before any call (start-up, warming)"
    seen.append(("the server's stalls over 100 ms, as it logged them:\n" + "\n".join(logged), 0.0))
    return seen


async def watch(nursery: trio.Nursery, url: str, count: int) -> list[EventStream]:
    """The map's live stream as a person's pages read it (``count`` tabs): the link opened, the
    map claimed."""
    browser = Browser(url.split("/m/")[0])
    nursery.start_soon(_close_at_end, browser)
    map_id = url.rsplit("/", 1)[1]
    opened = await browser.client.get(url)
    assert opened.status_code == 200, (url, opened.status_code, opened.text[:200])
    assert (await browser.client.post(f"/m/{map_id}/claim")).status_code == 303
    return [await open_stream(nursery, browser.client, f"/m/{map_id}/events") for _ in range(count)]


async def _close_at_end(browser: Browser) -> None:
    try:
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            await browser.aclose()


def over_budget(seen: list[tuple[str, float]]) -> list[str]:
    out, last = [], 0.0
    for name, longest in seen[:-1]:
        if longest >= BUDGET and longest > last:
            out.append(f"{name}: {1000 * longest:.0f} ms")
        last = max(last, longest)
    return [*out, seen[-1][0]] if out else []


async def test_every_tool_on_big_inputs_keeps_the_loop_turning_on_sqlite(tmp_path: Any) -> None:
    seen = await every_tool("--store", f"sqlite:///{tmp_path / 'maps.db'}")
    assert not over_budget(seen), over_budget(seen)


async def test_every_tool_on_big_inputs_keeps_the_loop_turning_on_redis(redis_server: RedisServer) -> None:
    seen = await every_tool("--store", redis_server.url)
    assert not over_budget(seen), over_budget(seen)


async def test_a_fresh_process_keeps_its_loop_turning_while_it_warms() -> None:
    """A new process's first seconds (issue 74): viewers arrive and an agent draws while its
    places warm in the background (a rolling deploy sends it its share at once). Each write
    reaches every viewer, and the server's longest busy stall over the whole warm-up stays under
    the budget (a warm-up step back on the loop, or one long call of C in it, fails here). The
    warm-up opens the places file now (issue 78: ~20 ms, done before the first draw may come),
    so the draws go on past it, 20 at least."""
    async with (
        open_server("--store", "memory://") as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as http,
        Client(server.url + "mcp") as agent,
        trio.open_nursery() as nursery,
    ):
        drawn = await call(agent, "draw", items=[{"at": [48.85, 2.35], "label": "Paris"}])
        watchers = await watch(nursery, drawn["url"], 20)
        version = drawn["version"]
        writes = 0
        while writes < 20 or (await http.get("/ready")).json()["places"] == "warming":
            version = (await call(agent, "draw", map_id=drawn["map_id"], items=[{"at": [writes % 80, 2]}]))[
                "version"
            ]
            writes += 1
        for stream in watchers:
            await stream.wait_for(lambda events: any(int(e[1] or 0) >= version for e in events))
        longest = await busy_stall(http)
        nursery.cancel_scope.cancel()
    assert longest < BUDGET, f"the server stalled {1000 * longest:.0f} ms while it warmed"
