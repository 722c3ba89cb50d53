"""The event loop's stalls while an agent calls every tool on big inputs (issue 60).

    python -m tests.bench.loop_stalls [--polygons 3000] [--vertices 40] [--markers 20000]
        [--rows 2000] [--watchers 1000] [--writes 10] [--rounds 2] [--quiet 0] [--only NAMES]
        [--server-first | --clients-first]

A mapsrv in its own process (memory store), ``--watchers`` SSE readers on one map (a process of
their own) that a writer (``tests.bench.steady_writer``, a process of its own) writes to at most
``--writes`` times a second, each write once the last watcher had the one before, and an agent
calling, cold and then warm (``--rounds``), every tool of ``support.big_work``. Reported, as JSON
lines: per call its own time, the server's longest loop stall while it ran (``/metrics``) and the
stalls it logged; then each write's answer and the watchers' delivery latency (p50/p99, from the
moment the writer sent it to the first, the median and the last reader's frame) and the longest
stall. The writer used to share this process with the agent, whose parsing of a 10 MB answer
delayed a write's start by up to 450 ms: that part of the delivery p99 was the client's.

``--only`` runs the calls named (and those they need: the big import, its first page).
``--quiet`` seconds of writes with no call first give the floor: the watchers' delivery with only
the writer and the crowd on the machine (reported as ``quiet``, and left out of the summary's).

``--clients-first`` does so for the watchers and the writer instead: as when they are on other
machines (browsers), what is left of their delivery's latency is the server's.

``--server-first`` gives the server's threads the CPU before the benchmark's own processes (nice
-10, as root; theirs stay at 0): on a machine with fewer cores than the parts (the server's loop,
its workers, the 1,000 watchers, the agents), what is left of a stall is then the server's own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import trio
from mcp import Client
from support.agents import call
from support.big_work import BigInputs, ToolCall, calls

from .harness import ServerProcess, new_watched_map, open_server, open_watchers, percentiles

__all__ = ["run", "scrape", "value"]

LONGEST = re.compile(r"^mapsrv_loop_longest_stall_seconds (\S+)$", re.M)
BUSY = re.compile(r"^mapsrv_loop_longest_busy_stall_seconds (\S+)$", re.M)
COUNT = re.compile(r"^mapsrv_loop_stalls_total (\S+)$", re.M)  # beats 50 ms late or more
GC_PASSES = re.compile(r'^mapsrv_gc_passes_total\{generation="\d"\} (\S+)$', re.M)  # generations 0, 1, 2
GC_LONGEST = re.compile(r'^mapsrv_gc_longest_pause_seconds\{generation="\d"\} (\S+)$', re.M)
CROWD = re.compile(r'^mapsrv_crowd_delivery_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
CROWD_COUNT = re.compile(r"^mapsrv_crowd_delivery_seconds_count (\S+)$", re.M)
SUM = re.compile(r"^mapsrv_loop_stall_seconds_total (\S+)$", re.M)  # their lengths, summed
NEEDED = {"import big geojson", "read a page"}  # the calls the others need (the big map, its ids)
STALLED = re.compile(r"event loop stalled (\d+) ms ([^:]*): (.*)")


async def scrape(http: httpx.AsyncClient) -> str:
    """The server's /metrics now: one scrape, read for every number wanted at this moment."""
    return (await http.get("/metrics")).text


def value(text: str, metric: re.Pattern[str]) -> float:
    match = metric.search(text)
    return float(match.group(1)) if match else 0.0


async def run_calls(
    server: ServerProcess,
    agent: Client,
    http: httpx.AsyncClient,
    inputs: BigInputs,
    label: str,
    median: list[float],
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    answers: dict[str, dict[str, Any]] = {}
    for item in calls(inputs):
        tool_call = item if isinstance(item, ToolCall) else item[1](answers["big"])
        if only is not None and tool_call.name not in only and tool_call.name not in NEEDED:
            continue
        logged = len(server.log)
        delivered = len(median)
        before = await scrape(http)
        started = time.perf_counter()
        answer = await call(agent, tool_call.tool, **tool_call.arguments)
        seconds = time.perf_counter() - started
        if tool_call.name == "import big geojson":
            answers["big"] = answer
        elif tool_call.name == "read a page":
            answers["big"] = {**answers["big"], "features": answer["features"]}
        await trio.sleep(0.2)  # the stall watcher logs a stall on its next look
        stalls = [
            (int(ms), why, where[:600])
            for ms, why, where in STALLED.findall(server.log[logged:].decode(errors="replace"))
        ]
        row = {
            "round": label,
            "call": tool_call.name,
            "ms": round(1000 * seconds),
            "longest_stall_ms_so_far": round(1000 * value(after := await scrape(http), LONGEST)),
            "stalls_over_50ms": round(value(after, COUNT) - value(before, COUNT)),
            "their_ms": round(1000 * (value(after, SUM) - value(before, SUM))),
            "stalls_ms": stalls,
            # the crowd's deliveries that took the server over 50 ms while this call ran
            "crowd_over_50ms": round(crowd_over(after, 0.05) - crowd_over(before, 0.05)),
            # the median watcher's slowest delivery of a write made while this call ran
            "median_watcher_max_ms": round(1000 * max(median[delivered:], default=0)),
        }
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


async def run(args: argparse.Namespace) -> None:
    inputs = BigInputs(args.polygons, args.vertices, args.markers, args.rows)
    async with (
        open_server("--log-level", "warning", "--max-body-size", str(16 * 2**20)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as http,
        Client(server.url + "mcp") as agent,
    ):
        if args.server_first:
            first_on_cpu(server.pid)
        watched, path = await new_watched_map(http)
        host, port = server.host_port
        first: list[float] = []  # per write: when the first watcher had it, seconds after the write began
        median: list[float] = []
        last: list[float] = []
        answered: list[float] = []  # per write: when its POST was answered
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
        writer = [sys.executable, "-m", "tests.bench.steady_writer", server.url, watched, cookie]
        async with open_watchers(host, port, path, args.watchers) as crowd:
            process = await trio.lowlevel.open_process(writer, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            if args.clients_first:
                first_on_cpu(crowd.pid)
                first_on_cpu(process.pid)
            assert process.stdin is not None and process.stdout is not None
            asked, told = process.stdin, process.stdout
            try:
                async with trio.open_nursery() as nursery:

                    async def write() -> None:
                        buffer = b""
                        while True:
                            began = time.monotonic()
                            await asked.send_all(b"next\n")
                            while b"\n" not in buffer:
                                buffer += await told.receive_some()
                            line, buffer = buffer.split(b"\n", 1)
                            done = json.loads(line)
                            at = await crowd.wait_for(done["version"], timeout=60)
                            answered.append(done["answered"] - done["t0"])
                            first.append(at[0] - done["t0"])
                            median.append(at[5] - done["t0"])
                            last.append(at[-1] - done["t0"])
                            await trio.sleep(max(0.0, 1 / args.writes - (time.monotonic() - began)))

                    nursery.start_soon(write)
                    began = time.monotonic()
                    started = await scrape(http)
                    setup = {  # the server's start and the watchers' connecting, before any call
                        "longest_stall_ms": round(1000 * value(started, LONGEST)),
                        "stalls_over_50ms": round(value(started, COUNT)),
                        "logged": STALLED.findall(server.log.decode(errors="replace")),
                    }
                    print(json.dumps({"setup": setup}), flush=True)
                    if args.quiet:
                        await trio.sleep(args.quiet)
                        quiet = {
                            "writes": len(last),
                            "delivery_first_ms": percentiles(first),
                            "delivery_median_watcher_ms": percentiles(median),
                            "delivery_last_watcher_ms": percentiles(last),
                            "crowd_deliveries_over_50ms": round(crowd_over(await scrape(http), 0.05)),
                        }
                        print(json.dumps({"quiet": quiet}), flush=True)
                        for samples in (first, median, last, answered):
                            samples.clear()
                        began = time.monotonic()
                        started = await scrape(http)
                    for n in range(args.rounds):
                        label = "cold" if n == 0 else "warm"
                        await run_calls(server, agent, http, inputs, label, median, args.only)
                    took = time.monotonic() - began
                    nursery.cancel_scope.cancel()
            finally:
                process.terminate()
                with trio.CancelScope(shield=True):
                    await process.wait()
        if not last:  # --rounds 0: the quiet part was all
            return
        summary = {
            "watchers": args.watchers,
            "server_first": args.server_first,
            "clients_first": args.clients_first,
            "writes_per_s": round(len(last) / took, 1),
            "write_answered_ms": percentiles(answered),
            "delivery_first_ms": percentiles(first),
            "delivery_median_watcher_ms": percentiles(median),
            "delivery_last_watcher_ms": percentiles(last),
        }
        text = await scrape(http)
        summary["longest_stall_ms"] = round(1000 * value(text, LONGEST))
        summary["stalls_over_50ms_in_calls"] = round(value(text, COUNT) - value(started, COUNT))
        summary["longest_busy_stall_ms"] = round(1000 * value(text, BUSY))
        # the collector's passes (a worker's hold the loop), and the crowd's deliveries as the server
        # timed them, from a write's first offer to its last
        summary["collector_passes"] = [int(float(n)) for n in GC_PASSES.findall(text)]
        summary["collector_longest_ms"] = [round(1000 * float(s)) for s in GC_LONGEST.findall(text)]
        summary["crowd_deliveries"] = round(value(text, CROWD_COUNT) - value(started, CROWD_COUNT))
        summary["crowd_deliveries_over_50ms"] = round(crowd_over(text, 0.05) - crowd_over(started, 0.05))
        summary["crowd_deliveries_over_100ms"] = round(crowd_over(text, 0.1) - crowd_over(started, 0.1))
        print(json.dumps(summary), flush=True)


def crowd_over(text: str, seconds: float) -> float:
    """The crowd's deliveries so far that took the server more than ``seconds`` (a bucket's bound)."""
    buckets = {float(le): float(n) for le, n in CROWD.findall(text) if le != "+Inf"}
    total = value(text, CROWD_COUNT)
    return total - buckets.get(seconds, total)


def first_on_cpu(pid: int, nice: int = -10) -> None:
    """Every thread of ``pid`` now, and those they start (a thread takes its maker's), at ``nice``."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.setpriority(os.PRIO_PROCESS, int(task), nice)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--polygons", type=int, default=3000)
    parser.add_argument("--vertices", type=int, default=40)
    parser.add_argument("--markers", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--writes", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--only", type=lambda text: set(text.split(",")), help="these calls alone (by name, comma-separated)"
    )
    parser.add_argument("--quiet", type=float, default=0, help="seconds of writes alone, first")
    parser.add_argument(
        "--clients-first", action="store_true", help="the watchers' and the writer's threads at nice -10"
    )
    parser.add_argument("--server-first", action="store_true", help="the server's threads at nice -10")
    trio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
