"""What a fresh server holds while nobody asks it anything (issue 78), all its processes
together, at 3, 10, 20 and 60 s after start; then the time of its first ``find_places``.

    python -m tests.bench.idle_memory [--at 3,10,20,60] [--session]

prints one JSON object. Goal (issue 78): <= 150 MB at 60 s. ``--session`` measures instead the
server after an agent's session: with an extract of Helsinki imported (``tests.bench.place_tasks``'
extract), RSS of all its processes at 10 s, then after the seven place tasks of issue 77 as an
agent does them (``place_tasks.TASKS``: 13 calls on 7 maps, a 320-row and a 177-row import, an
image), then 10 s later. Goal (issue 78): <= 250 MB after the session. The built-in places and borders are
read per question from the places file (``mapsrv.places.stored``); what is left is mostly the
imports (trio, the MCP SDK, pydantic, shapely, numpy, pyproj, PIL). Not a test:
tests/system/test_idle_memory.py holds a generous bound.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from mcp import Client
from support import open_server
from support.procfs import descendants_of, rss_of

GOAL_MB = 150
SESSION_GOAL_MB = 250


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


async def after_session() -> dict[str, Any]:
    """RSS of a server with an imported extract, idle and after the seven place tasks."""
    from bench.place_tasks import TASKS, extract, play
    from mapsrv.cli import main as mapsrv

    out: dict[str, Any] = {"goal_mb": SESSION_GOAL_MB}
    with tempfile.TemporaryDirectory() as folder:
        facts = extract(Path(folder))
        places = Path(folder) / "places"
        assert (
            mapsrv(["places", "import", str(Path(folder) / "helsinki.osm.pbf"), "--places-dir", str(places)])
            == 0
        )
        unreachable = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # refused at once: the offline world map
        async with open_server(
            "--store", "memory://", "--places-dir", str(places), "--tile-url", unreachable
        ) as server:

            def resident() -> dict[str, float]:
                children = descendants_of(server.pid)
                mine, theirs = rss_of([server.pid]), rss_of(children)
                return {"total": round((mine + theirs) / 2**20, 1), "server": round(mine / 2**20, 1),
                        "children": round(theirs / 2**20, 1), "processes": 1 + len(children)}  # fmt: skip

            await trio.sleep(10)  # the server's first seconds, as the idle figure
            out["idle_10s_mb"] = resident()
            async with Client(server.url + "mcp") as client:
                done = {name: await play(client, task, facts) for name, task in TASKS.items()}
            out["tasks_ok"] = sum(1 for t in done.values() if t["ok"] is True)
            out["calls"] = sum(t["calls"] for t in done.values())
            out["after_session_mb"] = resident()
            await trio.sleep(10)
            out["10s_later_mb"] = resident()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", default="3,10,20,60", help="seconds after start to read RSS at")
    parser.add_argument("--session", action="store_true", help="after an agent's session instead")
    args = parser.parse_args()
    if args.session:
        print(json.dumps(trio.run(after_session), indent=2))
        return
    print(json.dumps(trio.run(measure, [float(s) for s in args.at.split(",")]), indent=2))


if __name__ == "__main__":
    main()
