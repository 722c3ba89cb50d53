"""Text on the map image: Roboto at a size (the font-roboto package's file: Latin with every
accent, Greek, Cyrillic and Vietnamese; Pillow's own scalable default draws an empty box for any
letter outside ASCII, so "España" lost its ñ), centred text, and every source's attribution in the
corner. No system fonts are needed."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import cache

import font_roboto
from PIL import ImageDraw, ImageFont

from mapsrv.image.projection import ImageView

__all__ = [
    "LABEL_FONT",
    "attribution_lines",
    "centered_text",
    "draw_attribution",
    "font",
    "line_height",
    "shown",
]

LABEL_FONT = 12


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Roboto at ``size`` px, laid out by FreeType alone (Pillow's BASIC layout, with kerning):
    measuring and drawing a label take a third and two thirds of libraqm's time, and Roboto's
    scripts need no shaping; ``shown`` composes accents onto their letters first."""
    return ImageFont.truetype(font_roboto.Roboto, size, layout_engine=ImageFont.Layout.BASIC)


def shown(text: str) -> str:
    """``text`` as it is measured and drawn: accents composed onto their letters (NFC), as
    BASIC layout does not place a combining mark itself."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


@cache
def line_height(size: int) -> int:
    _, top, _, bottom = font(size).getbbox("Hgjy")
    return int(bottom - top)


def centered_text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, font: object, fill: str) -> None:
    draw.text((x, y), text, font=font, fill=fill, anchor="mm")  # type: ignore[arg-type]


ATTRIBUTION_FONT = 10
SEPARATOR = " | "


def attribution_lines(credits: Sequence[str], width: float) -> list[str]:
    """The sources' credits, each once, in as few lines as fit ``width`` px (the page's
    attribution control joins them the same way); a credit wider than a line keeps a line of
    its own, cut with "…"."""
    face = font(ATTRIBUTION_FONT)
    lines: list[str] = []
    for credit in dict.fromkeys(shown(c.strip()) for c in credits if c.strip()):
        while face.getlength(credit) > width and len(credit) > 1:
            credit = credit[:-2] + "…"
        joined = lines[-1] + SEPARATOR + credit if lines else credit
        if lines and face.getlength(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(credit)
    return lines


def draw_attribution(draw: ImageDraw.ImageDraw, view: ImageView, credits: Sequence[str]) -> int:
    """Every source's credit in the bottom right corner, on as many lines as it takes; the px
    it covers from the bottom."""
    face = font(ATTRIBUTION_FONT)
    lines = attribution_lines(credits, view.width - 8)
    if not lines:
        return 0
    _, top, _, bottom = draw.textbbox((0, 0), "Hgjy", font=face)
    step = bottom - top + 2
    w = max(face.getlength(line) for line in lines) + 8
    h = step * len(lines) + 4
    box = (view.width - w, view.height - h, view.width, view.height)
    draw.rectangle(box, fill=(255, 255, 255, 200))
    for i, line in enumerate(lines):
        x = view.width - 4 - face.getlength(line)
        draw.text((x, box[1] + 2 + i * step - top), line, font=face, fill="#374151")
    return round(h)
