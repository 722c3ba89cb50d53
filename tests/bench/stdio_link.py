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
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

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


@asynccontextmanager
async def timed(
    client: Callable[[], AbstractAsyncContextManager[Client]], into: list[float]
) -> AsyncIterator[Client]:
    start = trio.current_time()
    async with client() as agent:
        into.append(trio.current_time() - start)
        yield agent


async def calls(agent: Client, map_id: str | None, count: int) -> list[float]:
    if map_id is None:
        made = (await agent.call_tool("create_map", {})).structured_content
        assert made is not None
        map_id = str(made["map_id"])
    took = []
    for _ in range(count + 10):  # the first 10 warm up
        start = trio.current_time()
        result = await agent.call_tool("read", {"map_id": map_id})
        took.append(trio.current_time() - start)
        assert not result.is_error, result
    return took[10:]


def summary(name: str, took: list[float], started: list[float]) -> str:
    ms = sorted(t * 1000 for t in took)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"| {name} | {statistics.median(ms):.2f} | {p95:.2f} | {started[0] * 1000:.0f} |"


async def main(count: int) -> None:
    rows = ["| path | read p50 (ms) | read p95 (ms) | spawn to initialized (ms) |", "|---|---|---|---|"]
    async with open_server("--rate-mcp", "0") as server:
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
        for name, client in paths.items():
            started: list[float] = []
            async with timed(client, started) as agent:
                took = await calls(agent, None if "none" in name else map_id, count)
            rows.append(summary(name, took, started))
        await person.aclose()
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    trio.run(main, parser.parse_args().calls)
