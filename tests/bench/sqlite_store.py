"""What keeping maps on disk costs (issue 34), in one run beside memory://:

- an MCP tool call until its event reaches a browser's stream, memory:// against SQLite (the
  default, ``sync=normal``) and SQLite with ``sync=full`` (an fsync per commit);
- writes per second sustained on ONE map by several agents at once, on SQLite;
- a restart with ``stored`` maps on disk: from starting ``mapsrv serve`` until a stored map's
  state is answered (maps load on first use);

    python -m tests.bench.run --only sqlite_store
    python -m tests.bench.run --only sqlite_store --size calls=1000 seconds=10 stored=10000
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
from mcp import Client

from .harness import cpu_seconds, open_server, percentiles

__all__ = ["sqlite_store"]


async def _tool_to_stream(url: str, host: str, port: int, calls: int) -> list[float]:
    from .scenarios import _tool_latency  # the same measure as tool_to_stream and redis_vs_memory

    async with Client(url + "mcp") as client:
        return await _tool_latency(client, host, port, calls)


async def _writes_per_second(url: str, pid: int, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` writers on ONE map, each posting the page's JSON writes as fast as the server
    answers, for ``seconds`` (an MCP client costs more CPU than the server does per call: with
    it, the load generator is what is measured, on a 2-core machine); and the server's CPU time
    per write."""
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=clients + 2)) as http:
        map_id = (await http.get("/")).headers["location"].rsplit("/", 1)[1]
        done = 0
        deadline = trio.current_time() + seconds

        async def one(n: int) -> None:
            nonlocal done
            i = 0
            while trio.current_time() < deadline:
                op = {"op": "set_view", "center": [n, i % 80], "zoom": 3}
                response = await http.post(f"/m/{map_id}/ops", json=op)
                assert response.status_code == 200, response.text
                done += 1
                i += 1

        cpu0, start = cpu_seconds(pid), trio.current_time()
        async with trio.open_nursery() as nursery:
            for n in range(clients):
                nursery.start_soon(one, n)
        elapsed = trio.current_time() - start
    return {
        "clients": clients,
        "writes": done,
        "writes_per_s": round(done / elapsed, 1),
        "server_cpu_ms_per_write": round(1000 * (cpu_seconds(pid) - cpu0) / max(done, 1), 3),
    }


def _fill(path: Path, stored: int) -> str:
    """``stored`` maps with a few features each, written straight to a store file; one view key."""
    from mapsrv.core import Limits, MapState, apply_all
    from mapsrv.core.parse import parse_op
    from mapsrv.store import MapMeta
    from mapsrv.store.sqlite.db import CommitRow
    from mapsrv.store.sqlite.store import _open_db  # the schema, without a running store

    db = _open_db(path, "normal", log_size=1024, snapshot_every=64, batch_memory=4096)
    ops = [
        parse_op({"op": "add_feature", "type": "marker", "coords": [i, i], "label": f"m{i}"}, Limits())
        for i in range(5)
    ]
    view_key = ""
    now = time.time()
    for n in range(stored):
        map_id, view_key = f"map{n:08d}".ljust(22, "x"), f"view{n:08d}".ljust(22, "x")
        state = MapState(id=map_id, title=f"map {n}")
        db.create(MapMeta(map_id, view_key, None, None), state, now)
        new, events = apply_all(state, ops)
        written = tuple((e.version, _wire(e)) for e in events)
        db.commit(CommitRow(map_id, 0, written, new, False, "", "bench"), now)
    db.close()
    return view_key


def _wire(event: Any) -> str:
    from mapsrv.core.codec import wire

    return wire(event)


async def _restart(stored: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "maps.db"
        t0 = time.perf_counter()
        view_key = await trio.to_thread.run_sync(_fill, path, stored)
        filled = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(tmp).glob("maps.db*"))  # noqa: ASYNC240 (a benchmark's setup)
        start = time.perf_counter()
        async with open_server("--store", f"sqlite://{path}") as server:
            listening = time.perf_counter() - start
            async with httpx.AsyncClient(base_url=server.url) as http:
                response = await http.get(f"/v/{view_key}/state")
                assert response.status_code == 200 and len(response.json()["features"]) == 5
            served = time.perf_counter() - start
        return {
            "stored_maps": stored,
            "file_mb": round(size / 2**20, 1),
            "fill_s": round(filled, 2),
            "start_to_listening_s": round(listening, 3),
            "start_to_first_map_s": round(served, 3),
        }


async def sqlite_store(
    calls: int = 1000, seconds: float = 10.0, clients: int = 8, stored: int = 10_000
) -> dict[str, Any]:
    out: dict[str, Any] = {"what": f"SQLite store vs memory://, {calls} tool calls each; one map's writes/s"}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "memory": "memory://",
            "sqlite": f"sqlite://{tmp}/normal.db",
            "sqlite_sync_full": f"sqlite://{tmp}/full.db?sync=full",
        }
        for name, url in stores.items():
            async with open_server("--store", url) as server:
                host, port = server.host_port
                out[name] = percentiles(await _tool_to_stream(server.url, host, port, calls))
                out[f"{name}_one_map"] = await _writes_per_second(server.url, server.pid, clients, seconds)
    out["sqlite_added_p50_ms"] = round(out["sqlite"]["p50"] - out["memory"]["p50"], 3)
    out["sqlite_sync_full_added_p50_ms"] = round(out["sqlite_sync_full"]["p50"] - out["memory"]["p50"], 3)
    out["restart"] = await _restart(stored)
    return out
