"""What a big map costs the server (issue 25): N labelled points, as an agent imports them.

In process (memory store): the GeoJSON read into features, one ``ImportFeatures`` write through
the hub, the memory the hub holds per feature (tracemalloc: the state, the event in the map's
log, the history), the snapshot frame built once per version and its gzipped size.
Through a real ``mapsrv serve`` on a private redis-server: the same points written through
``POST /m/ID/ops`` (``import_geojson`` of 10,000 each), Redis's memory per feature (``used_memory``), the
server's RSS per feature, and ``/state``'s bytes on the wire plain and gzipped.

    python -m tests.bench.map_size 1000 10000 100000
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import tracemalloc
from typing import Any

import httpx
import redis
import trio

from mapsrv.core import Limits
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.history import Actor
from mapsrv.core.ops import ImportFeatures
from mapsrv.hub import MapHub

from .harness import open_redis, open_server, rss_kib

AGENT = Actor("agent:0123abcd", "bench")
IMPORT = 10_000  # points per import_geojson page write


def points(n: int) -> dict[str, Any]:
    """A FeatureCollection of ``n`` points spread over Europe, each with a name."""
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [-10 + (i * 7919 % 40000) / 1000, 35 + (i * 104729 % 25000) / 1000],
            },
            "properties": {"name": f"Station {i}"},
        }
        for i in range(n)
    ]
    return {"type": "FeatureCollection", "features": features}


async def in_process(n: int) -> dict[str, Any]:
    geo = points(n)
    body = json.dumps(geo, separators=(",", ":")).encode()
    limits = Limits(max_features=max(n, 1), max_ops=max(n, 1))
    started = time.perf_counter()
    features = features_from_geojson(geo, limits)
    read_s = time.perf_counter() - started
    hub = MapHub(limits=limits)
    entry = await hub.create_map(title="big")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    await hub.apply(entry.id, [ImportFeatures(features)], actor=AGENT)
    apply_s = time.perf_counter() - started
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del features
    started = time.perf_counter()
    snapshot = entry.snapshot_frame()
    snapshot_s = time.perf_counter() - started
    started = time.perf_counter()
    packed = gzip.compress(snapshot, 5, mtime=0)
    gzip_s = time.perf_counter() - started
    return {
        "geojson_bytes": len(body),
        "read_geojson_ms": round(1000 * read_s, 1),
        "apply_ms": round(1000 * apply_s, 1),
        "hub_bytes_per_feature": round(held / n),
        "snapshot_build_ms": round(1000 * snapshot_s, 1),
        "snapshot_bytes": len(snapshot),
        "snapshot_gzip_bytes": len(packed),
        "snapshot_gzip_ms": round(1000 * gzip_s, 1),
    }


async def through_redis(n: int) -> dict[str, Any]:
    async with open_redis() as url:
        plain = redis.Redis.from_url(url)
        async with (
            open_server("--store", url, "--max-features", str(max(n, 1))) as server,
            httpx.AsyncClient(base_url=server.url, timeout=120) as client,
        ):
            map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
            memory_before = int(plain.info("memory")["used_memory"])
            rss_before = rss_kib(server.pid)
            started = time.perf_counter()
            for first in range(0, n, IMPORT):  # import_geojson writes, as an agent's import
                geo = points(min(IMPORT, n - first))
                answer = await client.post(
                    f"/m/{map_id}/ops", json={"ops": [{"op": "import_geojson", "geojson": geo}]}
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"write {first}: {answer.status_code} {answer.text}")
            write_s = time.perf_counter() - started
            redis_bytes = int(plain.info("memory")["used_memory"]) - memory_before
            rss = (rss_kib(server.pid) - rss_before) * 1024
            raw = await client.get(f"/m/{map_id}/state", headers={"Accept-Encoding": "identity"})
            packed_size = 0
            async with client.stream(
                "GET", f"/m/{map_id}/state", headers={"Accept-Encoding": "gzip"}
            ) as packed:
                encoding = packed.headers.get("content-encoding", "")
                async for piece in packed.aiter_raw():
                    packed_size += len(piece)
        plain.close()
    return {
        "import_writes_s": round(write_s, 2),
        "redis_bytes_per_feature": round(redis_bytes / n),
        "server_rss_bytes_per_feature": round(rss / n),
        "state_bytes": len(raw.content),
        "state_gzip_bytes": packed_size,
        "state_encoding": encoding,
    }


async def map_size(sizes: tuple[int, ...] = (1000, 10_000, 100_000)) -> dict[str, Any]:
    """Each size's costs (the scenario ``python -m tests.bench.run --only map_size`` runs)."""
    return {
        "what": f"maps of {', '.join(map(str, sizes))} labelled points",
        **{str(n): {**await in_process(n), **await through_redis(n)} for n in sizes},
    }


async def main(sizes: list[int]) -> None:
    for n in sizes:
        result = {"features": n, **await in_process(n), **await through_redis(n)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    trio.run(main, [int(a) for a in sys.argv[1:]] or [1000, 10_000])
