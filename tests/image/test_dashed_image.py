"""Dashes in map_image (issue 76): a line, a polygon's outline and a circle's drawn with the
style's ``dash`` as the page's SVG draws it, gaps and all (pixels along the line counted), and
the pattern's walk along a path that turns (pure: lengths summed)."""

from __future__ import annotations

import io
import math
from itertools import pairwise

import pytest
from PIL import Image

from mapsrv.core import Feature, MapState, apply_all
from mapsrv.core.ops import ImportFeatures
from mapsrv.image.dashes import MAX_PIECES, dashes, pattern
from mapsrv.image.render import ImageRequest, render

PACIFIC = (-12.0, -165.0, 12.0, -125.0)
RED = (0xCC, 0x00, 0x00)


def runs(row: list[bool]) -> list[int]:
    """The lengths of the runs of True in ``row``."""
    out, n = [], 0
    for on in row:
        if on:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out + ([n] if n else [])


def red_row(png: bytes, y: int, x0: int, x1: int) -> list[bool]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return [
        max(abs(a - b) for a, b in zip(image.getpixel((x, y)), RED, strict=True)) < 60 for x in range(x0, x1)
    ]


@pytest.mark.parametrize("dash", [None, "12 8"])
def test_a_dashed_line_has_gaps_and_a_solid_one_none(dash: str | None) -> None:
    style = (("color", "#cc0000"), ("weight", 4)) + ((("dash", dash),) if dash else ())
    line = Feature("l", "polyline", ((0.0, -160.0), (0.0, -130.0)), style=style)
    state = apply_all(MapState(id="m"), [ImportFeatures((line,))])[0]
    rendered = render(state, ImageRequest(bbox=PACIFIC, width=800, height=600))
    x0, y = (round(v) for v in _pixel(rendered, 0.0, -158.0))
    x1, _ = (round(v) for v in _pixel(rendered, 0.0, -132.0))
    pieces = runs(red_row(rendered.png, y, x0, x1))
    if dash is None:
        assert len(pieces) == 1 and pieces[0] >= x1 - x0 - 2, pieces
    else:
        assert len(pieces) >= (x1 - x0) // 20 - 2, pieces  # a dash every 20 px
        assert all(10 <= n <= 15 for n in pieces[1:-1]), pieces  # 12 px, its ends antialiased


def _pixel(rendered: object, lat: float, lon: float) -> tuple[float, float]:
    view = rendered.view  # type: ignore[attr-defined]
    return view.pixel(lat, lon)  # type: ignore[no-any-return]


def test_a_polygon_and_a_circle_are_outlined_in_dashes() -> None:
    dashed = (("color", "#cc0000"), ("weight", 4), ("dash", "12 8"), ("fill_opacity", 0))
    square = Feature(
        "p", "polygon", ((-6.0, -160.0), (6.0, -160.0), (6.0, -148.0), (-6.0, -148.0)), style=dashed
    )
    circle = Feature("c", "circle", (0.0, -137.0), radius=600_000.0, style=dashed)
    state = apply_all(MapState(id="m"), [ImportFeatures((square, circle))])[0]
    rendered = render(state, ImageRequest(bbox=PACIFIC, width=800, height=600))
    top = round(_pixel(rendered, 6.0, -154.0)[1])
    x0, x1 = (round(_pixel(rendered, 6.0, lon)[0]) for lon in (-159.0, -149.0))
    assert len(runs(red_row(rendered.png, top, x0, x1))) >= 5, "the square's top edge in dashes"
    cx, cy = _pixel(rendered, 0.0, -137.0)
    r = cx - _pixel(rendered, 0.0, -137.0 + 600_000.0 / 111_320)[0]
    image = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    around = [
        max(
            abs(a - b)
            for a, b in zip(
                image.getpixel((round(cx + r * math.sin(t)), round(cy - r * math.cos(t)))), RED, strict=True
            )
        )
        < 60
        for t in (2 * math.pi * k / 720 for k in range(720))
    ]
    assert 5 <= len(runs(around)) and 0.3 < sum(around) / len(around) < 0.9, "dashes around the circle"


def test_the_pattern_walks_along_the_path_across_its_corners() -> None:
    path = [(0.0, 0.0), (30.0, 0.0), (30.0, 40.0)]  # 70 px, turning once
    pieces = dashes(path, [10.0, 4.0])  # dashes at 0, 14, 28, 42 and 56 px along it
    drawn = sum(math.hypot(x1 - x0, y1 - y0) for piece in pieces for (x0, y0), (x1, y1) in pairwise(piece))
    assert drawn == pytest.approx(50.0) and len(pieces) == 5
    assert pieces[2] == [(28.0, 0.0), (30.0, 0.0), (30.0, 8.0)], "the third dash turns the corner"
    assert pattern("6 4", 2) == [12.0, 8.0] and pattern("5", 1) == [5.0, 5.0]
    assert pattern("0.1 0.1", 2) is None and pattern("x", 1) is None and pattern(True, 1) is None
    long = [(0.0, 0.0), (float(MAX_PIECES) * 10, 0.0)]
    assert dashes(long, [2.0, 2.0]) == [long], "too fine for its length: solid"
