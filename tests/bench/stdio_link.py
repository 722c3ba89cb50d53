"""What the stdio relay costs: one tool call through ``mapsrv stdio --server URL`` against the same
call straight to the server's /mcp, and against an in-memory ``mapsrv stdio``; and how long each
takes from spawn to an initialized session.

    PYTHONPATH=$PWD python -m tests.bench.stdio_link [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import trio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from support import Browser, open_server


def stdio(*args: str) -> Callable[[], AbstractAsyncContextManager[Client]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mapsrv", "stdio", "--log-level", "warning", *args],
        env={**os.environ},
    )
    return lambda: Client(stdio_client(params), mode="legacy")  # type: ignore[arg-type]


async def calls(agent: Client, map_id: str, count: int) -> list[float]:
    took = []
    for _ in range(count):
        start = trio.current_time()
        result = await agent.call_tool("read", {"map_id": map_id})
        took.append(trio.current_time() - start)
        assert not result.is_error, result
    return took


def summary(name: str, took: list[float], started: float) -> str:
    ms = sorted(t * 1000 for t in took)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"| {name} | {statistics.median(ms):.2f} | {p95:.2f} | {started * 1000:.0f} |"


async def main(count: int, rounds: int = 10) -> None:
    """The three paths take turns, ``count / rounds`` calls at a time, so that a machine whose
    load drifts (other work on it) weighs on each of them alike."""
    rows = ["| path | read p50 (ms) | read p95 (ms) | spawn to initialized (ms) |", "|---|---|---|---|"]
    async with open_server("--rate-mcp", "0") as server, AsyncExitStack() as stack:
        person = Browser(server.url)
        map_id = await person.new_map()
        await person.ops(
            map_id, {"op": "add_feature", "type": "marker", "coords": [48.86, 2.35], "label": "Paris"}
        )
        paths = {
            "direct Streamable HTTP (mcp.Client to /mcp)": lambda: Client(server.url + "mcp", mode="legacy"),
            "mapsrv stdio --server URL (relay)": stdio("--server", server.url),
            "mapsrv stdio --server none (in-memory)": stdio("--server", "none", "--port", "0"),
        }
        agents, maps, started, took = {}, {}, {}, {}
        for name, client in paths.items():
            start = trio.current_time()
            agents[name] = await stack.enter_async_context(client())
            started[name] = trio.current_time() - start
            if "none" in name:  # its own maps: the person's code means nothing there
                made = (await agents[name].call_tool("create_map", {})).structured_content
                assert made is not None
                maps[name] = str(made["map_id"])
            else:
                maps[name] = map_id
            await calls(agents[name], maps[name], 10)  # warm up
            took[name] = []
        for _ in range(rounds):
            for name in paths:
                took[name] += await calls(agents[name], maps[name], max(1, count // rounds))
        rows += [summary(name, took[name], started[name]) for name in paths]
        await person.aclose()
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    trio.run(main, parser.parse_args().calls)
