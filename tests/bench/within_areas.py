"""``select`` within a state or a country named by name or code (issue 59), through the tool on
a map at mapsrv's largest (100,000 markers spread over the contiguous US, 25-49 N, 125-67 W,
in a ``MapHub`` in memory). The first question of each area builds it from Natural Earth's 1:10m
borders (``cold``, in a worker thread; the first of all reads the file too); the others reuse it.

    python -m tests.bench.within_areas [FEATURES] [--runs N]

prints a table, then the numbers as one JSON line. Target (issue 59): within a district or a
state p50 <= 10 ms. Not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import trio

from mapsrv.core.model import Feature
from mapsrv.core.ops import ImportFeatures
from mapsrv.hub import MapHub
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.spatial import select

from .harness import percentiles

AREAS = ("Rhode Island", "US-NY", "TX", "California", "United States")


async def measure(n: int, runs: int) -> dict[str, Any]:
    tc = ToolContext(MapHub(), "http://x/")
    map_id = (await tc.hub.create_map()).id
    rng = random.Random(59)
    made = tuple(Feature(f"m{i}", "marker", (rng.uniform(25, 49), rng.uniform(-125, -67))) for i in range(n))
    await tc.write(map_id, [ImportFeatures(made)], None)
    await select(tc, map_id, near=[40, -100], nearest=1)  # the map's index, built once
    out: dict[str, Any] = {"features": n}
    for area in AREAS:
        start = time.perf_counter()
        first = await select(tc, map_id, within=area)
        cold = time.perf_counter() - start
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            await select(tc, map_id, within=area)
            samples.append(time.perf_counter() - start)
        found = first.structured_content["count"]
        out[area] = {**percentiles(samples), "cold_ms": cold * 1000, "found": found}
    return out


def run(n: int = 100_000, runs: int = 30) -> dict[str, Any]:
    return trio.run(measure, n, runs)


def _print(result: dict[str, Any]) -> None:
    print(f"select within an area on a {result['features']:,}-marker map (ms)")
    print(f"{'within':16} {'cold':>8} {'p50':>8} {'p90':>8} {'max':>8} {'found':>8}")
    for area in AREAS:
        t = result[area]
        cold, p50, p90, most = t["cold_ms"], t["p50"], t["p90"], t["max"]
        print(f"{area:16} {cold:8.0f} {p50:8.1f} {p90:8.1f} {most:8.1f} {t['found']:8,}")
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("features", type=int, nargs="?", default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    _print(run(args.features, args.runs))
