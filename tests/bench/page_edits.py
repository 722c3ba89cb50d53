"""A person's edit in one tab until another tab of the map has it drawn.

Tab A writes through the page's own write path (``page.write`` of map.js: POST /ops with a
``base_version``, as a person's drag or label edit does; Origin-checked, attributed to the
person), one edit after another; tab B notes when each version is drawn. Both clocks are the wall clock
(``performance.timeOrigin + performance.now()``) of one browser on one machine."""

from __future__ import annotations

from typing import Any

import trio

from .harness import open_server, percentiles

__all__ = ["person_edit_to_other_tab"]

CHROMIUM = "/usr/bin/chromium"
# The watching tab is not the active one: Chromium's background-tab policies are turned off, so
# the number is the server's and the page's, not the browser's scheduling of hidden tabs.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows"]  # fmt: skip
LOCAL_TILES = ("--tile-url", "http://127.0.0.1:9/{z}/{x}/{y}.png")
WAIT_MS = 10_000

SEEN = """
window.__drawnAt = {};  // version -> when drawn; one event may stand for a burst of versions
window.addEventListener('mapsrv:applied',
  (e) => { window.__drawnAt[e.detail.version] = performance.timeOrigin + performance.now(); });
"""

EDITS = """
async (n) => {
  const { page } = await import('/static/map.js'); // the page's own module
  const sentAt = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const coords = [38.7 + (i % 50) / 1000, -9.1];
    const op = {op: 'update_feature', id: 'probe', coords: coords, label: 'edit ' + i};
    const version = await page.write([op], window.mapsrv.version);
    if (!version) throw new Error('edit ' + i + ' was refused');
    sentAt[version] = t0;
  }
  return sentAt;
}
"""


def drawn_at(drawn: dict[str, float], version: int) -> float:
    """When ``version`` was first drawn: the page settles once a burst of events, so one
    ``mapsrv:applied`` may cover several versions (the first one at or after ``version``)."""
    return min(t for v, t in drawn.items() if int(v) >= version)


async def person_edit_to_other_tab(edits: int = 500) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright
    from support.aio import use_plain_asyncio

    async with open_server(*LOCAL_TILES) as server:

        def drive() -> list[float]:
            use_plain_asyncio()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    context = browser.new_context(base_url=server.url)
                    context.set_default_timeout(WAIT_MS)
                    context.add_init_script(SEEN)
                    writer, watcher = context.new_page(), context.new_page()
                    for page in (writer, watcher):
                        page.goto("/")
                        page.wait_for_function("() => window.mapsrv && window.mapsrv.state === 'live'")
                    map_id = writer.evaluate("document.body.dataset.mapId")
                    probe = {"op": "add_feature", "id": "probe", "type": "marker", "coords": [38.7, -9.1]}
                    version = writer.request.post(f"/m/{map_id}/ops", data={"ops": [probe]}).json()["version"]
                    writer.wait_for_function("(v) => window.mapsrv.version >= v", arg=version)
                    sent = writer.evaluate(EDITS, edits)
                    last = max(int(v) for v in sent)
                    watcher.wait_for_function("(v) => window.mapsrv.version >= v", arg=last)
                    drawn = watcher.evaluate("window.__drawnAt")
                    return [(drawn_at(drawn, int(v)) - t0) / 1000 for v, t0 in sent.items()]
                finally:
                    browser.close()

        samples = await trio.to_thread.run_sync(drive)
    what = f"a person's edit (POST /ops, base_version) -> drawn in another tab, {edits} edits"
    return {"what": what, **percentiles(samples)}
