"""How long the event loop stands still while the ``import`` tool takes a file of about 2 MB
(issue 72: a 1-3 MB zip stalled it 1.4-6.2 s, its format detected on the loop): a zipped
Shapefile of 90,000 points, and 20 members with 64 KiB extra fields each (zipfile decodes those
in quadratic time). A server runs in this process as ``mapsrv serve`` runs it (the process's
collector installed and settled, its places warm before the first call); a ticker asks for a 2 ms
sleep over and over and records how late each wakes: the loop's longest stall while the call
runs, and the call's time, best and worst of ``--repeat``. The client runs on a trio loop of its
own in a thread (a session each call), so that its own work is not counted as the server's. Run it
in another tree for its figures (it uses only the server and the SDK's client).

    python -m tests.bench.import_stalls [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
import trio
from mcp import Client

from mapsrv.observability.collector import PROCESS
from mapsrv.server import Server, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import make_config
from support.bombs import extra_fields_zip
from support.gis_files import shapefile_zip

__all__ = ["import_stalls"]


def points_zip(n: int) -> bytes:
    xy = np.random.default_rng(72).uniform([-10, 35], [30, 60], size=(n, 2))
    table = pa.table({"name": [f"p{i}" for i in range(n)], "geometry": shapely.to_wkb(shapely.points(xy))})
    return shapefile_zip({"points": (table, "EPSG:4326", "Point")})


async def call_import(url: str, content: str) -> bool:
    """One ``import`` of ``content`` by the SDK's client; whether it was refused."""
    async with Client(url + "mcp") as agent:
        result = await agent.call_tool("import", {"content": content})
    return bool(result.is_error)


async def import_stalls(repeat: int) -> dict[str, Any]:
    files = {"points_shp_zip": points_zip(90_000), "extra_fields_zip": extra_fields_zip(20)}
    out: dict[str, Any] = {}
    warm = trio.Event()
    token = trio.lowlevel.current_trio_token()

    class Warmed(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("places warm"):
                token.run_sync_soon(warm.set)

    logging.getLogger("mapsrv").addHandler(Warmed())
    PROCESS.install()
    async with trio.open_nursery() as nursery:
        server: Server = await nursery.start(partial(serve, settle=PROCESS.settle), make_config())
        await warm.wait()
        for name, data in files.items():
            content = base64.b64encode(data).decode()
            stalls, calls = [], []
            refused = False
            for _ in range(repeat):
                worst = [0.0]
                done = trio.Event()

                async def tick(worst: list[float] = worst, done: trio.Event = done) -> None:
                    while not done.is_set():
                        started = trio.current_time()
                        await trio.sleep(0.002)
                        worst[0] = max(worst[0], trio.current_time() - started - 0.002)

                nursery.start_soon(tick)
                started = time.perf_counter()
                # the client on a loop of its own, in a thread: the ticker times the server's loop
                refused = await trio.to_thread.run_sync(trio.run, call_import, server.url, content)
                calls.append(time.perf_counter() - started)
                done.set()
                stalls.append(worst[0])
            out[name] = {
                "bytes": len(data),
                "refused": refused,
                "loop_longest_stall_ms": [round(min(stalls) * 1000, 1), round(max(stalls) * 1000, 1)],
                "call_s": [round(min(calls), 3), round(max(calls), 3)],
            }
        nursery.cancel_scope.cancel()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps({"bench": "import_stalls", **trio.run(import_stalls, args.repeat)}, indent=1))
