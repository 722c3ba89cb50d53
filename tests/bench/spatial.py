"""Spatial questions' numbers (issue 46): ``select`` on a 100,000-feature map and ``derive``'s
buffer of a 10,000-vertex line, through the tools (the answer's JSON included).

    python -m tests.bench.spatial [FEATURES] [--vertices N] [--runs N]

prints a table, then the numbers as one JSON line. The map (in a ``MapHub`` in memory) holds
FEATURES features spread over Europe (35-60 N, 10 W-30 E): 95 % markers, 4 % lines of 5 points,
1 % polygons of 6. The first ``select`` builds the map's index (``cold``); the others use it.
The line wiggles north-east across ~550 km, a point every ~55 m (a long GPS track).

Targets (issue 46): a select <= 50 ms; a buffer of a 10,000-vertex line <= 100 ms. Not a test.

``--countries`` adds Natural Earth's 241 countries at 1:50m with 10,000 markers over the world,
``split`` as mapsrv drew them before issue 57 (a polygon a part, outer rings only) and ``whole``
(a multipolygon a country, holes kept; not before issue 57): the index built, a select within
Canada, the union of Indonesia (133 parts), a 10 km buffer of South Africa, Russia's area.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from mapsrv.core.model import Feature
from mapsrv.core.ops import ImportFeatures
from mapsrv.hub import MapHub
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.measuring import measure as measure_tool
from mapsrv.mcp.tools.spatial import derive, select
from mapsrv.spatial import derive as derive_shapes

from .harness import percentiles


def features(n: int, seed: int = 46) -> list[Feature]:
    rng = random.Random(seed)

    def point() -> tuple[float, float]:
        return (rng.uniform(35, 60), rng.uniform(-10, 30))

    out = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.95:
            out.append(Feature(f"m{i}", "marker", point(), label=f"place {i}"))
            continue
        lat, lon = point()
        if kind < 0.99:
            coords = tuple((lat + k * 0.01, lon + k * 0.013) for k in range(5))
            out.append(Feature(f"l{i}", "polyline", coords))
        else:
            ring = tuple((lat + 0.05 * math.sin(a), lon + 0.07 * math.cos(a)) for a in range(0, 360, 60))
            out.append(Feature(f"p{i}", "polygon", tuple(ring)))
    return out


def track(vertices: int) -> tuple[tuple[float, float], ...]:
    return tuple((45 + i * 0.0005, 10 + math.sin(i / 50) * 0.1) for i in range(vertices))


async def _timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[dict[str, Any], Any]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples), result


async def measure(n: int, vertices: int, runs: int) -> dict[str, Any]:
    tc = ToolContext(MapHub(), "http://x/")
    map_id = (await tc.hub.create_map()).id
    made = features(n)
    polygon = next(f.id for f in made if f.type == "polygon")
    line = next(f.id for f in made if f.type == "polyline")
    await tc.write(map_id, [ImportFeatures(tuple(made))], None)
    questions: dict[str, dict[str, Any]] = {
        "cold: the first select (builds the index)": {"near": [48.85, 2.35], "nearest": 10},
        "nearest 10 to a point": {"near": [48.85, 2.35], "nearest": 10},
        "within 25 km of a point": {"near": [50.0, 10.0], "km": 25},
        "within a 1 x 1 degree box": {"within": [[45, 5], [46, 6]]},
        "within a 10 x 10 degree box (200 listed)": {"within": [[40, 0], [50, 10]]},
        "within a polygon feature": {"within": polygon},
        "intersecting a line": {"intersects": line},
        "within 10 km of a line": {"near": line, "km": 10},
    }
    out: dict[str, Any] = {"features": n, "select": {}}
    for name, arguments in questions.items():
        timed, result = await _timed(
            lambda arguments=arguments: select(tc, map_id, **arguments),
            1 if name.startswith("cold") else runs,
        )
        timed["found"] = result.structured_content["count"]
        out["select"][name] = timed
    wiggle = Feature("track", "polyline", track(vertices))
    map_id = (await tc.hub.create_map()).id  # the big map is full (Limits.max_features)
    await tc.write(map_id, [ImportFeatures((wiggle,))], None)
    out["vertices"] = vertices
    out["buffer 1 km (spatial.derive)"] = (await _timed(lambda: _pure(wiggle), runs))[0]
    timed, result = await _timed(lambda: derive(tc, map_id, "buffer", ["track"], km=1), runs)
    out["buffer 1 km (derive tool, drawn)"] = timed
    return out


async def _pure(line: Feature) -> Any:
    return derive_shapes("buffer", [line], 1)


def run(n: int = 100_000, vertices: int = 10_000, runs: int = 30) -> dict[str, Any]:
    return trio.run(measure, n, vertices, runs)


def world(whole: bool) -> tuple[list[Feature], dict[str, list[str]]]:
    """The countries (and the ids each is drawn as) and 10,000 markers over the land's latitudes."""
    from mapsrv.places.world import countries

    out: list[Feature] = []
    ids: dict[str, list[str]] = {}
    for i, country in enumerate(countries("50m")):
        polygons = [
            tuple(tuple((lat, lon) for lon, lat in ring[:-1]) for ring in polygon if len(ring) > 3)
            for polygon in country.polygons
            if len(polygon[0]) > 3
        ]
        if whole:
            out.append(Feature(f"c{i}", "multipolygon", tuple(polygons), label=country.name))
            ids[country.name] = [f"c{i}"]
            continue
        parts = sorted(polygons, key=lambda rings: -len(rings[0]))  # the largest (most points) first
        out += [
            Feature(f"c{i}-{j}", "polygon", rings[0], label=country.name) for j, rings in enumerate(parts)
        ]
        ids[country.name] = [f"c{i}-{j}" for j in range(len(parts))]
    rng = random.Random(57)
    out += [Feature(f"m{i}", "marker", (rng.uniform(-55, 70), rng.uniform(-180, 180))) for i in range(10_000)]
    return out, ids


async def measure_world(whole: bool, runs: int) -> dict[str, Any]:
    tc = ToolContext(MapHub(), "http://x/")
    map_id = (await tc.hub.create_map()).id
    made, ids = world(whole)
    await tc.write(map_id, [ImportFeatures(tuple(made))], None)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "cold: the first select (builds the index)": lambda: select(tc, map_id, near=[0, 0], nearest=1),
        "within Canada (whole, or its largest part)": lambda: select(tc, map_id, within=ids["Canada"][0]),
        "union of Indonesia": lambda: derive(tc, map_id, "union", ids["Indonesia"]),
        "buffer 10 km of South Africa": lambda: derive(tc, map_id, "buffer", ids["South Africa"], km=10),
        "measure Russia": lambda: measure_tool(tc, map_id=map_id, ids=ids["Russia"]),
    }
    out: dict[str, Any] = {"features": len(made)}
    for name, call in calls.items():
        out[name] = (await _timed(call, 1 if name.startswith("cold") else runs))[0]
    return out


def run_world(runs: int = 5) -> dict[str, Any]:
    return {kind: trio.run(measure_world, kind == "whole", runs) for kind in ("split", "whole")}


def _print(result: dict[str, Any]) -> None:
    print(f"select on a {result['features']:,}-feature map (ms)")
    print(f"{'question':45} {'p50':>8} {'p90':>8} {'max':>8} {'found':>8}")
    for name, t in result["select"].items():
        print(f"{name:45} {t['p50']:8.1f} {t['p90']:8.1f} {t['max']:8.1f} {t['found']:8,}")
    print(f"buffer of a {result['vertices']:,}-vertex line (ms)")
    for name in ("buffer 1 km (spatial.derive)", "buffer 1 km (derive tool, drawn)"):
        t = result[name]
        print(f"{name:45} {t['p50']:8.1f} {t['p90']:8.1f} {t['max']:8.1f}")
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("features", type=int, nargs="?", default=100_000)
    parser.add_argument("--vertices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--countries", action="store_true", help="the countries, split and whole")
    args = parser.parse_args()
    _print(run(args.features, args.vertices, args.runs))
    if args.countries:
        print(json.dumps(run_world(args.runs)))
