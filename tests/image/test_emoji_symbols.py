"""A marker's emoji symbol in the map image (issue 76), with real parts: Pillow, Roboto and the
system's Noto Color Emoji (Debian's fonts-noto-color-emoji, which scripts/test.sh installs), the
``map_image`` tool through the SDK's client. An emoji is drawn in its colours inside its badge;
without an emoji font its marker is drawn as one without a symbol, never an empty box, and the
caption says why. The font is hidden by pointing the lookup at a missing file and command."""

from __future__ import annotations

import base64
import io
import math
import shutil
from typing import Any

import pytest
import trio
from mcp import Client
from PIL import Image, ImageChops
from support import require, start_server

from mapsrv.core import Feature, MapState
from mapsrv.image import symbols
from mapsrv.image.projection import ImageView
from mapsrv.image.render import ImageRequest, render

BADGE = (37, 99, 235)  # a symbol's badge, without a colour of its own (render.SYMBOL_COLOR)
WHITE = (255, 255, 255)
VIEW = (40.0, -3.0, 6, 640, 240)  # centre, zoom and size of the images
SYMBOLS = ["🏨", "☕", "A", None]  # one marker each, from west to east


def require_emoji_font() -> str:
    found = symbols.emoji_font()
    require(found is not None, "an emoji font (apt-get install fonts-noto-color-emoji)")
    assert found is not None
    return found


def hide_emoji_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symbols, "EMOJI_FONTS", ("/nonexistent/no-emoji.ttf",))
    monkeypatch.setattr(symbols, "FC_MATCH", "/nonexistent/fc-match")


def items(marks: list[str | None]) -> list[dict[str, Any]]:
    return [{"at": [40.0, -7.5 + 3 * i], **({"symbol": s} if s else {})} for i, s in enumerate(marks)]


async def drawn(agent: Client, marks: list[str | None]) -> tuple[Image.Image, str]:
    """The map of one marker per symbol, as ``map_image`` shows it: its pixels and its caption."""
    made = await agent.call_tool("draw", {"items": items(marks), "title": "Stays"})
    map_id = made.structured_content["map_id"]
    lat, lon, zoom, width, height = VIEW
    moved = await agent.call_tool("set_view", {"map_id": map_id, "at": [lat, lon], "zoom": zoom})
    assert not moved.is_error, moved.content
    result = await agent.call_tool("map_image", {"map_id": map_id, "width": width, "height": height})
    assert not result.is_error, result.content
    picture, caption = result.content
    return Image.open(io.BytesIO(base64.b64decode(picture.data))).convert("RGB"), caption.text


def inside(image: Image.Image, i: int) -> list[tuple[int, int, int]]:
    """The pixels of the i-th marker's badge inside its white rim (26 px, a 2 px rim)."""
    x, y = ImageView.centered(*VIEW).pixel(*items(SYMBOLS)[i]["at"])
    box = image.crop((round(x) - 8, round(y) - 8, round(x) + 9, round(y) + 9))
    return list(box.get_flattened_data())


def coloured(pixel: tuple[int, int, int]) -> bool:
    """A colour the badge and white letters on it cannot make: far from every blend of the two
    (a box outline or a letter, anti-aliased, is such a blend)."""
    towards = [w - b for w, b in zip(WHITE, BADGE, strict=True)]
    along = sum((p - b) * t for p, b, t in zip(pixel, BADGE, towards, strict=True))
    along /= sum(t * t for t in towards)
    nearest = [b + max(0.0, min(1.0, along)) * t for b, t in zip(BADGE, towards, strict=True)]
    return math.dist(pixel, nearest) > 60


async def test_an_emoji_symbol_is_drawn_in_its_colours_inside_its_badge(nursery: trio.Nursery) -> None:
    require_emoji_font()
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        image, caption = await drawn(agent, SYMBOLS)
    hotel, coffee, letter = (inside(image, i) for i in range(3))
    assert sum(map(coloured, hotel)) >= 40, "the hotel in its colours, not a box"
    assert sum(1 for r, g, b in hotel if r > 90 and g < 60 and b < 60) >= 5, "the hotel sign's red"
    assert sum(1 for r, g, b in coffee if r - b >= 30 and r > g > b) >= 5, "the coffee's brown"
    assert sum(map(coloured, letter)) == 0, "a letter is white on its badge"
    x, y = ImageView.centered(*VIEW).pixel(*items(SYMBOLS)[0]["at"])
    beside = image.getpixel((round(x) + 10, round(y)))
    assert math.dist(beside, BADGE) < 40, "the emoji sits in its badge"
    assert "shown in the page only" not in caption


async def test_without_an_emoji_font_the_marker_is_drawn_without_its_symbol_and_the_caption_says_why(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_emoji_font(monkeypatch)
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        emoji, caption = await drawn(agent, SYMBOLS)
        plain, plain_caption = await drawn(agent, [None, None, "A", None])
    assert ImageChops.difference(emoji, plain).getbbox() is None, "each emoji's marker drawn as a plain pin"
    note = "2 marker symbols shown in the page only: no emoji font on this server "
    assert caption.count(note + "(install fonts-noto-color-emoji)") == 1, caption
    assert "shown in the page only" not in plain_caption


def test_a_symbol_is_drawn_by_the_font_that_has_it_or_left_out_and_named() -> None:
    require_emoji_font()
    marks = ["é", "Ω", "🏨", "★", "中"]
    at = [(40.0, -8.0 + 2 * i) for i in range(len(marks))]
    features = {s: Feature(s, "marker", p, style=(("symbol", s),)) for s, p in zip(marks, at, strict=True)}
    rendered = render(MapState("m", 1, "", None, features=features), ImageRequest())
    assert "2 marker symbols shown in the page only: no font on this server has '★', '中'" in rendered.caption


def test_fontconfig_finds_the_emoji_font_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    found = require_emoji_font()
    require(shutil.which(symbols.FC_MATCH) is not None, "fontconfig's fc-match")
    monkeypatch.setattr(symbols, "EMOJI_FONTS", ("/nonexistent/no-emoji.ttf",))
    assert symbols.emoji_font() == found
