"""Big maps in the page: N labelled points, the edit page opened in Chromium.

    python -m tests.bench.big_maps 1000 3000 10000

The map is built through the HTTP API (POST /m/<id>/ops, import_geojson in batches) before any page
of it is open, so the page gets it all in one snapshot. Reported per size, as JSON lines:

- ``drawn_ms``: from navigation start until the page has drawn the map's version (the
  ``mapsrv:applied`` event for it, then the next frame);
- ``longtask_ms``: the main thread's long tasks (PerformanceObserver 'longtask') until then;
- ``pan_ms`` / ``pan_longtask_ms``: a mouse drag of the map, from the press until the frame after
  the release, and the long tasks in that time; ``zoom_ms`` / ``zoom_longtask_ms`` likewise for
  one zoom step;
- ``edit_ms`` / ``edit_longtask_ms``: one point moved and renamed (POST /ops) until the page
  has drawn that version, and the long tasks in that time: a change costs what it touches;
- ``batch_post_ms`` / ``batch_drawn_ms`` / ``batch_longtask_ms``: then a batch of 1,000 more
  labelled points (one POST /ops): until the server answered, until the page has drawn it, and
  the page's long tasks in that time: a batch costs the batch, not the batch times the map;
  ``batch_settles``: the times the page drew a version on the way;
- ``labels_shown``: label elements on screen after the load;
- ``peers``: the same map (with the batch) drawn in the same run by Leaflet's canvas renderer
  (``leaflet_canvas``: circle markers, no labels; ``leaflet_tooltips``: with permanent tooltips,
  up to 3,000) and by Leaflet.markercluster over canvas circle markers (``markercluster``: needs
  xstatic-leaflet-markercluster installed, or MARKERCLUSTER_DIR), with ``drawn_ms``,
  ``longtask_ms`` and a pan's and a zoom's as above.

A size that is not drawn within ``--timeout`` seconds is reported with ``"drawn_ms": null``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
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
IMPORT_BATCH = 10_000  # features in one import_geojson op (1.2 MB: within the 4 MiB body limit)

# Before any page script: long tasks, and when the page first applied a version >= __target.
# Counts the versions the page draws (settles) from now on.
COUNT_SETTLES = "window.__settles = 0; addEventListener('mapsrv:applied', () => { window.__settles += 1; });"
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


# The peers: the same map's points from its /state, drawn by Leaflet's own canvas renderer as
# circle markers (with permanent tooltips for the labels, or without labels), or put in
# Leaflet.markercluster (the xstatic-leaflet-markercluster package, when installed or unpacked
# where MARKERCLUSTER_DIR says). Served by Playwright on the server's origin.
PEER = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/leaflet/leaflet.css">%(css)s
<style>html, body, #map { margin: 0; height: 100%%; }</style>
<script src="/static/leaflet/leaflet.js"></script>%(js)s</head>
<body><div id="map"></div><script>
(async () => {
  const map = L.map('map', {maxZoom: 19}).setView([20, 0], 2);
  const state = await (await fetch('%(prefix)s/state')).json();
  const renderer = L.canvas();
  const kind = '%(kind)s';
  const layers = [];
  for (const f of state.features) {
    const m = L.circleMarker(f.coords, {renderer: renderer, radius: 6, weight: 1.5, color: '#fff',
                                        fillColor: '#2563eb', fillOpacity: 0.9});
    if (f.label && kind === 'leaflet_tooltips') {
      m.bindTooltip(String(f.label), {permanent: true, direction: 'right'});
    }
    else if (f.label && kind === 'markercluster') m.bindTooltip(String(f.label));
    layers.push(m);
  }
  const bounds = L.latLngBounds(state.features.map((f) => f.coords));
  map.fitBounds(bounds, {animate: false});
  if (kind === 'markercluster') L.markerClusterGroup().addLayers(layers).addTo(map);
  else for (const m of layers) m.addTo(map);
  window.mapsrv = {map: map};
  window.dispatchEvent(new CustomEvent('mapsrv:applied', {detail: {version: window.__target}}));
})();
</script></body></html>"""
PEERS = ("leaflet_canvas", "leaflet_tooltips", "markercluster")
MARKERCLUSTER_DIR = os.environ.get("MARKERCLUSTER_DIR", "")


def markercluster_dir() -> Path | None:
    if MARKERCLUSTER_DIR:
        return Path(MARKERCLUSTER_DIR)
    try:
        import xstatic.pkg.leaflet_markercluster as mc  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(mc.BASE_DIR)


def import_ops(count: int, seed: int = 25) -> list[dict[str, Any]]:
    """The same points as ``point_ops``, as ``import_geojson`` ops of IMPORT_BATCH features each
    (a 100,000-point map built an op at a time costs the server minutes, docs/benchmarks.md)."""
    features = [
        {
            "type": "Feature",
            "id": op["id"],
            "geometry": {"type": "Point", "coordinates": [op["coords"][1], op["coords"][0]]},
            "properties": {"name": op["label"]},
        }
        for op in point_ops(count, seed)
    ]
    return [
        {
            "op": "import_geojson",
            "geojson": {"type": "FeatureCollection", "features": features[i : i + IMPORT_BATCH]},
        }
        for i in range(0, count, IMPORT_BATCH)
    ]


def measure_peer(context: Any, map_id: str, count: int, kind: str, timeout: float) -> dict[str, Any]:
    """The same map drawn by a peer (PEER) in a new tab of the same context: drawn and long tasks
    as for mapsrv's page, then one pan and one zoom."""
    css = js = ""
    if kind == "markercluster":
        where = markercluster_dir()
        if where is None:
            return {"peer": kind, "skipped": "xstatic-leaflet-markercluster is not installed"}
        files = {"/mc/mc.js": where / "leaflet.markercluster.js", "/mc/mc.css": where / "MarkerCluster.css"}
        for route, path in files.items():
            context.route("**" + route, serving(path))
        css = '<link rel="stylesheet" href="/mc/mc.css">'
        js = '<script src="/mc/mc.js"></script>'
    if kind == "leaflet_tooltips" and count > 3000:
        return {"peer": kind, "skipped": "permanent tooltips took 80 s for 3,000 (issue 25)"}
    html = PEER % {"css": css, "js": js, "prefix": f"/m/{map_id}", "kind": kind}
    context.route(f"**/peer/{kind}", lambda r: r.fulfill(body=html, content_type="text/html"))
    page = context.new_page()
    try:
        page.goto(f"/peer/{kind}", wait_until="commit")
        try:
            page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        except Exception:  # Playwright's TimeoutError
            return {"peer": kind, "drawn_ms": None, "timeout_s": timeout}
        drawn = page.evaluate("window.__drawn")
        out = {
            "peer": kind,
            "drawn_ms": round(drawn),
            "longtask_ms": round(page.evaluate(LONGTASKS, [0, drawn])),
        }
        out.update(pan_and_zoom(page))
        return out
    finally:
        page.close()


def serving(path: Path) -> Any:
    return lambda route: route.fulfill(path=str(path))


def pan_and_zoom(page: Any) -> dict[str, Any]:
    out = {}
    t0 = page.evaluate("performance.now()")
    wall = time.monotonic()
    page.mouse.move(640, 420)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(640 - 20 * step, 420 - 8 * step)
    page.mouse.up()
    t1 = page.evaluate(NEXT_FRAME)
    out["pan_ms"] = round((time.monotonic() - wall) * 1000)
    out["pan_longtask_ms"] = round(page.evaluate(LONGTASKS, [t0, t1]))
    z0, z1 = page.evaluate(ZOOM)
    out["zoom_ms"] = round(z1 - z0)
    out["zoom_longtask_ms"] = round(page.evaluate(LONGTASKS, [z0, z1]))
    return out


def measure(
    chromium: Any, base_url: str, count: int, timeout: float, kinds: tuple[str, ...] = PEERS
) -> dict[str, Any]:
    context = chromium.new_context(base_url=base_url, viewport=VIEWPORT)
    try:
        context.set_default_timeout(timeout * 1000)
        start = context.request.get("/")  # a new map of this context's browser, redirected to
        map_id = start.url.rstrip("/").rsplit("/", 1)[1]
        version = 0
        built = time.monotonic()
        for op in import_ops(count):
            response = context.request.post(f"/m/{map_id}/ops", data={"ops": [op]})
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

        result.update(pan_and_zoom(page))

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

        more = [{**op, "id": "b" + op["id"][1:]} for op in point_ops(BATCH, seed=26)]
        page.evaluate(COUNT_SETTLES)
        b0 = page.evaluate("performance.now()")
        wall = time.monotonic()
        response = page.request.post(f"/m/{map_id}/ops", data={"ops": more})
        assert response.status == 200, response.text()
        result["batch_post_ms"] = round((time.monotonic() - wall) * 1000)
        page.wait_for_function(
            "(v) => Number(document.body.dataset.drawnVersion) >= v",
            arg=int(response.json()["version"]),
            polling="raf",
        )
        b1 = page.evaluate("performance.now()")
        result["batch_drawn_ms"] = round(b1 - b0)
        result["batch_longtask_ms"] = round(page.evaluate(LONGTASKS, [b0, b1]))
        result["batch_settles"] = page.evaluate("window.__settles")
        page.close()
        # After mapsrv's page: a peer's /state must not warm the server for it.
        result["peers"] = [measure_peer(context, map_id, count + BATCH, kind, timeout) for kind in kinds]
        return result
    finally:
        context.close()


async def big_map_in_chromium(
    sizes: list[int], wait_s: float = 120, kinds: tuple[str, ...] = PEERS
) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    most = str(max([*sizes, 10_000]) + BATCH)  # room for the batch
    async with open_server(*LOCAL_TILES, "--max-features", most) as server:

        def drive() -> list[dict[str, Any]]:
            use_plain_asyncio()
            results = []
            with sync_playwright() as p:
                for count in sizes:
                    # A browser per size: a tab that never finished drawing must not slow the next.
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        results.append(measure(browser, server.url, count, wait_s, kinds))
                    finally:
                        browser.close()
                    print(json.dumps({"bench": "big_maps", **results[-1]}), flush=True)
            return results

        return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 3000, 10000])
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for each map")
    parser.add_argument("--peers", default=",".join(PEERS), help="peers drawing the same map, or ''")
    args = parser.parse_args()
    kinds = tuple(k for k in args.peers.split(",") if k)
    trio.run(big_map_in_chromium, args.sizes, args.timeout, kinds)


if __name__ == "__main__":
    main()
