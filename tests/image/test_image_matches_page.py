"""What the agent sees is what people see: the same map drawn by the page in Chromium and by the
server as a PNG puts each marker at the same pixel (within 2 px), and the server picks the zoom
Leaflet's own ``fitBounds`` would. A screenshot of the image and the page is kept."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import trio
from PIL import Image
from support import start_server
from support.chromium import TILES, Chromium, Tab, artifact, in_chromium, new_context

from mapsrv.image.projection import fit
from mapsrv.image.render import ImageRequest

pytestmark = pytest.mark.browser
MARKERS = [(38.72, -9.14), (40.42, -3.70), (48.86, 2.35), (52.52, 13.40), (41.90, 12.50), (45.76, 4.84)]
WINDOW = 14  # px around where a marker should be
SHOTS = Path("/tmp")  # where screenshots go without $TEST_ARTIFACTS_DIR
RED = {"color": "#ff0000"}
CASES = [
    ((36, -10, 55, 15), 800, 600),
    ((38.7, -9.2, 38.8, -9.0), 640, 480),
    ((-40, -170, 70, 170), 1280, 720),
]


def marker_centre(image: Image.Image, x: float, y: float) -> tuple[float, float]:
    """The centre of the red marker's pixels near (x, y): red is far from every basemap colour."""
    sx = sy = n = 0.0
    for px in range(max(0, round(x) - WINDOW), min(image.width, round(x) + WINDOW + 1)):
        for py in range(max(0, round(y) - WINDOW), min(image.height, round(y) + WINDOW + 1)):
            r, g, b = image.getpixel((px, py))[:3]
            if r - g > 100 and r - b > 100:
                sx, sy, n = sx + px, sy + py, n + 1
    assert n > 20, f"no marker near ({x:.0f}, {y:.0f})"
    return sx / n, sy / n


async def test_markers_sit_where_the_page_puts_them(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, tile_url=TILES)

    def body(chromium: Chromium) -> dict[str, object]:
        context = new_context(chromium, server, viewport={"width": 1000, "height": 700})
        tab = Tab.open(context)
        ops = [
            {"op": "add_feature", "id": f"m{i}", "type": "marker", "coords": list(p), "style": RED}
            for i, p in enumerate(MARKERS)
        ]
        version = tab.ops(*ops, {"op": "set_view", "center": [46.0, 2.0], "zoom": 5, "animate": False})
        tab.page.wait_for_function("(v) => Number(document.body.dataset.drawnVersion) >= v", arg=version)
        size = tab.page.evaluate("() => { const s = window.mapsrv.map.getSize(); return [s.x, s.y]; }")
        points = tab.page.evaluate(
            "(ps) => ps.map((p) => window.mapsrv.map.latLngToContainerPoint(p)).map((c) => [c.x, c.y])",
            [list(p) for p in MARKERS],
        )
        zooms = tab.page.evaluate(
            """(cases) => cases.map(([b, w, h]) => {
                 const m = window.mapsrv.map;
                 const size = m.getSize();
                 // Leaflet's own choice for an image of w x h with 40 px around the bounds
                 const scale = L.point(w - 80, h - 80);
                 const bounds = L.latLngBounds(b);
                 const z = m.getZoom();
                 const se = m.project(bounds.getSouthEast(), z), nw = m.project(bounds.getNorthWest(), z);
                 const boundsSize = se.subtract(nw);
                 const s = Math.min(scale.x / boundsSize.x, scale.y / boundsSize.y);
                 let zoom = m.getScaleZoom(s, z);
                 zoom = Math.round(zoom / (1 / 100)) * (1 / 100);
                 return Math.max(m.getMinZoom(), Math.min(m.getMaxZoom(), Math.floor(zoom)));
               })""",
            [[[[s, w], [n, e]], width, height] for (s, w, n, e), width, height in CASES],
        )
        tab.page.screenshot(path=str(artifact("image-vs-page-page.png", SHOTS)))
        return {
            "map_id": tab.map_id,
            "size": size,
            "points": points,
            "zooms": zooms,
            "cookies": context.cookies(),
        }

    seen = await in_chromium(body)
    width, height = seen["size"]  # type: ignore[misc]
    entry = await server.hub.get(str(seen["map_id"]))
    rendered = await server.mcp.images.render(entry.state, ImageRequest(width=width, height=height))
    image = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    image.save(artifact("image-vs-page-image.png", SHOTS))
    for (px, py), marker in zip(seen["points"], MARKERS, strict=True):  # type: ignore[call-overload]
        if not (WINDOW <= px <= width - WINDOW and WINDOW <= py <= height - WINDOW):
            continue  # off the image
        x, y = marker_centre(image, px, py)
        assert math.dist((x, y), (px, py)) <= 2, (marker, (x, y), (px, py))
    ours = [fit(*box, w, h).zoom for box, w, h in CASES]
    assert ours == seen["zooms"]
