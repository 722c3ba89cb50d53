"""The image's legend (bottom right, above the attribution), as the page's legend control shows
it: for each visible styled layer its name and property, then each class's colour swatch and
range (or each category), two circles with their values for proportional symbols, or the heat
gradient."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from mapsrv.core import MapState
from mapsrv.image.styling import HEAT_GRADIENT

__all__ = ["LEGEND_MARGIN", "draw_legend", "legend_lines", "value_text"]

LEGEND_MARGIN = 8
BOTTOM = 22  # px kept free under the legend for the attribution
SWATCH = 14
ROW = 18
PAD = 8
FONT = 11
MAX_TEXT = 34
CIRCLE = 8.0  # px: the largest legend circle's radius

Box = tuple[float, float, float, float]


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def value_text(value: float) -> str:
    """A break or value as people read it: 1,200 / 0.35 / 1.2M."""
    size = abs(value)
    if size >= 1e7:
        return f"{value / 1e6:,.0f}M"
    if size >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if size >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def legend_lines(name: str, style: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A layer's legend rows: ("title", text), ("swatch", (colour, text)), ("circle", (radius,
    colour, text)) or ("gradient", None)."""
    by = style.get("by")
    rows: list[tuple[str, Any]] = [("title", _clip(f"{name} · {by}" if by else name))]
    kind = style["kind"]
    if kind == "graduated":
        edges = style["breaks"]
        for i, color in enumerate(style["colors"]):
            rows.append(("swatch", (color, f"{value_text(edges[i])} - {value_text(edges[i + 1])}")))
    elif kind == "categorical":
        for value, color in style["categories"].items():
            rows.append(("swatch", (color, _clip(value or "(empty)"))))
        rows.append(("swatch", (style.get("other", "#999999"), "other")))
    elif kind == "proportional":
        top = float(style["max_value"])
        low, high = float(style["min_size"]), float(style["max_size"])
        quarter = low + (high - low) * 0.5  # the radius of a quarter of max_value: sqrt(1/4)
        scale = min(1.0, CIRCLE / high) if high > 0 else 1.0  # the two in proportion, in a row
        rows.append(("circle", (quarter * scale, style["color"], value_text(top / 4))))
        rows.append(("circle", (high * scale, style["color"], value_text(top))))
    else:
        rows.append(("gradient", None))
    return rows


def draw_legend(
    image: Image.Image, state: MapState, only: str | None = None, *, below: int = BOTTOM
) -> Box | None:
    """Draw the legend of the visible styled layers (or of ``only``) on ``image``, ``below`` px
    above its bottom (the attribution's room); its box, or None when no layer is styled."""
    rows: list[tuple[str, Any]] = []
    for lid, layer in state.layers.items():
        if layer.style is None or not layer.visible or (only is not None and lid != only):
            continue
        rows.extend(legend_lines(layer.name, layer.style))
    if not rows:
        return None
    font = _font(FONT)
    width = PAD * 2 + max(
        font.getlength(r[1]) if r[0] == "title" else SWATCH + 6 + font.getlength(r[1][-1] if r[1] else "")
        for r in rows
    )
    width = max(width, 110.0)
    fit = max(1, int((image.height - below - LEGEND_MARGIN - 2 * PAD) // ROW))
    rows = rows[:fit]
    height = PAD * 2 + ROW * len(rows)
    right, bottom = image.width - LEGEND_MARGIN, image.height - below
    box = (right - width, bottom - height, right, bottom)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(box, radius=4, fill=(255, 255, 255, 235), outline=(156, 163, 175, 255))
    x, y = box[0] + PAD, box[1] + PAD
    for kind, item in rows:
        mid = y + ROW / 2
        if kind == "title":
            draw.text((x, mid), item, font=font, fill="#111827", anchor="lm")
        elif kind == "swatch":
            color, text = item
            draw.rectangle((x, mid - SWATCH / 2, x + SWATCH, mid + SWATCH / 2), fill=color, outline="#6b7280")
            draw.text((x + SWATCH + 6, mid), text, font=font, fill="#374151", anchor="lm")
        elif kind == "circle":
            r, color, text = item
            cx = x + SWATCH / 2
            draw.ellipse((cx - r, mid - r, cx + r, mid + r), fill=color, outline="#374151")
            draw.text((x + SWATCH + 6, mid), text, font=font, fill="#374151", anchor="lm")
        else:
            _gradient(draw, x, mid - 5, box[2] - PAD - x, 10)
        y += ROW
    return box


def _gradient(draw: ImageDraw.ImageDraw, x: float, y: float, width: float, height: float) -> None:
    steps = max(1, int(width))
    for i in range(steps):
        t = 0.4 + 0.6 * i / steps
        low_stop, low = HEAT_GRADIENT[0]
        rgb = low
        for stop, color in HEAT_GRADIENT:
            if t <= stop:
                f = 0.0 if stop == low_stop else (t - low_stop) / (stop - low_stop)
                rgb = tuple(round(a + (b - a) * f) for a, b in zip(low, color, strict=True))  # type: ignore[assignment]
                break
            low_stop, low = stop, color
        draw.line([(x + i, y), (x + i, y + height)], fill=rgb)
