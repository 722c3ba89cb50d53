"""README's quick start, as a newcomer follows it: ``mapsrv serve``, open the printed URL in
Chromium, copy the MCP configuration from the empty map's card, connect the SDK's client with
exactly that URL, and draw with the map code from the card's prompt; then the person edits what the
agent drew, and the activity list shows both (a screenshot is kept)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import open_server
from support.agents import TrioBridge, agent, call
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

pytestmark = pytest.mark.browser
VIEWPOINTS = [
    {"at": [38.7193, -9.1324], "label": "Senhora do Monte", "id": "monte"},
    {"at": [38.7153, -9.1305], "label": "Graça", "id": "graca"},
    {"at": [38.7116, -9.1300], "label": "Santa Luzia", "id": "luzia"},
]


def readme_http_config(base: str) -> dict[str, Any]:
    """The README's MCP configuration for clients over HTTP, for a server at ``base``."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", readme, re.S)
    [block] = [b for b in blocks if '"mcpServers"' in b and '"url"' in b]  # not add_layer's examples
    return dict(json.loads(block.replace("http://127.0.0.1:8000/", base)))


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def graca_is(page: Any, label: str) -> None:
    """Until the one label of the Graça marker reads ``label`` (a replaced label fades out first)."""
    texts = "[...document.querySelectorAll('.mapsrv-label-text')].map((e) => e.textContent)"
    page.wait_for_function(f"(l) => {texts}.filter((t) => t.startsWith('Graça')).join('|') === l", arg=label)


async def test_the_quick_start_as_a_newcomer_follows_it(tmp_path: Path) -> None:
    shot = artifact("shared-map-activity.png", tmp_path)
    async with open_server("--tile-url", TILES) as server:
        bridge = TrioBridge()

        async def assistant(url: str, prompt: str) -> None:
            """What an assistant given the card's config and prompt does: the map code is in the prompt."""
            [code] = re.findall(r"Draw on my map (\S+):", prompt)
            async with agent(url, "claude-ai", mode="auto") as claude:
                route = {"type": "route", "points": [v["at"] for v in VIEWPOINTS], "label": "Walk"}
                drawn = await call(
                    claude, "draw", map_id=code, items=[*VIEWPOINTS, route], title="Lisbon views"
                )
                assert drawn["version"] >= 1

        def body(chromium: Chromium) -> None:
            context = new_context(chromium, server, viewport={"width": 1280, "height": 800})  # type: ignore[arg-type]
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            tab = Tab.open(context)
            page = tab.page
            card = page.locator("#help")
            card.wait_for()
            assert "This map is empty" in card.inner_text()
            page.get_by_role("button", name="Copy the MCP configuration").click()
            config = json.loads(page.evaluate("navigator.clipboard.readText()"))
            url = config["mcpServers"]["mapsrv"]["url"]
            assert url == server.url + "mcp", config
            assert config == readme_http_config(server.url), "the card and the README give one config"
            page.get_by_role("button", name="Copy the prompt").click()
            prompt = page.evaluate("navigator.clipboard.readText()")
            assert tab.map_id in prompt
            bridge.run(assistant, url, prompt)
            card.wait_for(state="hidden")  # the map is not empty any more
            tab.feature("graca", "marker").click()  # the person renames one of the agent's points
            page.locator("#editor-label").fill("Graça (best at sunset)")
            page.get_by_role("button", name="Save").click()
            tab.label("Graça (best at sunset)").wait_for()
            page.locator("#editor").wait_for(state="hidden")
            who = page.locator(".activity-who")
            who.filter(has_text="claude-ai").first.wait_for()
            assert who.first.inner_text() == "you"
            walk, graca = tab.label("Walk").bounding_box(), tab.feature("graca").bounding_box()
            assert walk and graca and not overlap(walk, graca), "the route's label hides no stop"
            redo = page.get_by_role("button", name="Redo")
            assert redo.is_disabled(), "nothing of the person's to redo yet"
            page.screenshot(path=str(shot), animations="disabled")
            page.get_by_role("button", name="Undo").click()
            graca_is(page, "Graça")
            page.wait_for_function("() => !document.getElementById('redo').disabled")
            redo.click()
            graca_is(page, "Graça (best at sunset)")
            page.wait_for_function("() => document.getElementById('redo').disabled")
            tab.check_clean()

        await in_chromium(body)
