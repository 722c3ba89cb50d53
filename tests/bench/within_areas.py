"""``select`` within a state or a country named by name or code (issue 59), through the tool on
a map at mapsrv's largest (100,000 markers spread over the contiguous US, 25-49 N, 125-67 W,
in a ``MapHub`` in memory). The first question of each area builds it from Natural Earth's 1:10m
borders (``cold``, in a worker thread; the first of all reads the file too); the others reuse it.

    python -m tests.bench.within_areas [FEATURES] [--runs N] [--precision] [--cities]

prints a table, then the numbers as one JSON line. ``--cities`` adds areas of an imported extract
(support/area_extract.py's Helsinki: its city boundary with a hole, a district, a park), on a map
of FEATURES markers spread over the city's box (60.10-60.25 N, 24.85-25.10 E), and the extract's
import time and index size. ``--precision`` adds how often a point of a
US state (by the Census's 1:5,000,000 lines, support/census_states.py) is within mapsrv's area
of that state, by its distance from the Census's outline, near a state line or a coast.
The process collects as ``mapsrv serve``'s does (``observability.collector.PROCESS``).
Targets: within a district or a state p50 <= 10 ms (issue 59), cold <= 50 ms (issue 78). Not a test.
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
from mapsrv.observability.collector import PROCESS

from .harness import percentiles

AREAS = ("Rhode Island", "US-NY", "TX", "California", "United States")
CITY_AREAS = ("Helsinki", "Kallio", "Kaisaniemen puisto")


async def measure(
    n: int,
    runs: int,
    areas: tuple[str, ...] = AREAS,
    box: tuple[float, float, float, float] = (25, 49, -125, -67),
    tc: ToolContext | None = None,
) -> dict[str, Any]:
    tc = tc or ToolContext(MapHub(), "http://x/")
    map_id = (await tc.hub.create_map()).id
    rng = random.Random(59)
    s, n_, w, e = box
    made = tuple(Feature(f"m{i}", "marker", (rng.uniform(s, n_), rng.uniform(w, e))) for i in range(n))
    await tc.write(map_id, [ImportFeatures(made)], None)
    await select(tc, map_id, near=[(s + n_) / 2, (w + e) / 2], nearest=1)  # the map's index, built once
    # collected as a server collects (``mapsrv serve``: installed at start, settled once up, each
    # pass's survivors frozen): without it, every pass during a cold area visited the map's
    # 100,000 features again, and a cold state took 2-3 times as long as in a server
    PROCESS.settle()
    out: dict[str, Any] = {"features": n}
    for area in areas:
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


BANDS_KM = (0, 0.2, 0.5, 1, 2, 5, 10)


def precision(per_state: int = 3000) -> dict[str, dict[str, float]]:
    """Points within ~11 km of each state's Census outline, inside it, as found in its area."""
    import numpy as np
    import shapely
    from support.census_states import census_states

    from mapsrv.places.borders import region_area

    states = {code: shape for code, shape in census_states().items() if code.startswith("US-")}
    rng = np.random.default_rng(59)
    tally: dict[str, list[int]] = {}
    for code, census in states.items():
        others = shapely.union_all([s.boundary for c, s in states.items() if c != code])
        coords = shapely.get_coordinates(census.boundary)
        pick = coords[rng.integers(0, len(coords), per_state)]
        angle, reach = rng.uniform(0, 2 * np.pi, len(pick)), rng.uniform(0, 0.1, len(pick))
        east_west = reach * np.cos(angle) / np.cos(np.radians(pick[:, 1]))
        points = shapely.points(pick[:, 0] + east_west, pick[:, 1] + reach * np.sin(angle))
        points = points[shapely.contains(census, points)]
        scale = 111 * np.cos(np.radians(shapely.get_y(points)))
        km = shapely.distance(census.boundary, points) * scale
        line = shapely.distance(others, points) * scale < km + 0.1
        hit = shapely.covers(region_area(code), points)
        for k, near_line, found in zip(km.tolist(), line.tolist(), hit.tolist(), strict=True):
            band = max(i for i, edge in enumerate(BANDS_KM) if k >= edge)
            upper = BANDS_KM[band + 1] if band + 1 < len(BANDS_KM) else "inf"
            counted = tally.setdefault(
                f"{'state line' if near_line else 'coast/abroad'} {BANDS_KM[band]}-{upper} km", [0, 0]
            )
            counted[0] += int(found)
            counted[1] += 1
    return {band: {"points": n, "in_own_state": ok / n} for band, (ok, n) in sorted(tally.items())}


def run(n: int = 100_000, runs: int = 30) -> dict[str, Any]:
    return trio.run(measure, n, runs)


def cities(n: int = 100_000, runs: int = 30) -> dict[str, Any]:
    """``select`` within the areas of an imported extract, and that extract's import."""
    import tempfile
    from pathlib import Path

    from support.area_extract import write_area_extract

    from mapsrv.places.offline_import import import_extract
    from mapsrv.places.service import place_service_for

    with tempfile.TemporaryDirectory() as folder:
        write_area_extract(Path(folder) / "helsinki.osm.pbf")
        imported = import_extract(Path(folder) / "helsinki.osm.pbf", Path(folder) / "places", "helsinki")
        tc = ToolContext(MapHub(), "http://x/", places=place_service_for(Path(folder) / "places"))
        out = trio.run(measure, n, runs, CITY_AREAS, (60.10, 60.25, 24.85, 25.10), tc)
    out["import"] = {"seconds": round(imported.seconds, 3), "bytes": imported.size, "counts": imported.counts}
    return out


def _print(result: dict[str, Any], areas: tuple[str, ...] = AREAS) -> None:
    print(f"select within an area on a {result['features']:,}-marker map (ms)")
    print(f"{'within':20} {'cold':>8} {'p50':>8} {'p90':>8} {'max':>8} {'found':>8}")
    for area in areas:
        t = result[area]
        cold, p50, p90, most = t["cold_ms"], t["p50"], t["p90"], t["max"]
        print(f"{area:20} {cold:8.0f} {p50:8.1f} {p90:8.1f} {most:8.1f} {t['found']:8,}")
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("features", type=int, nargs="?", default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--precision", action="store_true", help="points of each state in its area")
    parser.add_argument("--cities", action="store_true", help="a city, a district, a park of an extract")
    args = parser.parse_args()
    PROCESS.install()
    _print(run(args.features, args.runs))
    if args.cities:
        _print(cities(args.features, args.runs), CITY_AREAS)
    if args.precision:
        for band, counted in precision().items():
            print(f"{band:28} {counted['in_own_state']:8.2%} of {counted['points']:,}")
