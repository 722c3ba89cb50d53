"""The page's street view (issue 79): from navigation to a zoom-16 view of an imported extract's
street basemap drawn, and the main thread's long tasks meanwhile.

    python -m tests.bench.street_page [BLOCKS] [--loads 5]

tests/bench/street_basemap.py's synthetic city (BLOCKS x BLOCKS blocks, four buildings each),
its basemap built as ``mapsrv places import`` builds it, served by a real server with
``--basemap extract``; a map whose view is zoom 16 in the city's middle; each load in a new
browser context (nothing cached), after one not counted. ``drawn_ms``: every street tile of the
view drawn (their canvases say so), from navigation start; ``tiles``: how many; ``draw_ms``: the
tiles' own drawing time summed; ``longtask_ms``: the long tasks until drawn. Medians over the
loads, as one JSON line. Goal (issue 79): a street view at zoom 16 drawn within 1 s.

Then, in the last load's page, a person's pans and zooms over the streets (``moves``): four pans
of 300 px (``panBy``, not animated) and zooms to 15, 16, 17 and back to 16, each until every street
tile of the view is drawn again: ``settle_ms`` each, and the longest long task and the long
tasks' total over all of them (the page's goal for big maps: no long task over 50 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import trio

from mapsrv.places.street_tiles import build_basemap

from .big_maps import ARGS, CHROMIUM, LONGTASKS, OBSERVE, VIEWPORT
from .harness import open_server
from .street_basemap import write_city

DRAWN = """() => {
  const map = window.mapsrv && window.mapsrv.map;
  if (!map || map.getZoom() !== 16) return null;
  let loading = false, layers = 0;
  map.eachLayer((l) => { if (l.streetName) { layers += 1; loading = loading || l.isLoading(); } });
  const tiles = [...document.querySelectorAll('.mapsrv-street-tile[data-labels]')];
  if (!layers || loading || !tiles.length) return null;
  const draw = tiles.reduce((s, c) => s + (+c.dataset.drawMs || 0), 0);
  return { at: performance.now(), tiles: tiles.length, draw: draw };
}"""


SETTLED = """(zoom) => {
  const map = window.mapsrv.map;
  if (map.getZoom() !== zoom) return false;
  let loading = false, layers = 0;
  map.eachLayer((l) => { if (l.streetName) { layers += 1; loading = loading || l.isLoading(); } });
  const tiles = [...document.querySelectorAll('.mapsrv-street-tile')];
  return layers > 0 && !loading && tiles.length > 0 && tiles.every((c) => c.dataset.labels !== undefined);
}"""
MOVE = """([kind, value]) => {
  const map = window.mapsrv.map;
  const at = performance.now();
  if (kind === 'pan') map.panBy(value, { animate: false });
  else map.setZoom(value, { animate: false });
  return at;
}"""
LONGEST = (
    "([a, b]) => window.__longtasks.filter(([s, d]) => s + d > a && s < b)"
    ".reduce((m, [, d]) => Math.max(m, d), 0)"
)


def moves(page: Any) -> dict[str, Any]:
    """Pans and zooms over the streets, each until the view's street tiles are drawn again."""
    steps = [("pan", [300, 0]), ("pan", [0, 300]), ("pan", [-300, 0]), ("pan", [0, -300])]
    steps += [("zoom", 15), ("zoom", 16), ("zoom", 17), ("zoom", 16)]
    settle, longest, total = [], 0.0, 0.0
    for kind, value in steps:
        zoom = value if kind == "zoom" else page.evaluate("window.mapsrv.map.getZoom()")
        started = page.evaluate(MOVE, [kind, value])
        page.wait_for_function(SETTLED, arg=zoom, polling=10, timeout=60_000)
        ended = page.evaluate("performance.now()")
        settle.append(round(ended - started))
        longest = max(longest, page.evaluate(LONGEST, [started, ended]))
        total += page.evaluate(LONGTASKS, [started, ended])
    return {"settle_ms": settle, "longest_task_ms": round(longest), "longtask_total_ms": round(total)}


def one_load(browser: Any, base_url: str, owner: Any, map_id: str, move: bool = False) -> dict[str, Any]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT, storage_state=owner)
    try:
        context.add_init_script(OBSERVE)
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        handle = page.wait_for_function(DRAWN, polling=20, timeout=60_000)
        drawn = handle.json_value()
        return {
            "drawn_ms": drawn["at"],
            "tiles": drawn["tiles"],
            "draw_ms": drawn["draw"],
            "longtask_ms": page.evaluate(LONGTASKS, [0, drawn["at"]]),
            **({"moves": moves(page)} if move else {}),
        }
    finally:
        context.close()


async def street_loads(blocks: int, loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    with tempfile.TemporaryDirectory() as folder:
        extract, places = Path(folder) / "city.osm.pbf", Path(folder) / "places"
        west, south, east, north = write_city(extract, blocks)
        build_basemap(extract, places / "city.basemap.pmtiles")
        middle = [(south + north) / 2, (west + east) / 2]
        async with open_server("--basemap", "extract", "--places-dir", str(places)) as server:

            def drive() -> dict[str, Any]:
                use_plain_asyncio()
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        maker = browser.new_context(base_url=server.url)
                        map_id = maker.request.get("/").url.rstrip("/").rsplit("/", 1)[1]
                        view = {"op": "set_view", "center": middle, "zoom": 16, "animate": False}
                        marker = {"op": "add_feature", "type": "marker", "coords": middle, "label": "here"}
                        assert maker.request.post(f"/m/{map_id}/ops", data={"ops": [marker, view]}).ok
                        owner = maker.storage_state()
                        one_load(browser, server.url, owner, map_id)  # Chromium's first start
                        runs = [
                            one_load(browser, server.url, owner, map_id, i == loads - 1) for i in range(loads)
                        ]
                    finally:
                        browser.close()
                out: dict[str, Any] = {"bench": "street_page", "blocks": blocks, "loads": loads}
                for key in (k for k in runs[0] if k != "moves"):
                    out[key] = round(statistics.median(r[key] for r in runs), 1)
                out["moves"] = runs[-1]["moves"]
                out["drawn_ms_range"] = [
                    round(min(r["drawn_ms"] for r in runs)),
                    round(max(r["drawn_ms"] for r in runs)),
                ]
                return out

            return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("blocks", nargs="?", type=int, default=60)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(trio.run(street_loads, args.blocks, args.loads)), flush=True)


if __name__ == "__main__":
    main()
