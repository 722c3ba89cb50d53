"""Long lines in the page (issues 25 and 28): a day's ride, one GPX track of N points imported
through ``POST /m/ID/import``, then the map opened in headless Chromium (tiles unreachable).
Reported as ``big_maps`` reports points: until the page has drawn it (``drawn_ms``), the main
thread's long tasks until then, and a pan's and a zoom's time and long tasks. A line is drawn by
Leaflet, which simplifies it to the screen's pixels at each zoom (``smoothFactor``).

    python -m tests.bench.long_tracks 10000 50000 100000
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import trio

from .big_maps import ARGS, CHROMIUM, LOCAL_TILES, LONGTASKS, OBSERVE, VIEWPORT, pan_and_zoom
from .file_imports import ride
from .harness import open_server


def measure(chromium: Any, base_url: str, points: int, timeout: float = 60) -> dict[str, Any]:
    context = chromium.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(timeout * 1000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        started = time.monotonic()
        answer = context.request.post(f"/m/{map_id}/import?filename=ride.gpx", data=ride(points))
        assert answer.status == 200, answer.text()
        import_s = time.monotonic() - started
        version = int(answer.json()["version"])
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        drawn = page.evaluate("window.__drawn")
        result = {
            "points": points,
            "import_s": round(import_s, 2),
            "drawn_ms": round(drawn),
            "longtask_ms": round(page.evaluate(LONGTASKS, [0, drawn])),
        }
        result.update(pan_and_zoom(page))
        return result
    finally:
        context.close()


async def long_tracks(sizes: list[int]) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for points in sizes:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        results.append(measure(browser, server.url, points))
                    finally:
                        browser.close()
                    print(json.dumps({"bench": "long_tracks", **results[-1]}), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


if __name__ == "__main__":
    trio.run(long_tracks, [int(a) for a in sys.argv[1:]] or [10_000, 50_000, 100_000])
