"""The gazetteer's numbers: index build time and memory, lookup latency, top-1 accuracy.

    python -m tests.bench.places [--rounds N] [--tracemalloc]    # prints one JSON object

Build time and RSS come from a plain run; ``--tracemalloc`` adds the Python heap the index
keeps and the peak while building (tracing makes the build itself ~4x slower).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from mapsrv.places import PlaceNotFound, find_places, gazetteer, nearest_place
from tests.places.place_data import LOCAL_SPELLINGS, most_populous

from .harness import percentiles


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def _time(calls: list[Callable[[], Any]], rounds: int) -> dict[str, Any]:
    samples = []
    for _ in range(rounds):
        for call in calls:
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def _suggest(query: str) -> None:
    try:
        find_places(query)
    except PlaceNotFound:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    top = most_populous(200)  # loads the same JSON once, so the build below pays only its own parse
    out: dict[str, Any] = {}
    if args.tracemalloc:
        tracemalloc.start()
    rss = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    index = gazetteer()
    out["build_s"] = round(time.perf_counter() - started, 3)
    out["build_cpu_s"] = round(time.process_time() - cpu, 3)
    stats = index.statistics()
    out["index"] = {"records": stats.records, "names": stats.names}
    out["rss_growth_mb"] = round(_rss_mb() - rss, 1)
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)
    if args.tracemalloc:
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["heap_kept_mb"], out["heap_peak_mb"] = round(kept / 1e6, 1), round(peak / 1e6, 1)

    english = sum(find_places(name, limit=1)[0].geonameid == gid for gid, name, _ in top)
    local = sum(
        (p.name, p.country_code) == want
        for q, want in LOCAL_SPELLINGS.items()
        for p in find_places(q, limit=1)
    )
    out["top1_english_name"] = f"{english}/{len(top)} = {100 * english / len(top):.1f} %"
    out["top1_local_spelling"] = (
        f"{local}/{len(LOCAL_SPELLINGS)} = {100 * local / len(LOCAL_SPELLINGS):.1f} %"
    )

    queries = [name for _, name, _ in top] + list(LOCAL_SPELLINGS)
    out["find_places_ms"] = _time([lambda q=q: find_places(q) for q in queries], args.rounds)
    out["find_places_country_near_ms"] = _time(
        [
            lambda q=q: find_places(q, country="US", near=(40, -90))
            for q in ("Paris", "Springfield", "Portland")
        ],
        args.rounds * 20,
    )
    rng = random.Random(13)
    points = [(rng.uniform(-60, 70), rng.uniform(-180, 180)) for _ in range(200)]
    out["nearest_place_ms"] = _time([lambda p=p: nearest_place(*p) for p in points], args.rounds)
    out["no_match_with_suggestions_ms"] = _time(
        [lambda q=q: _suggest(q) for q in ("Pariss", "Londn", "Qqqzzx", "Muniche", "Tokio City")], args.rounds
    )
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
