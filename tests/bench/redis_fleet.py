"""How many events per second a fleet of mapsrv processes carries through one Redis: N processes
(1 to 3 here), each a hub on its own Redis store holding every map, each writing to its share of
the maps as fast as it can; every event reaches every other process through pub/sub.

    python -m tests.bench.redis_fleet [SECONDS] [MAPS] [MAX_PROCESSES]   # prints one JSON object

Per fleet size: events committed per second (all processes), remote events received per second
(each event is received by the N - 1 other processes), and CPU seconds per second of the mapsrv
processes and of redis-server. Each worker runs in a process of its own (trio-asyncio installs a
process-wide event loop policy), started with ``python -m tests.bench.redis_fleet worker ...``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import trio
from support import RedisServer

from mapsrv.core import Limits
from mapsrv.core.parse import parse_op
from mapsrv.hub import MapHub
from mapsrv.store.redis import RedisStore

WRITERS_PER_MAP = 2


async def worker(url: str, seconds: float, mine: list[str], every: list[str]) -> dict[str, Any]:
    store = RedisStore(url, ttl=600, log_size=1024)
    hub = MapHub(store=store)
    limits = Limits()
    committed = 0
    async with trio.open_nursery() as nursery:
        messages = await nursery.start(store.serve)
        await nursery.start(hub.serve_replication, messages)
        for map_id in every:
            await hub.get(map_id)
        cpu, start = time.process_time(), trio.current_time()
        before = store.statistics().remote_events

        async def write(map_id: str) -> None:
            nonlocal committed
            n = 0
            while trio.current_time() - start < seconds:
                n += 1
                op = parse_op(
                    {"op": "add_feature", "type": "marker", "coords": [1, 2], "label": f"{n}"}, limits
                )
                try:
                    await hub.apply(map_id, [op])
                except Exception:  # a conflict storm: try again
                    continue
                committed += 1

        async with trio.open_nursery() as writers:
            for map_id in mine:
                for _ in range(WRITERS_PER_MAP):
                    writers.start_soon(write, map_id)
        elapsed = trio.current_time() - start
        result = {
            "committed": committed,
            "received": store.statistics().remote_events - before,
            "cpu_s": time.process_time() - cpu,
            "elapsed_s": elapsed,
        }
        nursery.cancel_scope.cancel()
    return result


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _new_maps(url: str, count: int) -> list[str]:
    store = RedisStore(url, ttl=600, log_size=1024)
    hub = MapHub(store=store)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        ids = [(await hub.create_map(title=f"fleet {i}")).id for i in range(count)]
        nursery.cancel_scope.cancel()
    return ids


async def _run_worker(
    url: str, seconds: float, share: list[str], ids: list[str], results: list[dict[str, Any]]
) -> None:
    command = [sys.executable, "-m", "tests.bench.redis_fleet", "worker", url, str(seconds),
               ",".join(share), ",".join(ids)]  # fmt: skip
    done = await trio.run_process(command, capture_stdout=True)
    results.append(json.loads(done.stdout))


async def fleet(seconds: float, maps: int, most: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "what": f"{maps} maps, {WRITERS_PER_MAP} writers each, {seconds:g} s per fleet size"
    }
    for n in range(1, most + 1):
        with tempfile.TemporaryDirectory() as directory:
            server = RedisServer(directory)
            await server.start()
            url = server.url
            ids = await _new_maps(url, maps)
            shares = [ids[i::n] for i in range(n)]
            redis_cpu = _cpu_seconds(server.process.pid)
            results: list[dict[str, Any]] = []

            async with trio.open_nursery() as nursery:
                for share in shares:
                    nursery.start_soon(_run_worker, url, seconds, share, ids, results)
            redis_cpu = _cpu_seconds(server.process.pid) - redis_cpu
            await server.stop()
            elapsed = max(r["elapsed_s"] for r in results)
            out[f"processes_{n}"] = {
                "events_per_s": round(sum(r["committed"] for r in results) / elapsed),
                "received_per_s": round(sum(r["received"] for r in results) / elapsed),
                "mapsrv_cpu_per_s": round(sum(r["cpu_s"] for r in results) / elapsed, 2),
                "redis_cpu_per_s": round(redis_cpu / elapsed, 2),
            }
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        url, seconds, mine, every = sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
        print(json.dumps(trio.run(worker, url, seconds, mine.split(","), every.split(","))))
    else:
        args = [float(a) for a in sys.argv[1:]]
        seconds, maps, most = (args + [5.0, 6, 3][len(args) :])[:3]
        print(json.dumps(trio.run(fleet, seconds, int(maps), int(most))))
