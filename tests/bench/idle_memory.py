"""What a fresh server holds while nobody asks it anything (issue 78), all its processes
together, at 3, 10, 20 and 60 s after start; then the time of its first ``find_places``.

    python -m tests.bench.idle_memory [--at 3,10,20,60]

prints one JSON object. Goal (issue 78): <= 150 MB at 60 s. The built-in places and borders are
read per question from the places file (``mapsrv.places.stored``); what is left is mostly the
imports (trio, the MCP SDK, pydantic, shapely, numpy, pyproj, PIL). Not a test:
tests/system/test_idle_memory.py holds a generous bound.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import trio
from mcp import Client
from support import open_server
from support.procfs import descendants_of, rss_of

GOAL_MB = 150


async def measure(at: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"goal_mb": GOAL_MB, "rss_mb": {}}
    async with open_server("--store", "memory://") as server:
        started = time.monotonic()
        for seconds in at:
            await trio.sleep(max(0.0, started + seconds - time.monotonic()))  # a point in time
            processes = [server.pid, *descendants_of(server.pid)]
            out["rss_mb"][f"{seconds:g}s"] = {
                "total": round(rss_of(processes) / 2**20, 1),
                "processes": len(processes),
            }
        async with Client(server.url + "mcp") as agent:
            asked = time.perf_counter()
            await agent.call_tool("find_places", {"query": "Lisboa"})
            out["first_find_places_ms"] = round(1000 * (time.perf_counter() - asked), 1)
            asked = time.perf_counter()
            await agent.call_tool("find_places", {"query": "Porto"})
            out["second_find_places_ms"] = round(1000 * (time.perf_counter() - asked), 1)
        processes = [server.pid, *descendants_of(server.pid)]
        out["after_two_questions_mb"] = round(rss_of(processes) / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", default="3,10,20,60", help="seconds after start to read RSS at")
    args = parser.parse_args()
    print(json.dumps(trio.run(measure, [float(s) for s in args.at.split(",")]), indent=2))


if __name__ == "__main__":
    main()
