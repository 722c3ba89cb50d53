"""``/maps`` in real Chromium: a person finds the maps they drew, renames one in place, copies
one, and deletes one after a confirmation that "Keep it" cancels; the deleted map's page, open in
another tab, says it was deleted; its links answer with the deleted page. Titles are text, the
page raises no error and breaks no CSP rule. Screenshots in the test artifacts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.server import Server

try:
    from playwright.sync_api import Route
except ImportError:  # pragma: no cover - reported by require() in each test
    pass

pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> Server:
    return await start_server(
        nursery,
        tile_url=TILES,
        store=f"sqlite://{tmp_path}/maps.db",
        rate_writes=0,
        rate_writes_person=0,
        sse_retry=0.2,
    )


async def test_a_person_finds_renames_copies_and_deletes_their_maps(live: Server, tmp_path: Path) -> None:
    def body(chromium: Chromium) -> None:
        context = new_context(chromium, live, viewport={"width": 1100, "height": 800})
        first = Tab.open(context)
        first.ops({"op": "add_feature", "type": "marker", "coords": [38.72, -9.14], "label": "Lisbon"})
        first.ops({"op": "set_title", "title": HOSTILE})
        doomed_id = first.map_id
        made = context.request.post("/new", max_redirects=0)  # the "New map" button's form
        assert made.status == 303
        other = Tab.open(context, made.headers["location"])
        other.ops({"op": "add_feature", "type": "marker", "coords": [41.15, -8.61], "label": "Porto"})
        other.ops({"op": "set_title", "title": "Porto"})

        maps = context.new_page()
        errors: list[str] = []
        maps.on("pageerror", lambda e: errors.append(str(e)))
        maps.goto("/maps")
        maps.wait_for_function("() => document.body.dataset.ready === 'true'")
        cards = maps.locator(".map-card")
        assert cards.count() >= 2
        hostile_card = maps.locator(f'.map-card[data-id="{doomed_id}"]')
        assert hostile_card.locator(".map-card-title").inner_text() == HOSTILE, "the title as text"
        assert maps.evaluate("window.__pwned") is None
        assert "1 feature" in hostile_card.locator(".map-card-meta").inner_text()
        hostile_card.locator("img").wait_for(state="visible")
        maps.wait_for_function(
            "(id) => { const i = document.querySelector(`.map-card[data-id='${id}'] img`);"
            " return i && i.complete && i.naturalWidth === 320; }",
            arg=doomed_id,
        )
        maps.screenshot(path=str(artifact("maps-list.png", tmp_path)))

        porto = maps.locator(".map-card", has_text="Porto").first
        porto.get_by_role("button", name="Rename").click()
        field = porto.locator("input[name=title]")
        field.fill("Porto weekend")
        field.press("Enter")
        maps.wait_for_function("() => document.getElementById('maps-status').textContent.includes('Renamed')")
        assert porto.locator(".map-card-title").inner_text() == "Porto weekend"

        before = cards.count()
        porto.get_by_role("button", name="Duplicate").click()
        maps.wait_for_function("(n) => document.querySelectorAll('.map-card').length === n + 1", arg=before)
        maps.wait_for_function("() => document.body.dataset.ready === 'true'")
        assert maps.locator(".map-card", has_text="Porto weekend (copy)").count() == 1

        # The map's own page is open in another tab while it is deleted; its view page in a third,
        # whose stream is held until after (it hears of the deletion only when it connects).
        watching = Tab.open(context, f"/m/{doomed_id}")
        view_path = urlsplit(str(first.page.request.get(f"/m/{doomed_id}/state").json()["view_url"])).path
        late = context.new_page()
        held: list[Route] = []
        late.route("**/events", lambda route: held.append(route))
        late.goto(view_path)
        card = maps.locator(f'.map-card[data-id="{doomed_id}"]')
        card.get_by_role("button", name="Delete").click()
        dialog = maps.locator("#confirm-delete")
        dialog.wait_for(state="visible")
        assert HOSTILE in dialog.inner_text()
        maps.screenshot(path=str(artifact("maps-delete-dialog.png", tmp_path)))
        dialog.get_by_role("button", name="Keep it").click()
        maps.wait_for_function(
            "() => document.getElementById('maps-status').textContent === 'Nothing was deleted.'"
        )
        assert card.count() == 1, "Keep it keeps it"

        card.get_by_role("button", name="Delete").click()
        dialog.get_by_role("button", name="Delete").click()
        maps.wait_for_function(
            "() => document.getElementById('maps-status').textContent.startsWith('Deleted')"
        )
        assert card.count() == 0
        maps.reload()
        assert maps.locator(f'.map-card[data-id="{doomed_id}"]').count() == 0, "gone from the list for good"

        watching.page.wait_for_function("() => document.body.dataset.gone === 'deleted'")
        watching.wait_badge("gone")  # told by its stream: it does not try again
        assert "deleted" in watching.page.locator("#access-note").inner_text()
        overlay = watching.page.locator("#gone")
        assert overlay.is_visible() and "This map was deleted by its owner" in overlay.inner_text()
        watching.page.screenshot(path=str(artifact("maps-deleted-open-page.png", tmp_path)))
        for route in held:
            route.continue_()
        late.wait_for_function("() => document.body.dataset.gone === 'deleted'")  # its stream heard 410
        assert late.get_by_role("heading", name="This map was deleted by its owner").is_visible()
        watching.check_clean()

        gone = context.new_page()
        response = gone.goto(f"/m/{doomed_id}")
        assert response is not None and response.status == 410
        assert "This map was deleted" in gone.locator("h1").inner_text()
        assert errors == [] and maps.evaluate("window.__csp") == []
        context.close()

    await in_chromium(body)
