"""1,000 browsers reconnecting at once to a 100,000-feature map (after a deploy), while another
map is being watched and written to (issue 25): how long until every browser has its snapshot,
how many bytes each got, and whether the other map's viewers waited meanwhile.

One ``mapsrv serve`` (memory store). The big map is built with ``import_geojson`` page writes of
10,000 points each. The reconnecting browsers are raw sockets that ask for gzip, as browsers do,
and read until they have as many bytes as a first browser needed for the snapshot (measured by
decoding it). The other map gets a write every 50 ms and one watcher, which times each change
from the start of its write. The server's own event loop stalls come from its /metrics
(``mapsrv_loop_*``), before and after the storm.

    python -m tests.bench.reconnect_storm                       # 100,000 features, 1,000 browsers
    python -m tests.bench.reconnect_storm features=10000 browsers=200
"""

from __future__ import annotations

import json
import sys
import zlib
from typing import Any

import httpx
import trio

from .harness import SseReader, cpu_seconds, open_server, percentiles
from .map_size import points
from .map_watchers import raise_fd_limit

IMPORT = 10_000  # points per import_geojson write
WRITE_EVERY = 0.05  # the other map's write period, seconds


async def open_gzip_stream(
    host: str, port: int, path: str, cookie: str
) -> tuple[trio.SocketStream, bytes, bytes]:
    """A browser's request for the event stream (gzip accepted): the stream, the response head
    and what came after it."""
    stream = await trio.open_tcp_stream(host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        f"Accept-Encoding: gzip\r\nCookie: {cookie}\r\n\r\n"
    )
    await stream.send_all(request.encode())
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += await stream.receive_some(65536)
    head, body = raw.split(b"\r\n\r\n", 1)
    return stream, head, body


async def opening_bytes(host: str, port: int, path: str, cookie: str) -> tuple[int, int]:
    """What one browser reads until its snapshot is complete: (bytes on the wire, bytes decoded)."""
    stream, head, body = await open_gzip_stream(host, port, path, cookie)
    assert b"content-encoding: gzip" in head.lower(), head
    wire = len(body)
    unpack = zlib.decompressobj(16 + zlib.MAX_WBITS)
    chunks, text = body, b""
    while True:
        # chunked framing: size line, data, CRLF
        while b"\r\n" in chunks:
            size_line, rest = chunks.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                break
            text += unpack.decompress(rest[:size])
            chunks = rest[size + 2 :]
        if b"event: snapshot" in text and text.endswith(b"\n\n") and text.count(b"\n\n") >= 2:
            break
        piece = await stream.receive_some(1 << 20)
        wire += len(piece)
        chunks += piece
    await stream.aclose()
    return wire, len(text)


async def browser(
    host: str, port: int, path: str, cookie: str, need: int, done: list[float], t0: float
) -> None:
    stream, _, body = await open_gzip_stream(host, port, path, cookie)
    received = len(body)
    while received < need:
        received += len(await stream.receive_some(1 << 20))
    done.append(trio.current_time() - t0)
    await stream.aclose()


def _stalled_ms(line: str) -> int:
    return int(line.split("stalled ")[1].split(" ms")[0])


def loop_metrics(text: str) -> dict[str, float]:
    lines = (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mapsrv_loop_"))
    return {name: float(value) for name, value in lines}


async def reconnect_storm(features: int = 100_000, browsers: int = 1_000) -> dict[str, Any]:
    raise_fd_limit(browsers + 200)
    async with open_server() as server, httpx.AsyncClient(base_url=server.url, timeout=300) as client:
        big = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
        other = (await client.post("/new")).headers["location"].rsplit("/", 1)[1]
        for first in range(0, features, IMPORT):
            geo = points(min(IMPORT, features - first))
            answer = await client.post(
                f"/m/{big}/ops", json={"ops": [{"op": "import_geojson", "geojson": geo}]}
            )
            answer.raise_for_status()
        probe = {"op": "add_feature", "id": "probe", "type": "marker", "coords": [0, 0]}
        (await client.post(f"/m/{other}/ops", json={"ops": [probe]})).raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        host, port = server.host_port
        wire, decoded = await opening_bytes(host, port, f"/m/{big}/events", cookie)
        watcher = await SseReader.open(host, port, f"/m/{other}/events", cookie)
        written: dict[int, float] = {}
        before = loop_metrics((await client.get("/metrics")).text)
        cpu_before = cpu_seconds(server.pid)
        done: list[float] = []
        storm_s = 0.0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watcher.run)

            async def write_other() -> None:
                k = 0
                while True:
                    began = trio.current_time()
                    op = {"op": "update_feature", "id": "probe", "coords": [k % 80, k % 170]}
                    answer = await client.post(f"/m/{other}/ops", json={"ops": [op]})
                    written[answer.json()["version"]] = began
                    k += 1
                    await trio.sleep_until(began + WRITE_EVERY)

            nursery.start_soon(write_other)
            await trio.sleep(1)  # the other map's baseline
            logged = len(server.log)
            t0 = trio.current_time()
            with trio.fail_after(600):
                async with trio.open_nursery() as storm:
                    for _ in range(browsers):
                        storm.start_soon(browser, host, port, f"/m/{big}/events", cookie, wire, done, t0)
            storm_s = trio.current_time() - t0
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
        cpu = cpu_seconds(server.pid) - cpu_before
        after = loop_metrics((await client.get("/metrics")).text)
        stalls = [line for line in server.log[logged:].decode().splitlines() if "event loop stalled" in line]
    during = [watcher.arrived[v] - t for v, t in written.items() if v in watcher.arrived and t >= t0]
    return {
        "what": f"{browsers} browsers reconnecting at once to a {features}-feature map",
        "snapshot_bytes_plain": decoded,
        "snapshot_bytes_gzip_on_wire": wire,
        "storm_s": round(storm_s, 2),
        "browsers_done": len(done),
        "browser_done_ms": percentiles(done) if done else {},
        "server_cpu_s": round(cpu, 1),
        "other_map_latency_ms_during": percentiles(during) if during else {},
        "other_map_writes_during": len(during),
        "loop_stalls_during": after.get("mapsrv_loop_stalls_total", 0)
        - before.get("mapsrv_loop_stalls_total", 0),
        "loop_longest_stall_ms_during": max((_stalled_ms(line) for line in stalls), default="< 100"),
        "stalls_logged": [line.split("WARNING ", 1)[-1][:400] for line in stalls][-5:],
    }


if __name__ == "__main__":
    sizes = dict(arg.split("=", 1) for arg in sys.argv[1:])
    result = trio.run(lambda: reconnect_storm(**{k: int(v) for k, v in sizes.items()}))
    print(json.dumps(result, indent=1))
