"""What importing a file costs the server (issue 28): a day's ride, a GPX track of N points with
a time and an elevation on every point (one a second, as a bike computer records), posted to a
real ``mapsrv serve`` (memory store, then a private redis-server) through ``POST /m/ID/import``
as the page sends it. Reported: the server's CPU seconds for the import (its /proc counters:
parsing, the one batch, the event and its frame, Redis), the wall time of the request, and the
export back (``GET /m/ID/export.gpx``) with the check that it holds every point.

    python -m tests.bench.file_imports 50000
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import trio

from .harness import cpu_seconds, open_redis, open_server

START = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def ride(points: int) -> bytes:
    rows = []
    for i in range(points):
        lat, lon = 46.0 + i * 0.00002, 6.0 + (i % 7200) * 0.00003
        when = (START + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            f'<trkpt lat="{lat:.6f}" lon="{lon:.6f}"><ele>{370 + i % 300}</ele><time>{when}</time></trkpt>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="bench"'
        ' xmlns="http://www.topografix.com/GPX/1/1"><metadata><name>A day out</name></metadata>'
        "<trk><name>Ride</name><trkseg>" + "\n".join(rows) + "</trkseg></trk></gpx>"
    ).encode()


async def one(points: int, *store: str) -> dict[str, Any]:
    body = ride(points)
    async with (
        open_server(*store) as server,
        httpx.AsyncClient(base_url=server.url, timeout=120) as client,
    ):
        map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
        before = cpu_seconds(server.pid)
        started = time.perf_counter()
        answer = await client.post(f"/m/{map_id}/import?filename=ride.gpx", content=body)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - before
        if answer.status_code != 200:
            raise RuntimeError(f"import: {answer.status_code} {answer.text[:200]}")
        before = cpu_seconds(server.pid)
        exported = await client.get(f"/m/{map_id}/export.gpx", headers={"Accept-Encoding": "identity"})
        export_cpu = cpu_seconds(server.pid) - before
        kept = exported.text.count("<trkpt ")
    return {
        "points": points,
        "file_bytes": len(body),
        "import_server_cpu_s": round(cpu, 3),
        "import_wall_s": round(wall, 3),
        "export_server_cpu_s": round(export_cpu, 3),
        "export_bytes": len(exported.content),
        "points_back": kept,
    }


async def main(sizes: list[int]) -> None:
    for n in sizes:
        print(json.dumps({"store": "memory", **await one(n)}), flush=True)
        async with open_redis() as url:
            print(json.dumps({"store": "redis", **await one(n, "--store", url)}), flush=True)


if __name__ == "__main__":
    trio.run(main, [int(a) for a in sys.argv[1:]] or [50_000])
