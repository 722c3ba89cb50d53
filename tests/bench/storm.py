"""A deploy's storm (issue 37): COUNT browsers arrive on one map's view stream at once, hold, then
all leave at once, while an agent-like writer changes another map 20 times a second and a
watcher follows it. Reported: how long the arrivals and the departures took, the slowest write
and the slowest write -> watcher delivery during each, and the server's own event loop stalls
(its /metrics and its "event loop stalled" log lines, with where it stood).

With ``--draw-crowd`` (issue 47) an agent also draws on the crowd's own map once a second, so
its events go out to the crowd while it arrives and leaves; reported apart ("crowd_writes"),
with a phase of holding steady between the arrivals and the departures.

    python -m tests.bench.storm 10000 [--draw-crowd]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from typing import Any

import httpx
import trio

from .harness import SseReader, open_server, percentiles, write_steadily


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def measure(count: int, draw_crowd: bool = False) -> dict[str, Any]:
    async with open_server("--max-streams-per-client", "1000000") as server:
        host, port = server.host_port
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            made = await http.get("/", follow_redirects=False)
            crowd_id = made.headers["location"].rsplit("/", 1)[1]
            crowd = (await http.get(f"/m/{crowd_id}/state")).json()["view_url"]
            made = await http.post("/new", headers={"origin": server.url.rstrip("/")}, follow_redirects=False)
            busy_id = made.headers["location"].rsplit("/", 1)[1]
            busy_view = (await http.get(f"/m/{busy_id}/state")).json()["view_url"]
            path = "/" + crowd.split("://", 1)[1].split("/", 1)[1] + "/events"
            watch_path = "/" + busy_view.split("://", 1)[1].split("/", 1)[1] + "/events"
            command = [sys.executable, "-m", "tests.bench.storm_client", host, str(port), path, str(count)]
            client = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert client.stdin is not None and client.stdout is not None
            phases: dict[str, dict[str, Any]] = {}
            writes: list[tuple[float, float]] = []  # (started, seconds)
            sent: dict[int, float] = {}  # version -> when its write began (trio's clock)
            crowd_writes: list[tuple[float, float]] = []  # the agent drawing on the crowd's map
            async with trio.open_nursery() as nursery:
                watcher = await SseReader.open(host, port, watch_path)

                async def watch() -> None:
                    await watcher.run()

                nursery.start_soon(watch)
                nursery.start_soon(write_steadily, http, busy_id, server.url.rstrip("/"), writes, sent)
                if draw_crowd:
                    origin = server.url.rstrip("/")
                    nursery.start_soon(write_steadily, http, crowd_id, origin, crowd_writes, {}, 1.0)
                await trio.sleep(1)
                lines = client.stdout
                for phase in ("open", "hold", "close") if draw_crowd else ("open", "close"):
                    profile = os.environ.get("STORM_PROFILE")  # py-spy's collapsed stacks of the phase
                    if profile:
                        spy = [
                            "py-spy",
                            "record",
                            "-p",
                            str(server.pid),
                            "-r",
                            "200",
                            "-d",
                            "4",
                            "-f",
                            "raw",
                            "--nonblocking",
                        ]
                        nursery.start_soon(
                            partial(
                                trio.run_process,
                                [*spy, "-o", f"{profile}-{phase}.txt"],
                                capture_stdout=True,
                                capture_stderr=True,
                                check=False,
                            )
                        )
                        await trio.sleep(0.5)
                    before = (await http.get("/metrics")).text
                    logged = len(server.log)
                    began = trio.current_time()
                    answer = b'{"held": 5}\n'
                    if phase == "hold":
                        await trio.sleep(5)
                    else:
                        await client.stdin.send_all(f"{phase}\n".encode())
                        answer = b""
                    while b"\n" not in answer:
                        answer += await lines.receive_some()
                    ended = trio.current_time()
                    await trio.sleep(
                        4 if profile else 1
                    )  # what the storm left behind, too (and py-spy's file)
                    after = (await http.get("/metrics")).text
                    stalls = [
                        line
                        for line in server.log[logged:].decode(errors="replace").splitlines()
                        if "stalled" in line
                    ]
                    during = [t for s, t in writes if began <= s <= ended + 1]
                    lag = [
                        watcher.arrived[v] - s
                        for v, s in sent.items()
                        if began <= s <= ended + 1 and v in watcher.arrived
                    ]
                    on_crowd = [t for s, t in crowd_writes if began <= s <= ended + 1]
                    name = {"open": "arrivals", "hold": "held", "close": "departures"}[phase]
                    phases[name] = {
                        "seconds": round(ended - began, 3),
                        "client_says": json.loads(answer.split(b"\n")[0]),
                        "writes": len(during),
                        "slowest_write_ms": round(max(during, default=0) * 1000, 1),
                        "write_p99_ms": percentiles(during)["p99"] if during else None,
                        "slowest_delivery_ms": round(max(lag, default=0) * 1000, 1),
                        **(
                            {
                                "crowd_writes": len(on_crowd),
                                "slowest_crowd_write_ms": round(max(on_crowd) * 1000, 1),
                            }
                            if on_crowd
                            else {}
                        ),
                        "paced": metric(after, "mapsrv_connections_paced_total")
                        - metric(before, "mapsrv_connections_paced_total"),
                        "loop_stalls": metric(after, "mapsrv_loop_stalls_total")
                        - metric(before, "mapsrv_loop_stalls_total"),
                        "longest_stall_ms_ever": round(
                            metric(after, "mapsrv_loop_longest_stall_seconds") * 1000, 1
                        ),
                        "stalls_logged": [line.split("stalled", 1)[1][:300] for line in stalls][:6],
                    }
                await client.stdin.send_all(b"quit\n")
                nursery.cancel_scope.cancel()
            client.kill()
    return {"streams": count, **phases}


if __name__ == "__main__":
    # STORM_PROFILE=/tmp/storm: py-spy's collapsed stacks of each phase in /tmp/storm-open.txt
    # and /tmp/storm-close.txt (py-spy installed, and allowed to attach)
    args = [a for a in sys.argv[1:] if a != "--draw-crowd"]
    result = trio.run(measure, int(args[0]) if args else 10000, "--draw-crowd" in sys.argv)
    print(json.dumps(result, indent=1))
