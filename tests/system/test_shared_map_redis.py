"""Undo per actor across two ``mapsrv serve`` processes on one real redis-server: the person's page
(real Chromium) on one process, the agent's MCP session (the SDK's client) on the other. Each undo
takes back only its actor's own last change, on both processes and in the page."""

from __future__ import annotations

import pytest
from support import Browser, RedisServer, open_server, wait_until
from support.agents import TrioBridge, agent, call, cookies_of
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context

pytestmark = pytest.mark.browser
LISBON = {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False}


async def test_agent_undo_and_person_undo_each_take_back_their_own(redis_server: RedisServer) -> None:
    store = ("--store", redis_server.url, "--tile-url", TILES)
    async with (
        open_server(*store) as a,
        open_server(*store) as b,
        agent(b.url + "mcp", "claude-ai") as claude,
    ):
        bridge = TrioBridge()
        browsers: list[Browser] = []

        async def everywhere(map_id: str, ids: set[str]) -> None:
            """Both processes, asked as the person, have exactly ``ids`` on the map."""

            async def both() -> bool:
                states = [await browser.state(map_id) for browser in browsers]
                return all({f["id"] for f in s["features"]} == ids for s in states)

            await wait_until(both)

        def body(chromium: Chromium) -> None:
            context = new_context(chromium, a, viewport={"width": 1100, "height": 720})  # type: ignore[arg-type]
            tab = Tab.open(context)
            page, map_id = tab.page, tab.map_id
            tab.ops(LISBON)
            jar = cookies_of(context)
            browsers.extend([Browser(a.url, jar), Browser(b.url, jar)])
            road = {"type": "route", "points": [[38.70, -9.20], [38.71, -9.10]], "id": "road"}
            bridge.run(lambda: call(claude, "draw", map_id=map_id, items=[road]))
            bridge.run(
                lambda: call(claude, "draw", map_id=map_id, items=[{"at": [38.715, -9.13], "id": "cafe"}])
            )
            tab.feature("road")
            tab.feature("cafe", "marker")
            agents = set(page.evaluate("window.mapsrv.featureIds()"))
            assert agents >= {"road", "cafe"}  # a route is a line and a marker at each end
            page.keyboard.press("m")  # the person's marker, at the crosshair
            page.keyboard.press("Enter")
            page.wait_for_function("(n) => window.mapsrv.featureIds().length === n", arg=len(agents) + 1)
            [mine] = set(page.evaluate("window.mapsrv.featureIds()")) - agents
            roads = agents - {"cafe"}
            page.locator("#editor").wait_for()  # it opens once the marker is written
            page.keyboard.press("Escape")  # closes the editor: Ctrl+Z in its fields is the field's own
            page.locator("#editor").wait_for(state="hidden")
            bridge.run(everywhere, map_id, agents | {mine})

            undone = bridge.run(lambda: call(claude, "undo", map_id=map_id))
            assert "undid" in undone["summary"], undone
            tab.gone("cafe")
            bridge.run(everywhere, map_id, roads | {mine})
            page.locator(".activity-item", has_text="undid").filter(has_text="claude-ai").wait_for()

            page.keyboard.press("Control+z")
            tab.gone(mine)
            bridge.run(everywhere, map_id, roads)
            assert set(page.evaluate("window.mapsrv.featureIds()")) == roads
            seen = bridge.run(lambda: call(claude, "changes", map_id=map_id, since=undone["version"]))
            [theirs] = seen["changes"]  # what the agent on B reads of the person's undo on A
            assert (
                theirs["by"]["id"].startswith("person:")
                and theirs.get("undoes")
                and theirs["removed"] == [mine]
            )
            tab.check_clean()

        try:
            await in_chromium(body)
        finally:
            for browser in browsers:
                await browser.aclose()


async def test_a_persons_undo_on_the_other_process_takes_back_their_change(redis_server: RedisServer) -> None:
    """One person, two processes behind a balancer: the edit lands on A, the undo on B."""
    store = ("--store", redis_server.url)
    async with (
        open_server(*store) as a,
        open_server(*store) as b,
        agent(b.url + "mcp", "claude-ai") as claude,
    ):
        here = Browser(a.url)
        map_id = await here.new_map()
        there = Browser(b.url, here.client.cookies)
        pin = {"op": "add_feature", "id": "pin", "type": "marker", "coords": [1, 2]}
        first = (await here.ops(map_id, pin)).json()["version"]
        await call(claude, "draw", map_id=map_id, items=[{"at": [3, 4], "id": "cafe"}])

        async def b_knows_both() -> bool:
            return {f["id"] for f in (await there.state(map_id))["features"]} == {"pin", "cafe"}

        await wait_until(b_knows_both)
        undone = await there.client.post(f"/m/{map_id}/undo", json={})
        assert undone.status_code == 200, undone.text
        assert [f["id"] for f in (await there.state(map_id))["features"]] == ["cafe"]
        past = (await there.client.get(f"/m/{map_id}/state", params={"at": first})).json()
        assert [f["id"] for f in past["features"]] == ["pin"], "B replays history written on A"
        for browser in (here, there):
            await browser.aclose()
