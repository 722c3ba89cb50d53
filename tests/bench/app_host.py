"""The MCP App in a host built on the official AppBridge (tests/support/apps_host.py, the host
that sizes the iframe only from ``ui/notifications/size-changed``), in headless Chromium: when the
iframe reaches the app's height after the host page starts (it starts at 150 px), and how long an
agent's acknowledged ``draw`` takes to be drawn in the app (epoch clocks of one machine):

    python -m tests.bench.app_host 30
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import trio
from mcp import Client

from tests.support.aio import use_plain_asyncio
from tests.support.apps_host import host_page, serve_page
from tests.support.chromium import ARGS, CHROMIUM, TILES

from .harness import open_server, percentiles

SIZED = (
    "() => window.host && host.sizes.length > 0 && Math.round(host.frameHeight()) === host.sizes[0].height"
)
SIZE = "() => ({at: host.sizes[0].at, height: host.frameHeight(), reports: host.sizes.length})"
# the epoch time (ms) at which the app drew each version
WATCH = """() => {
  window.__drawnAt = {};
  new MutationObserver(() => {
    const v = document.body.dataset.drawnVersion;
    if (v && !(v in window.__drawnAt)) window.__drawnAt[v] = performance.timeOrigin + performance.now();
  }).observe(document.body, { attributes: true, attributeFilter: ['data-drawn-version'] });
}"""


async def measure(draws: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    async with (
        open_server("--tile-url", TILES) as server,
        Client(server.url + "mcp") as client,
        trio.open_nursery() as nursery,
    ):
        (content,) = (await client.read_resource("ui://mapsrv/map")).contents
        call = {"items": [{"at": [38.72, -9.14], "label": "Lisbon", "id": "p0"}], "title": "Bench"}
        drawn = await client.call_tool("draw", call)
        result = drawn.model_dump(mode="json", by_alias=True, exclude_none=True)
        map_id, version = drawn.structured_content["map_id"], drawn.structured_content["version"]
        host = await nursery.start(
            serve_page,
            [host_page("grow", content.text, (content.meta or {})["ui"], call=call, result=result)],
        )
        acked: dict[int, float] = {}

        async def draw(i: int) -> int:
            more = await client.call_tool(
                "draw", {"map_id": map_id, "items": [{"at": [38.72 + i / 1000, -9.14], "id": f"p{i}"}]}
            )
            v = int(more.structured_content["version"])
            acked[v] = time.time() * 1000
            return v

        def body() -> dict[str, Any]:
            use_plain_asyncio()
            with sync_playwright() as pw:
                chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                try:
                    tab = chromium.new_page(viewport={"width": 1000, "height": 800})
                    tab.goto(host)
                    tab.wait_for_function(SIZED)
                    sized = tab.evaluate(SIZE)
                    frame = tab.main_frame.child_frames[0]
                    frame.wait_for_function(
                        "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version
                    )
                    first = tab.evaluate("() => performance.now()")
                    frame.evaluate(WATCH)
                    for i in range(1, draws + 1):
                        v = trio.from_thread.run(draw, i)
                        frame.wait_for_function(
                            "(v) => Number(document.body.dataset.drawnVersion) >= v", arg=v
                        )
                    return {
                        "sized": sized,
                        "first_drawn_by_ms": first,
                        "drawn_at": frame.evaluate("window.__drawnAt"),
                    }
                finally:
                    chromium.close()

        seen = await trio.to_thread.run_sync(body)
        nursery.cancel_scope.cancel()
    lags = [(seen["drawn_at"][str(v)] - at) / 1000 for v, at in acked.items() if str(v) in seen["drawn_at"]]
    return {
        "iframe_height_px": seen["sized"]["height"],
        "size_reports": seen["sized"]["reports"],
        "sized_after_ms": round(seen["sized"]["at"], 1),
        "draw_ack_to_app_drawn": percentiles(lags),
        "draws": len(lags),
    }


if __name__ == "__main__":
    print(json.dumps(trio.run(measure, int(sys.argv[1]) if len(sys.argv) > 1 else 30)))
