"""Restyling a big layer by its values end to end (issue 58: 100,000 features within 500 ms): a
server process (memory store) holds N points with a skewed value; the edit page is open in
headless Chromium (tiles unreachable); each style is set through the page's ops endpoint (what
``style_layer`` writes too), one after another: the classes computed from every value by each
method (quantiles, equal intervals, natural breaks, standard deviations, manual breaks), then
proportional circles. For each:

- ``server_ms``: the POST until its answer: the style checked, its breaks computed over the
  layer's N values and applied (in a worker thread: the style reads every feature), committed;
- ``page_ms``: from that answer until the page has drawn the new version (the frame after
  ``mapsrv:applied``; the page recolours every point and counts the legend's classes);
- ``total_ms``: the two together; ``longtask_ms`` / ``longest_ms``: the page's main thread
  long tasks in that time (PerformanceObserver 'longtask');
- ``core_ms``: in this process, ``check_layer_style`` (the breaks) and ``style_counts`` (what
  ``style_layer`` and ``read`` answer) on the same N features, each timed alone.

    python -m tests.bench.classify_restyle [100000 ...] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import trio

from mapsrv.core import Feature
from mapsrv.core.layer_style import check_layer_style, style_counts

from .big_maps import ARGS, CHROMIUM, IMPORT_BATCH, LOCAL_TILES, VIEWPORT
from .harness import open_server

__all__ = ["classify_restyle"]

STYLES: list[tuple[str, dict[str, Any]]] = [
    ("quantiles", {"kind": "graduated", "by": "value", "method": "quantiles", "classes": 7}),
    ("equal", {"kind": "graduated", "by": "value", "method": "equal", "classes": 5}),
    ("jenks", {"kind": "graduated", "by": "value", "method": "jenks", "classes": 5}),
    ("std_mean", {"kind": "graduated", "by": "value", "method": "std_mean", "ramp": "RdBu"}),
    ("manual", {"kind": "graduated", "by": "value", "breaks": [0, 1_000, 10_000, 100_000, 1_000_000]}),
    ("proportional", {"kind": "proportional", "by": "value", "min_size": 2, "max_size": 12}),
]

OBSERVE = """
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
LONGTASKS = """([a, b]) => window.__longtasks.filter(([s, d]) => s + d > a && s < b)
  .map(([s, d]) => Math.min(s + d, b) - Math.max(s, a))"""


def values(count: int, seed: int = 58) -> list[float]:
    """Skewed values, as populations and GDPs are (log-normal), three decimals."""
    rng = random.Random(seed)
    return [round(rng.lognormvariate(8, 2), 3) for _ in range(count)]


def import_ops(count: int) -> list[dict[str, Any]]:
    rng = random.Random(count)
    features = [
        {
            "type": "Feature",
            "id": f"p{i}",
            "geometry": {"type": "Point", "coordinates": [rng.uniform(-10, 30), rng.uniform(36, 60)]},
            "properties": {"value": v},
        }
        for i, v in enumerate(values(count))
    ]
    return [
        {"op": "import_geojson", "layer": "pts",
         "geojson": {"type": "FeatureCollection", "features": features[i : i + IMPORT_BATCH]}}
        for i in range(0, count, IMPORT_BATCH)
    ]  # fmt: skip


def core_times(count: int) -> dict[str, dict[str, float]]:
    features = [
        Feature(f"p{i}", "marker", (45.0, 5.0), layer="pts", properties=(("value", v),))
        for i, v in enumerate(values(count))
    ]
    out = {}
    for name, style in STYLES:
        started = time.perf_counter()
        stored = check_layer_style(style, features, "pts")
        checked = time.perf_counter()
        style_counts(stored, features)
        counted = time.perf_counter()
        out[name] = {
            "breaks_ms": round((checked - started) * 1000, 1),
            "counts_ms": round((counted - checked) * 1000, 1),
        }
    return out


def measure(browser: Any, base_url: str, count: int) -> dict[str, Any]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(300_000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        version = 0
        for op in import_ops(count):
            answer = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
            assert answer.status == 200, answer.text()
            version = int(answer.json()["version"])
        context.add_init_script(OBSERVE)
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("(v) => window.__drawn[v]", arg=version, polling=100)
        out: dict[str, Any] = {"features": count}
        for name, style in STYLES:
            op = {"op": "set_layer_style", "layer": "pts", "style": style}
            sent = page.evaluate("performance.now()")
            started = time.perf_counter()
            answer = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
            server_ms = (time.perf_counter() - started) * 1000
            assert answer.status == 200, answer.text()
            version = int(answer.json()["version"])
            answered = sent + server_ms
            page.wait_for_function("(v) => window.__drawn[v]", arg=version, polling=10)
            drawn = page.evaluate("(v) => window.__drawn[v]", version)
            tasks = page.evaluate(LONGTASKS, [answered, drawn])
            out[name] = {
                "server_ms": round(server_ms),
                "page_ms": round(drawn - answered),
                "total_ms": round(drawn - sent),
                "longtask_ms": round(sum(tasks)),
                "longest_ms": round(max(tasks, default=0)),
            }
        out["legend_rows"] = page.locator(".mapsrv-legend-row").count()
        return out
    finally:
        context.close()


async def classify_restyle(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    results: list[dict[str, Any]] = []
    for count in sizes:
        result = {"bench": "classify_restyle", "core": core_times(count), "features": count}
        print(json.dumps(result), flush=True)
        results.append(result)
    async with open_server(*LOCAL_TILES) as server:

        def drive() -> None:
            use_plain_asyncio()
            with sync_playwright() as p:
                for count in sizes:
                    for run in range(runs):
                        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                        try:
                            results.append(
                                {
                                    "bench": "classify_restyle",
                                    "run": run,
                                    **measure(browser, server.url, count),
                                }
                            )
                        finally:
                            browser.close()
                        print(json.dumps(results[-1]), flush=True)

        await trio.to_thread.run_sync(drive)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    trio.run(classify_restyle, args.sizes, args.runs)


if __name__ == "__main__":
    main()
