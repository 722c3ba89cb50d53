"""A table by year joined to its outlines (issue 76): Gapminder's 1,692 country-years (plotly's
copy of the Gapminder Foundation's table), imported with ``join: "countries"`` by the MCP SDK's
client into a real server, RUNS times: what the map holds (features, points), what a page
downloads of it (its snapshot's JSON bytes), and each import's time as the agent sees it.

    python -m tests.bench.joined_series [RUNS]

Before one outline per place, each row was an outline (1,692, thinned to 5 km to fit); now each
place is one, holding its rows by year. To measure an older tree: ``PYTHONPATH=<its worktree>``
and ``python -P`` from that worktree. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx
import trio
from mcp import Client
from support.gapminder import gapminder_csv

from .harness import open_server


def _positions(coords: Any) -> int:
    """How many [lat, lon] positions a feature's coords hold, however nested."""
    if isinstance(coords, list) and len(coords) == 2 and all(isinstance(v, (int, float)) for v in coords):
        return 1
    return sum(_positions(c) for c in coords) if isinstance(coords, list) else 0


async def joined(runs: int) -> dict[str, Any]:
    table = gapminder_csv(None, None, ("country", "continent", "year", "lifeExp", "pop", "gdpPercap"))
    async with open_server() as server:
        took = []
        async with Client(server.url + "mcp") as agent:
            for _ in range(runs):
                started = time.perf_counter()
                result = await agent.call_tool("import", {"content": table, "join": "countries"})
                took.append(round(time.perf_counter() - started, 2))
                assert not result.is_error, result.content
            answer = result.structured_content or {}
            version = answer["version"]
            view_url = answer.get("view_url") or (result.meta or {}).get(
                "mapsrv/view"
            )  # as a viewer opens it
        async with httpx.AsyncClient(timeout=60) as http:
            snapshot = await http.get(view_url + "/state")
        state = snapshot.json() if snapshot.status_code == 200 else {}
    points = sum(_positions(f.get("coords")) for f in state.get("features", []))
    return {
        "bench": "joined_series",
        "rows": 1692,
        "features": answer["added"],
        "version": version,
        "snapshot_bytes": len(snapshot.content) if snapshot.status_code == 200 else None,
        "points": points or None,
        "import_s": sorted(took),
        "notes": [n for n in answer.get("notes", []) if "thinned" in n or "joined as" in n],
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(json.dumps(trio.run(joined, runs)), flush=True)


if __name__ == "__main__":
    main()
