"""A person in the page and an agent over MCP on one map, with every part real: Chromium through
Playwright, the SDK's clients on the server's socket. What the person draws reaches the agent,
attributed, through ``changes`` and a notification in each protocol era; a note reaches it with its
text; an agent's write based on an old version conflicts with the person's edit of the same marker
and names it, and goes through on another one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from support import start_server, wait_until
from support.agents import Notified, TrioBridge, agent, call, failing, get_stream_open, subscribe
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.server import Server

pytestmark = pytest.mark.browser
LISBON = {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False}
VIEWPORT = {"width": 1100, "height": 720}
PERSON = "Chrome on Linux"


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def open_tab(chromium: Chromium, live: Server) -> Tab:
    tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
    version = tab.ops(LISBON)
    tab.page.wait_for_function("(v) => window.mapsrv.version >= v", arg=version)
    return tab


def wait_features(tab: Tab, count: int) -> list[str]:
    tab.page.wait_for_function("(n) => window.mapsrv.featureIds().length === n", arg=count)
    return list(tab.page.evaluate("window.mapsrv.featureIds()"))


def by(change: dict[str, Any]) -> tuple[str, str]:
    return change["by"]["id"].split(":")[0], change["by"]["name"]


async def test_what_a_person_draws_reaches_the_agent_in_each_era(live: Server) -> None:
    old, new = Notified(), Notified()  # the 2025-11-25 session's, the 2026-07-28 listen's

    async with (
        agent(live.url + "mcp", "claude-ai", message_handler=old) as session,
        agent(live.url + "mcp", "claude-code", mode="2026-07-28") as stateless,
        trio.open_nursery() as nursery,
    ):
        assert session.protocol_version == "2025-11-25" and stateless.protocol_version == "2026-07-28"
        # a request now: a session that sends none within --mcp-handshake-timeout of its initialize
        # is closed, and Chromium's start may take that long on a busy machine
        await session.send_ping()

        async def watch(map_id: str) -> None:
            await subscribe(session, f"map://{map_id}")
            await wait_until(lambda: get_stream_open(live))
            await nursery.start(new.serve_listen, stateless, f"map://{map_id}")

        async def notified(count: int) -> None:
            await old.wait_for(count)
            await new.wait_for(count)

        async def changes(client: Any, map_id: str, since: int) -> list[dict[str, Any]]:
            return list((await call(client, "changes", map_id=map_id, since=since))["changes"])

        def body(chromium: Chromium) -> None:
            tab = open_tab(chromium, live)
            page, map_id = tab.page, tab.map_id
            trio_.run(watch, map_id)
            since = page.evaluate("window.mapsrv.version")
            page.get_by_role("button", name="Area").click()
            page.mouse.click(420, 260)
            page.mouse.click(640, 280)
            page.mouse.dblclick(520, 460)
            [area] = wait_features(tab, 1)
            page.locator("#editor-label").fill("Park")
            page.get_by_role("button", name="Save").click()
            tab.label("Park").wait_for()
            trio_.run(notified, 2)  # the area, then its label: one notification each, in each era
            assert set(old.uris) == set(new.uris) == {f"map://{map_id}"}
            for client in (session, stateless):
                seen = trio_.run(changes, client, map_id, since)
                assert [by(c) for c in seen] == [("person", PERSON)] * 2, seen
                assert seen[0]["added"] == [area] and seen[1]["changed"] == [area]
                assert "mine" not in seen[0]

            since = page.evaluate("window.mapsrv.version")
            page.get_by_role("button", name="Note").click()
            page.mouse.click(560, 380)
            page.wait_for_function("() => document.activeElement.id === 'editor-popup'")
            page.keyboard.type("put the hotel here")
            page.get_by_role("button", name="Save").click()
            page.locator("#editor").wait_for(state="hidden")
            trio_.run(notified, 3)
            for client in (session, stateless):
                seen = trio_.run(changes, client, map_id, since)
                assert {by(c) for c in seen} == {("person", PERSON)}, seen
                texts = [n["text"] for c in seen for n in c.get("notes", [])]
                assert "put the hotel here" in texts, seen
            trio_.run(notified, 4)  # placed, then its text: two writes

            since = page.evaluate("window.mapsrv.version")
            page.keyboard.press("Control+z")  # the person takes back the note's text
            page.wait_for_function("(v) => window.mapsrv.version > v", arg=since)  # the undo, drawn
            trio_.run(notified, 5)
            for client in (session, stateless):
                [undone] = trio_.run(changes, client, map_id, since)
                assert by(undone) == ("person", PERSON) and undone.get("undoes"), undone
            tab.check_clean()

        trio_ = TrioBridge()
        await in_chromium(body)
        nursery.cancel_scope.cancel()


async def test_an_agents_old_base_conflicts_with_the_persons_edit_of_that_marker(live: Server) -> None:
    async with agent(live.url + "mcp", "claude-ai") as claude:
        bridge = TrioBridge()

        def body(chromium: Chromium) -> None:
            tab = open_tab(chromium, live)
            page, map_id = tab.page, tab.map_id
            items = [{"at": [38.72, -9.14], "label": "Hotel", "id": "hotel"},
                     {"at": [38.71, -9.15], "label": "Cafe", "id": "cafe"}]  # fmt: skip
            base = bridge.run(lambda: call(claude, "draw", map_id=map_id, items=items))["version"]
            tab.feature("hotel", "marker").click()  # the person relabels the agent's hotel
            page.locator("#editor-label").fill("Hotel by the river")
            page.get_by_role("button", name="Save").click()
            tab.label("Hotel by the river").wait_for()
            edited = page.evaluate("window.mapsrv.version")

            recolour = [{"id": "hotel", "color": "red"}]
            text, error = bridge.run(
                lambda: failing(claude, "edit", map_id=map_id, changes=recolour, base_version=base)
            )
            assert text.startswith("edit_conflict: ") and PERSON in text, text
            assert "Hotel by the river" in text and f"base_version={edited}" in text, text
            assert [by(c) for c in error["changes"]] == [("person", PERSON)]
            assert error["changes"][0]["changed"] == ["hotel"] and error["current_version"] == edited
            other = [{"id": "cafe", "label": "Café"}]
            done = bridge.run(lambda: call(claude, "edit", map_id=map_id, changes=other, base_version=base))
            assert done["version"] == edited + 1, "another marker, same base: it goes through"
            tab.label("Café").wait_for()
            assert tab.label("Hotel by the river").count() == 1, "the person's edit stands"
            tab.check_clean()

        await in_chromium(body)


async def test_a_map_the_agent_made_is_opened_by_its_button_and_edited_in_the_page(live: Server) -> None:
    async with agent(live.url + "mcp", "claude-ai", mode="auto") as claude:
        drawn = await call(claude, "draw", items=[{"at": [38.72, -9.14], "id": "hotel", "label": "Hotel"}])
        bridge = TrioBridge()

        def body(chromium: Chromium) -> None:
            context = new_context(chromium, live, viewport=VIEWPORT)
            page = context.new_page()
            page.goto(drawn["url"])
            page.get_by_role("button", name="Open this map here").click()
            tab = Tab(page)
            tab.wait_badge("live")
            assert tab.map_id == drawn["map_id"]
            tab.feature("hotel", "marker").click()
            page.locator("#editor-label").fill("Hotel by the river")
            page.get_by_role("button", name="Save").click()
            tab.label("Hotel by the river").wait_for()
            seen = bridge.run(lambda: call(claude, "changes", map_id=drawn["map_id"], since=drawn["version"]))
            assert [by(c) for c in seen["changes"]] == [("person", PERSON)], seen
            tab.check_clean()

        await in_chromium(body)


async def test_the_persons_edit_on_an_old_base_asks_naming_the_agent(live: Server, tmp_path: Path) -> None:
    shot = artifact("shared-map-conflict-with-agent.png", tmp_path)
    async with agent(live.url + "mcp", "claude-ai") as claude:
        bridge = TrioBridge()

        def body(chromium: Chromium) -> None:
            tab = open_tab(chromium, live)
            page, map_id = tab.page, tab.map_id
            hotel = [{"at": [38.72, -9.14], "label": "Hotel", "id": "hotel"}]
            bridge.run(lambda: call(claude, "draw", map_id=map_id, items=hotel))
            tab.feature("hotel", "marker").click()
            page.locator("#editor").wait_for()
            renamed = [{"id": "hotel", "label": "Hotel Lisboa"}]
            bridge.run(lambda: call(claude, "edit", map_id=map_id, changes=renamed))
            tab.label("Hotel Lisboa").wait_for()  # live, while the person's editor is open
            page.locator("#editor-label").fill("Hotel by the river")
            page.get_by_role("button", name="Save").click()
            dialog = page.get_by_role("alertdialog")
            dialog.wait_for()
            assert "claude-ai" in dialog.inner_text(), dialog.inner_text()
            page.screenshot(path=str(shot), animations="disabled")
            page.get_by_role("button", name="Keep theirs").click()
            dialog.wait_for(state="hidden")
            read = bridge.run(lambda: call(claude, "read", map_id=map_id))
            assert [f["label"] for f in read["latest"]] == ["Hotel Lisboa"], "the agent's edit stands"
            tab.check_clean()

        await in_chromium(body)


async def test_the_agents_undo_refuses_to_take_back_what_the_person_changed_since(live: Server) -> None:
    async with agent(live.url + "mcp", "claude-ai") as claude:
        bridge = TrioBridge()

        def body(chromium: Chromium) -> None:
            tab = open_tab(chromium, live)
            page, map_id = tab.page, tab.map_id
            hotel = [{"at": [38.72, -9.14], "label": "Hotel", "id": "hotel"}]
            bridge.run(lambda: call(claude, "draw", map_id=map_id, items=hotel))
            tab.feature("hotel", "marker").click()
            page.locator("#editor-label").fill("Hotel by the river")
            page.get_by_role("button", name="Save").click()
            tab.label("Hotel by the river").wait_for()
            text, error = bridge.run(lambda: failing(claude, "undo", map_id=map_id))
            assert text.startswith("edit_conflict: ") and PERSON in text, text
            assert [by(c) for c in error["changes"]] == [("person", PERSON)]
            assert tab.label("Hotel by the river").count() == 1, "the person's edit stands"
            tab.check_clean()

        await in_chromium(body)
