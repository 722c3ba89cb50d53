"""A map's page from navigation to drawn, step by step: where the first drawing's time goes.

    python -m tests.bench.page_load 1000 [--loads 7]

One map of N labelled points (built as ``tests.bench.big_maps`` builds it), then ``--loads`` loads
of its page, each in a new browser context of the same Chromium (nothing cached, as for a
newcomer, with the owner's cookie), after one load not counted (Chromium's own first start).
Reported as a JSON line, each figure the median over the loads, in milliseconds from navigation
start:

- ``html_ms``: the page's HTML received (responseEnd);
- ``first_script_ms`` / ``last_script_ms``: the first static file asked for, and the last one's
  response ended (resource timing of ``/static/``), with ``scripts`` their count;
- ``dom_ready_ms``: ``DOMContentLoaded``;
- ``stream_ms``: the event stream's response began;
- ``drawn_ms``: the map's version drawn (``big_maps``' measure);
- ``longtask_ms``: the main thread's long tasks until drawn.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

import trio

from .big_maps import ARGS, CHROMIUM, LOCAL_TILES, LONGTASKS, OBSERVE, VIEWPORT, import_ops
from .harness import open_server

__all__ = ["page_loads"]

TIMELINE = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const statics = res.filter((r) => new URL(r.name).pathname.startsWith('/static/'));
  const stream = res.find((r) => new URL(r.name).pathname.endsWith('/events'));
  return {
    html_ms: nav.responseEnd,
    first_script_ms: Math.min(...statics.map((r) => r.startTime)),
    last_script_ms: Math.max(...statics.map((r) => r.responseEnd)),
    scripts: statics.length,
    dom_ready_ms: nav.domContentLoadedEventStart,
    stream_ms: stream ? stream.responseStart : null,
  };
}
"""


def one_load(
    browser: Any, base_url: str, owner: Any, map_id: str, version: int, timeout: float
) -> dict[str, float]:
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT, storage_state=owner)
    try:
        context.add_init_script(f"window.__target = {version};\n{OBSERVE}")
        page = context.new_page()
        page.goto(f"/m/{map_id}", wait_until="commit")
        page.wait_for_function("() => window.__drawn !== null", polling=100, timeout=timeout * 1000)
        drawn = page.evaluate("window.__drawn")
        out: dict[str, float] = page.evaluate(TIMELINE)
        out["drawn_ms"] = drawn
        out["longtask_ms"] = page.evaluate(LONGTASKS, [0, drawn])
        return out
    finally:
        context.close()


async def page_loads(count: int, loads: int, wait_s: float = 120) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES, "--max-features", str(max(count, 10_000))) as server:

        def drive() -> dict[str, Any]:
            use_plain_asyncio()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    maker = browser.new_context(base_url=server.url)
                    request = maker.request
                    map_id = request.get("/").url.rstrip("/").rsplit("/", 1)[1]
                    version = 0
                    for op in import_ops(count):
                        response = request.post(f"/m/{map_id}/ops", data={"ops": [op]})
                        assert response.status == 200, response.text()
                        version = int(response.json()["version"])
                    owner = maker.storage_state()  # the owner's cookie: each load is the owner's
                    load = (browser, server.url, owner, map_id, version, wait_s)
                    one_load(*load)  # Chromium's first start
                    runs = [one_load(*load) for _ in range(loads)]
                finally:
                    browser.close()
            result: dict[str, Any] = {"bench": "page_load", "features": count, "loads": loads}
            for key in runs[0]:
                values = [r[key] for r in runs if r[key] is not None]
                result[key] = round(statistics.median(values)) if values else None
            drawn = [r["drawn_ms"] for r in runs]
            result["drawn_ms_range"] = [round(min(drawn)), round(max(drawn))]
            return result

        return await trio.to_thread.run_sync(drive)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000])
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args()
    for size in args.sizes:
        print(json.dumps(trio.run(page_loads, size, args.loads)), flush=True)


if __name__ == "__main__":
    main()
