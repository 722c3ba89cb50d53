"""What map_image promises and nothing else pinned (issue 48's held-out breaks): a label's text is
drawn, not only its box; an asked bbox is the view; the image clusters from the same number of
points as the page (one rule: from ``CLUSTER_FROM``); the world drawn without bands from rings
across the 180th meridian."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from mapsrv.core import Feature, MapState
from mapsrv.core.model import View
from mapsrv.image.basemap import LAND, SEA
from mapsrv.image.projection import fit
from mapsrv.image.render import CLUSTER_FROM, ImageRequest, render

POINTS_JS = Path(__file__).parents[2] / "mapsrv" / "web" / "static" / "points.js"


def rgb(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_a_labels_text_is_drawn_in_its_box() -> None:
    label = Feature("a", "marker", (40.0, -3.7), label="WWWWWWWW")
    plain = Feature("a", "marker", (40.0, -3.7))
    view = View(center=(40.0, -3.7), zoom=6)
    request = ImageRequest(width=400, height=300)
    drawn = render(MapState("m", 1, "", view, features={"a": label}), request)
    bare = rgb(render(MapState("m", 1, "", view, features={"a": plain}), request).png)
    assert len(drawn.labels) == 1, "the one label fits"
    left, top, right, bottom = (round(v) for v in drawn.labels[0])
    image = rgb(drawn.png)
    dark = 0
    for x in range(max(left, 0), min(right, 400)):
        for y in range(max(top, 0), min(bottom, 300)):
            r, g, b = image.getpixel((x, y))
            if r + g + b < 3 * 110 and sum(bare.getpixel((x, y))) > 3 * 110:
                dark += 1  # a glyph's stroke where the unlabelled map is light
    assert dark > 40, f"the label's box holds no text ({dark} dark pixels): its text was not drawn"


def test_the_asked_bbox_is_the_view_and_features_outside_it_are_off_the_image() -> None:
    feats = {
        "lisbon": Feature("lisbon", "marker", (38.72, -9.14)),
        "berlin": Feature("berlin", "marker", (52.52, 13.40)),
    }
    state = MapState("m", 1, "", View(center=(45.0, 2.0), zoom=4), features=feats)
    box = (38.5, -9.5, 39.0, -8.8)  # south, west, north, east: around Lisbon alone
    rendered = render(state, ImageRequest(width=400, height=300, bbox=box))
    assert rendered.view.zoom == fit(*box, 400, 300, padding=0, max_zoom=18).zoom > 4, (
        "the image did not take the asked bbox as its view"
    )
    for lat, lon in ((box[0], box[1]), (box[2], box[3])):
        x, y = rendered.view.pixel(lat, lon)
        assert -1 <= x <= 401 and -1 <= y <= 301, "a corner of the asked bbox is off the image"
    x, y = rendered.view.pixel(52.52, 13.40)
    assert not (0 <= x <= 400 and 0 <= y <= 300), "Berlin is in a view of Lisbon"


def points(n: int) -> MapState:
    feats = {
        f"p{i}": Feature(f"p{i}", "marker", (40 + (i % 100) / 50, -4 + (i // 100) / 50)) for i in range(n)
    }
    return MapState("m", 1, "", None, features=feats)


def test_the_image_clusters_from_the_same_count_as_the_page() -> None:
    page = POINTS_JS.read_text()
    declared = re.search(r"const CLUSTER_FROM = (\d+);", page)
    assert declared is not None and int(declared.group(1)) == CLUSTER_FROM, "page and image thresholds differ"
    assert "total(map) >= CLUSTER_FROM" in page, "the page no longer clusters from CLUSTER_FROM points"
    request = ImageRequest(width=320, height=240)
    assert render(points(CLUSTER_FROM), request).clustered, f"{CLUSTER_FROM} points: the page clusters them"
    assert not render(points(CLUSTER_FROM - 1), request).clustered, "fewer points: neither clusters"


def test_rings_across_the_date_line_are_drawn_on_either_side_of_it() -> None:
    """Russia's and Fiji's outlines cross the 180th meridian: drawn as they come, their edges from
    180 to -180 ran across the world and filled a band of land around it."""
    rendered = render(
        MapState("m", 1, "", View(center=(20.0, 0.0), zoom=2)), ImageRequest(width=1000, height=700)
    )
    image = rgb(rendered.png)

    def at(lat: float, lon: float) -> tuple[int, ...]:
        x, y = rendered.view.pixel(lat, lon)
        return tuple(image.getpixel((round(x), round(y))))

    for lat, lon, where in (
        (67.5, -25.0, "Denmark Strait"),
        (68.0, 2.0, "the Norwegian Sea"),
        (-16.3, -30.0, "the South Atlantic"),
    ):
        assert at(lat, lon) == SEA, (
            f"{where} is drawn {at(lat, lon)}: a band from a ring across the date line"
        )
    assert at(65.0, 100.0) == LAND, "Siberia is missing"
    bering = render(
        MapState("m", 1, "", View(center=(64.0, -175.0), zoom=4)), ImageRequest(width=600, height=400)
    )
    x, y = bering.view.pixel(67.0, -174.0)
    assert rgb(bering.png).getpixel((round(x), round(y))) == LAND, (
        "Chukotka, east of the date line, is missing"
    )
