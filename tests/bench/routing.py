"""What a routed draw costs beyond the engine: the same two-stop route asked of Valhalla directly,
drawn through mapsrv's ``draw`` over MCP (routed), and drawn as a plain line of the same points
(the draw itself, without the router). The goal (issue 38): routed - line <= engine + 5 ms.

    PYTHONPATH=$PWD:$PWD/tests VALHALLA_HOME=.tox/valhalla python -m tests.bench.routing [--calls 300]

The engine runs on the tests' street grid (tests/support/street_grid.py): its own time is small,
which leaves mapsrv's share in plain view. The three take turns, a round at a time, so that drift
in the machine's load weighs on each alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx
import trio
from mcp import Client
from support import open_server
from support.street_grid import intersection
from support.valhalla import build_tiles, open_valhalla, require_valhalla

STOPS = [intersection(0, 0), intersection(5, 5)]


def row(name: str, took: list[float]) -> tuple[str, float]:
    ms = sorted(t * 1000 for t in took)
    p50, p95 = statistics.median(ms), ms[int(len(ms) * 0.95) - 1]
    return f"| {name} | {p50:.2f} | {p95:.2f} |", p50


async def timed(calls: list[float], ask: Any) -> Any:
    start = trio.current_time()
    out = await ask()
    calls.append(trio.current_time() - start)
    return out


async def main(count: int, rounds: int = 10) -> None:
    require_valhalla()
    with tempfile.TemporaryDirectory() as work:
        config = await build_tiles(Path(work))
        async with (
            open_valhalla(config) as engine,
            open_server("--rate-mcp", "0", "--router", f"valhalla+{engine.url}") as server,
            Client(server.url + "mcp", mode="legacy") as agent,
            httpx.AsyncClient(base_url=engine.url) as direct,
        ):
            body = {
                "locations": [{"lat": a, "lon": b} for a, b in STOPS],
                "costing": "auto",
                "units": "kilometers",
                "directions_options": {"units": "kilometers", "language": "en-US"},
            }
            route = {"type": "route", "points": [list(p) for p in STOPS]}
            first = await agent.call_tool("draw", {"items": [route]})
            assert not first.is_error, first
            map_id = first.structured_content["map_id"]  # type: ignore[index]
            shape = await agent.call_tool("read", {"map_id": map_id, "format": "geojson"})
            line = next(
                f["geometry"]["coordinates"]
                for f in shape.structured_content["features"]  # type: ignore[index]
                if f["geometry"]["type"] == "LineString"
            )
            plain = {"type": "line", "points": [[lat, lon] for lon, lat in line]}
            took: dict[str, list[float]] = {"engine": [], "routed": [], "line": []}
            per_round = max(1, count // rounds)
            for _ in range(rounds):
                for _ in range(per_round):
                    answer = await timed(took["engine"], lambda: direct.post("/route", json=body))
                    assert answer.status_code == 200
                for name, item in (("routed", route), ("line", plain)):
                    for _ in range(per_round):
                        result = await timed(
                            took[name],
                            lambda item=item: agent.call_tool("draw", {"map_id": map_id, "items": [item]}),
                        )
                        assert not result.is_error, result
    print(f"{count} calls each, {rounds} rounds, route of {len(line)} points\n")
    print("| path | p50 (ms) | p95 (ms) |\n|---|---|---|")
    medians = {}
    for name, label in (
        ("engine", "Valhalla /route, asked directly"),
        ("routed", "draw with a route item, over MCP (routed)"),
        ("line", "draw with the same points as a line, over MCP"),
    ):
        text, medians[name] = row(label, took[name])
        print(text)
    extra = medians["routed"] - medians["line"] - medians["engine"]
    print(f"\nrouted - line - engine, p50: {extra:.2f} ms (goal <= 5 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    trio.run(main, parser.parse_args().calls)
