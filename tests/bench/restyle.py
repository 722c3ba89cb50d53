"""How long one `layer_style` event takes the page to draw for a big styled layer (issue 45: at
most 500 ms for 100,000 points in Chromium).

    python -m tests.bench.restyle [100000 ...] [--runs 3]

The page is the server's own (/m/<id>), its event stream the bench's: Playwright answers /events
with a snapshot of N points (one layer, graduated by a value), then, once it is drawn, with one
change at a time: another graduated style (new breaks and colours), a categorical style with a
filter hiding half the points, a heatmap, and back to graduated. For each:

- ``ms``: from the change's response (Resource Timing's responseEnd of that /events fetch) until
  the frame after the page reported the version drawn (its points canvas is drawn in that frame);
- ``longtask_ms``: the main thread's long tasks (PerformanceObserver 'longtask') in that time;
- ``longest_ms``: the longest of them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from typing import Any

import trio

from .big_maps import ARGS, CHROMIUM, LOCAL_TILES, VIEWPORT
from .harness import open_server
from .page_profile import self_times

__all__ = ["restyle_in_chromium"]

SCREENSHOT = os.environ.get("RESTYLE_SCREENSHOT")  # a path: the page after the last restyle

OBSERVE = """
performance.setResourceTimingBufferSize(1000000); // a reconnect every 20 ms, each one an entry
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
window.__drawn = {};
window.addEventListener('mapsrv:applied', (e) => {
  const v = e.detail.version;
  if (window.__drawn[v]) return;
  requestAnimationFrame(() => setTimeout(() => { window.__drawn[v] = performance.now(); }, 0));
});
"""

# the long tasks' parts between a and b
LONGTASKS = """([a, b]) => window.__longtasks.filter(([s, d]) => s + d > a && s < b)
  .map(([s, d]) => Math.min(s + d, b) - Math.max(s, a))"""

# responseEnd of the n-th /events fetch (each body is one connection)
RESPONSE_END = """(n) => performance.getEntriesByType('resource')
  .filter((e) => e.name.endsWith('/events'))[n].responseEnd"""

BLUES = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
REDS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]


def points(count: int, seed: int = 45) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"p{i}",
            "type": "marker",
            "layer": "pts",
            "coords": [round(rng.uniform(36, 60), 5), round(rng.uniform(-10, 30), 5)],
            "properties": {"value": rng.randint(0, 100_000), "kind": rng.choice(["a", "b", "c", "d"])},
        }
        for i in range(count)
    ]


OTHER = "#999999"
EQUAL_BREAKS = [0, 20_000, 40_000, 60_000, 80_000, 100_000]
QUANTILE_BREAKS = [0, 10_000, 30_000, 50_000, 90_000, 100_000]
DARK2 = {"a": "#1b9e77", "b": "#d95f02", "c": "#7570b3", "d": "#e7298a"}
STYLES: list[tuple[str, dict[str, Any] | None]] = [
    ("baseline (a title change)", None),
    ("graduated", {"kind": "graduated", "by": "value", "breaks": EQUAL_BREAKS, "colors": REDS,
                   "other": OTHER}),
    ("categorical+filter", {"kind": "categorical", "by": "kind", "categories": DARK2, "other": OTHER,
                            "filter": {"property": "kind", "op": "in", "value": ["a", "b"]}}),
    ("proportional", {"kind": "proportional", "by": "value", "min_size": 2, "max_size": 12,
                      "max_value": 100_000, "color": "#3182bd"}),
    ("heatmap", {"kind": "heatmap", "radius": 20, "weight": "value"}),
    ("graduated-again", {"kind": "graduated", "by": "value", "breaks": QUANTILE_BREAKS, "colors": BLUES}),
]  # fmt: skip


class Stream:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.served = 0
        self.brought: list[int] = []  # which connection brought each queued body

    def push(self, kind: str, version: int, payload: dict[str, Any]) -> None:
        self.bodies.append(f"retry: 20\nid: {version}\nevent: {kind}\ndata: {json.dumps(payload)}\n\n")

    def handle(self, route: Any) -> None:
        body = "retry: 100\n: idle\n\n"
        if self.bodies:
            body = self.bodies.pop(0)
            self.brought.append(self.served)
        self.served += 1
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)


def measure(browser: Any, base_url: str, count: int, profile: bool = False) -> dict[str, Any]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(120_000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        stream = Stream()
        first = {"kind": "graduated", "by": "value", "breaks": [0, 25_000, 50_000, 75_000, 100_000],
                 "colors": BLUES[1:], "other": "#999999"}  # fmt: skip
        layers = [{"id": "pts", "name": "Points", "visible": True, "style": first}]
        stream.push(
            "snapshot", 1, {"version": 1, "title": "restyle", "features": points(count), "layers": layers}
        )
        context.route("**/events", stream.handle)
        context.add_init_script(OBSERVE)
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn[1]", polling=50)
        out: dict[str, Any] = {"points": count}
        cdp = context.new_cdp_session(page) if profile else None
        if cdp:
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        version = 1
        for name, style in STYLES:
            version += 1
            if cdp:
                cdp.send("Profiler.start")
            change = {"version": version, "kind": "layer_style", "layer": "pts", "style": style}
            if style is None:
                change = {"version": version, "kind": "title", "title": "restyle"}
            stream.push("change", version, change)
            page.wait_for_function("(v) => window.__drawn[v]", arg=version, polling=20)
            start = page.evaluate(RESPONSE_END, stream.brought[-1])
            if cdp:
                functions, _ = self_times(cdp.send("Profiler.stop")["profile"])
                out.setdefault("profile", {})[name] = [[f, round(ms)] for f, ms in functions.most_common(8)]
            end = page.evaluate("(v) => window.__drawn[v]", version)
            tasks = page.evaluate(LONGTASKS, [start, end])
            out[name] = {"ms": round(end - start), "longtask_ms": round(sum(tasks)),
                         "longest_ms": round(max(tasks, default=0))}  # fmt: skip
        out["drawn_points"] = page.evaluate("window.mapsrv.drawnPoints().length")
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT)
        return out
    finally:
        context.close()


async def restyle_in_chromium(sizes: list[int], runs: int, profile: bool = False) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for count in sizes:
                    for run in range(runs):
                        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                        try:
                            results.append(
                                {
                                    "bench": "restyle",
                                    "run": run,
                                    **measure(browser, server.url, count, profile),
                                }
                            )
                        finally:
                            browser.close()
                        print(json.dumps(results[-1]), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also each restyle's top functions (self ms)")
    args = parser.parse_args()
    trio.run(restyle_in_chromium, args.sizes, args.runs, args.profile)


if __name__ == "__main__":
    main()
