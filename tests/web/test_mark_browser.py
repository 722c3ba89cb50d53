"""``select``'s mark seen in a real Chromium: an agent (the SDK's client) selects the stores in a
zone with ``mark: true`` and the page of the person watching outlines each in gold over its own
shape (the zone and the stores keep their own colours); the next mark replaces it, ``undo`` takes
it back and ``mark: false`` clears it."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from mcp import Client
from support import start_server
from support.agents import call
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context

from mapsrv.mcp.tools.marking import MARK_STYLE
from mapsrv.server import Server

pytestmark = pytest.mark.browser
GOLD = dict(MARK_STYLE)["color"]
OUTLINES = f'[data-feature-id][stroke="{GOLD}"]'


def add(fid: str, ftype: str, coords: Any, **fields: Any) -> dict[str, Any]:
    return {"op": "add_feature", "id": fid, "type": ftype, "coords": coords, **fields}


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


async def test_a_mark_is_outlined_for_the_person_watching_and_undone(live: Server) -> None:
    async with Client(live.url + "mcp") as agent:

        def select(**arguments: Any) -> dict[str, Any]:
            return trio.from_thread.run(lambda: call(agent, "select", **arguments))

        def body(chromium: Chromium) -> None:
            tab = Tab.open(new_context(chromium, live))
            page = tab.page
            tab.ops(
                {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False},
                add("zone", "polygon", [[38.70, -9.17], [38.74, -9.17], [38.74, -9.11], [38.70, -9.11]],
                    style={"color": "#dc2626"}),
                add("a", "marker", [38.72, -9.15], style={"color": "#2563eb"}),
                add("b", "marker", [38.71, -9.12], style={"color": "#2563eb"}),
                add("out", "marker", [38.76, -9.14]),
            )  # fmt: skip
            tab.feature("out")
            map_id = tab.map_id  # read here: the lambdas below run in trio's thread
            marked = select(map_id=map_id, within="zone", mark=True)
            assert {f["id"] for f in marked["features"]} == {"a", "b"} and marked["marked"] == 2
            page.wait_for_function("(s) => document.querySelectorAll(s).length === 2", arg=OUTLINES)
            outline = page.locator(OUTLINES).first
            assert outline.get_attribute("stroke-dasharray") == dict(MARK_STYLE)["dash"]
            assert outline.get_attribute("fill-opacity") == "0"
            assert tab.feature("zone").get_attribute("stroke") == "#dc2626"  # its own style stays
            assert tab.feature("a").get_attribute("stroke") == "#2563eb"

            select(map_id=map_id, near=[38.72, -9.15], nearest=3, mark=True)  # replaces it
            page.wait_for_function("(s) => document.querySelectorAll(s).length === 3", arg=OUTLINES)
            trio.from_thread.run(lambda: call(agent, "undo", map_id=map_id))
            page.wait_for_function("(s) => document.querySelectorAll(s).length === 2", arg=OUTLINES)
            cleared = select(map_id=map_id, within="zone", mark=False)
            assert cleared["marked"] == 0
            page.wait_for_function("(s) => document.querySelectorAll(s).length === 0", arg=OUTLINES)
            tab.feature("zone")
            tab.check_clean()

        await in_chromium(body)
