"""Label placement in the page (issue 58): N labelled features, every one of them in the fitted
view and none clustered, then the edit page opened in headless Chromium (tiles unreachable).

    python -m tests.bench.labels 10000 [--cases points,areas] [--runs 3]

Cases: ``points``, N labelled markers over Europe in a layer styled by value (a styled layer's
points are not clustered, so every label is a candidate); ``areas``, a choropleth of N small
labelled squares over Europe (its default labels, the squares' names, shown only where they fit);
``areas_template``, the same with a label template (every label a candidate, each square's pole
found). Reported per case, as JSON lines:

- ``drawn_ms`` / ``longtask_ms``: navigation until the page has drawn the map, and the main
  thread's long tasks (PerformanceObserver 'longtask') until then;
- ``place_ms``: [fastest, median] of 15 placements of every label (labels.js's own ``moveend``
  listener called alone), at the fitted view and (``place_in_ms``) two zoom steps in;
- ``pan_ms`` / ``pan_longtask_ms`` / ``pan_longest_ms``: a pan by 120 x 60 px until the next
  frame, the long tasks in that time and the longest; ``zoom_*`` and ``zoom2_*`` likewise for
  a zoom step in and another (the page places its labels again after each: the pan-and-zoom
  budget is 100 ms); ``moves_script_ms``: the main thread's self time by script over the
  three moves (Chromium's sampling profiler), and ``labels_script_ms`` the label modules' share
  of it: the labels' own cost;
- ``labels_shown`` and ``overlapping`` (pairs of shown label boxes that overlap, read from the
  DOM: 0 when placement works).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import trio

from .big_maps import ARGS, CHROMIUM, LOCAL_TILES, LONGTASKS, OBSERVE, VIEWPORT
from .harness import open_server
from .page_profile import self_times

__all__ = ["labels_in_chromium"]

LABEL_SCRIPTS = ("labels.js", "placement.js", "inside.js")  # the page's label placement

# The labels placed again, alone: labels.js's own 'moveend' listener (named `place`, before and
# after issue 58), called 15 times; its fastest and median time (the fastest is what placement
# costs; the median what it cost on a busy machine).
PLACE = """
(runs) => {
  const listener = window.mapsrv.map._events.moveend.find((l) => l.fn.name === 'place');
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    listener.fn.call(listener.ctx);
    times.push(performance.now() - t0);
  }
  return times;
}
"""

# A pan or a zoom of the map (not animated: its moveend, which places the labels, comes at once),
# until the next frame; then the long tasks in that time, once the observer has had them.
MOVE = """
async ([kind, by]) => {
  const map = window.mapsrv.map;
  const t0 = performance.now();
  // in a task of the page's own: what DevTools evaluates is not observed as a long task
  await new Promise((r) => setTimeout(() => {
    if (kind === 'pan') map.panBy(by, {animate: false});
    else map.setZoom(map.getZoom() + by, {animate: false});
    r();
  }, 0));
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 300));
  const parts = window.__longtasks.filter(([s, d]) => s + d > t0 && s < t1)
    .map(([s, d]) => Math.min(s + d, t1) - Math.max(s, t0));
  return [t1 - t0, parts.reduce((a, b) => a + b, 0), Math.max(0, ...parts)];
}
"""

BOXES = """
() => Array.from(document.querySelectorAll('.mapsrv-label:not(.mapsrv-label-hover)')).map((e) => {
  const r = e.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
}).filter((b) => b[2] > b[0] && b[3] > b[1] && b[2] > 0 && b[3] > 0
  && b[0] < innerWidth && b[1] < innerHeight)
"""


def features(case: str, count: int, seed: int = 58) -> list[dict[str, Any]]:
    """``count`` labelled GeoJSON features over Europe: points, or squares on a grid."""
    rng = random.Random(seed)
    out = []
    side = max(1, round(count**0.5))
    for i in range(count):
        props = {"name": f"Place {i}", "value": rng.randint(0, 100_000)}
        if case == "points":
            lon, lat = round(rng.uniform(-10, 30), 5), round(rng.uniform(36, 60), 5)
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        else:
            row, col = divmod(i, side)
            w, s = -10 + 40 * col / side, 36 + 24 * row / side
            dx, dy = 40 / side * 0.9, 24 / side * 0.9
            ring = [[w, s], [w + dx, s], [w + dx, s + dy], [w, s + dy], [w, s]]
            geometry = {"type": "Polygon", "coordinates": [[[round(x, 5), round(y, 5)] for x, y in ring]]}
        out.append({"type": "Feature", "id": f"f{i}", "geometry": geometry, "properties": props})
    return out


def overlapping(boxes: list[list[float]]) -> int:
    pairs = 0
    ordered = sorted(boxes)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b[0] >= a[2] - 0.5:
                break
            if a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5 and a[0] < b[2] - 0.5:
                pairs += 1
    return pairs


def measure(chromium: Any, base_url: str, case: str, count: int, timeout: float = 120) -> dict[str, Any]:
    context = chromium.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(timeout * 1000)
        map_id = context.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
        collection = {"type": "FeatureCollection", "features": features(case, count)}
        style: dict[str, Any] = {"kind": "graduated", "by": "value", "method": "quantiles", "classes": 5}
        if case == "areas_template":
            style["label"] = "{name} ({value:,d})"  # shown wherever it does not collide
        ops = [
            {"op": "import_geojson", "layer": "data", "geojson": collection},
            {"op": "set_layer_style", "layer": "data", "style": style},
        ]
        version = 0
        for op in ops:
            answer = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
            assert answer.status == 200, answer.text()
            version = int(answer.json()["version"])
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        drawn = page.evaluate("window.__drawn")
        result: dict[str, Any] = {
            "case": case,
            "features": count,
            "drawn_ms": round(drawn),
            "longtask_ms": round(page.evaluate(LONGTASKS, [0, drawn])),
        }
        boxes = page.evaluate(BOXES)
        result["labels_shown"] = len(boxes)
        result["overlapping"] = overlapping(boxes)
        times = page.evaluate(PLACE, 15)
        result["place_ms"] = [round(min(times), 1), round(statistics.median(times), 1)]
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        cdp.send("Profiler.start")
        for name, kind, by in (("pan", "pan", [120, 60]), ("zoom", "zoom", 1), ("zoom2", "zoom", 1)):
            took, blocked, longest = page.evaluate(MOVE, [kind, by])
            result[f"{name}_ms"] = round(took)
            result[f"{name}_longtask_ms"] = round(blocked)
            result[f"{name}_longest_ms"] = round(longest)
        functions, scripts = self_times(cdp.send("Profiler.stop")["profile"])
        result["labels_script_ms"] = round(sum(scripts[name] for name in LABEL_SCRIPTS), 1)
        ours = [
            (name, ms)
            for name, ms in functions.most_common()
            if name.split(" ")[-1].split(":")[0] in LABEL_SCRIPTS
        ]
        result["labels_functions_ms"] = {name: round(ms, 1) for name, ms in ours[:6]}
        result["moves_script_ms"] = {k: round(v) for k, v in scripts.most_common(6)}
        times = page.evaluate(PLACE, 15)
        result["place_in_ms"] = [round(min(times), 1), round(statistics.median(times), 1)]
        boxes = page.evaluate(BOXES)
        result["labels_shown_in"] = len(boxes)
        result["overlapping_in"] = overlapping(boxes)
        return result
    finally:
        context.close()


async def labels_in_chromium(count: int, cases: list[str], runs: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES, "--max-features", str(count + 1000)) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for _ in range(runs):
                    for case in cases:
                        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                        started = time.monotonic()
                        try:
                            results.append(measure(browser, server.url, case, count))
                        finally:
                            browser.close()
                        results[-1]["run_s"] = round(time.monotonic() - started, 1)
                        print(json.dumps({"bench": "labels", **results[-1]}), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--cases", default="points,areas,areas_template")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    trio.run(labels_in_chromium, args.count, args.cases.split(","), args.runs)


if __name__ == "__main__":
    main()
