"""The image's legend (bottom right, above the attribution), as the page's legend control shows
it: for each visible styled layer its name and property, then each class's colour swatch, range
and count (or each category's, and the others'), a proportional layer's circles at the radius
the map draws a feature of that value (round values from the data), or the heat ramp labelled
low to high with what it counts. Numbers are written by ``mapsrv.core.numbers.format_number``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageColor, ImageDraw

from mapsrv.core import MapState
from mapsrv.core.layer_style import legend_spec, over_text, size_of, style_counts, window_text
from mapsrv.core.numbers import format_number
from mapsrv.image.styling import HEAT_GRADIENT
from mapsrv.image.text import font as text_font
from mapsrv.image.text import shown

__all__ = ["LEGEND_MARGIN", "draw_legend", "legend_lines", "value_text"]

LEGEND_MARGIN = 8
BOTTOM = 22  # px kept free under the legend for the attribution
SWATCH = 14
ROW = 18
PAD = 8
FONT = 11
MAX_TEXT = 34
GAP = 6  # px between a swatch (or the widest circle) and its text

Box = tuple[float, float, float, float]
Row = tuple[str, Any]


def value_text(value: float, spec: str = "") -> str:
    """A break or value as people read it: 1,200 / 0.35 / 6,873 (``format_number``), or as the
    style's labels write it (``legend_spec``)."""
    return format_number(value, spec)


def _clip(text: str) -> str:
    return shown(text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…")


def _range(low: float, high: float, spec: str = "") -> str:
    return value_text(low, spec) if low == high else f"{value_text(low, spec)} – {value_text(high, spec)}"


def legend_lines(name: str, style: Mapping[str, Any], counts: Mapping[str, Any] | None = None) -> list[Row]:
    """A layer's legend rows: ("title", text), ("swatch", (colour, text, count or None)),
    ("circle", (radius, colour, text)), ("gradient", None) or ("note", text). ``counts``: the
    layer's ``style_counts`` (none: no counts shown)."""
    by = style.get("by")
    rows: list[Row] = [("title", _clip(f"{name} · {by}" if by else name))]
    counts = counts or {}
    listed = counts.get("classes") or []
    count = [c.get("count") for c in listed] if listed else []
    other = counts.get("other", 0)
    kind = style["kind"]
    spec = legend_spec(style)
    if kind == "graduated":
        edges = style["breaks"]
        for i, color in enumerate(style["colors"]):
            text = _range(edges[i], edges[i + 1], spec)
            rows.append(("swatch", (color, text, count[i] if count else None)))
        if other:
            rows.append(("swatch", (style.get("other", "#999999"), "no number", other)))
    elif kind == "categorical":
        for i, (value, color) in enumerate(style["categories"].items()):
            rows.append(("swatch", (color, _clip(value or "(empty)"), count[i] if count else None)))
        rows.append(("swatch", (style.get("other", "#999999"), "other", other if counts else None)))
    elif kind == "proportional":
        values = style.get("legend_values") or [style["max_value"]]
        color = "#9ca3af" if "color_by" in style else style["color"]  # sizes only: colours say color_by
        for value in sorted((float(v) for v in values if v and float(v) > 0), reverse=True):
            radius = size_of(style, {style["by"]: value}) or 0.0
            rows.append(("circle", (radius, color, value_text(value, spec))))
        if counts:
            rows.append(("note", f"{value_text(counts.get('shown', 0))} sized"))
        if other:
            rows.append(("swatch", (style.get("other", "#999999"), "no number", other)))
        if "color_by" in style:  # coloured by another property's categories
            rows.append(("title", _clip(str(style["color_by"]))))
            for value, category in style["categories"].items():
                rows.append(("swatch", (category, _clip(value or "(empty)"), None)))
            rows.append(("swatch", (style.get("other", "#999999"), "other", None)))
    else:
        rows.append(("gradient", None))
        if counts:
            rows.append(("note", f"density of {value_text(counts.get('shown', 0))} features"))
        if style.get("weight"):
            rows.append(("note", _clip(f"weighted by {style['weight']}")))
    if style.get("heat") and kind != "heatmap":  # a heat map under the points too
        rows.append(("gradient", None))
        if counts:
            rows.append(("note", f"density of {value_text(counts.get('shown', 0))} features"))
    if when := window_text(style.get("time")):
        rows.append(("note", _clip(f"shown: {when}")))  # the page's slider shows this viewer's
    if over := over_text(style):
        rows.append(("note", _clip(over)))
    return rows


def _height(row: Row) -> float:
    if row[0] == "circle":
        return max(float(ROW), 2 * float(row[1][0]) + 6)
    return float(ROW)


def _width(row: Row, font: Any, circles: float) -> float:
    kind, item = row
    if kind in ("title", "note"):
        return float(font.getlength(item))
    if kind == "gradient":
        return 110.0
    if kind == "circle":
        return circles + GAP + float(font.getlength(item[2]))
    count = item[2]
    extra = 0.0 if count is None else 12 + float(font.getlength(value_text(count)))
    return SWATCH + GAP + float(font.getlength(item[1])) + extra


def draw_legend(
    image: Image.Image, state: MapState, only: str | None = None, *, below: int = BOTTOM
) -> Box | None:
    """Draw the legend of the visible styled layers (or of ``only``) on ``image``, ``below`` px
    above its bottom (the attribution's room); its box, or None when no layer is styled."""
    rows: list[Row] = []
    for lid, layer in state.layers.items():
        if layer.style is None or not layer.visible or (only is not None and lid != only):
            continue
        counts = style_counts(layer.style, [f for f in state.features.values() if f.layer == lid])
        rows.extend(legend_lines(layer.name, layer.style, counts))
    if not rows:
        return None
    font = text_font(FONT)
    circles = max((2 * r[1][0] + 1 for r in rows if r[0] == "circle"), default=float(SWATCH))
    width = max(110.0, PAD * 2 + max(_width(r, font, circles) for r in rows))
    room = image.height - below - LEGEND_MARGIN - 2 * PAD
    fit: list[Row] = []
    used = 0.0
    for row in rows:
        if used + _height(row) > room and fit:
            break
        fit.append(row)
        used += _height(row)
    height = PAD * 2 + used
    right, bottom = image.width - LEGEND_MARGIN, image.height - below
    box = (right - width, bottom - height, right, bottom)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(box, radius=4, fill=(255, 255, 255, 235), outline=(156, 163, 175, 255))
    x, y = box[0] + PAD, box[1] + PAD
    for row in fit:
        _draw_row(draw, row, x, y, box[2] - PAD, circles, font)
        y += _height(row)
    return box


def _draw_row(
    draw: ImageDraw.ImageDraw, row: Row, x: float, y: float, right: float, circles: float, font: Any
) -> None:
    kind, item = row
    mid = y + _height(row) / 2
    if kind == "title":
        draw.text((x, mid), item, font=font, fill="#111827", anchor="lm")
    elif kind == "note":
        draw.text((x, mid), item, font=font, fill="#5b6573", anchor="lm")
    elif kind == "swatch":
        color, text, count = item
        draw.rectangle((x, mid - SWATCH / 2, x + SWATCH, mid + SWATCH / 2), fill=color, outline="#6b7280")
        draw.text((x + SWATCH + GAP, mid), text, font=font, fill="#374151", anchor="lm")
        if count is not None:
            draw.text((right, mid), value_text(count), font=font, fill="#5b6573", anchor="rm")
    elif kind == "circle":
        r, color, text = item
        cx = x + circles / 2
        # as the map draws a proportional symbol (mapsrv.image.render): its colour at 70 % over
        # the legend's white, a 2 px rim of it inside the radius
        rgb = ImageColor.getrgb(color)[:3]
        fill = tuple(round(c * 0.7 + 255 * 0.3) for c in rgb)
        draw.ellipse((cx - r, mid - r, cx + r, mid + r), fill=fill, outline=rgb, width=2)
        draw.text((x + circles + GAP, mid), text, font=font, fill="#374151", anchor="lm")
    else:
        ends = ("low", "high")
        left_w = font.getlength(ends[0]) + 4
        draw.text((x, mid), ends[0], font=font, fill="#374151", anchor="lm")
        draw.text((right, mid), ends[1], font=font, fill="#374151", anchor="rm")
        _gradient(draw, x + left_w, mid - 5, right - font.getlength(ends[1]) - 4 - x - left_w, 10)


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
