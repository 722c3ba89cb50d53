"""What a cached geocoder answer costs (issue 43: at most 0.1 ms): ``NominatimGeocoder.search`` and
``reverse`` answered from their caches, each full (10,000 entries).

    python -m tests.bench.geocoder_cache [--cached N] [--hits N]   # prints a table, then JSON

A local listener answers as Nominatim does (jsonv2, 5 results with address details, ~3 KB) to
fill the cache: ``--cached`` searches of different texts (a third of them near a point, a sixth a
category near a point) and as many reverse lookups. Then ``--hits`` of them again, at random,
each timed around the awaited call (on a trio loop, as the resolver makes it); a miss (a
request to the listener, over a kept-alive connection) is timed beside them for scale.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio

from mapsrv.places.nominatim import CACHE_SIZE, NominatimGeocoder
from mapsrv.places.sources import Query

from .harness import percentiles

CENTRE = (38.72, -9.14)


def _result(i: int) -> dict[str, Any]:
    lat, lon = CENTRE[0] + i * 0.001, CENTRE[1] - i * 0.001
    return {
        "place_id": 1000 + i,
        "osm_type": "node",
        "osm_id": 2000 + i,
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "category": "amenity",
        "type": "pharmacy",
        "place_rank": 30,
        "importance": 0.01 + i / 1000,
        "addresstype": "amenity",
        "name": f"Farmácia Central {i}",
        "display_name": f"Farmácia Central {i}, {20 + i}, Rua Augusta, Baixa, Santa Maria Maior, Lisboa,"
        " 1100-053, Portugal",
        "address": {
            "amenity": f"Farmácia Central {i}",
            "house_number": str(20 + i),
            "road": "Rua Augusta",
            "neighbourhood": "Baixa",
            "suburb": "Santa Maria Maior",
            "city": "Lisboa",
            "municipality": "Lisboa",
            "county": "Lisboa",
            "ISO3166-2-lvl6": "PT-11",
            "postcode": "1100-053",
            "country": "Portugal",
            "country_code": "pt",
        },
        "boundingbox": [
            f"{lat - 0.0001:.7f}",
            f"{lat + 0.0001:.7f}",
            f"{lon - 0.0001:.7f}",
            f"{lon + 0.0001:.7f}",
        ],
    }


SEARCH = json.dumps([_result(i) for i in range(5)]).encode()
REVERSE = json.dumps(_result(0)).encode()


async def _serve(stream: trio.SocketStream) -> None:
    """Nominatim's answers, many requests to a connection (HTTP/1.1 keep-alive)."""
    buffer = b""
    try:
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            body = REVERSE if b" /reverse?" in head.split(b"\r\n", 1)[0] else SEARCH
            await stream.send_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()


@asynccontextmanager
async def open_service() -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, _serve, 0, host="127.0.0.1"))
        yield f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        nursery.cancel_scope.cancel()


def _queries(count: int, rng: random.Random) -> list[Query]:
    queries = []
    for i in range(count):
        near = (CENTRE[0] + rng.uniform(-0.02, 0.02), CENTRE[1] + rng.uniform(-0.02, 0.02))
        if i % 6 == 0:
            queries.append(Query("", near=near, category="pharmacy", limit=5))
        elif i % 3 == 0:
            queries.append(Query(f"Rua Augusta {i}", near=near, within_m=5_000))
        else:
            queries.append(Query(f"Rua Augusta {i}, Lisboa", country="PT"))
    return queries


async def measure(cached: int, hits: int) -> dict[str, Any]:
    rng = random.Random(43)
    queries = _queries(cached, rng)
    points = [(CENTRE[0] + rng.uniform(-0.5, 0.5), CENTRE[1] + rng.uniform(-0.5, 0.5)) for _ in range(cached)]
    async with open_service() as url:
        geocoder = NominatimGeocoder(url, polite=False)
        try:
            misses: list[float] = []
            for query in queries:
                started = time.perf_counter()
                found = await geocoder.search(query)
                misses.append(time.perf_counter() - started)
                if not found:
                    raise RuntimeError(f"the geocoder found nothing for {query}")
            for point in points:
                await geocoder.reverse(point, within_m=100_000)
            filled = geocoder.statistics()
            timed: dict[str, list[float]] = {"search": [], "reverse": []}
            for _ in range(hits):
                query = rng.choice(queries)
                started = time.perf_counter()
                await geocoder.search(query)
                timed["search"].append(time.perf_counter() - started)
                point = rng.choice(points)
                started = time.perf_counter()
                await geocoder.reverse(point, within_m=100_000)
                timed["reverse"].append(time.perf_counter() - started)
            after = geocoder.statistics()
        finally:
            await geocoder.aclose()
    if after.requests != filled.requests or after.cache_hits != 2 * hits:
        raise RuntimeError(f"not every lookup was a cache hit: {filled} then {after}")
    return {
        "cached": after.cached,
        "search_hit_us": percentiles(timed["search"], scale=1e6),
        "reverse_hit_us": percentiles(timed["reverse"], scale=1e6),
        "search_miss_us": percentiles(misses, scale=1e6),
    }


def _print(out: dict[str, Any]) -> None:
    print(f"cache: {out['cached']} entries")
    print(f"{'':<16}{'p50 us':>9}{'p90 us':>9}{'p99 us':>9}{'max us':>9}")
    for what in ("search_hit_us", "reverse_hit_us", "search_miss_us"):
        t = out[what]
        print(f"{what[:-3]:<16}{t['p50']:>9.1f}{t['p90']:>9.1f}{t['p99']:>9.1f}{t['max']:>9.1f}")
    print("target: a hit <= 100 us")
    print(json.dumps(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cached", type=int, default=CACHE_SIZE, help="searches (and reversals) cached")
    parser.add_argument("--hits", type=int, default=20_000, help="cached lookups timed, of each kind")
    args = parser.parse_args()
    _print(trio.run(measure, args.cached, args.hits))
