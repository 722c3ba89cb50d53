"""The street basemap's numbers (issue 79): what building it adds to an extract's import, and
how fast its tiles are served.

    python -m tests.bench.street_basemap [BLOCKS] [--tiles N]

A synthetic city (written with pyosmium in a temporary directory): a BLOCKS x BLOCKS grid of
named streets ~110 m apart (every fifth a primary road), four buildings per block with house
numbers, a park every seventh block, a coastline along its south edge, a railway. The index
import (``mapsrv places import`` without ``--no-basemap`` does both) and the basemap's build each
run in a fresh process, timed, with its peak RSS (``ru_maxrss``). Then a real server (``--basemap
extract``) answers N tile requests over zoom 16 from one client, cold (each tile once) and
cached (the same again): p50 / p99 in ms as the client sees them, on loopback.

Goals (issue 79): building the basemap adds at most 50 % to the import's time and memory; a
tile p50 <= 30 ms cold and <= 2 ms cached. Prints a table, then the numbers as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import osmium
import trio
from osmium.osm.mutable import Node, Way

from mapsrv.config import Config
from mapsrv.places.street_tiles import tiles_over
from mapsrv.server import serve

from .harness import percentiles

SOUTH, WEST = 60.15, 24.90
STEP = 0.001  # degrees of latitude between streets (~110 m); longitude scaled to match
META = {"version": 1, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}


def write_city(path: Path, blocks: int) -> tuple[float, float, float, float]:
    """The city's extract; its box (west, south, east, north)."""
    lon_step = STEP * 2
    ids = {"n": 0, "w": 0}
    nodes: list[Node] = []
    ways: list[Way] = []

    def node(lat: float, lon: float, tags: dict[str, str] | None = None) -> int:
        ids["n"] += 1
        nodes.append(Node(id=ids["n"], location=(lon, lat), tags=tags or {}, **META))
        return ids["n"]

    def way(refs: list[int], tags: dict[str, str]) -> None:
        ids["w"] += 1
        ways.append(Way(id=ids["w"], nodes=refs, tags=tags, **META))

    rows = range(blocks + 1)
    grid = [[node(SOUTH + i * STEP, WEST + j * lon_step) for j in rows] for i in rows]
    for i in range(blocks + 1):
        kind = "primary" if i % 5 == 0 else "residential"
        way([grid[i][j] for j in range(blocks + 1)], {"highway": kind, "name": f"Katu {i}"})
        way([grid[j][i] for j in range(blocks + 1)], {"highway": kind, "name": f"Tie {i}"})
    for i in range(blocks):
        for j in range(blocks):
            lat, lon = SOUTH + i * STEP, WEST + j * lon_step
            if (i * blocks + j) % 7 == 0:
                corners = ((0.1, 0.1), (0.1, 0.9), (0.9, 0.9), (0.9, 0.1))
                ring = [node(lat + STEP * a, lon + lon_step * b) for a, b in corners]
                way([*ring, ring[0]], {"leisure": "park"})
                continue
            for k, (a, b) in enumerate(((0.15, 0.15), (0.15, 0.55), (0.55, 0.15), (0.55, 0.55))):
                corners = ((a, b), (a, b + 0.3), (a + 0.3, b + 0.3), (a + 0.3, b))
                ring = [node(lat + STEP * da, lon + lon_step * db) for da, db in corners]
                tags = {"building": "yes", "addr:housenumber": str(k + 1), "addr:street": f"Katu {i}"}
                way([*ring, ring[0]], tags)
    north, east = SOUTH + blocks * STEP, WEST + blocks * lon_step
    coast = [node(SOUTH - STEP * 0.5, WEST - lon_step + x * lon_step) for x in range(blocks + 3)]
    way(coast, {"natural": "coastline"})
    rail = [node(north + STEP * 0.3, WEST + x * lon_step) for x in range(blocks + 1)]
    way(rail, {"railway": "rail"})
    header = osmium.io.Header()
    low, high = osmium.osm.Location(WEST - lon_step, SOUTH - STEP), osmium.osm.Location(east, north + STEP)
    header.add_box(osmium.osm.Box(low, high))
    writer = osmium.SimpleWriter(str(path), header=header, overwrite=True)
    try:
        for n in sorted(nodes, key=lambda n: n.id):
            writer.add_node(n)
        for w in ways:
            writer.add_way(w)
    finally:
        writer.close()
    return (WEST - lon_step, SOUTH - STEP, east, north + STEP)


_CHILD = """
import resource, sys, time
from pathlib import Path
started = time.perf_counter()
if sys.argv[1] == "index":
    from mapsrv.places.offline_import import import_extract
    import_extract(Path(sys.argv[2]), Path(sys.argv[3]), "city")
else:
    from mapsrv.places.street_tiles import build_basemap
    built = build_basemap(Path(sys.argv[2]), Path(sys.argv[3]) / "city.basemap.pmtiles")
    print(built.describe(), file=sys.stderr)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _timed(what: str, extract: Path, places: Path) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", _CHILD, what, str(extract), str(places)], check=True,
                          capture_output=True, text=True)  # fmt: skip
    if done.stderr.strip():
        print(done.stderr.strip())
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


async def _tiles(places: Path, box: tuple[float, float, float, float], count: int) -> dict[str, Any]:
    config = Config(host="127.0.0.1", port=0, store="memory://", places_dir=str(places), basemap="extract")
    wanted = list(tiles_over(box, 16))[:count]
    out: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve, config)
        async with httpx.AsyncClient(base_url=server.url, headers={"Accept-Encoding": "gzip"}) as client:
            for label in ("cold", "cached"):
                times = []
                for x, y in wanted:
                    started = time.perf_counter()
                    got = await client.get(f"/basemap/city/16/{x}/{y}.mvt")
                    times.append(time.perf_counter() - started)
                    assert got.status_code in (200, 204), got.status_code
                out[label] = percentiles(times)
        nursery.cancel_scope.cancel()
    return out


async def _images(places: Path, box: tuple[float, float, float, float], count: int) -> dict[str, Any]:
    """``map_image`` of 800x600 city views at zoom 16 (a marker in each), each view new (cold: its
    tiles read and drawn) and then again (warm: drawn tiles kept)."""
    from mapsrv.core import Feature, MapState, apply
    from mapsrv.core.ops import AddFeature, SetView
    from mapsrv.http.basemaps import Basemaps
    from mapsrv.image.render import ImageRequest
    from mapsrv.image.service import MapImages

    images = MapImages("", streets=Basemaps("extract", places))
    west, south, east, north = box
    out: dict[str, Any] = {}
    step_lat, step_lon = (north - south) / count, (east - west) / count
    views = [(south + step_lat * (i + 0.5), west + step_lon * ((i * 7) % count + 0.5)) for i in range(count)]
    for label in ("cold", "warm"):
        times = []
        for lat, lon in views:
            state = MapState("bench")
            state, _ = apply(state, AddFeature(Feature("here", "marker", (lat, lon))))
            state, _ = apply(state, SetView((lat, lon), 16))
            started = time.perf_counter()
            rendered = await images.render(state, ImageRequest(800, 600))
            times.append(time.perf_counter() - started)
            assert rendered.basemap.startswith("streets"), rendered.basemap
        out[label] = percentiles(times)
    return out


def run(blocks: int, tiles: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        extract, places = Path(folder) / "city.osm.pbf", Path(folder) / "places"
        box = write_city(extract, blocks)
        print(f"extract: {blocks}x{blocks} blocks, {extract.stat().st_size / 1e6:.1f} MB")
        index_s, index_mb = _timed("index", extract, places)
        basemap_s, basemap_mb = _timed("basemap", extract, places)
        served = trio.run(_tiles, places, box, tiles)
        drawn = trio.run(_images, places, box, 20)
        size = (places / "city.basemap.pmtiles").stat().st_size
    return {
        "blocks": blocks,
        "index_s": round(index_s, 2),
        "index_peak_mb": round(index_mb, 1),
        "basemap_s": round(basemap_s, 2),
        "basemap_peak_mb": round(basemap_mb, 1),
        "basemap_mb": round(size / 1e6, 2),
        "time_added_pct": round(100 * basemap_s / index_s, 1),
        "tile_ms": served,
        "map_image_ms": drawn,
    }


def main() -> None:
    logging.disable(logging.INFO)  # the server's access log: a line per tile
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("blocks", nargs="?", type=int, default=60)
    parser.add_argument("--tiles", type=int, default=300)
    args = parser.parse_args()
    out = run(args.blocks, args.tiles)
    print(f"index: {out['index_s']} s, peak {out['index_peak_mb']} MB")
    print(f"basemap: {out['basemap_s']} s (+{out['time_added_pct']} %), peak {out['basemap_peak_mb']} MB,"
          f" archive {out['basemap_mb']} MB")  # fmt: skip
    for label, q in out["tile_ms"].items():
        print(f"tile {label}: p50 {q['p50']} ms, p90 {q['p90']} ms, p99 {q['p99']} ms (n {q['n']})")
    for label, q in out["map_image_ms"].items():
        print(f"map_image at zoom 16, {label}: p50 {q['p50']} ms, p90 {q['p90']} ms (n {q['n']})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
