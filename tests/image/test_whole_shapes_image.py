"""Features of several parts and holes in the map image, on Natural Earth's countries: South
Africa's hole (Lesotho) shows the basemap, not the fill; every island of Canada and Indonesia big
enough to see is filled; each country has one label, inside its largest part; a multipoint is a
dot at each point; a heatmap layer heats markers and multipoints and draws the rest."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
import shapely
from PIL import Image
from shapely.geometry import shape
from shapely.ops import polylabel
from support.natural_earth import countries_geojson

from mapsrv.core import Feature, MapState
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.model import Layer, Limits
from mapsrv.image.projection import ImageView, latlon_of, world_pixel
from mapsrv.image.render import ImageRequest, Rendered, render
from mapsrv.image.styling import paint

RED = (225, 29, 72)
FILLED = (("color", "#e11d48"), ("fill_opacity", 1.0), ("weight", 1))
LAND = (246, 244, 238)  # the offline basemap's land


def countries(*ids: str) -> dict[str, tuple[Feature, Any]]:
    raw = countries_geojson("110m")
    items = [f for f in raw["features"] if f["id"] in ids]
    features = features_from_geojson({"type": "FeatureCollection", "features": items}, Limits())
    return {
        f.id: (Feature(f.id, f.type, f.coords, label=f.label, style=FILLED), shape(item["geometry"]))
        for f, item in zip(features, items, strict=True)
    }


def drawn(
    features: list[Feature], width: int = 800, height: int = 600, labels: bool = False
) -> tuple[Rendered, Image.Image]:
    """The features drawn (without their labels unless asked: a label box hides the fill)."""
    shown = features if labels else [dataclasses.replace(f, label="") for f in features]
    state = MapState("m", 1, "countries", features={f.id: f for f in shown})
    rendered = render(state, ImageRequest(width=width, height=height))
    return rendered, Image.open(io.BytesIO(rendered.png)).convert("RGB")


def colour(image: Image.Image, view: ImageView, lat: float, lon: float) -> tuple[int, int, int]:
    x, y = view.pixel(lat, lon)
    found = image.getpixel((round(x), round(y)))
    assert isinstance(found, tuple)
    return found[0], found[1], found[2]


def near(found: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(found, expected, strict=True))


def test_south_africas_hole_shows_the_basemap_and_its_land_the_fill() -> None:
    (south_africa, _), (lesotho, _) = (countries("710", "426")[k] for k in ("710", "426"))
    rendered, image = drawn([south_africa])
    view = rendered.view
    assert near(colour(image, view, -30.5, 22.0), RED)  # the Northern Cape
    assert near(colour(image, view, -26.2, 28.04), RED)  # Johannesburg
    in_lesotho = colour(image, view, -29.6, 28.25)
    assert not near(in_lesotho, RED, 60) and near(in_lesotho, LAND, 12)
    # drawn alone, Lesotho itself is filled there: the hole is the only reason it is not
    rendered, image = drawn([lesotho], 800, 600)
    assert near(colour(image, rendered.view, -29.6, 28.25), RED)


@pytest.mark.parametrize("fid", ["124", "360"])  # Canada: 30 parts; Indonesia: 13
def test_every_part_of_a_multipolygon_is_painted(fid: str) -> None:
    feature, reference = countries(fid)[fid]
    rendered, image = drawn([feature], 1280, 960)
    view = rendered.view
    checked = 0
    for part in reference.geoms:
        inner = polylabel(part, 0.01)
        lon, lat = inner.x, inner.y
        # a part whose inside is 3 px from its edge at this zoom or more: a pixel there is filled
        edge = shapely.Point(lon, lat).distance(part.exterior)
        x0, _ = world_pixel(lat, lon - edge, view.zoom)
        x1, _ = world_pixel(lat, lon, view.zoom)
        if x1 - x0 < 3:
            continue
        checked += 1
        assert near(colour(image, view, lat, lon), RED, 30), (fid, lat, lon)
    assert checked >= (10 if fid == "124" else 8)


def test_one_label_per_country_inside_its_largest_part() -> None:
    found = countries("124", "360", "710")
    rendered, _ = drawn([feature for feature, _ in found.values()], 1280, 960, labels=True)
    assert len(rendered.labels) == 3  # one each, however many parts
    view = rendered.view
    largest = [max(shapely.get_parts(reference), key=lambda g: g.area) for _, reference in found.values()]
    for box in rendered.labels:  # each box's middle is over the largest part of one country
        lat, lon = latlon_of((box[0] + box[2]) / 2 + view.left, (box[1] + box[3]) / 2 + view.top, view.zoom)
        assert sum(part.covers(shapely.Point(lon, lat)) for part in largest) == 1, (lat, lon)


def test_a_multipoint_is_a_dot_at_each_point() -> None:
    points = ((40.0, -4.0), (41.0, 0.0), (38.0, -2.0))
    feature = Feature("mp", "multipoint", points, style=(("color", "#e11d48"),))
    rendered, image = drawn([feature])
    for lat, lon in points:
        assert near(colour(image, rendered.view, lat, lon), RED, 40), (lat, lon)


def test_a_heatmap_layer_heats_markers_and_multipoints_and_draws_the_rest() -> None:
    heat = Layer("heat", "heat", style={"kind": "heatmap", "radius": 25})
    features = [
        Feature("m", "marker", (40.0, -4.0), layer="heat"),
        Feature("mp", "multipoint", ((41.0, 0.0), (38.0, -2.0)), layer="heat"),
        Feature("p", "polygon", ((30.0, 0.0), (31.0, 0.0), (31.0, 1.0)), layer="heat"),
    ]
    state = MapState("m", 1, layers={"heat": heat}, features={f.id: f for f in features})
    shown, hot, _ = paint(state, features)
    assert [f.id for f in shown] == ["p"]
    assert sorted((lat, lon) for lat, lon, _, _ in hot) == [(38.0, -2.0), (40.0, -4.0), (41.0, 0.0)]
