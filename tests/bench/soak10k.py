"""10,000 watchers over 100 maps, 100 events a second in all, for 10 minutes (issue 15): does
every viewer that keeps reading get every event, in order, soon enough, for as long as it runs?

One mapsrv process (memory store); the maps are made by one browser cookie (``GET /``, then
``POST /new``), each with one marker. The watchers (``map_watchers.py``, a process of their own)
spread over the maps round-robin. Writers move a map's marker with ``POST /m/ID/ops``, the maps
in turn, on a fixed schedule (write k is due ``k / rate`` seconds after the start, whether the
earlier ones have been answered or not), each write's label holding the ``time.monotonic()`` at
which it began; each watcher times each delivery against it.

    python -m tests.bench.run --only soak10k                       # 10 minutes
    python -m tests.bench.run --only soak10k --size seconds=30     # a quick look
    python -m tests.bench.run --only soak10k --size seconds=1800 pin=1 prefill=1   # issue 24's check

``pin=1`` puts the server on core 0 and the harness (this process, the watchers) on core 1, so the
server's latency is not the harness's turn on a shared core. ``prefill=1`` fills every map's
event log and history (``event_log_size`` events, ``MAX_CHANGES`` writes: one write each) before
the watchers come, so the server's RSS is measured with full histories from the start (unfilled,
they fill at one write a second a map: ~1,000 s).
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import trio

from mapsrv.config import Config
from mapsrv.core.history import MAX_CHANGES

from .harness import cpu_seconds, open_server, percentiles, rss_kib, watcher_process
from .map_watchers import raise_fd_limit

__all__ = ["MapWatchers", "new_maps", "open_map_watchers", "soak10k"]

WRITERS = 100  # writes in flight at most, a connection each: the schedule sets the pace, not the answers
# One client (and pool) per writer: one pool of 100 connections scans them all on each request and
# each answer (httpcore 1.0), which cost this process 88 % of a core once writes queued, on a
# machine whose two cores the server and the watchers need.
WRITER_LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
FILES_SPARE = 1000  # open files the server needs beyond its streams
RSS_EVERY = 30  # seconds between the RSS samples reported
FILLERS = 8  # maps filled at once by prefill=1


class MapWatchers:
    """The watcher process's lines, as they come: ready, each second's status, the report."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.ready = trio.Event()
        self.seconds: list[dict[str, Any]] = []  # each second's status line
        self.report: dict[str, Any] | None = None
        self.reported = trio.Event()

    async def run(self) -> None:
        buffer = b""
        while chunk := await self.stdout.receive_some():
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "ready" in message:
                    self.ready.set()
                elif "status" in message:
                    self.seconds.append(message["status"])
                elif "report" in message:
                    self.report = message["report"]
                    self.reported.set()
                    return
        raise RuntimeError("the watcher process ended without a report")

    async def finish(self, final: dict[str, int], grace: float) -> dict[str, Any]:
        """Tell the watchers the maps' last versions; their report, once every stream has them
        or ``grace`` seconds have passed."""
        await self.stdin.send_all(json.dumps({"final": final, "grace": grace}).encode() + b"\n")
        with trio.fail_after(grace + 30):
            await self.reported.wait()
        assert self.report is not None
        return self.report


@asynccontextmanager
async def open_map_watchers(
    host: str, port: int, count: int, cookie: str, paths: list[str]
) -> AsyncIterator[MapWatchers]:
    """The watcher process, once all ``count`` streams have their snapshot; stopped by its PID."""
    command = [sys.executable, "-m", "tests.bench.map_watchers", host, str(port), str(count), cookie, *paths]
    process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    watchers = MapWatchers(process)
    async with watcher_process(process, watchers, count):
        yield watchers


async def new_maps(client: httpx.AsyncClient, count: int) -> tuple[list[str], str]:
    """``count`` maps owned by the client's cookie, each with a marker ``probe``: (ids, cookie)."""
    ids = [(await client.get("/")).headers["location"].rsplit("/", 1)[1]]
    while len(ids) < count:
        response = await client.post("/new")
        ids.append(response.headers["location"].rsplit("/", 1)[1])
    if len(set(ids)) != count:
        raise RuntimeError(f"asked for {count} maps, got {len(set(ids))}")
    for map_id in ids:
        probe = {"op": "add_feature", "id": "probe", "type": "marker", "coords": [0, 0], "label": "probe"}
        (await client.post(f"/m/{map_id}/ops", json=probe)).raise_for_status()
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return ids, cookie


class Writes:
    """Writes on a fixed schedule, ``rate`` a second in all, the maps in turn, for ``seconds``:
    write k is sent ``k / rate`` seconds after the start whether the earlier ones have been
    answered or not (as writes from many independent clients would be), with up to ``WRITERS``
    in flight. A write that could not begin before the period ended is not sent: a server that
    cannot keep up shows as writes late and writes left over, not as a longer run."""

    def __init__(self, client: httpx.AsyncClient, maps: list[str], rate: float, seconds: float) -> None:
        self.client = client
        self.maps = maps
        self.rate = rate
        self.seconds = seconds
        self.planned = int(rate * seconds)
        self.started = 0
        self.done = 0
        self.errors = 0
        self.durations: list[float] = []  # request to answer
        self.late: list[float] = []  # how long after its due time each write began

    async def run(self) -> None:
        async with AsyncExitStack() as stack:
            # made before the schedule starts: each makes its own TLS context (~40 ms here)
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=self.client.base_url,
                        cookies=self.client.cookies,
                        timeout=60,
                        limits=WRITER_LIMITS,
                    )
                )
                for _ in range(WRITERS)
            ]
            start = trio.current_time()
            end = start + self.seconds
            next_write = itertools.count()

            async def writer(client: httpx.AsyncClient) -> None:
                while (k := next(next_write)) < self.planned:
                    due = start + k / self.rate
                    await trio.sleep_until(due)
                    if trio.current_time() >= end:
                        return
                    self.late.append(trio.current_time() - due)
                    self.started += 1
                    await self.write(client, self.maps[k % len(self.maps)], k)

            # The driver measures (each write's start is the latency's start): its own collector
            # must not pause it, so it is off while the writes run (they make no cycles to find).
            gc.freeze()
            gc.disable()
            try:
                async with trio.open_nursery() as nursery:
                    for client in clients:
                        nursery.start_soon(writer, client)
            finally:
                gc.enable()

    async def write(self, client: httpx.AsyncClient, map_id: str, k: int) -> None:
        began = time.monotonic()
        at = [k % 170 - 85, k % 350 - 175]
        op = {"op": "update_feature", "id": "probe", "coords": at, "label": f"@{began:.6f}@"}
        try:
            response = await client.post(f"/m/{map_id}/ops", json=op)
            response.raise_for_status()
        except httpx.HTTPError:
            self.errors += 1
            return
        self.durations.append(time.monotonic() - began)
        self.done += 1


class Sampler:
    """The server's RSS and the machine's load average, once a second; the RSS kept every 30 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss_peak = 0
        self.load: list[float] = []
        self.rss: list[int] = []  # KiB, every RSS_EVERY seconds

    async def run(self) -> None:
        for tick in itertools.count():
            rss = rss_kib(self.pid)
            self.rss_peak = max(self.rss_peak, rss)
            if tick % RSS_EVERY == 0:
                self.rss.append(rss)
            self.load.append(os.getloadavg()[0])
            await trio.sleep(1)


def _tenths(seconds: list[dict[str, Any]]) -> list[float]:
    """The worst one-second p99 in each tenth of the run (ms): does delivery degrade with time?"""
    p99s = [s["second"].get("p99", 0.0) for s in seconds]
    if len(p99s) < 10:
        return [max(p99s, default=0.0)]
    size = len(p99s) / 10
    return [max(p99s[int(i * size) : int((i + 1) * size)]) for i in range(10)]


async def fill_histories(client: httpx.AsyncClient, maps: list[str], writes: int) -> None:
    """``writes`` moves of each map's probe, one write (one change in its history) each, a few
    maps at a time: the map's event log and history as full as they get."""

    async def fill(mine: list[str]) -> None:
        for map_id in mine:
            for i in range(writes):
                op = {"op": "update_feature", "id": "probe", "coords": [0, (i % 90) / 10]}
                (await client.post(f"/m/{map_id}/ops", json=op)).raise_for_status()

    async with trio.open_nursery() as nursery:
        for k in range(FILLERS):
            nursery.start_soon(fill, maps[k::FILLERS])


async def soak10k(
    watchers: int = 10_000,
    maps: int = 100,
    rate: float = 100.0,
    seconds: float = 600.0,
    grace: float = 30.0,
    pin: int = 0,
    prefill: int = 0,
) -> dict[str, Any]:
    """``watchers`` SSE streams over ``maps`` maps while ``rate`` events a second in all are
    written for ``seconds``: each delivery's latency from the start of its write, viewers the
    server dropped, events missed, and the server's RSS and CPU."""
    raise_fd_limit(watchers + FILES_SPARE)  # the server inherits it
    async with (
        open_server() as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        ids, cookie = await new_maps(client, maps)
        if prefill:
            # the event log (event_log_size events) and the history (MAX_CHANGES writes)
            await fill_histories(client, ids, max(Config.event_log_size, MAX_CHANGES))
        if pin:
            os.sched_setaffinity(server.pid, {0})
            os.sched_setaffinity(0, {1})  # this process and the watchers it starts
        paths = [f"/m/{map_id}/events" for map_id in ids]
        host, port = server.host_port
        opened = trio.current_time()
        async with open_map_watchers(host, port, watchers, cookie, paths) as w:
            open_all_s = trio.current_time() - opened
            writes = Writes(client, ids, rate, seconds)
            sampler = Sampler(server.pid)
            rss_start = rss_kib(server.pid)
            cpu_start, watchers_cpu = cpu_seconds(server.pid), cpu_seconds(w.process.pid)
            wall = time.monotonic()
            logged_from = len(server.log)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sampler.run)
                nursery.start_soon(_progress, w, seconds)
                with trio.fail_after(seconds + 120):
                    await writes.run()
                nursery.cancel_scope.cancel()
            logged_to = len(server.log)
            final = {}
            for map_id, path in zip(ids, paths, strict=True):
                final[path] = int((await client.get(f"/m/{map_id}/state")).json()["version"])
            report = await w.finish(final, grace)
            # from the first write until the watchers had the last event (or gave up)
            wall = time.monotonic() - wall
            cpu = cpu_seconds(server.pid) - cpu_start
            watchers_cpu = report["cpu_s"] - watchers_cpu
            rss_end = rss_kib(server.pid)
        metrics = (await client.get("/metrics")).text
    dropped = [line for line in metrics.splitlines() if line.startswith("mapsrv_subscribers_dropped")]
    server_dropped = sum(float(line.split()[-1]) for line in dropped)
    return {
        "what": f"{watchers} watchers over {maps} maps, {rate:g} events/s in all, {seconds:g} s",
        "latency": report["latency"],
        "after_first_watcher": report["after_first"],
        "deliveries": report["deliveries"],
        "expected": report["expected"],
        "missed": report["missed"],
        "out_of_order": report["out_of_order"],
        "drops": report["drops"],
        "streams_dropped": report["streams_dropped"],
        "reconnects": report["reconnects"],
        "server_dropped": server_dropped,
        "p99_ms_by_tenth": _tenths(w.seconds),
        "writes": {
            "done": writes.done,
            "planned": writes.planned,
            "not_sent": writes.planned - writes.started,
            "errors": writes.errors,
            "per_s": round(writes.done / seconds, 1),
            "late_p99_ms": percentiles(writes.late)["p99"] if writes.late else 0.0,
            "late_max_ms": round(max(writes.late, default=0.0) * 1000, 1),
            "answer": percentiles(writes.durations) if writes.durations else {"n": 0},
        },
        "server": {
            "rss_start_mib": round(rss_start / 1024, 1),
            "rss_end_mib": round(rss_end / 1024, 1),
            "rss_peak_mib": round(max(sampler.rss_peak, rss_end) / 1024, 1),
            # every RSS_EVERY s while the writes ran; growth: the last sample over the first
            "rss_mib_series": [round(kib / 1024, 1) for kib in sampler.rss],
            "rss_growth_pct": round(100 * (sampler.rss[-1] / sampler.rss[0] - 1), 2) if sampler.rss else None,
            "cpu_s": round(cpu, 1),
            "cpu_pct": round(100 * cpu / wall, 1),
            "cpu_us_per_delivery": round(1e6 * cpu / max(report["deliveries"], 1), 1),
            "gc": _collector(metrics),
            "stalls": _stalls(metrics, bytes(server.log[logged_from:logged_to])),
        },
        "watchers_cpu_pct": round(100 * watchers_cpu / wall, 1),
        "pinned": bool(pin),
        "histories_prefilled": bool(prefill),
        "open_all_s": round(open_all_s, 1),
        "load_avg": {
            "mean": round(sum(sampler.load) / max(len(sampler.load), 1), 2),
            "max": round(max(sampler.load, default=0.0), 2),
        },
    }


def _collector(metrics: str) -> dict[str, float]:
    """The server's garbage collector, from /metrics: the longest pause and the time spent in
    full passes (generation 2), and how many objects it no longer visits."""
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("mapsrv_gc_"))
    full = '{generation="2"}'
    return {
        "longest_full_pass_ms": round(
            1000 * float(values.get(f"mapsrv_gc_longest_pause_seconds{full}", 0)), 1
        ),
        "full_passes": float(values.get(f"mapsrv_gc_passes_total{full}", 0)),
        "full_pass_s": round(float(values.get(f"mapsrv_gc_seconds_total{full}", 0)), 2),
        "frozen_objects": float(values.get("mapsrv_gc_frozen_objects", 0)),
    }


def _stalls(metrics: str, log: bytes) -> dict[str, Any]:
    """The server's event loop stalls (mapsrv.observability.stalls): how many since start (its
    settling pass and the watchers' leaving included), and the log lines of the ten longest
    while the writes ran (``log``: what the server logged meanwhile)."""
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("mapsrv_loop_"))
    lines = [line for line in log.decode(errors="replace").splitlines() if "event loop stalled" in line]
    lines.sort(key=lambda line: -int(line.split("stalled ")[1].split(" ms")[0]))
    return {
        "count": float(values.get("mapsrv_loop_stalls_total", 0)),
        "total_s": round(float(values.get("mapsrv_loop_stall_seconds_total", 0)), 2),
        "longest_ms": round(1000 * float(values.get("mapsrv_loop_longest_stall_seconds", 0)), 1),
        "logged_during_writes": len(lines),
        "longest_logged": lines[:10],
    }


async def _progress(w: MapWatchers, seconds: float) -> None:
    """A line on stderr every minute of a long run, so whoever waits sees it move."""
    if seconds < 120:
        return
    start = trio.current_time()
    while True:
        await trio.sleep(60)
        last = w.seconds[-1] if w.seconds else {}
        print(
            f"soak10k: {trio.current_time() - start:.0f}/{seconds:g} s, "
            f"{last.get('deliveries', 0)} deliveries, drops {last.get('drops', 0)}, "
            f"last second p99 {last.get('second', {}).get('p99', '-')} ms, load {os.getloadavg()[0]:.2f}",
            file=sys.stderr,
            flush=True,
        )
