"""A fresh process's first seconds (issue 74): a rolling deploy sends a new pod its watchers at
once, while it still warms its places and outlines in the background. A ``mapsrv serve`` is
started, and at once (not waiting for ``/ready`` to say its places are warm) COUNT streams open
on one map (a process of their own, watchers.py), and an agent draws on it every GAP seconds. For
each event: when the last of the crowd had it, from the moment its write began. Reported
separately for the events written while the places still warmed and for those after, and the
server's longest loop stall (its /metrics).

    python -m tests.bench.fresh_watchers [COUNT] [EVENTS] [GAP]    # 1000 40 0.25
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx
import trio
from support import open_server as open_limited_server

from .harness import UNLIMITED, new_watched_map, open_watchers, percentiles
from .storm import metric

WAIT_S = 60.0


async def measure(count: int, events: int = 40, gap: float = 0.25) -> dict[str, Any]:
    started = time.monotonic()
    async with (
        open_limited_server(*UNLIMITED, "--store", "memory://", "--subscriber-buffer", "1000") as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        origin = server.url.rstrip("/")
        map_id, path = await new_watched_map(http)
        host, port = server.host_port
        warming: list[float] = []
        warm: list[float] = []
        async with open_watchers(host, port, path, count) as crowd:
            opened = time.monotonic() - started
            for n in range(events):
                was_warm = (await http.get("/ready")).json().get("places") == "warm"
                op = {"op": "add_feature", "type": "marker", "coords": [n % 80, n % 170]}
                t0 = time.monotonic()
                answer = await http.post(f"/m/{map_id}/ops", json={"ops": [op]}, headers={"origin": origin})
                at = await crowd.wait_for(answer.json()["version"], timeout=WAIT_S)
                (warm if was_warm else warming).append(at[-1] - t0)
                await trio.sleep(gap)
        metrics = (await http.get("/metrics")).text
    busy = metric(metrics, "mapsrv_loop_longest_busy_stall_seconds")
    return {
        "what": f"{count} streams opened on a fresh process, {events} events {gap:g} s apart",
        "streams_open_after_s": round(opened, 1),
        "last_receiver_while_warming": percentiles(warming) if warming else None,
        "last_receiver_once_warm": percentiles(warm) if warm else None,
        "longest_stall_ms_ever": round(metric(metrics, "mapsrv_loop_longest_stall_seconds") * 1000, 1),
        "longest_busy_stall_ms_ever": round(busy * 1000, 1),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    result = trio.run(
        measure,
        int(args[0]) if args else 1000,
        int(args[1]) if len(args) > 1 else 40,
        float(args[2]) if len(args) > 2 else 0.25,
    )
    print(json.dumps(result, indent=1))
