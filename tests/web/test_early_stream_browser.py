"""The page asks for its map's event stream as its head is parsed (static/early.js, issue 74), and
its stream code takes that response for its first connection: one stream per tab, never a second
one left open beside it, for the owner's page and a view link's alike; what comes later (a change,
a reconnection) is drawn as before. In a real Chromium against a real server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context

pytestmark = pytest.mark.browser

TAKEN = "() => 'mapsrvEarlyStream' in window && window.mapsrvEarlyStream === null"


async def test_a_tab_opens_one_stream_the_one_its_head_asked_for(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES, sse_retry=0.2)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server)
        streams: list[str] = []
        context.on("request", lambda r: streams.append(urlsplit(r.url).path) if "/events" in r.url else None)
        tab = Tab.open(context)
        map_id = tab.map_id
        tab.ops(
            {"op": "add_feature", "id": "pin", "type": "marker", "coords": [60.17, 24.94], "label": "Pin"}
        )
        tab.feature("pin")
        assert tab.page.evaluate(TAKEN), "the stream early.js asked for was taken by stream.js"
        assert streams == [f"/m/{map_id}/events"], streams

        view_path = urlsplit(tab.page.locator("#view-link").get_attribute("href") or "").path
        assert view_path.startswith("/v/"), view_path
        viewer = Tab.open(context, view_path, badge="view-only")
        viewer.feature("pin")
        assert viewer.page.evaluate(TAKEN)
        assert streams == [f"/m/{map_id}/events", f"{view_path}/events"], streams

        tab.ops({"op": "update_feature", "id": "pin", "label": "Moved"})  # on the streams taken
        tab.label("Moved").wait_for()
        viewer.label("Moved").wait_for()
        assert len(streams) == 2, streams
        tab.check_clean()
        viewer.check_clean()

    await in_chromium(body)
