"""Where labels go: beside their feature as the page puts its tooltips, each only where it fits:
boxes beside their anchor, and a grid of 64 px cells that finds the boxes already placed near a
new one (a crowded map places thousands)."""

from __future__ import annotations

import itertools
import math

from PIL import ImageDraw

from mapsrv.core import Feature
from mapsrv.core.geometry import largest_part
from mapsrv.image.paths import inner_point
from mapsrv.image.projection import ImageView
from mapsrv.image.text import LABEL_FONT, font, line_height

__all__ = [
    "CIRCLE_MARKER",
    "DOT",
    "SYMBOL_SIZE",
    "Box",
    "box_at",
    "cells",
    "label_anchor",
    "overlaps",
    "place_labels",
    "taken",
]

Box = tuple[float, float, float, float]
SYMBOL_SIZE = 26  # px, a marker's symbol
CIRCLE_MARKER = 8  # px, the radius of a coloured marker
DOT = 6  # px, the radius of a multipoint's or a collection's point, as the page's


def box_at(x: float, y: float, side: str, width: float, height: float) -> Box:
    if side == "right":
        return (x, y - height / 2, x + width, y + height / 2)
    if side == "top":
        return (x - width / 2, y - height, x + width / 2, y)
    return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def cells(box: Box) -> list[tuple[int, int]]:
    xs = range(int(box[0] // 64), int(box[2] // 64) + 1)
    return [(cx, cy) for cx in xs for cy in range(int(box[1] // 64), int(box[3] // 64) + 1)]


def taken(placed: dict[tuple[int, int], list[Box]], box: Box) -> bool:
    return any(overlaps(box, other) for cell in cells(box) for other in placed.get(cell, ()))


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_anchor(view: ImageView, f: Feature) -> tuple[float, float, str]:
    """Where a feature's label goes, as the page places its tooltip: (x, y, side). One label a
    feature, on its largest part (``core.geometry.largest_part``): beside a point, over the
    middle of a line's longest leg, inside an area (its pole of inaccessibility: never in a hole
    or out of a bay)."""
    style = dict(f.style)
    if f.type == "marker":
        x, y = view.pixel(*f.coords)
        if style.get("symbol"):
            return x + SYMBOL_SIZE / 2 + 4, y, "right"
        if style.get("color"):
            return x, y - CIRCLE_MARKER - 4, "top"
        return x + 14, y - 28, "right"  # beside the pin's head
    if f.type == "circle":
        x, y = view.pixel(*f.coords)
        return x, y, "center"
    if f.type == "rectangle":
        (south, west), (north, east) = f.coords
        (x0, y0), (x1, y1) = view.pixel(north, west), view.pixel(south, east)
        return (x0 + x1) / 2, (y0 + y1) / 2, "center"
    kind, value = largest_part(f.type, f.coords)
    if kind == "point":
        x, y = view.pixel(*value)
        return x + DOT + 4, y, "right"
    if kind == "line":
        best, longest = None, -1.0
        points = [view.pixel(lat, lon) for lat, lon in value]
        for a, b in itertools.pairwise(points):
            length = math.dist(a, b)
            if length > longest:
                best, longest = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), length
        assert best is not None
        return best[0], best[1] - 6, "top"
    x, y = inner_point(value)  # world pixels at zoom 0
    scale = 2.0**view.zoom
    return x * scale - view.left, y * scale - view.top, "center"


def place_labels(draw: ImageDraw.ImageDraw, view: ImageView, features: list[Feature]) -> list[Box]:
    """Each label where it fits, newest first (a later feature is the one just drawn): a label
    that would overlap one already placed is left out, as in the page. Returns their boxes."""
    face = font(LABEL_FONT)
    height = line_height(LABEL_FONT) + 8
    placed: dict[tuple[int, int], list[Box]] = {}
    drawn: list[Box] = []
    for f in reversed(features):
        if not f.label:
            continue
        x, y, side = label_anchor(view, f)
        text = f.label if len(f.label) <= 60 else f.label[:59] + "…"
        # A box no label of this text can be narrower than: most labels of a crowded map are
        # refused on it, before their text is measured (30 us a label).
        narrow = box_at(x, y, side, 3 * len(text) + 10, height)
        if narrow[2] < 0 or narrow[3] < 0 or narrow[0] > view.width or narrow[1] > view.height:
            continue
        if taken(placed, narrow):
            continue
        box = box_at(x, y, side, face.getlength(text) + 10, height)
        if taken(placed, box):
            continue
        for cell in cells(box):
            placed.setdefault(cell, []).append(box)
        draw.rounded_rectangle(box, radius=3, fill="#ffffff", outline="#9ca3af")
        draw.text(
            ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), text, font=face, fill="#111827", anchor="mm"
        )
        drawn.append(box)
    return drawn
