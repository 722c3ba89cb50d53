"""Big files through the page's import (issue 61, item 4): a 100 MB GeoPackage GDAL wrote (100,000
points, each with a 760-character note) and 100,000 points with three attributes as a GeoParquet,
each posted to a fresh `mapsrv serve` (memory store) as the page posts it, and the server's peak
RSS growth for the import (its VmHWM reset to its RSS through /proc/PID/clear_refs once it has
settled, just before the request), its CPU and the request's wall time.

``--read`` measures the read alone instead (``read_file`` in a fresh process, its peak RSS growth
as above): of the file's bytes in memory, as every import was read before issue 61's item 4, and
of the file on disk, as the page's import reads it now.

``--mapsrv DIR`` runs the server from another checkout (``git worktree add /tmp/before main``):
the numbers before a change. ``--progress`` asks for the answer as progress lines (the page's
way; a server without it answers the plain JSON and no line is counted).

    python -m tests.bench.big_imports [--mapsrv DIR] [--progress] [--read] [--note 760]
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
import trio

from .gis_files import ROOT, _status
from .gis_files import _reset_peak as _reset_own_peak
from .harness import cpu_seconds, open_server, settled


def files(folder: Path, points: int, note: int) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.gis_files import geopackage, geoparquet, noted_points

    gpkg = folder / "big.gpkg"
    gpkg.write_bytes(geopackage({"big": (noted_points(points, note), "EPSG:4326", "Point")}))
    parquet = folder / "points.parquet"
    parquet.write_bytes(geoparquet(noted_points(points), None))
    return {"gpkg_100mb": gpkg, "points_parquet": parquet}


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS (Linux 4.0+)


async def one(name: str, body: bytes, env: dict[str, str], progress: bool) -> dict[str, Any]:
    async with (
        open_server("--max-file-size", str(256 << 20), env=env) as server,
        httpx.AsyncClient(base_url=server.url, timeout=600) as client,
    ):
        map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
        await settled(server.pid)
        before_cpu, before_rss = cpu_seconds(server.pid), _status("VmRSS", server.pid)
        _reset_peak(server.pid)
        started = time.perf_counter()
        query = f"filename={name}" + "&progress=1" * progress
        lines: list[dict[str, Any]] = []
        async with client.stream("POST", f"/m/{map_id}/import?{query}", content=body) as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"import: {answer.status_code} {(await answer.aread())[:200]!r}")
            lines = [json.loads(line) async for line in answer.aiter_lines() if line]
        wall = time.perf_counter() - started
        last = lines[-1]
        if "added" not in last:
            raise RuntimeError(f"import: {str(last)[:200]}")
        return {
            "file_mib": round(len(body) / 2**20, 1),
            "features": last["added"],
            "progress_lines": len(lines) - 1,
            "import_wall_s": round(wall, 2),
            "import_server_cpu_s": round(cpu_seconds(server.pid) - before_cpu, 2),
            "server_peak_rss_growth_mib": round((_status("VmHWM", server.pid) - before_rss) / 1024, 1),
        }


def _read(path: str, how: str, out: Any) -> None:
    """In a spawned process: ``read_file`` of the file at ``path``, from its bytes or from disk."""
    sys.path.insert(0, str(ROOT))
    from mapsrv.core.model import Limits
    from mapsrv.formats import read_file

    read_file(Path(path), None, Limits())  # warm: imports, PROJ's database, GDAL's drivers
    _reset_own_peak()
    base = _status("VmRSS")
    started = time.process_time()
    found = read_file(Path(path).read_bytes() if how == "bytes" else Path(path), None, Limits())
    cpu = time.process_time() - started
    growth = (_status("VmHWM") - base) / 1024
    out.put(
        {"features": len(found.features), "cpu_s": round(cpu, 2), "peak_rss_growth_mib": round(growth, 1)}
    )


def read_alone(path: Path, how: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_read, args=(str(path), how, queue))
    process.start()
    found: dict[str, Any] = queue.get(timeout=600)
    process.join()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mapsrv", help="the checkout the server runs from (default: this one)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--read", action="store_true")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--note", type=int, default=760)
    args = parser.parse_args()
    env = {"PYTHONSAFEPATH": "1", "PYTHONPATH": str(Path(args.mapsrv).resolve())} if args.mapsrv else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in files(Path(tmp), args.points, args.note).items():
            if args.read:
                for how in ("bytes", "disk"):
                    print(json.dumps({"file": name, "read_from": how, **read_alone(path, how)}), flush=True)
                continue
            found = trio.run(one, path.name, path.read_bytes(), env, args.progress)
            print(json.dumps({"file": name, "server": args.mapsrv or str(ROOT), **found}), flush=True)


if __name__ == "__main__":
    main()
