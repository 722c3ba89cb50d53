"""Points as the page draws them (issue 76): a map of fewer than 400 shapes shows its unstyled
points as pins in the image, as the page's markers; from 400 (render.js BIG_AT) the page draws
them as dots on a canvas, and so does the image: the symbol colour on the point, nothing where a
pin's body would be, and a label beside the dot's middle rather than a pin's head."""

from __future__ import annotations

import io

from PIL import Image

from mapsrv.core import Feature, MapState, apply_all
from mapsrv.core.ops import ImportFeatures
from mapsrv.image.render import BIG_AT, ImageRequest, render

PACIFIC = (-12.0, -165.0, 12.0, -125.0)
BLUE = (0x25, 0x63, 0xEB)  # the symbol colour (render.js SYMBOL_COLOR)


def image_of(n: int) -> tuple[object, Image.Image]:
    """``n`` points in a grid in the open Pacific, the first labelled."""
    points = tuple(
        Feature(
            f"p{i}", "marker", (-10.0 + (i // 25) * 1.3, -160.0 + (i % 25) * 1.4), label="First" * (i == 0)
        )
        for i in range(n)
    )
    state = apply_all(MapState(id="m"), [ImportFeatures(points)])[0]
    rendered = render(state, ImageRequest(bbox=PACIFIC))
    return rendered, Image.open(io.BytesIO(rendered.png)).convert("RGB")


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


def test_a_big_maps_points_are_dots_and_a_small_maps_pins() -> None:
    for n, dots in ((BIG_AT - 10, False), (BIG_AT, True)):
        rendered, image = image_of(n)
        x, y = (round(v) for v in rendered.view.pixel(-10.0, -160.0))  # type: ignore[attr-defined]
        body = image.getpixel((x, y - 25))  # where a pin's head is, 25 px above its tip
        if dots:
            assert near(image.getpixel((x, y)), BLUE), image.getpixel((x, y))
            assert not near(body, BLUE, 60), body
        else:
            assert near(body, (0x2A, 0x81, 0xCB), 70), body  # Leaflet's marker icon's blue
        ((_, top, _, bottom),) = rendered.labels  # type: ignore[attr-defined]
        assert ((top + bottom) / 2 < y - 10) != dots, (n, top, bottom, y)  # by a pin's head, a dot's middle
