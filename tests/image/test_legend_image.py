"""map_image's legend matches its map, measured in the PNG's pixels: a proportional layer's legend
circle is as wide as the map's circle for the same value (round values from the data, none below
its smallest); each class and category shows its count, the others' too; the heatmap is smooth
(no square cells: neighbouring pixels never jump), its ramp labelled and its caption counting
the features drawn as heat."""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
from PIL import Image

from mapsrv.core import Feature, MapState, apply_all
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerStyle
from mapsrv.image.legend import legend_lines
from mapsrv.image.render import ImageRequest, render
from mapsrv.image.styling import heat_image, paint

PACIFIC = (-12.0, -165.0, 12.0, -125.0)  # south, west, north, east: open sea only


def styled(features: list[Feature], style: dict[str, Any]) -> MapState:
    ops: list[Any] = [AddLayer("pts", "Points"), ImportFeatures(tuple(features)), SetLayerStyle("pts", style)]
    return apply_all(MapState(id="m"), ops)[0]


def point(fid: str, lat: float, lon: float, **props: Any) -> Feature:
    return Feature(fid, "marker", (lat, lon), layer="pts", properties=tuple(sorted(props.items())))


def reddish(pixels: np.ndarray) -> np.ndarray:
    """Where a red circle is, its rim or its fill (over the sea or the legend's white): much more
    red than blue. The sea, the legend's box and its grey text are not."""
    return (pixels[..., 0] - pixels[..., 2]) > 60


def extent(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """The width and height (px) of the red circle within ``box``."""
    pixels = np.asarray(image.crop(box).convert("RGB")).astype(int)
    mask = reddish(pixels).nonzero()
    if not mask[0].size:
        return 0, 0
    return int(mask[1].max() - mask[1].min() + 1), int(mask[0].max() - mask[0].min() + 1)


def test_the_legends_circles_are_the_maps_circles_for_the_same_values() -> None:
    values = [1_200, 10_000, 50_000, 63_000]
    features = [point(f"p{i}", 0.0, -160.0 + 9 * i, pop=v) for i, v in enumerate(values)]
    style = {"kind": "proportional", "by": "pop", "min_size": 3, "max_size": 30, "color": "#d62728"}
    state = styled(features, style)
    stored = state.layers["pts"].style
    assert stored is not None and stored["legend_values"] == [50_000, 10_000, 2_000], "round, from the data"
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    image = Image.open(io.BytesIO(rendered.png))
    assert rendered.legend is not None
    left, top, right, bottom = (round(v) for v in rendered.legend)
    legend = image.crop((left, top, right, bottom))
    # the legend's circles, largest first, each alone in its row: found by the rows of red pixels
    pixels = np.asarray(legend.convert("RGB")).astype(int)
    red_rows = reddish(pixels).any(axis=1).nonzero()[0]
    runs = np.split(red_rows, np.flatnonzero(np.diff(red_rows) > 1) + 1)
    assert len(runs) == 3, runs
    legend_sizes = [extent(legend, (0, int(r[0]), legend.width, int(r[-1]) + 1)) for r in runs]
    for value, (width, height) in zip([50_000, 10_000], legend_sizes, strict=False):
        index = values.index(value)
        x, y = rendered.markers[f"p{index}"]
        reach = 40
        on_map = extent(image, (round(x) - reach, round(y) - reach, round(x) + reach, round(y) + reach))
        assert abs(width - on_map[0]) <= 1 and abs(height - on_map[1]) <= 1, (value, on_map, (width, height))
    assert legend_sizes[0][0] > legend_sizes[1][0] > legend_sizes[2][0] > 0


def test_counts_per_class_and_category_and_the_others() -> None:
    features = [point(f"p{i}", 0.0, -150.0, pop=v, kind=k) for i, (v, k) in enumerate(
        [(1, "a"), (2, "a"), (3, "b"), (50, "b"), (90, "c"), ("n/a", "a"), (None, None)]
    )]  # fmt: skip
    state = styled(features, {"by": "pop", "method": "equal", "classes": 3})
    style = state.layers["pts"].style
    assert style is not None
    counts = {"classes": [{"count": 3}, {"count": 1}, {"count": 1}], "other": 2}
    rows = legend_lines("Points", style, counts)
    assert [r[1][1:] for r in rows if r[0] == "swatch"] == [
        ("1 – 30.67", 3),
        ("30.67 – 60.33", 1),
        ("60.33 – 90", 1),
        ("no number", 2),
    ]
    state = styled(features, {"by": "kind", "kind": "categorical"})
    style = state.layers["pts"].style
    assert style is not None
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    assert rendered.legend is not None
    from mapsrv.core.layer_style import style_counts

    found = style_counts(style, features)
    rows = legend_lines("Points", style, found)
    assert [r[1][1:] for r in rows if r[0] == "swatch"] == [("a", 3), ("b", 2), ("c", 1), ("other", 1)]


def test_the_heatmap_is_smooth_labelled_and_counted() -> None:
    rng = random.Random(63)
    features = [
        point(f"h{i}", rng.uniform(-8, 8), rng.uniform(-160, -130), age=rng.randint(1, 90)) for i in range(63)
    ]
    state = styled(features, {"kind": "heatmap", "weight": "age"})
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    assert "63 features (63 as a heatmap)" in rendered.caption, rendered.caption
    drawn, heat, heated = paint(state, list(state.features.values()))
    assert heated == 63 and not drawn
    hot = heat_image(rendered.view, heat)
    assert hot is not None
    rgba = np.asarray(hot).astype(int)
    painted = rgba[..., 3] > 0
    assert painted.sum() > 20_000
    # neighbours never jump (colours as drawn: times their alpha): a square cell's edge jumped
    # 170 levels (issue 58's blocky heatmap)
    rgba[..., :3] = rgba[..., :3] * rgba[..., 3:] // 255
    across = np.abs(np.diff(rgba, axis=1)).max(axis=2)[painted[:, 1:] | painted[:, :-1]]
    down = np.abs(np.diff(rgba, axis=0)).max(axis=2)[painted[1:, :] | painted[:-1, :]]
    assert max(across.max(), down.max()) <= 24, (across.max(), down.max())
    style = state.layers["pts"].style
    assert style is not None
    rows = legend_lines("Points", style, {"shown": 63})
    assert ("gradient", None) in rows and ("note", "density of 63 features") in rows
    assert ("note", "weighted by age") in rows
