"""Layers styled by value in the image: each class's colour counted in the PNG's pixels, the
legend's swatches in its box (bottom right), a filter that hides a class, proportional circles
by size, a heatmap, labels from a template."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from mapsrv.core import Feature, MapState, apply_all
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerStyle
from mapsrv.image.basemap import SEA
from mapsrv.image.render import ImageRequest, render
from mapsrv.image.styling import FILL_OPACITY

YLORRD3 = [(0xFF, 0xED, 0xA0), (0xFE, 0xB2, 0x4C), (0xF0, 0x3B, 0x20)]
PACIFIC = (-12.0, -165.0, 12.0, -125.0)  # south, west, north, east: open sea only


def square(fid: str, west: float, **props: Any) -> Feature:
    ring = ((-8.0, west), (8.0, west), (8.0, west + 10), (-8.0, west + 10))
    return Feature(fid, "polygon", ring, layer="zones", properties=tuple(sorted(props.items())))


def zones(style: dict[str, Any] | None, extra: tuple[Feature, ...] = ()) -> MapState:
    features = (square("a", -162, pop=1, name="A"), square("b", -150, pop=50, name="B"))
    features += (square("c", -138, pop=100, name="C"), *extra)
    ops: list[Any] = [AddLayer("zones", "Zones"), ImportFeatures(features)]
    if style is not None:
        ops.append(SetLayerStyle("zones", style))
    return apply_all(MapState(id="m"), ops)[0]


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def over_sea(color: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = (round(c * FILL_OPACITY + s * (1 - FILL_OPACITY)) for c, s in zip(color, SEA, strict=True))
    return r, g, b


def drawn(state: MapState) -> tuple[Any, Image.Image, tuple[int, int, int, int]]:
    """The image of ``state`` over the open Pacific, its pixels, and the map above its legend."""
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    image = pixels(rendered.png)
    assert rendered.legend is not None
    return rendered, image, (0, 0, image.width, round(rendered.legend[1]) - 1)


def count(image: Image.Image, color: tuple[int, int, int], box: Any = None, tolerance: int = 12) -> int:
    region = image.crop(box) if box is not None else image
    return sum(
        n
        for n, rgb in region.getcolors(1 << 20) or []
        if all(abs(a - b) <= tolerance for a, b in zip(rgb, color, strict=True))
    )


def test_each_class_colour_fills_its_features_and_the_legend_lists_the_classes() -> None:
    state = zones({"by": "pop", "method": "equal", "classes": 3})
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    image = pixels(rendered.png)
    assert rendered.legend is not None
    left, top, right, bottom = (round(v) for v in rendered.legend)
    assert right > image.width * 0.8 and bottom > image.height * 0.8, "bottom right"
    map_area = (0, 0, image.width, top - 1)
    areas = [count(image, over_sea(color), map_area) for color in YLORRD3]
    assert min(areas) > 5_000, areas
    assert max(areas) < 1.3 * min(areas), "three squares of one size"
    swatches = [count(image, color, (left, top, right, bottom), tolerance=16) for color in YLORRD3]
    assert all(s >= 100 for s in swatches), swatches  # 14 px swatches, less their outline


def test_a_filter_hides_features_and_a_label_template_names_them() -> None:
    flt = {"property": "pop", "op": "<", "value": 100}
    asked = {"by": "pop", "method": "equal", "classes": 3, "filter": flt, "label": "{name}: {pop}"}
    state = zones({**asked, "over": "all"})  # classes over all three: the hidden one has the top class
    rendered, image, map_area = drawn(state)
    assert count(image, over_sea(YLORRD3[2]), map_area) == 0, "the hidden class is not drawn"
    assert count(image, over_sea(YLORRD3[0]), map_area) > 5_000
    assert len(rendered.labels) == 2 and "2 of 3 features" in rendered.caption
    # over what is shown (the default): the two shown span the three classes, 50 the top one
    shown = render(zones(asked), ImageRequest(bbox=PACIFIC))
    assert count(pixels(shown.png), over_sea(YLORRD3[2]), map_area) > 5_000


def test_a_feature_added_after_the_style_takes_its_class_colour() -> None:
    state = zones({"by": "pop", "method": "equal", "classes": 3})
    later = apply_all(state, [ImportFeatures((square("d", -174, pop=99),))])[0]
    box = (-12.0, -176.0, 12.0, -125.0)
    image = pixels(render(later, ImageRequest(bbox=box)).png)
    before = pixels(render(state, ImageRequest(bbox=box)).png)
    top = over_sea(YLORRD3[2])
    assert count(image, top) > 1.7 * count(before, top), "two squares in the top class now"


def test_proportional_circles_are_sized_by_value() -> None:
    points = tuple(
        Feature(f"p{v}", "marker", (0.0, lon), layer="zones", properties=(("pop", v),))
        for v, lon in ((100, -160.0), (1_600, -140.0))
    )
    state = apply_all(
        MapState(id="m"),
        [
            AddLayer("zones", "Zones"),
            ImportFeatures(points),
            SetLayerStyle("zones", {"kind": "proportional", "by": "pop", "min_size": 2, "max_size": 30}),
        ],
    )[0]
    image = pixels(render(state, ImageRequest(bbox=PACIFIC)).png)
    blue = (0x31, 0x82, 0xBD)
    small = count(image, blue, (0, 0, image.width // 2, image.height), tolerance=60)
    big = count(image, blue, (image.width // 2, 0, image.width, image.height - 200), tolerance=60)
    assert big > 6 * small > 0, (small, big)  # radii 9 and 30 px: areas about 11 to 1


def test_a_heatmap_layer_draws_heat_and_its_gradient() -> None:
    points = tuple(
        Feature(f"h{i}", "marker", (i % 5 * 0.2, -145.0 + i // 5 * 0.2), layer="zones") for i in range(50)
    )
    state = apply_all(
        MapState(id="m"),
        [AddLayer("zones", "Zones"), ImportFeatures(points), SetLayerStyle("zones", {"kind": "heatmap"})],
    )[0]
    rendered, image, map_area = drawn(state)
    assert count(image, (255, 200, 0), map_area, tolerance=60) > 20, "the hot middle"
    assert count(image, (0, 0, 255), map_area, tolerance=90) > 20, "the cool edge"
    assert not rendered.markers, "points of a heatmap are heat, not markers"
    assert "50 features (50 as a heatmap)" in rendered.caption, "the caption counts what is drawn"


def test_no_style_no_legend() -> None:
    rendered = render(zones(None), ImageRequest(bbox=PACIFIC))
    assert rendered.legend is None


def test_a_heatmap_is_drawn_under_the_points_of_another_layer() -> None:
    """The same points as heat (one layer) and in categories (another): the categories' colours
    show on top, as in the page, where heat is drawn under markers (issue 76)."""
    spots = [(i % 5 * 0.2, -145.0 + i // 5 * 0.2) for i in range(50)]
    heat = tuple(Feature(f"h{i}", "marker", p, layer="heat") for i, p in enumerate(spots))
    dots = tuple(
        Feature(f"d{i}", "marker", p, layer="dots", properties=(("cause", "fire" if i % 2 else "flood"),))
        for i, p in enumerate(spots)
    )
    categories = {"kind": "categorical", "by": "cause", "categories": {"fire": "#00cc00", "flood": "#cc00cc"}}
    state = apply_all(
        MapState(id="m"),
        [
            AddLayer("heat", "Heat"),
            AddLayer("dots", "Dots"),
            ImportFeatures(heat + dots),
            SetLayerStyle("heat", {"kind": "heatmap"}),
            SetLayerStyle("dots", categories),
        ],
    )[0]
    _, image, map_area = drawn(state)
    assert count(image, (0x00, 0xCC, 0x00), map_area, tolerance=30) > 20, "fire's colour, on the heat"
    assert count(image, (0xCC, 0x00, 0xCC), map_area, tolerance=30) > 20, "flood's colour, on the heat"
