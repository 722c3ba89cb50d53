"""The world's countries in the page (issue 57): Natural Earth's countries at one scale (shipped in
mapsrv/places/world), each a GeoJSON Feature labelled with its name, imported in one
``import_geojson`` op, with N labelled points beside them; then the edit page opened in headless
Chromium (tiles unreachable). Reported as ``big_maps`` reports: ``features`` as the page has them
(a country split into its parts counts each), ``drawn_ms``, the long tasks until then, a pan's
and a zoom's time and long tasks, and ``edit_ms`` / ``edit_longtask_ms`` for one country renamed
until the page has drawn it. ``thread_ms`` and ``script_ms`` are the page's main thread CPU time
and its time in script until drawn (Chromium's ThreadTime and ScriptDuration metrics): unlike the
wall times, they hold steady on a machine busy with other work. Scale ``none``: the points alone.

    python -m tests.bench.countries 50m:0 50m:3000 110m:10000 none:10000
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import trio

from mapsrv.places.world import Scale, countries

from .big_maps import ARGS, CHROMIUM, LOCAL_TILES, LONGTASKS, OBSERVE, VIEWPORT, import_ops, pan_and_zoom
from .harness import open_server

__all__ = ["countries_in_chromium", "world_geojson"]


def world_geojson(scale: Scale) -> dict[str, Any]:
    """Every country of ``scale`` as one GeoJSON Feature: a Polygon, or a MultiPolygon of its
    parts, holes kept ([lon, lat], rings closed as shipped)."""
    features = []
    for index, country in enumerate(countries(scale)):
        polygons = [[[list(p) for p in ring] for ring in polygon] for polygon in country.polygons]
        geometry = (
            {"type": "Polygon", "coordinates": polygons[0]}
            if len(polygons) == 1
            else {"type": "MultiPolygon", "coordinates": polygons}
        )
        name = country.name or f"Country {index}"
        features.append(
            {"type": "Feature", "id": f"c{index}", "geometry": geometry, "properties": {"name": name}}
        )
    return {"type": "FeatureCollection", "features": features}


def measure(chromium: Any, base_url: str, scale: Scale, points: int, timeout: float = 120) -> dict[str, Any]:
    context = chromium.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(timeout * 1000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        ops = [] if scale == "none" else [{"op": "import_geojson", "geojson": world_geojson(scale)}]
        ops += import_ops(points) if points else []
        started = time.monotonic()
        version = 0
        for op in ops:
            answer = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
            assert answer.status == 200, answer.text()
            version = int(answer.json()["version"])
        build_s = time.monotonic() - started
        features = context.request.get(f"/m/{map_id}/state").json()["features"]
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        drawn = page.evaluate("window.__drawn")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        result: dict[str, Any] = {
            "scale": scale,
            "points": points,
            "features": len(features),
            "build_s": round(build_s, 2),
            "drawn_ms": round(drawn),
            "longtask_ms": round(page.evaluate(LONGTASKS, [0, drawn])),
            "thread_ms": round(metrics["ThreadTime"] * 1000),
            "script_ms": round(metrics["ScriptDuration"] * 1000),
            "big": page.evaluate("window.mapsrv.big"),
        }
        result.update(pan_and_zoom(page))
        country = next((f for f in features if f["type"] != "marker"), features[0])
        e0 = page.evaluate("performance.now()")
        edit = {"op": "update_feature", "id": country["id"], "label": "Renamed"}
        answer = page.request.post(f"/m/{map_id}/ops", data={"ops": [edit]})
        assert answer.status == 200, answer.text()
        page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion) >= v",
            arg=int(answer.json()["version"]),
            polling="raf",
        )
        e1 = page.evaluate("performance.now()")
        result["edit_ms"] = round(e1 - e0)
        result["edit_longtask_ms"] = round(page.evaluate(LONGTASKS, [e0, e1]))
        return result
    finally:
        context.close()


async def countries_in_chromium(runs: list[tuple[Scale, int]]) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for scale, points in runs:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        results.append(measure(browser, server.url, scale, points))
                    finally:
                        browser.close()
                    print(json.dumps({"bench": "countries", **results[-1]}), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


def parse(arg: str) -> tuple[Scale, int]:
    scale, _, points = arg.partition(":")
    if scale not in ("110m", "50m", "none"):
        raise SystemExit(f"scale must be 110m, 50m or none, got {scale!r}")
    return scale, int(points or 0)  # type: ignore[return-value]


if __name__ == "__main__":
    trio.run(countries_in_chromium, [parse(a) for a in sys.argv[1:]] or [("50m", 0), ("50m", 3000)])
