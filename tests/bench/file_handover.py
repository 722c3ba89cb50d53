"""What handing mapsrv a file costs an agent (issue 73): Natural Earth's 1:10m countries (a 24 MB
GeoJSON) imported into a real ``mapsrv serve`` by ``content`` (the body limit raised for it), by
``path``, by ``url`` (a local HTTP server the server lists) and by an upload link (the file PUT
to it, then ``import`` with the handle); then read back as GeoJSON. For each: the bytes the
model would write (the call's arguments) and read (the answer's text and structured content),
and the import's wall time.

    python -m tests.bench.file_handover
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.processes import open_server
from support.sources import http_answer, serve_source

from .countries_10m import natural_earth_10m

__all__ = ["file_handover"]


def _read_bytes(result: Any) -> int:
    text = sum(len(getattr(c, "text", "") or "") for c in result.content)
    return text + len(json.dumps(result.structured_content or {}, separators=(",", ":")))


async def file_handover() -> dict[str, Any]:
    body = json.dumps(natural_earth_10m()).encode()
    out: dict[str, Any] = {"file_bytes": len(body)}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "countries.geojson").write_bytes(body)
        async with trio.open_nursery() as nursery:

            async def answer(target: str, stream: trio.SocketStream) -> None:
                await stream.send_all(http_answer("200 OK", body, "application/geo+json"))

            port = await serve_source(nursery, answer)
            flags = ("--store", "memory://", "--files-dir", folder, "--allowed-sources", "127.0.0.1")
            flags += ("--max-body-size", str(64 << 20))
            async with (
                open_server(*flags) as server,
                Client(server.url + "mcp") as agent,
                httpx.AsyncClient(timeout=300, trust_env=False) as http,
            ):
                ways = {
                    "content": {"content": body.decode()},
                    "path": {"path": "countries.geojson"},
                    "url": {"url": f"http://127.0.0.1:{port}/countries.geojson"},
                }
                for way, arguments in ways.items():
                    started = time.perf_counter()
                    result = await agent.call_tool("import", arguments)
                    took = time.perf_counter() - started
                    out[way] = {
                        "written_bytes": len(json.dumps(arguments, separators=(",", ":"))),
                        "read_bytes": _read_bytes(result),
                        "import_s": round(took, 2),
                    }
                    if result.is_error:  # content: past the tool's 16 MiB, whatever the body limit
                        out[way]["refused"] = result.content[0].text[:200]  # type: ignore[union-attr]
                    else:
                        map_id = (result.structured_content or {})["map_id"]
                started = time.perf_counter()
                link = await agent.call_tool("import", {"upload": True})
                slot = link.structured_content or {}
                put = await http.put(slot["upload_url"] + "?filename=countries.geojson", content=body)
                assert put.status_code == 200, put.text
                done = await agent.call_tool("import", {"upload": slot["handle"]})
                out["upload_link"] = {
                    "written_bytes": len(json.dumps({"upload": True}))
                    + len(json.dumps({"upload": slot["handle"]})),
                    "read_bytes": _read_bytes(link) + _read_bytes(done),
                    "import_s": round(time.perf_counter() - started, 2),
                }
                back = await agent.call_tool("read", {"map_id": map_id, "format": "geojson"})
                out["read_back_geojson"] = {"read_bytes": _read_bytes(back)}
            nursery.cancel_scope.cancel()
    return out


if __name__ == "__main__":
    print(json.dumps({"bench": "file_handover", **trio.run(file_handover)}, indent=1))
