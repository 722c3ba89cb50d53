"""The page's search box for places and addresses: the server's one resolver answers
``GET <map>/places`` (``mapsrv.web.places``); in a real Chromium the box lists what it found, picks
by keyboard, flies there and adds a marker through the page's write path, attributed to the person;
the view link searches but never writes; a hostile name stays text; a source that is down says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from support import Browser, start_server, wait_until
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

import mapsrv.server
from mapsrv.core.model import LatLon
from mapsrv.places.model import Place
from mapsrv.places.service import PlaceService
from mapsrv.places.sources import Query, SourceUnavailable
from mapsrv.server import Server

pytestmark = pytest.mark.browser
WORLD = {"op": "set_view", "center": [30, -40], "zoom": 3, "animate": False}  # no "near": a plain order
VIEWPORT = {"width": 1100, "height": 720}
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery, tile_url=TILES, sse_retry=0.2)


def open_tab(chromium: Chromium, server: Server, path: str = "/", badge: str = "live") -> Tab:
    tab = Tab.open(new_context(chromium, server, viewport=VIEWPORT), path, badge)
    if badge == "live":
        version = tab.ops(WORLD)
        tab.page.wait_for_function("(v) => window.mapsrv.version >= v", arg=version)
    return tab


def search(tab: Tab, text: str) -> Any:
    """Type ``text`` into the box as a person would; returns the box once its list is open."""
    box = tab.page.get_by_role("combobox", name="Search places and addresses")
    box.click()
    box.press_sequentially(text)
    tab.page.get_by_role("listbox").wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    return box


def arrived(tab: Tab, lat: float, lon: float, zoom: int) -> None:
    """Wait for the map's flight to end at ``lat, lon`` and ``zoom``."""
    tab.page.wait_for_function(
        "([lat, lon, zoom]) => { const map = window.mapsrv.map, c = map.getCenter();"
        " return map.getZoom() === zoom && Math.abs(c.lat - lat) < 1e-3 && Math.abs(c.lng - lon) < 1e-3; }",
        arg=[lat, lon, zoom],
    )


async def test_a_person_finds_a_city_by_keyboard_and_marks_it(live: Server, tmp_path: Path) -> None:
    shot = artifact("place-search.png", tmp_path)

    def body(chromium: Chromium) -> tuple[str, list[dict[str, Any]]]:
        tab = open_tab(chromium, live)
        page = tab.page
        answer = page.request.get(f"/m/{tab.map_id}/places?q=Springfield&limit=8").json()["places"]
        assert len(answer) >= 2 and answer[1]["label"] == "Springfield, MA, US", answer[:2]
        box = search(tab, "Springfield")
        options = page.get_by_role("option")
        assert options.count() == len(answer)
        assert options.nth(0).get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == options.nth(0).get_attribute("id")
        page.screenshot(path=str(shot), animations="disabled")
        box.press("ArrowDown")
        assert box.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
        assert "MA, US" in options.nth(1).inner_text()
        box.press("Enter")
        assert page.get_by_role("listbox").is_hidden() and box.get_attribute("aria-expanded") == "false"
        second = answer[1]
        arrived(tab, second["lat"], second["lon"], 12)  # a city's zoom
        add = page.get_by_role("button", name="Add marker here")
        page.wait_for_function("() => document.activeElement.textContent === 'Add marker here'")
        before = page.evaluate("window.mapsrv.version")
        add.press("Enter")
        page.wait_for_function("(v) => window.mapsrv.version > v", arg=before)
        add.wait_for(state="detached")  # the highlight goes once the marker is there
        page.wait_for_function("() => document.activeElement.getAttribute('role') === 'combobox'")
        box.press("Escape")  # nothing open: the focus goes back to the map
        assert page.evaluate("document.activeElement === window.mapsrv.map.getContainer()")
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.getAttribute('role')") == "combobox"
        tab.check_clean()
        return tab.map_id, answer

    map_id, answer = await in_chromium(body)
    entry = await live.hub.get(map_id)
    [marker] = entry.state.features.values()
    assert marker.type == "marker" and marker.label == "Springfield"
    assert list(marker.coords) == [answer[1]["lat"], answer[1]["lon"]]
    changes = (await live.hub.changes_since(map_id, 0))["changes"]
    assert changes[-1]["by"]["id"].startswith("person:"), "the person's, not the agent's"


async def test_the_view_link_searches_and_flies_but_never_writes(live: Server) -> None:
    def body(chromium: Chromium) -> None:
        owner = open_tab(chromium, live)
        view_url = owner.page.locator("#view-link").get_attribute("href") or ""
        viewer = open_tab(chromium, live, view_url, badge="view-only")
        box = search(viewer, "Lisbon")
        box.press("Enter")
        viewer.page.locator(".mapsrv-search-found").wait_for()
        assert viewer.page.get_by_role("button", name="Add marker here").count() == 0
        for url in (f"{view_url}/ops", f"/m/{owner.map_id}/ops"):
            write = viewer.page.request.post(
                url, data={"ops": [{"op": "add_feature", "id": "x", "type": "marker", "coords": [1, 2]}]}
            )
            assert write.status in (404, 405), (url, write.status)
        assert owner.page.evaluate("window.mapsrv.featureIds()") == []
        viewer.check_clean()

    await in_chromium(body)


class Hostile:
    """A source whose names are markup, and one that is down."""

    name = "index"

    def __init__(self, down: bool = False) -> None:
        self.down = down

    async def search(self, query: Query) -> list[Place]:
        if self.down:
            raise SourceUnavailable("geocoder", "timed out", retry_after=7)
        where = {"address": HOSTILE + " street", "category": "amenity=<b>cafe</b>"}
        return [Place(HOSTILE, HOSTILE, "poi", "PT", "Portugal", "", "", 38.7, -9.1, 0, 0, "name", "", 1.0,
                      source="index", **where)]  # fmt: skip

    async def reverse(self, at: LatLon, *, within_m: float = 200.0) -> Place | None:
        return None

    async def aclose(self) -> None:
        pass


async def test_hostile_names_stay_text_and_a_source_down_is_said(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Hostile()
    monkeypatch.setattr(mapsrv.server, "places_for", lambda config: PlaceService([source]))
    server = await start_server(nursery, tile_url=TILES)

    def body(chromium: Chromium) -> None:
        tab = open_tab(chromium, server)
        page = tab.page
        box = search(tab, HOSTILE)
        option = page.get_by_role("option").first
        assert option.locator(".mapsrv-search-name").inner_text() == HOSTILE
        box.press("Enter")
        found = page.locator(".mapsrv-search-found")
        found.wait_for()
        assert HOSTILE in found.inner_text()
        assert page.locator("#panel img, .leaflet-popup img, b").count() == 0
        source.down = True
        box.fill("")
        box.press_sequentially("Lisbon")
        status = page.get_by_role("status").filter(has_text="Search:")
        status.wait_for()
        assert "the geocoder is unavailable (timed out)" in status.inner_text()
        tab.check_clean()  # no dialog, no error, nothing the CSP blocked

    await in_chromium(body)


async def test_the_endpoint_checks_what_it_is_asked(live: Server) -> None:
    browser = Browser(live.url)
    map_id = await browser.new_map()
    page = (await browser.client.get(f"/m/{map_id}")).text
    view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
    get = browser.client.get
    ok = await get(f"/m/{map_id}/places", params={"q": "Lisbon", "near": "38.7,-9.1", "limit": "3"})
    assert ok.status_code == 200, ok.text
    first = ok.json()["places"][0]
    assert first["label"] == "Lisbon, PT" and first["kind"] == "city" and "distance_km" in first
    async with httpx.AsyncClient(base_url=live.url) as stranger:  # no cookie
        viewer = await stranger.get(f"/v/{view_key}/places", params={"q": "Lisbon"})
        foreign = await stranger.get(f"/m/{map_id}/places", params={"q": "Lisbon"})
    assert viewer.status_code == 200 and viewer.headers["access-control-allow-origin"] == "*"
    bad = {
        "q is required": {},
        "q is required:": {"q": "   "},
        "q must be at most 200 characters, got 10240": {"q": "x" * 10_240},
        "limit must be a whole number from 1 to 10, got 11": {"q": "Lisbon", "limit": "11"},
        "limit must be a whole number from 1 to 10, got 0": {"q": "Lisbon", "limit": "0"},
        "limit must be a whole number from 1 to 10, got 'ten'": {"q": "Lisbon", "limit": "ten"},
        "near must be \"lat,lon\" (lat -90..90, lon -180..180), got '91,0'": {"q": "Lisbon", "near": "91,0"},
        "near must be": {"q": "Lisbon", "near": "nan,1"},
        "near must be ": {"q": "Lisbon", "near": "1,2,3"},
    }
    for message, params in bad.items():
        response = await get(f"/m/{map_id}/places", params=params)
        assert response.status_code == 400, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["message"].startswith(message.rstrip(": ")), error
    none = await get(f"/m/{map_id}/places", params={"q": "Xqzzyville"})
    assert none.status_code == 200 and none.json()["places"] == []
    for path in (f"/m/{'k' * 22}/places", f"/v/{'k' * 22}/places", "/m/nope/places"):
        unknown = await get(path, params={"q": "Lisbon"})
        assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "map not found", path
    assert foreign.status_code == 404, "the owner's route needs the owner's cookie, as /state does"
    await browser.aclose()


async def test_a_source_that_is_down_is_a_503_unless_another_answers(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(mapsrv.server, "places_for", lambda config: PlaceService([Hostile(down=True)]))
    server = await start_server(nursery)
    browser = Browser(server.url)
    map_id = await browser.new_map()
    caplog.set_level("INFO")
    # nothing else knows an address: the search cannot be answered, and says when to retry
    response = await browser.client.get(f"/m/{map_id}/places", params={"q": "Rua Augusta 24"})
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert "the geocoder is unavailable" in response.json()["error"]["message"]
    # a city the built-in list knows is still found, and the answer says what it may lack
    response = await browser.client.get(f"/m/{map_id}/places", params={"q": "Lisbon"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["places"][0]["name"] == "Lisbon"
        and body["unavailable"] == "the geocoder is unavailable (timed out)"
    )
    await wait_until(lambda: any(getattr(r, "route", None) == "/{m,v}/{id}/places" for r in caplog.records))
    ours = [r for r in caplog.records if r.name.startswith("mapsrv")]  # httpx logs its own URLs
    assert all(map_id not in record.getMessage() for record in ours), "a capability in a log"
    await browser.aclose()
