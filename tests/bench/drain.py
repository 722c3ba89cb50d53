"""A rolling deploy at scale (issue 37): two mapsrv processes on one Redis behind deploy/local's
nginx, COUNT browsers on one map's view stream through the proxy (its hash spreads them over both),
an agent writing 20 times a second through the process that stays and a watcher on it. Process A
gets SIGTERM and ends its streams over ``--drain-spread``; its browsers follow their retry hints
back through the proxy (A answers new streams 503 while it drains, so nginx takes them to B) and
resume with ``Last-Event-ID``. Reported: how long until every browser was connected again and
where, versions missed (none), the writes' and the watcher's delivery times during the move, and
B's loop stalls.

    python -m tests.bench.drain 10000 [SPREAD_SECONDS] [--all-on-a]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
from support.nginx import nginx_binary, render_nginx_conf
from support.processes import free_port, wait_for_port

from .harness import SseReader, new_watched_map, open_redis, open_server, percentiles, write_steadily


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def measure(count: int, spread: float, all_on_a: bool = False) -> dict[str, Any]:
    async with open_redis() as redis_url:
        common = ("--store", redis_url, "--sse-retry", "0.5")
        async with (
            open_server(
                *common, "--drain-spread", str(spread), "--graceful-timeout", "10", "--log-level", "info"
            ) as a,
            open_server(*common) as b,
        ):
            with tempfile.TemporaryDirectory() as directory:
                return await _with_proxy(Path(directory), a, b, count, spread, all_on_a)


async def _with_proxy(
    directory: Path, a: Any, b: Any, count: int, spread: float, all_on_a: bool
) -> dict[str, Any]:
    binary = nginx_binary()
    port = free_port()
    (directory / "nginx-temp").mkdir()
    conf = render_nginx_conf(directory, port, [a.host_port[1], b.host_port[1]], binary)
    # a browser stream is two connections at the proxy: room for 10,000 of them, in two workers
    # (one process may hold 20,000 descriptors on this machine)
    conf = conf.replace("worker_connections 4096;", f"worker_connections {2 * count + 1000};")
    conf = conf.replace("worker_processes 1;", "worker_processes 2;")
    (directory / "nginx.conf").write_text(conf)
    proxy = await trio.lowlevel.open_process(
        [
            binary,
            "-p",
            str(directory),
            "-c",
            str(directory / "nginx.conf"),
            "-e",
            "stderr",
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for_port(port)
        return await _run(port, a, b, count, spread, all_on_a)
    finally:
        proxy.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await proxy.wait()
        for name in ("nginx-error.log", "nginx-access.log"):  # what the proxy did, kept for a look
            kept = directory / name
            if kept.exists():
                (Path(tempfile.gettempdir()) / f"drain-{name}").write_bytes(kept.read_bytes())


async def _run(port: int, a: Any, b: Any, count: int, spread: float, all_on_a: bool) -> dict[str, Any]:
    a_address, b_address = (f"127.0.0.1:{s.host_port[1]}" for s in (a, b))
    async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
        origin = b.url.rstrip("/")
        map_id, path = await new_watched_map(http)
        command = [sys.executable, "-m", "tests.bench.drain_client", "127.0.0.1", str(port), path, str(count)]
        client = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert client.stdin is not None and client.stdout is not None
        lines = client.stdout

        async def ask(what: str) -> dict[str, Any]:
            assert client.stdin is not None
            await client.stdin.send_all(f"{what}\n".encode())
            answer = b""
            while b"\n" not in answer:
                answer += await lines.receive_some()
            result: dict[str, Any] = json.loads(answer.split(b"\n")[0])
            return result

        writes: list[tuple[float, float]] = []
        sent: dict[int, float] = {}
        host, b_port = b.host_port
        watcher = await SseReader.open(host, b_port, path)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watcher.run)

                # --all-on-a: each browser takes new affinity cookies until the proxy's hash sends
                # it to A (a pod holding every viewer of a map); else the hash spreads them
                opened = await ask(f"open {a_address}" if all_on_a else "open")
                before = await ask("report")
                nursery.start_soon(write_steadily, http, map_id, origin, writes, sent)
                await trio.sleep(2)
                b_before = (await http.get("/metrics")).text
                term_at = time.monotonic()
                began = trio.current_time()
                os.kill(a.pid, signal.SIGTERM)
                with trio.fail_after(spread + 60):
                    await a.process.wait()
                a_exited = time.monotonic() - term_at
                with trio.fail_after(60):
                    while True:
                        report = await ask("report")
                        if report["connected"] == count and report["by_upstream"].get(b_address) == count:
                            break
                        await trio.sleep(0.2)
                ended = trio.current_time()
                await trio.sleep(2)  # the writes after the move, too
                last_version = max(sent)
                with trio.fail_after(30):
                    while True:
                        report = await ask("report")
                        if report["min_seen"] is not None and report["min_seen"] >= last_version:
                            break
                        await trio.sleep(0.2)
                b_after = (await http.get("/metrics")).text
                nursery.cancel_scope.cancel()
        finally:
            await client.stdin.send_all(b"quit\n")
            client.kill()
            await watcher.aclose()
    during = [t for s, t in writes if began <= s <= ended]
    lag = [watcher.arrived[v] - s for v, s in sent.items() if began <= s <= ended and v in watcher.arrived]
    return {
        "streams": count,
        "drain_spread_s": spread,
        "opened_s": round(opened["open"], 2),
        "before": before["by_upstream"],
        "a": a_address,
        "b": b_address,
        "a_exited_after_s": round(a_exited, 2),
        "a_said": [  # A's own account of its drain, from its log
            line
            for line in a.log.decode(errors="replace").splitlines()
            if any(word in line for word in ("draining", "stopped", "shutting down"))
        ],
        "all_back_on_b_after_s": round(report["all_back_at"] - term_at, 2) if report["all_back_at"] else None,
        "moves": report["moves"],
        "refused_then_retried": report["refused"],
        "gaps": report["gaps"],
        "min_seen": report["min_seen"],
        "last_version": last_version,
        "writes_during": len(during),
        "write_ms": percentiles(during),
        "write_to_watcher_ms": percentiles(lag),
        "b_loop_stalls": metric(b_after, "mapsrv_loop_stalls_total")
        - metric(b_before, "mapsrv_loop_stalls_total"),
        "b_longest_stall_ms": round(metric(b_after, "mapsrv_loop_longest_stall_seconds") * 1000, 1),
    }


if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    size = int(args[0]) if args else 10000
    window = float(args[1]) if len(args) > 1 else 10.0
    print(json.dumps(trio.run(measure, size, window, "--all-on-a" in sys.argv), indent=1))
