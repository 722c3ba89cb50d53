"""A person draws and edits in a real Chromium: by mouse, by keyboard alone, by dragging; two tabs
editing one marker; undo that takes back only the person's own change; notes; history replay.
What the page did is read back from the server (``/state``, ``hub.changes_since``), attributed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.core.history import agent_actor
from mapsrv.core.parse import parse_ops
from mapsrv.server import Server

pytestmark = pytest.mark.browser
LISBON = {"op": "set_view", "center": [38.72, -9.14], "zoom": 13, "animate": False}
VIEWPORT = {"width": 1100, "height": 720}


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def open_tab(chromium: Chromium, live: Server) -> Tab:
    tab = Tab.open(new_context(chromium, live, viewport=VIEWPORT))
    version = tab.ops(LISBON)
    wait_version(tab, version)
    return tab


def wait_version(tab: Tab, version: int) -> None:
    tab.page.wait_for_function("(v) => window.mapsrv.version >= v", arg=version)


def state(tab: Tab) -> dict[str, Any]:
    response = tab.page.request.get(f"/m/{tab.map_id}/state")
    assert response.status == 200
    return dict(response.json())


def wait_features(tab: Tab, count: int) -> list[str]:
    tab.page.wait_for_function("(n) => window.mapsrv.featureIds().length === n", arg=count)
    return list(tab.page.evaluate("window.mapsrv.featureIds()"))


def at_point(tab: Tab, lat: float, lon: float) -> tuple[float, float]:
    """Where a [lat, lon] is on the page (the map fills the viewport from its top-left corner)."""
    x, y = tab.page.evaluate("([a, b]) => { const p = window.mapsrv.map.latLngToContainerPoint([a, b]);"
                             " return [p.x, p.y]; }", [lat, lon])  # fmt: skip
    return float(x), float(y)


def person_changes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc.get("activity", []) if c["by"]["id"].startswith("person:")]


async def test_a_person_draws_an_area_by_mouse_and_it_is_theirs(live: Server, tmp_path: Path) -> None:
    drawing, drawn = artifact("page-drawing.png", tmp_path), artifact("page-drawn.png", tmp_path)

    def body(chromium: Chromium) -> str:
        tab = open_tab(chromium, live)
        page = tab.page
        page.get_by_role("button", name="Line").click()
        page.mouse.click(300, 300)
        page.keyboard.press("Escape")  # cancels the line: nothing is written
        assert page.evaluate("window.mapsrv.tool") is None
        assert page.get_by_role("button", name="Line").get_attribute("aria-pressed") == "false"
        page.get_by_role("button", name="Area").click()
        page.mouse.click(420, 260)
        page.mouse.click(640, 280)
        page.mouse.move(560, 430)
        page.screenshot(path=str(drawing), animations="disabled")
        page.mouse.dblclick(520, 460)
        [fid] = wait_features(tab, 1)
        tab.feature(fid, "polygon")
        page.locator("#editor-label").fill("Park")
        page.locator("#editor-popup").fill("Picnic here")
        page.get_by_role("button", name="Save").click()
        tab.label("Park").wait_for()
        doc = state(tab)
        [area] = doc["features"]
        assert area["type"] == "polygon" and len(area["coords"]) == 3 and area["popup"] == "Picnic here"
        mine = person_changes(doc)
        assert len(mine) >= 2 and {c["by"]["name"] for c in mine} == {"Chrome on Linux"}, mine
        assert page.locator(".activity-item").first.locator(".activity-who").inner_text() == "you"
        page.screenshot(path=str(drawn), animations="disabled")
        tab.check_clean()
        return tab.map_id

    map_id = await in_chromium(body)
    changes = (await live.hub.changes_since(map_id, 0))["changes"]  # what the agent's tool reads
    added = [c for c in changes if c["added"]]
    assert (
        added and added[-1]["by"]["name"] == "Chrome on Linux" and added[-1]["by"]["id"].startswith("person:")
    )


async def test_a_marker_by_keyboard_alone(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = open_tab(chromium, live)
        page = tab.page
        page.keyboard.press("m")  # the marker tool; the map takes the focus
        assert page.get_by_role("button", name="Marker").get_attribute("aria-pressed") == "true"
        page.keyboard.press("ArrowRight")  # pans the map: the crosshair is somewhere else now
        page.keyboard.press("Enter")  # a marker at the crosshair
        [fid] = wait_features(tab, 1)
        page.wait_for_function("() => document.activeElement.id === 'editor-label'")
        page.keyboard.type("Hotel")
        page.keyboard.press("Enter")  # submits the editor
        tab.label("Hotel").wait_for()
        [marker] = state(tab)["features"]
        assert marker["type"] == "marker" and marker["label"] == "Hotel"
        for _ in range(40):  # Tab through the page to the marker, select it, delete it
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.featureId") == fid:
                break
        else:
            raise AssertionError("the marker never got the keyboard focus")
        before = page.evaluate("window.mapsrv.version")
        page.keyboard.press("Shift+ArrowRight")  # moves the focused marker 50 px east
        page.wait_for_function("(v) => window.mapsrv.version > v", arg=before)
        assert state(tab)["features"][0]["coords"][1] > marker["coords"][1]
        page.keyboard.press("Enter")
        page.locator("#editor").wait_for()
        page.keyboard.press("Delete")
        tab.gone(fid)
        assert state(tab)["features"] == []
        tab.check_clean()

    await in_chromium(body)


async def test_dragging_a_marker_and_a_vertex_moves_them(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        tab = open_tab(chromium, live)
        page = tab.page
        version = tab.ops(
            {"op": "add_feature", "id": "pin", "type": "marker", "coords": [38.72, -9.14]},
            {
                "op": "add_feature",
                "id": "road",
                "type": "polyline",
                "coords": [[38.70, -9.18], [38.71, -9.16]],
            },
        )
        wait_version(tab, version)
        box = tab.feature("pin", "marker").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y + 10, steps=6)
        page.mouse.move(x + 120, y + 20, steps=6)
        page.mouse.up()
        page.wait_for_function("(v) => window.mapsrv.version > v", arg=version)
        lat, lon = next(f for f in state(tab)["features"] if f["id"] == "pin")["coords"]
        assert lon > -9.14 + 0.005 and lat < 38.72, "moved right and down"

        tab.feature("road", "polyline").click(force=True)  # select: a handle per vertex
        handles = page.locator(".mapsrv-handle")
        assert handles.count() == 2
        hx, hy = at_point(tab, 38.70, -9.18)
        before = page.evaluate("window.mapsrv.version")
        page.mouse.move(hx, hy)
        page.mouse.down()
        page.mouse.move(hx, hy - 80, steps=8)
        page.mouse.up()
        page.wait_for_function("(v) => window.mapsrv.version > v", arg=before)
        road = next(f for f in state(tab)["features"] if f["id"] == "road")
        assert road["coords"][0][0] > 38.705 and road["coords"][1] == [38.71, -9.16], road["coords"]
        tab.check_clean()

    await in_chromium(body)


async def test_two_tabs_editing_one_marker_lose_nothing_silently(live: Server, tmp_path: Path) -> None:
    shot = artifact("page-conflict.png", tmp_path)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        first = Tab.open(context)
        second = Tab.open(context)
        assert first.map_id == second.map_id
        # left of the view's centre: at -9.1 the side panel (its activity list grown by the add)
        # covered all but the pin's tip, and a click waited for it or missed the marker
        marker = {
            "op": "add_feature",
            "id": "m",
            "type": "marker",
            "coords": [38.72, -9.17],
            "label": "Start",
        }
        version = first.ops(LISBON, marker)
        for tab in (first, second):
            wait_version(tab, version)
            tab.feature("m", "marker").click()
            tab.page.locator("#editor").wait_for()
        first.page.locator("#editor-label").fill("From the first tab")
        first.page.get_by_role("button", name="Save").click()
        second.wait_label("m", "From the first tab")  # the second tab sees it live (under its panel)...
        second.page.locator("#editor-label").fill("From the second tab")
        second.page.get_by_role("button", name="Save").click()  # ...but its edit began before
        dialog = second.page.get_by_role("alertdialog")
        dialog.wait_for()
        text = dialog.inner_text()
        assert "Changed while you were editing" in text and "you, in another tab" in text, text
        assert "Yours would label it “From the second tab”" in text, text
        second.page.screenshot(path=str(shot), animations="disabled")
        assert [f["label"] for f in state(second)["features"]] == ["From the first tab"], (
            "nothing overwritten"
        )
        second.page.get_by_role("button", name="Apply mine anyway").click()
        first.wait_label("m", "From the second tab")
        second.page.locator("#toast", has_text="Saved").wait_for()
        assert not second.page.locator("#editor").is_visible()
        assert [f["label"] for f in state(first)["features"]] == ["From the second tab"]
        summaries = [c["summary"] for c in person_changes(state(first))]
        assert len(summaries) == 3, summaries  # the add (by the API), both edits: each one recorded
        first.check_clean()
        second.check_clean()

    await in_chromium(body)


async def test_undo_takes_back_only_the_persons_change(live: Server) -> None:
    ready: dict[str, str] = {}
    opened, agent_done = trio.Event(), trio.Event()

    def body(chromium: Chromium, token: trio.lowlevel.TrioToken) -> None:
        tab = open_tab(chromium, live)
        page = tab.page
        page.keyboard.press("m")
        page.keyboard.press("Enter")
        [mine] = wait_features(tab, 1)
        page.keyboard.press("Escape")  # closes the editor
        ready["map"] = tab.map_id
        trio.from_thread.run_sync(opened.set, trio_token=token)
        trio.from_thread.run(agent_done.wait, trio_token=token)
        tab.feature("road", "polyline")
        page.locator(".activity-who", has_text="claude-ai").wait_for()
        page.get_by_role("button", name="Undo").click()
        tab.gone(mine)
        ids = {f["id"] for f in state(tab)["features"]}
        assert ids == {"road"}, "the agent's road stays"
        page.keyboard.press("Control+Shift+Z")
        tab.feature(mine, "marker")
        page.keyboard.press("Control+z")
        tab.gone(mine)
        page.keyboard.press("Control+z")  # nothing more of the person's to undo
        page.locator("#toast", has_text="Nothing of yours to undo").wait_for()
        assert {f["id"] for f in state(tab)["features"]} == {"road"}
        tab.check_clean()

    async def agent() -> None:
        await opened.wait()
        ops, _ = parse_ops(
            {
                "ops": [
                    {
                        "op": "add_feature",
                        "id": "road",
                        "type": "polyline",
                        "coords": [[38.7, -9.2], [38.71, -9.1]],
                    }
                ]
            },
            live.hub.limits,
        )
        await live.hub.apply(ready["map"], ops, actor=agent_actor("claude-ai", "session-1"))
        agent_done.set()

    token = trio.lowlevel.current_trio_token()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent)
        await in_chromium(lambda chromium: body(chromium, token))


async def test_a_note_for_the_agent(live: Server) -> None:
    def body(chromium: Chromium) -> str:
        tab = open_tab(chromium, live)
        page = tab.page
        page.get_by_role("button", name="Note").click()
        page.mouse.click(560, 380)
        wait_features(tab, 1)
        page.wait_for_function("() => document.activeElement.id === 'editor-popup'")
        page.keyboard.type("Put the hotel here, near the river please")
        page.get_by_role("button", name="Save").click()
        page.locator("#editor").wait_for(state="hidden")
        [note] = state(tab)["features"]
        assert note["layer"] == "notes" and note["style"]["symbol"] == "📝"
        assert note["popup"] == "Put the hotel here, near the river please"
        assert note["label"] == "Put the hotel here, near the river please"[:40]
        assert "notes" in page.evaluate("window.mapsrv.layerIds()")
        tab.check_clean()
        return tab.map_id

    map_id = await in_chromium(body)
    changes = (await live.hub.changes_since(map_id, 0))["changes"]
    assert any(c.get("notes") for c in changes), changes


async def test_history_replay_is_read_only_and_returns_to_live(live: Server, tmp_path: Path) -> None:
    shot = artifact("page-history.png", tmp_path)

    def body(chromium: Chromium) -> None:
        tab = open_tab(chromium, live)
        page = tab.page
        first = tab.ops({"op": "add_feature", "id": "one", "type": "marker", "coords": [38.72, -9.14]})
        last = tab.ops({"op": "add_feature", "id": "two", "type": "marker", "coords": [38.71, -9.15]})
        wait_version(tab, last)
        page.keyboard.press("h")
        page.locator("#replay").wait_for()
        slider = page.locator("#replay-range")
        slider.fill(str(first))  # the map as it was after the first marker
        page.locator("#replay-status", has_text=f"Version {first} of {last}").wait_for()
        page.wait_for_function("() => document.querySelectorAll('[data-feature-id]').length === 1")
        assert page.locator('[data-feature-id="one"]').count() == 1
        page.screenshot(path=str(shot), animations="disabled")
        page.keyboard.press("Escape")  # focus on the slider: Escape is "back to live"
        page.locator("#replay").wait_for(state="hidden")
        tab.feature("two", "marker")
        page.keyboard.press("h")
        page.locator("#replay").wait_for()
        page.locator("body").press("m")  # drawing is off while replaying
        assert page.evaluate("window.mapsrv.tool") is None
        page.get_by_role("button", name="Back to live").click()
        page.locator("#replay").wait_for(state="hidden")
        assert sorted(page.evaluate("window.mapsrv.featureIds()")) == ["one", "two"]
        tab.check_clean()

    await in_chromium(body)


async def test_a_marker_by_touch(live: Server, tmp_path: Path) -> None:
    shot = artifact("page-touch.png", tmp_path)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport={"width": 420, "height": 760}, has_touch=True)
        tab = Tab.open(context)
        version = tab.ops(LISBON)
        wait_version(tab, version)
        page = tab.page
        page.get_by_role("button", name="Marker").tap()
        page.touchscreen.tap(200, 420)
        [fid] = wait_features(tab, 1)
        tab.feature(fid, "marker")
        page.locator("#editor").wait_for()
        page.screenshot(path=str(shot), animations="disabled")
        page.get_by_role("button", name="Close").tap()
        [marker] = state(tab)["features"]
        assert marker["type"] == "marker"
        tab.check_clean()

    await in_chromium(body)


async def test_a_drag_that_crosses_another_tabs_move_asks_and_can_keep_theirs(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport=VIEWPORT)
        first, second = Tab.open(context), Tab.open(context)
        pin = {"op": "add_feature", "id": "m", "type": "marker", "coords": [38.72, -9.14]}
        version = first.ops(LISBON, pin)
        wait_version(second, version)
        page = second.page
        box = second.feature("m", "marker").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 40, y, steps=4)  # the drag has begun: its base is `version`
        theirs = [38.73, -9.12]
        moved = first.ops({"op": "update_feature", "id": "m", "coords": theirs, "label": "Theirs"})
        wait_version(second, moved)  # arrives mid-drag: held, not drawn under the pointer
        page.mouse.move(x + 90, y + 30, steps=4)
        page.mouse.up()
        dialog = page.get_by_role("alertdialog")
        dialog.wait_for()
        assert "Yours would move it." in dialog.inner_text()
        page.get_by_role("button", name="Keep theirs").click()
        second.wait_label("m", "Theirs")
        [marker] = state(second)["features"]
        assert marker["coords"] == theirs
        tx, _ = at_point(second, *theirs)
        box = second.feature("m", "marker").bounding_box()
        assert box is not None and abs(box["x"] + box["width"] / 2 - tx) < 3, (box, tx)
        first.check_clean()
        second.check_clean()

    await in_chromium(body)
