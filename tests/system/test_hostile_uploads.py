"""A hostile file costs only itself (issue 72), against a real ``mapsrv serve`` process: small
forged files that froze the server or took gigabytes are refused with a clear message, while
``/health`` keeps answering, the server and its readers stay under their memory, nothing is
stored, and another client's import is answered meanwhile."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio
from mcp import Client
from support.hostile_files import (
    counting_view_geopackage,
    dictionary_parquet,
    empty_elements_kmz,
    nested_nothing_geojson,
    shx_of_records,
)
from support.processes import open_server
from support.procfs import descendants_of
from support.waiting import wait_until

MEMORY = 128 << 20  # --import-memory for these tests: each reader's limit past its libraries
LIBRARIES = 400 << 20  # what a reader maps and touches for GDAL and pyarrow, generously
SERVER = ("--store", "memory://", "--import-memory", str(MEMORY), "--import-timeout", "30")
HEALTH = 0.5  # s: the most /health may take while a hostile file is read (it froze 20 s and more)

CASES: list[tuple[str, Callable[[], bytes], str | None, str]] = [
    ("a GeoPackage view counting 10^15 rows", counting_view_geopackage, None, r"view|more than"),
    ("a GeoParquet sharing one long line by dictionary", dictionary_parquet, None, r"MiB|points"),
    ("a KMZ of 8 million empty elements", empty_elements_kmz, None, r"elements|MiB"),
    ("a GeoJSON of a million {}", lambda: nested_nothing_geojson(4_000_000), None, r"MiB|nodes|feature"),
    ("a .shx of 25 million records", shx_of_records, None, r"shx|records|MiB"),
]


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _content(data: bytes) -> str:
    return data.decode() if data.lstrip().startswith(b"{") else base64.b64encode(data).decode()


def _said(result: object) -> str:
    return " ".join(getattr(c, "text", "") for c in getattr(result, "content", []))


@pytest.mark.parametrize(("name", "build", "fmt", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_a_hostile_file_costs_only_itself(
    name: str, build: Callable[[], bytes], fmt: str | None, expected: str
) -> None:
    data = build()
    async with (
        open_server(*SERVER) as server,
        Client(server.url + "mcp") as agent,
        Client(server.url + "mcp") as stranger,
        httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as http,
    ):
        first = await agent.call_tool("import", {"content": json.dumps(_point(0))})
        map_id = json.loads(_said(first))["map_id"]
        version = (await agent.call_tool("read", {"map_id": map_id})).structured_content["version"]  # type: ignore[index]
        worst = {"health": 0.0, "server": 0, "reader": 0}
        others: list[object] = []
        done = trio.Event()

        async def watch() -> None:
            while not done.is_set():
                started = time.perf_counter()
                assert (await http.get("health")).status_code == 200
                worst["health"] = max(worst["health"], time.perf_counter() - started)
                worst["server"] = max(worst["server"], _rss(server.pid))
                for pid in descendants_of(server.pid):
                    worst["reader"] = max(worst["reader"], _rss(pid))
                await trio.sleep(0.05)

        async def meanwhile() -> None:
            others.append(await stranger.call_tool("import", {"content": json.dumps(_point(1))}))

        arguments = {"map_id": map_id, "content": _content(data)} | ({"format": fmt} if fmt else {})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            with trio.fail_after(60):
                nursery.start_soon(meanwhile)
                refused = await agent.call_tool("import", arguments)
            await wait_until(lambda: others, timeout=30)
            done.set()
        said = _said(refused)
        assert refused.is_error, (name, said)
        assert re.search(expected, said), (name, said)
        assert "Traceback" not in said and "/tmp/" not in said  # no internal path in the message
        again = await agent.call_tool("read", {"map_id": map_id})
        after = again.structured_content["version"]  # type: ignore[index]
        assert after == version, "a refused file changed the map"
        (other,) = others
        assert not getattr(other, "is_error", True), _said(other)  # the stranger's file went in
        assert worst["health"] < HEALTH, worst
        assert worst["reader"] < MEMORY + LIBRARIES, worst
        assert worst["server"] < 1 << 30, worst


def _point(i: int) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [i, 1]}, "properties": {}}
        ],
    }
