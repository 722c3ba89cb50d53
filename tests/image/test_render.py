"""The map image drawn without a browser (pure parts): Web Mercator as Leaflet computes it, the
view the page would choose, the offline basemap (land where land is, sea where sea is), features
in their colours where they are, labels that never overlap, big maps clustered and said so."""

from __future__ import annotations

import io
import itertools
import math

import pytest
from PIL import Image

from mapsrv.core import Feature, MapState
from mapsrv.core.model import View
from mapsrv.image.projection import ImageView, fit, world_pixel
from mapsrv.image.render import CLUSTER_FROM, ImageRequest, render
from mapsrv.places.world import countries

CITIES = [
    ("Lisbon", 38.72, -9.14),
    ("Madrid", 40.42, -3.70),
    ("Paris", 48.86, 2.35),
    ("Berlin", 52.52, 13.40),
]


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def near(color: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=False))


def test_web_mercator_matches_leaflets_projection() -> None:
    assert world_pixel(0, 0, 0) == pytest.approx((128, 128))
    assert world_pixel(0, 180, 1) == pytest.approx((512, 256))
    x, y = world_pixel(85.0511287798, -180, 3)
    assert (x, y) == pytest.approx((0, 0), abs=1e-6)
    # Lisbon at zoom 5: x = (lon + 180) / 360 * 8192, y from the Mercator formula by hand
    assert world_pixel(38.72, -9.14, 5) == pytest.approx((3888.01, 3139.0), abs=0.1)


def test_fit_picks_the_largest_whole_zoom_that_holds_the_bounds() -> None:
    view = fit(36.0, -10.0, 55.0, 15.0, 800, 600)
    assert view.zoom == 4
    for lat, lon in ((36.0, -10.0), (55.0, 15.0)):
        x, y = view.pixel(lat, lon)
        assert 40 <= x <= 760 and 40 <= y <= 560
    closer = ImageView.centered(45.5, 2.5, view.zoom + 1, 800, 600)
    _, y0 = closer.pixel(36.0, -10.0)
    _, y1 = closer.pixel(55.0, 15.0)
    assert y0 - y1 > 600 - 80, "one zoom closer and the bounds no longer fit"


def test_the_offline_basemap_has_the_countries() -> None:
    names = {c.name for c in countries("110m")}
    assert len(names) > 170 and {"Portugal", "France", "Brazil", "Japan"} <= names
    assert len(countries("50m")) > len(countries("110m"))


def test_features_are_drawn_in_their_colours_on_land_and_sea() -> None:
    feats = {
        f"c{i}": Feature(f"c{i}", "marker", (lat, lon), label=name, style=(("color", "#16a34a"),))
        for i, (name, lat, lon) in enumerate(CITIES)
    }
    route = tuple((lat, lon) for _, lat, lon in CITIES)
    feats["route"] = Feature("route", "polyline", route, style=(("color", "#e11d48"), ("weight", 5)))
    state = MapState("m", 3, "Trip", View(center=(45.0, 2.0), zoom=5), features=feats)
    rendered = render(state, ImageRequest(width=800, height=600))
    image = decoded(rendered.png)
    assert image.size == (800, 600) and rendered.basemap == "natural earth"
    view = rendered.view
    assert view.zoom == 5
    assert set(rendered.markers) == {"c0", "c1", "c2", "c3"}
    green_on_land = (89, 187, 123)  # the page's circle marker: fill opacity 0.7 over the land
    for _, lat, lon in CITIES[1:]:  # each inland city's marker, where the page puts it
        x, y = view.pixel(lat, lon)
        assert near(image.getpixel((round(x), round(y + 3))), green_on_land, 30), (lat, lon)
    # the route's middle, red
    (ax, ay), (bx, by) = view.pixel(*route[1]), view.pixel(*route[2])
    mx, my = (ax + bx) / 2, (ay + by) / 2  # straight on the map, as Leaflet draws a line
    assert near(image.getpixel((round(mx), round(my))), (225, 29, 72), 60)
    # inland Spain is land, the Bay of Biscay is sea
    land, sea = view.pixel(39.5, -5.5), view.pixel(45.5, -4.5)
    assert near(image.getpixel(tuple(map(round, land))), (246, 244, 238), 20)
    assert near(image.getpixel(tuple(map(round, sea))), (214, 226, 235), 20)
    assert "'Trip' at version 3: 5 features" in rendered.caption and "natural earth" in rendered.caption


def test_no_shown_label_overlaps_another() -> None:
    feats = {
        f"p{i}": Feature(f"p{i}", "marker", (40 + (i % 30) / 10, (i // 30) / 10), label=f"Station {i}")
        for i in range(900)
    }
    rendered = render(MapState("m", 1, "", None, features=feats), ImageRequest())
    boxes = rendered.labels
    assert 10 < len(boxes) < 900, "some labels fit, most do not"
    for a, b in itertools.combinations(boxes, 2):
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert f"{len(boxes)} labels shown" in rendered.caption


def test_a_huge_map_still_renders_clustered_and_says_so() -> None:
    n = 100_000
    feats = {
        f"p{i}": Feature(
            f"p{i}", "marker", (35 + (i * 7919 % 25000) / 1000, -10 + (i * 104729 % 40000) / 1000)
        )
        for i in range(n)
    }
    rendered = render(MapState("m", 1, "big", None, features=feats), ImageRequest(width=640, height=480))
    assert rendered.clustered and n > CLUSTER_FROM
    assert rendered.shown == n, "every point is in a cluster"
    assert "points clustered" in rendered.caption and f"{n} features" in rendered.caption
    assert decoded(rendered.png).size == (640, 480)


def test_odd_styles_and_symbols_never_break_a_drawing() -> None:
    feats = {
        "a": Feature("a", "marker", (10.0, 10.0), label="emoji", style=(("symbol", "🚲"),)),
        "b": Feature("b", "marker", (11.0, 11.0), style=(("color", "not a colour"),)),
        "c": Feature("c", "circle", (12.0, 12.0), radius=50_000.0, style=(("fill_opacity", 7),)),
        "d": Feature("d", "rectangle", ((1.0, 1.0), (2.0, 2.0)), label="x" * 200),
        "e": Feature("e", "polygon", ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0))),  # all one point
    }
    rendered = render(MapState("m", 1, "", None, features=feats), ImageRequest(width=300, height=200))
    assert decoded(rendered.png).size == (300, 200)


def test_the_world_view_of_an_empty_map_and_the_date_line() -> None:
    empty = render(MapState("m"), ImageRequest(width=1280, height=640))
    assert empty.view.zoom == 2 and empty.shown == 0
    pacific = {"f": Feature("f", "marker", (-17.7, 178.0)), "g": Feature("g", "marker", (-14.3, -170.7))}
    rendered = render(MapState("m", 1, "", None, features=pacific), ImageRequest())
    x0, _ = rendered.markers["f"]
    x1, _ = rendered.markers["g"]
    assert math.isfinite(x0) and math.isfinite(x1)
