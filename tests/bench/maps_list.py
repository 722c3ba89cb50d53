"""How long ``/maps`` takes with many maps (issue 34: 500 maps answered in <= 200 ms), on SQLite
(the default) and on memory://, measured from a client on the same machine:

    python -m tests.bench.maps_list 500
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

import httpx
import trio

from .harness import open_server, percentiles


async def measure(maps: int, store: str) -> dict[str, Any]:
    async with open_server("--store", store) as server, httpx.AsyncClient(base_url=server.url) as http:
        for i in range(maps):
            made = await http.post("/new", headers={"origin": server.url.rstrip("/")})
            map_id = made.headers["location"].rsplit("/", 1)[1]
            ops = [{"op": "add_feature", "type": "marker", "coords": [i % 80, i % 170], "label": f"m{i}"}]
            ops.append({"op": "set_title", "title": f"Map {i}"})
            assert (await http.post(f"/m/{map_id}/ops", json={"ops": ops})).status_code == 200
        out: dict[str, Any] = {}
        for path in ("/maps", "/maps.json"):
            samples = []
            for _ in range(30):
                start = time.perf_counter()
                response = await http.get(path)
                samples.append(time.perf_counter() - start)
                assert response.status_code == 200
            out[path] = {**percentiles(samples), "bytes": len(response.content)}
        assert len((await http.get("/maps.json")).json()["maps"]) == maps
        return out


async def main(maps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, store in (("sqlite", f"sqlite://{tmp}/maps.db"), ("memory", "memory://")):
            print(json.dumps({"store": name, "maps": maps, **await measure(maps, store)}))


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 500)
