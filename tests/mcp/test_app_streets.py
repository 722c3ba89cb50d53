"""The MCP App draws mapsrv's street basemap too (issue 79), in a host built on the official
AppBridge (support.apps_host: the app in a sandboxed iframe whose Content-Security-Policy the host
builds from the app's ``_meta.ui.csp``): a region imported from support/street_extract.py's
Helsinki, the tile server down, an agent's marker on the main road at zoom 16. The app's street
tiles come from mapsrv's origin through that policy, and show the roads, the buildings, the
water, the park and the main road's name, labels not overlapping, with no policy violation.
Screenshot: app-streets.png in $TEST_ARTIFACTS_DIR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from support import require, start_server
from support.apps_host import app_draw, host_bundle, host_page, serve_page
from support.chromium import HAVE_CHROMIUM, TILES, Chromium, artifact, in_chromium, new_context
from support.street_extract import DRAWN_STREETS, StreetFacts, street_region

from mapsrv.image.street_style import STYLE_FILE

pytestmark = pytest.mark.browser
SIZE = {"width": 1000, "height": 640}
DRAWN_AT = "(v) => Number(document.body.dataset.drawnVersion) >= v"
# the street tiles at zoom 16, settled: each drawn with its labels, none still loading
SETTLED = """() => {
  const tiles = [...document.querySelectorAll('.mapsrv-street-tile')];
  return tiles.length > 0 && tiles.every((c) => c.dataset.labels !== undefined);
}"""


def rgb(colour: str) -> list[int]:
    return [int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StreetFacts]:
    """A places directory holding Helsinki's basemap, and what is in it."""
    return street_region(tmp_path_factory.mktemp("app-streets"))


async def test_the_app_draws_the_street_basemap_in_an_appbridge_host(
    nursery: trio.Nursery, tmp_path: Path, region: tuple[Path, StreetFacts]
) -> None:
    require(HAVE_CHROMIUM, "chromium")
    host_bundle()
    places, facts = region
    server = await start_server(nursery, tile_url=TILES, places_dir=str(places))
    call = {"items": [{"at": [60.1668, facts.main_lon], "label": "Here"}], "title": "Helsinki", "fit": False}
    async with Client(server.url + "mcp") as client:
        app = await app_draw(client, call)
        map_id = app.map_id
        at = [60.1668, facts.main_lon + 0.002]
        moved = await client.call_tool("set_view", {"map_id": map_id, "at": at, "zoom": 16, "animate": False})
        assert not moved.is_error, moved.content
        version = moved.structured_content["version"]
    origin = server.url.rstrip("/")
    assert origin in app.ui["csp"]["connectDomains"], "the app reads its street tiles from mapsrv's origin"
    page = host_page(
        "fixed", app.html, app.ui, call=call, result=app.result, width=SIZE["width"], height=SIZE["height"]
    )
    host = await nursery.start(serve_page, [page])
    style = json.loads(STYLE_FILE.read_text(encoding="utf-8"))
    colours = [
        rgb(style["roads"]["major_road"]["fill"]),
        rgb(style["roads"]["major_road"]["casing"]),
        rgb(style["buildings"]["fill"]),
        rgb(style["water"]["fill"]),
        rgb(style["landuse"]["park"]),
    ]

    def body(chromium: Chromium) -> dict[str, Any]:
        context = new_context(chromium, server, viewport=SIZE)
        problems: list[str] = []
        hosting = context.new_page()
        hosting.on("pageerror", lambda e: problems.append(f"app: {e}"))
        asked: list[str] = []
        hosting.on("request", lambda r: asked.append(r.url) if "/basemap/" in r.url else None)
        hosting.goto(host)
        (frame,) = hosting.main_frame.child_frames  # the app, in the host's iframe
        frame.wait_for_function(DRAWN_AT, arg=version)
        frame.wait_for_function(SETTLED)
        out = frame.evaluate(DRAWN_STREETS, colours)
        hosting.screenshot(path=str(artifact("app-streets.png", tmp_path)), animations="disabled")
        out["csp"] = frame.evaluate("window.__csp") + hosting.evaluate("window.__csp")
        out["problems"], out["asked"] = problems, asked
        return out

    out = await in_chromium(body)
    assert out["problems"] == [] and out["csp"] == [], (out["problems"], out["csp"])
    assert any(url.startswith(origin + "/basemap/helsinki/16/") for url in out["asked"]), out["asked"][:5]
    fill, casing, building, water, park = out["counts"]
    assert fill > 500 and casing > 50 and building > 500, out["counts"]
    assert water > 500 and park > 500, out["counts"]
    assert facts.main in out["labels"], out["labels"]
    boxes = out["boxes"]
    overlapping = [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], i + 1)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]
    assert overlapping == [], "no label over another"
