"""One map watched by a crowd (issue 47): COUNT streams on one map's view link, read by a process
of their own (watchers.py), an agent drawing on that map once every GAP seconds, and another
agent writing to another map 20 times a second meanwhile. Reported: when the first, the median and
the last of the crowd had each event (from the moment its write began), the other map's writes
(all of them, and those that began while a crowd event was going out), and the server's loop
stalls (its /metrics). To tell the server's share of a receiver's wait from the load
generator's: the CPU each of them used per event (the server's includes the other map's writes),
and the load average as the run began (a busy machine slows both).

    python -m tests.bench.crowd_fanout 10000 [EVENTS] [GAP]
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import httpx
import trio

from .harness import cpu_seconds, new_watched_map, open_server, open_watchers, percentiles, write_steadily
from .storm import metric

WAIT_S = 60.0


def watcher_pid() -> int:
    """The watcher process (``open_watchers`` starts it as a child of this one)."""
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as children:
            for pid in children.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"tests.bench.watchers" in cmdline.read():
                        return int(pid)
    raise RuntimeError("no watcher process among this process's children")


async def measure(count: int, events: int = 30, gap: float = 1.0) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2)
    async with (
        open_server("--subscriber-buffer", "1000") as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        origin = server.url.rstrip("/")
        crowd_id, path = await new_watched_map(http)
        made = await http.post("/new", headers={"origin": origin}, follow_redirects=False)
        other_id = made.headers["location"].rsplit("/", 1)[1]
        host, port = server.host_port
        began = time.monotonic()
        async with open_watchers(host, port, path, count) as crowd:
            opened = time.monotonic() - began
            await trio.sleep(2)  # the crowd's presence settles
            writes: list[tuple[float, float]] = []
            curves: list[list[float]] = []
            crowd_writes: list[float] = []
            fanning: list[tuple[float, float]] = []  # (from, to) trio time while an event went out
            before = (await http.get("/metrics")).text
            reader = watcher_pid()
            cpu_before = cpu_seconds(server.pid), cpu_seconds(reader)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(write_steadily, http, other_id, origin, writes, {})
                for n in range(events):
                    await trio.sleep(gap)
                    op = {"op": "add_feature", "type": "marker", "coords": [n % 80, n % 170]}
                    t0, start = time.monotonic(), trio.current_time()
                    answer = await http.post(
                        f"/m/{crowd_id}/ops", json={"ops": [op]}, headers={"origin": origin}
                    )
                    crowd_writes.append(trio.current_time() - start)
                    at = await crowd.wait_for(answer.json()["version"], timeout=WAIT_S)
                    fanning.append((start, start + at[-1] - t0))
                    curves.append([a - t0 for a in at])
                nursery.cancel_scope.cancel()
            after = (await http.get("/metrics")).text
            server_cpu = cpu_seconds(server.pid) - cpu_before[0]
            reader_cpu = cpu_seconds(reader) - cpu_before[1]
    during = [took for s, took in writes if any(a <= s <= b for a, b in fanning)]
    return {
        "what": f"{count} streams on one map, {events} events {gap:g} s apart; another map written 20/s",
        "load_average_at_start": load,
        "open_seconds": round(opened, 1),
        "first_receiver": percentiles([c[0] for c in curves]),
        "median_receiver": percentiles([c[5] for c in curves]),
        "last_receiver": percentiles([c[-1] for c in curves]),
        "crowd_map_write": percentiles(crowd_writes),
        "other_map_write": percentiles([took for _s, took in writes]),
        "other_map_write_while_fanning_out": percentiles(during) if during else None,
        "server_cpu_ms_per_event": round(server_cpu * 1000 / events, 1),
        "watchers_cpu_ms_per_event": round(reader_cpu * 1000 / events, 1),
        "loop_stalls": metric(after, "mapsrv_loop_stalls_total") - metric(before, "mapsrv_loop_stalls_total"),
        "longest_stall_ms_ever": round(metric(after, "mapsrv_loop_longest_stall_seconds") * 1000, 1),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    result = trio.run(
        measure,
        int(args[0]) if args else 10000,
        int(args[1]) if len(args) > 1 else 30,
        float(args[2]) if len(args) > 2 else 1.0,
    )
    print(json.dumps(result, indent=1))
