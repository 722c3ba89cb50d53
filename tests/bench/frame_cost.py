"""What one write and one SSE frame each cost the server, apart: the frames/s scenario counts both
(one event per write request), so its ratio to the one-loop peer mixes mapsrv's write path
(Quart, the op, attribution, history) with the fan-out. Here each target first takes ``writes``
writes with no stream open, then as many again with ``streams`` streams watching; the second
run's extra CPU, divided by the frames it sent, is the cost of a frame. User and system time are
reported apart (a frame's system time is the kernel's loopback TCP).

    python -m tests.bench.frame_cost [STREAMS] [WRITES]
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import trio

from .harness import new_browser_map, open_peer, open_server, open_watchers


def cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def measure(
    pid: int,
    host: str,
    port: int,
    path: str,
    cookie: str | None,
    write: Callable[[], Awaitable[int]],
    streams: int,
    writes: int,
) -> dict[str, Any]:
    for _ in range(20):  # warm up
        await write()
    u0, s0 = cpu(pid)
    for _ in range(writes):
        await write()
    alone_user, alone_system = (a - b for a, b in zip(cpu(pid), (u0, s0), strict=True))
    async with open_watchers(host, port, path, streams, cookie) as watchers:
        # Neither opening the streams nor closing them is a frame's cost: count from a moment
        # after the last one opened (its server-side work done) until before they close.
        await trio.sleep(0.3)
        u1, s1 = cpu(pid)
        last = 0
        for _ in range(writes):
            last = await write()
        await watchers.wait_for(last)
        await trio.sleep(0.3)  # the server's work after its last send counts too
        u2, s2 = cpu(pid)
    frames = streams * writes
    user, system = u2 - u1 - alone_user, s2 - s1 - alone_system
    return {
        "write_alone_ms": round((alone_user + alone_system) / writes * 1000, 3),
        "frame_us": round((user + system) / frames * 1e6, 2),
        "frame_user_us": round(user / frames * 1e6, 2),
        "frame_system_us": round(system / frames * 1e6, 2),
    }


async def main(streams: int, writes: int) -> None:
    out: dict[str, Any] = {"bench": "frame_cost", "streams": streams, "writes": writes}
    async with (
        open_server("--subscriber-buffer", "100000") as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        map_id, cookie = await new_browser_map(client)

        async def write_map() -> int:
            response = await client.post(
                f"/m/{map_id}/ops", json={"ops": [{"op": "set_title", "title": "t"}]}
            )
            return int(response.json()["version"])

        host, port = server.host_port
        out["mapsrv"] = await measure(
            server.pid, host, port, f"/m/{map_id}/events", cookie, write_map, streams, writes
        )
    for name, peer in (("bare_stack", ("peer_sse",)), ("raw_one_loop", ("peer_raw", "one-loop"))):
        async with open_peer(*peer) as (url, pid), httpx.AsyncClient(base_url=url) as client:

            async def write_peer() -> int:
                return int((await client.post("/publish")).json()["version"])

            parts = httpx.URL(url)
            out[name] = await measure(
                pid, parts.host, parts.port or 80, "/events", None, write_peer, streams, writes
            )
    print(json.dumps(out))


if __name__ == "__main__":
    trio.run(
        main, int(sys.argv[1]) if len(sys.argv) > 1 else 200, int(sys.argv[2]) if len(sys.argv) > 2 else 500
    )
