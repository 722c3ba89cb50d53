"""What GIS files cost (issue 61): Natural Earth's 241 countries (1:50m, the outlines mapsrv ships)
as a zipped Shapefile GDAL wrote, and 100,000 points with three attributes as a GeoParquet, read
into features (``read_file``, what an import parses) and a map of the same size written as each
GIS format (``export_file``); then both files posted to a real ``mapsrv serve`` as the page does.

Each in-process number is measured in a fresh process (spawned), warmed once: wall and CPU
seconds (best of ``--repeat``) and the peak RSS growth of the call itself (Linux's VmHWM, reset to
the current RSS through /proc/self/clear_refs just before it). Through the server: the request's
wall time, the server's CPU and the growth of its peak RSS.

    python -m tests.bench.gis_files [--repeat 3] [--points 100000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import shapely
import trio

from .harness import cpu_seconds, open_server

ROOT = Path(__file__).resolve().parents[2]


def _status(name: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {name}")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS (Linux 4.0+)


def files(folder: Path, points: int) -> dict[str, Path]:
    """The two files: countries.zip (a Shapefile GDAL wrote) and points.parquet."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.gis_files import countries, geoparquet, shapefile_zip

    names, outlines = countries("50m")
    table = pa.table({"name": names, "rank": list(range(len(names))), "geometry": shapely.to_wkb(outlines)})
    shp = folder / "countries.zip"
    shp.write_bytes(shapefile_zip({"countries": (table, "EPSG:4326", "MultiPolygon")}))
    rng = np.random.default_rng(61)
    lon, lat = rng.uniform(-10, 30, points), rng.uniform(35, 60, points)
    table = pa.table(
        {
            "name": [f"point {i}" for i in range(points)],
            "count": np.arange(points),
            "value": rng.random(points),
            "geometry": shapely.to_wkb(shapely.points(lon, lat)),
        }
    )
    parquet = folder / "points.parquet"
    parquet.write_bytes(geoparquet(table, None))
    values = table.column("value").to_pylist()
    features = [  # the same points as GeoJSON: what the server's own path costs, whatever the format
        {"type": "Feature", "properties": {"name": f"point {i}", "count": i, "value": values[i]},
         "geometry": {"type": "Point", "coordinates": [x, y]}}
        for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True))
    ]  # fmt: skip
    geojson = folder / "points.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return {"countries_shp": shp, "points_parquet": parquet, "points_geojson": geojson}


def _measure(task: str, path: str, repeat: int, out: Any) -> None:
    """In a spawned process: ``task`` on the file at ``path``, its times and peak RSS growth."""
    sys.path.insert(0, str(ROOT))
    from mapsrv.core.apply import apply_all
    from mapsrv.core.model import Limits, MapState
    from mapsrv.core.ops import ImportFeatures
    from mapsrv.formats import export_file, read_file

    data = Path(path).read_bytes()
    limits = Limits()
    if task == "read":
        run = lambda: read_file(data, None, limits)  # noqa: E731
    else:
        state, _ = apply_all(MapState("m"), [ImportFeatures(read_file(data, None, limits).features)])
        run = lambda: export_file(state, task)  # noqa: E731
    run()  # warm: imports, PROJ's database, GDAL's drivers
    best_wall = best_cpu = float("inf")
    growth = 0
    size = 0
    for _ in range(repeat):
        _reset_peak()
        base = _status("VmRSS")
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        growth = max(growth, _status("VmHWM") - base)
        size = len(result.body) if task != "read" else len(result.features)
        del result
    found = {"wall_s": round(best_wall, 3), "cpu_s": round(best_cpu, 3)}
    found["peak_rss_growth_mib"] = round(growth / 1024, 1)
    found["bytes" if task != "read" else "features"] = size
    out.put(found)


def measure(task: str, path: Path, repeat: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(task, str(path), repeat, queue))
    process.start()
    found: dict[str, Any] = queue.get(timeout=600)
    process.join()
    return found


async def through_server(paths: dict[str, Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in paths.items():
        async with (
            open_server("--max-file-size", str(64 << 20)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=120) as client,
        ):
            map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
            body = path.read_bytes()
            before_cpu, before_rss = cpu_seconds(server.pid), _status("VmRSS", server.pid)
            started = time.perf_counter()
            answer = await client.post(f"/m/{map_id}/import?filename={path.name}", content=body)
            wall = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"import: {answer.status_code} {answer.text[:200]}")
            out[name] = {
                "file_mib": round(len(body) / 2**20, 2),
                "features": answer.json()["added"],
                "import_wall_s": round(wall, 3),
                "import_server_cpu_s": round(cpu_seconds(server.pid) - before_cpu, 3),
                "server_peak_rss_growth_mib": round((_status("VmHWM", server.pid) - before_rss) / 1024, 1),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = files(Path(tmp), args.points)
        for name, path in paths.items():
            if name == "points_geojson":
                continue
            row: dict[str, Any] = {
                "file": name,
                "bytes": path.stat().st_size,
                "read": measure("read", path, args.repeat),
            }
            for fmt in ("shp", "gpkg", "fgb", "parquet"):
                row[f"export_{fmt}"] = measure(fmt, path, args.repeat)
            print(json.dumps(row), flush=True)
        print(json.dumps({"through_server": trio.run(through_server, paths)}), flush=True)


if __name__ == "__main__":
    main()
