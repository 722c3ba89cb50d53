"""Big maps in the page: N labelled points, the edit page opened in Chromium.

    python -m tests.bench.big_maps 1000 3000 10000

The map is built through the HTTP API (POST /m/<id>/ops, add_feature in batches) before any page
of it is open, so the page gets it all in one snapshot. Reported per size, as JSON lines:

- ``drawn_ms``: from navigation start until the page has drawn the map's version (the
  ``mapsrv:applied`` event for it, then the next frame);
- ``longtask_ms``: the main thread's long tasks (PerformanceObserver 'longtask') until then;
- ``pan_ms`` / ``pan_longtask_ms``: a mouse drag of the map, from the press until the frame after
  the release, and the long tasks in that time; ``zoom_ms`` / ``zoom_longtask_ms`` likewise for
  one zoom step;
- ``edit_ms`` / ``edit_longtask_ms``: one point moved and renamed (POST /ops) until the page
  has drawn that version, and the long tasks in that time: a change costs what it touches;
- ``labels_shown``: label elements on screen after the load.

A size that is not drawn within ``--timeout`` seconds is reported with ``"drawn_ms": null``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import trio

from .harness import open_server

__all__ = ["big_map_in_chromium"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
LOCAL_TILES = ("--tile-url", "http://127.0.0.1:9/{z}/{x}/{y}.png")
VIEWPORT = {"width": 1280, "height": 800}
BATCH = 1000  # the most ops one request may carry (Limits.max_ops)

# Before any page script: long tasks, and when the page first applied a version >= __target.
OBSERVE = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
window.__drawn = null;
window.addEventListener('mapsrv:applied', (e) => {
  if (window.__drawn !== null || e.detail.version < window.__target) return;
  requestAnimationFrame(() => setTimeout(() => { window.__drawn = performance.now(); }, 0));
});
"""

LONGTASKS = "([a, b]) => window.__longtasks.filter(([s, d]) => s + d > a && s < b)" \
    ".reduce((sum, [s, d]) => sum + Math.min(s + d, b) - Math.max(s, a), 0)"  # fmt: skip

NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()))))"

ZOOM = """
async () => {
  const map = window.mapsrv.map;
  const t0 = performance.now();
  map.setZoom(map.getZoom() + 1, {animate: false});
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return [t0, performance.now()];
}
"""

SHOWN_LABELS = """
() => Array.from(document.querySelectorAll('.mapsrv-label')).filter((e) => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
}).length
"""


def point_ops(count: int, seed: int = 25) -> list[dict[str, Any]]:
    """``count`` labelled points spread over Europe, the same for a given count and seed."""
    rng = random.Random(seed)
    return [
        {
            "op": "add_feature",
            "id": f"p{i}",
            "type": "marker",
            "coords": [round(rng.uniform(36, 60), 5), round(rng.uniform(-10, 30), 5)],
            "label": f"Station {i}",
        }
        for i in range(count)
    ]


def measure(chromium: Any, base_url: str, count: int, timeout: float) -> dict[str, Any]:
    context = chromium.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(timeout * 1000)
        start = context.request.get("/")  # a new map of this context's browser, redirected to
        map_id = start.url.rstrip("/").rsplit("/", 1)[1]
        ops = point_ops(count)
        version = 0
        built = time.monotonic()
        for i in range(0, len(ops), BATCH):
            response = context.request.post(f"/m/{map_id}/ops", data={"ops": ops[i : i + BATCH]})
            assert response.status == 200, response.text()
            version = int(response.json()["version"])
        build_s = time.monotonic() - built
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        result: dict[str, Any] = {"features": count, "version": version, "build_s": round(build_s, 2)}
        page.goto(f"/m/{map_id}", wait_until="commit")
        try:
            page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        except Exception:  # Playwright's TimeoutError: the tab may not answer at all
            return {**result, "drawn_ms": None, "timeout_s": timeout}
        drawn = page.evaluate("window.__drawn")
        result["drawn_ms"] = round(drawn)
        result["longtask_ms"] = round(page.evaluate(LONGTASKS, [0, drawn]))
        result["drawn_version_attr"] = page.evaluate("document.body.dataset.drawnVersion || null")
        result["labels_shown"] = page.evaluate(SHOWN_LABELS)

        t0 = page.evaluate("performance.now()")
        wall = time.monotonic()
        page.mouse.move(640, 420)
        page.mouse.down()
        for step in range(1, 11):
            page.mouse.move(640 - 20 * step, 420 - 8 * step)
        page.mouse.up()
        t1 = page.evaluate(NEXT_FRAME)
        result["pan_ms"] = round((time.monotonic() - wall) * 1000)
        result["pan_longtask_ms"] = round(page.evaluate(LONGTASKS, [t0, t1]))

        z0, z1 = page.evaluate(ZOOM)
        result["zoom_ms"] = round(z1 - z0)
        result["zoom_longtask_ms"] = round(page.evaluate(LONGTASKS, [z0, z1]))

        e0 = page.evaluate("performance.now()")
        edit = {"op": "update_feature", "id": "p7", "coords": [48.85, 2.35], "label": "Moved"}
        response = page.request.post(f"/m/{map_id}/ops", data={"ops": [edit]})
        assert response.status == 200, response.text()
        page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion || window.mapsrv.version) >= v",
            arg=int(response.json()["version"]),
            polling="raf",
        )
        e1 = page.evaluate("performance.now()")
        result["edit_ms"] = round(e1 - e0)
        result["edit_longtask_ms"] = round(page.evaluate(LONGTASKS, [e0, e1]))
        return result
    finally:
        context.close()


async def big_map_in_chromium(sizes: list[int], wait_s: float = 120) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    most = str(max([*sizes, 10_000]))
    async with open_server(*LOCAL_TILES, "--max-features", most) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for count in sizes:
                    # A browser per size: a tab that never finished drawing must not slow the next.
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        results.append(measure(browser, server.url, count, wait_s))
                    finally:
                        browser.close()
                    print(json.dumps({"bench": "big_maps", **results[-1]}), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 3000, 10000])
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for each map")
    args = parser.parse_args()
    trio.run(big_map_in_chromium, args.sizes, args.timeout)


if __name__ == "__main__":
    main()
