"""The map as an image (issue 26), offline: how long a drawing takes for 1,000, 10,000 and
100,000 labelled points at 800 x 600 (the first at a view, which draws its basemap, and the
next ones at the same view), how big the PNG is, and the process's peak memory with 20 images
asked for at once through ``MapImages`` (two drawn at a time).

    python -m tests.bench.map_images
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from typing import Any

import trio

from mapsrv.core import Feature, MapState
from mapsrv.image.render import ImageRequest, render
from mapsrv.image.service import MapImages


def labelled(n: int) -> MapState:
    features = {
        f"p{i}": Feature(
            f"p{i}",
            "marker",
            (35 + i * 7919 % 25000 / 1000, -10 + i * 104729 % 40000 / 1000),
            label=f"Station {i}",
            style=(("color", "#16a34a"),),
        )
        for i in range(n)
    }
    return MapState("m", 1, "bench", None, features=features)


def timed(state: MapState, repeat: int) -> dict[str, Any]:
    request = ImageRequest()
    started = time.perf_counter()
    first = render(state, request)
    first_ms = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render(state, request)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "first_ms": round(first_ms, 1),
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "png_bytes": len(first.png),
        "clustered": first.clustered,
        "labels": len(first.labels),
    }


async def twenty_at_once(state: MapState) -> dict[str, Any]:
    images = MapImages("")  # no tile server: the offline basemap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(images.render, state, ImageRequest(width=800 + i, height=600))
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib_growth": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1),
    }


def main(sizes: list[int]) -> None:
    out: dict[str, Any] = {}
    # first, while the process's peak RSS is still the start's
    out["twenty_at_once_10000"] = trio.run(twenty_at_once, labelled(10_000))
    for n in sizes:
        state = labelled(n)
        out[str(n)] = timed(state, 10 if n <= 10_000 else 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000])
