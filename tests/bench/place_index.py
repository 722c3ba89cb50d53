"""The offline place index's numbers: import time and file size of a synthetic extract, and the
latency of searches of several kinds through the place source (worker thread included).

    python -m tests.bench.place_index [POINTS] [--searches N]    # e.g. 1000000; prints a table

The extract (written with pyosmium in a temporary directory, removed after) spreads POINTS
points over a 1.5 x 1.5 degree square around Lisbon: 60 % addresses on 5,000 street names, 25 %
points of interest in 24 categories, 14 % the nodes of named street ways (3 nodes each), 1 %
places. Targets (issue 43): search p50 <= 5 ms, p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import osmium
import trio
from osmium.osm.mutable import Node, Way

from mapsrv.places.offline import OfflineIndex
from mapsrv.places.offline_import import import_extract
from mapsrv.places.sources import Query

from .harness import percentiles

CENTRE = (38.72, -9.14)
SPAN = 1.5  # degrees, each way
META = {"version": 1, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}
CATEGORIES = [
    "amenity=pharmacy", "amenity=cafe", "amenity=restaurant", "amenity=bank", "amenity=school",
    "amenity=fuel", "amenity=atm", "amenity=bar", "amenity=post_office", "amenity=place_of_worship",
    "shop=supermarket", "shop=bakery", "shop=clothes", "shop=hairdresser", "shop=butcher", "shop=books",
    "tourism=hotel", "tourism=museum", "tourism=viewpoint", "leisure=park", "historic=monument",
    "office=company", "craft=carpenter", "healthcare=clinic",
]  # fmt: skip
SYLLABLES = [
    "ma",
    "ri",
    "sa",
    "to",
    "li",
    "ve",
    "do",
    "ca",
    "ra",
    "bel",
    "mon",
    "fer",
    "gal",
    "cos",
    "pin",
    "al",
]
KINDS = ("Rua", "Avenida", "Travessa", "Largo", "Calçada", "Estrada")
PLACES = ("city", "town", "village", "suburb", "hamlet", "neighbourhood")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _point(rng: random.Random) -> tuple[float, float]:
    return (CENTRE[0] + rng.uniform(-SPAN / 2, SPAN / 2), CENTRE[1] + rng.uniform(-SPAN / 2, SPAN / 2))


def write_extract(path: Path, points: int, seed: int = 43) -> dict[str, Any]:
    """The synthetic extract, and samples of what is in it (for the searches)."""
    rng = random.Random(seed)
    streets = [f"{rng.choice(KINDS)} {_word(rng)} {_word(rng)}" for _ in range(5_000)]
    samples: dict[str, list[Any]] = {"addresses": [], "pois": [], "streets": streets}
    writer = osmium.SimpleWriter(str(path))
    ident = 0
    ways: list[list[int]] = []
    try:
        for i in range(points):
            ident += 1
            lat, lon = _point(rng)
            share = i % 100
            tags: dict[str, str] = {}
            if share < 60:
                street, number = rng.choice(streets), str(rng.randint(1, 300))
                tags = {"addr:street": street, "addr:housenumber": number, "addr:postcode": "1100-001",
                        "addr:city": "Lisboa", "addr:country": "PT"}  # fmt: skip
                if len(samples["addresses"]) < 2_000:
                    samples["addresses"].append(f"{street} {number}")
            elif share < 85:
                key, value = rng.choice(CATEGORIES).split("=")
                tags = {key: value, "name": f"{_word(rng)} {_word(rng)}"}
                if len(samples["pois"]) < 2_000:
                    samples["pois"].append(tags["name"])
            elif share < 99:
                ways.append([ident])
            else:
                tags = {"place": rng.choice(PLACES), "name": _word(rng)}
            writer.add_node(Node(id=ident, location=(lon, lat), tags=tags, **META))
        for w, first in enumerate(range(0, len(ways) - 2, 3)):
            nodes = [ways[first][0], ways[first + 1][0], ways[first + 2][0]]
            tags = {"highway": "residential", "name": streets[w % len(streets)]}
            writer.add_way(Way(id=w + 1, nodes=nodes, tags=tags, **META))
    finally:
        writer.close()
    return samples


def _queries(samples: dict[str, Any], rng: random.Random, n: int) -> dict[str, list[Query]]:
    def near() -> tuple[float, float]:
        return (CENTRE[0] + rng.uniform(-0.5, 0.5), CENTRE[1] + rng.uniform(-0.5, 0.5))

    return {
        "address": [Query(rng.choice(samples["addresses"])) for _ in range(n)],
        "street prefix": [Query(s[: rng.randint(5, len(s))]) for s in rng.choices(samples["streets"], k=n)],
        "poi name": [Query(rng.choice(samples["pois"])) for _ in range(n)],
        "one letter": [Query(rng.choice("abcdefghilmoprstv")) for _ in range(n)],
        "category near": [Query(category=rng.choice(CATEGORIES), near=near()) for _ in range(n)],
        "word near, 2 km": [Query("rua", near=near(), within_m=2_000) for _ in range(n)],
        "category word": [Query(rng.choice(["pharmacy", "cafe", "bakery", "viewpoint"])) for _ in range(n)],
    }


async def _time(index: OfflineIndex, calls: list[Callable[[], Any]]) -> dict[str, Any]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


async def _searches(index: OfflineIndex, samples: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    timed: dict[str, dict[str, Any]] = {}
    for kind, queries in _queries(samples, rng, n).items():
        timed[kind] = await _time(index, [lambda q=q: index.search(q) for q in queries])
    points = [_point(rng) for _ in range(n)]
    timed["reverse"] = await _time(index, [lambda p=p: index.reverse(p) for p in points])
    everything = [t for t in timed.values()]
    timed["all"] = {k: max(t[k] for t in everything) for k in ("p50", "p99")}
    return timed


def run(points: int, searches: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        extract, places = Path(folder) / "synthetic.osm.pbf", Path(folder) / "places"
        started = time.perf_counter()
        samples = write_extract(extract, points)
        written = time.perf_counter() - started
        result = import_extract(extract, places, "synthetic")
        print(
            f"extract: {points:,} points, {extract.stat().st_size / 1e6:.1f} MB, written in {written:.1f} s"
        )
        print(result.describe())
        index = OfflineIndex(places)

        async def main() -> dict[str, dict[str, Any]]:
            try:
                await index.search(Query("warm up"))
                return await _searches(index, samples, searches)
            finally:
                await index.aclose()

        timed = trio.run(main)
    print(f"{'search':<18}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, t in timed.items():
        if kind != "all":
            print(f"{kind:<18}{t['p50']:>9.2f}{t['p90']:>9.2f}{t['p99']:>9.2f}{t['max']:>9.2f}")
    print(
        f"worst kind: p50 {timed['all']['p50']:.2f} ms, p99 {timed['all']['p99']:.2f} ms (targets 5 and 20)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("points", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--searches", type=int, default=500, help="searches of each kind")
    args = parser.parse_args()
    run(args.points, args.searches)
