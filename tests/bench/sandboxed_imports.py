"""What the sandbox costs ordinary files (issue 72): Natural Earth's 1:10m countries (GeoJSON,
24 MB, 550,000 vertices), a 100,000-point GeoParquet and a 3-point GeoJSON, each posted ``--repeat``
times through the page's import to one real ``mapsrv serve`` (memory store). The first import is
apart (before it, no reader process is waiting); the others are summed up by their median. Run it
in the tree to measure (``python -m tests.bench.sandboxed_imports`` from a checkout of the commit
before the sandbox gives the "before" column: the server is started from the current folder).

    python -m tests.bench.sandboxed_imports [--repeat 5] [--only points_100k.parquet]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import httpx
import trio

from .countries_10m import natural_earth_10m
from .harness import cpu_seconds, open_server, settled

__all__ = ["sandboxed_imports"]


def _points_parquet(n: int) -> bytes:
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    rng = np.random.default_rng(72)
    xy = rng.uniform([-10, 35], [30, 60], size=(n, 2))
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB"}}}
    table = pa.table(
        {
            "name": [f"p{i}" for i in range(n)],
            "count": np.arange(n),
            "value": rng.random(n),
            "geometry": shapely.to_wkb(shapely.points(xy)),
        }
    ).replace_schema_metadata({"geo": json.dumps(geo)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def files() -> dict[str, tuple[str, bytes]]:
    small = {"type": "FeatureCollection", "features": []}
    for i in range(3):
        point = {"type": "Point", "coordinates": [i, i]}
        small["features"].append({"type": "Feature", "geometry": point, "properties": {"n": i}})
    return {
        "countries_10m.geojson": ("countries.geojson", json.dumps(natural_earth_10m()).encode()),
        "points_100k.parquet": ("points.parquet", _points_parquet(100_000)),
        "three_points.geojson": ("three.geojson", json.dumps(small).encode()),
    }


async def sandboxed_imports(repeat: int, only: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (filename, body) in files().items():
        if only is not None and name != only:
            continue
        async with open_server("--max-file-size", str(64 << 20)) as server:
            await settled(server.pid)
            async with httpx.AsyncClient(base_url=server.url, timeout=300) as client:
                walls, cpus = [], []
                for _ in range(repeat):
                    client.cookies.clear()  # a browser of its own: a new map (the 1:10m fills one)
                    map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
                    cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
                    answer = await client.post(f"/m/{map_id}/import?filename={filename}", content=body)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(cpu_seconds(server.pid) - cpu0)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
                    await trio.sleep(1)  # as people import: a spare reader has time to start
        out[name] = {
            "bytes": len(body),
            "first_s": round(walls[0], 3),
            "median_s": round(statistics.median(walls[1:]), 3),
            "best_s": round(min(walls[1:]), 3),
            "server_cpu_median_s": round(statistics.median(cpus[1:]), 3),
        }
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", help="one file's name, e.g. points_100k.parquet")
    args = parser.parse_args()
    found = trio.run(sandboxed_imports, args.repeat, args.only)
    print(json.dumps({"bench": "sandboxed_imports", **found}, indent=1))
