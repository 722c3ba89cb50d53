"""Where labels go, as the page places them (static/placement.js has the same rules): one per
feature, on its largest part, none over another, the larger features first.

Who goes first: the larger (its size in the image: an area's area, a line's length times
LINE_BAND, a point's symbol), then the larger value of its layer's style, then the most recently
drawn. Each goes to the first of its spots that is inside the image and overlaps nothing placed
before it: an area's label centred on its pole of inaccessibility (``inside``), a line's above
the middle of its longest segment (or below), a point's around its symbol (right, left, above,
below, then the four corners). An area's or a line's label at the edge slides inside while it
still covers its place. A label keeps off the symbols of labelled points while there are at
most SYMBOLS of them in view, unless every spot it has covers one of a point after it; a point
whose symbol a label covers gets none. A choropleth's own names (a layer styled by classes or
categories without a label template) show only where the label's box fits inside the area. A
grid of 64 px cells finds the boxes already placed near a new one (a crowded map places
thousands).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import ImageDraw

from mapsrv.core import Feature
from mapsrv.core.geometry import largest_part, parts
from mapsrv.core.layer_style import number
from mapsrv.core.series import props_at
from mapsrv.image import inside
from mapsrv.image.projection import ImageView, meters_per_pixel
from mapsrv.image.text import LABEL_FONT, font, line_height, shown
from mapsrv.workers import stop_if_cancelled

__all__ = [
    "CIRCLE_MARKER",
    "DOT",
    "SYMBOL_SIZE",
    "Box",
    "Label",
    "label_place",
    "overlaps",
    "place_labels",
    "spots",
]

Box = tuple[float, float, float, float]
SYMBOL_SIZE = 26  # px, a marker's symbol
CIRCLE_MARKER = 8  # px, the radius of a coloured marker
DOT = 6  # px, the radius of a multipoint's or a collection's point, as the page's
PIN = (-12.0, -41.0, 13.0, 0.0)  # Leaflet's marker icon around its tip
GAP = 3  # px between a symbol and its label
LINE_BAND = 4  # px: how wide a line counts for
FITTING = ("graduated", "categorical")  # styles whose areas' own names show where they fit
SYMBOLS = 1000  # labelled points in view whose symbols labels keep off
_CELL = 64


@dataclass
class Label:
    """A feature's label where it belongs: ``kind`` point, line or area at (x, y) in the image,
    a point's ``symbol`` box around it, its ``size`` in px² (what goes first), an area's
    ``rings`` when its name must fit inside it."""

    text: str
    kind: str
    x: float
    y: float
    size: float
    symbol: Box = (0.0, 0.0, 0.0, 0.0)
    value: float | None = None
    rings: Any = None
    pole: tuple[float, float] = (0.0, 0.0)  # an area's, in world pixels at zoom 0


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _marker_symbol(f: Feature, dots: bool) -> Box:
    style = dict(f.style)
    if style.get("symbol"):
        r = SYMBOL_SIZE / 2 + 1
    elif style.get("color"):
        r = float(style.get("size", CIRCLE_MARKER)) + 1
    elif dots:
        r = DOT + 1
    else:
        return PIN
    return (-r, -r, r, r)


def label_place(view: ImageView, f: Feature, text: str, dots: bool = False) -> Label:
    """Where a feature's label belongs, on its largest part (``core.geometry.largest_part``);
    with ``dots``, a marker is a dot (a big map's), not a pin."""
    if f.type == "marker":
        x, y = view.pixel(*f.coords)
        symbol = _marker_symbol(f, dots)
        return Label(text, "point", x, y, (symbol[2] - symbol[0]) * (symbol[3] - symbol[1]), symbol)
    if f.type == "circle":
        x, y = view.pixel(*f.coords)
        r = (f.radius or 0) / meters_per_pixel(f.coords[0], view.zoom)
        return Label(text, "area", x, y, math.pi * r * r)
    kind, value = largest_part(f.type, f.coords)
    if kind == "point":
        x, y = view.pixel(*value)
        r = DOT + 1
        return Label(text, "point", x, y, 4 * r * r, (-r, -r, r, r))
    found = list(parts(f.type, f.coords))
    if kind == "line":
        points = [view.pixel(lat, lon) for lat, lon in value]
        a, b = max(itertools.pairwise(points), key=lambda ab: math.dist(*ab))
        length = sum(inside.length(v) for k, v in found if k == "line")
        return Label(text, "line", (a[0] + b[0]) / 2, (a[1] + b[1]) / 2, length * 2.0**view.zoom * LINE_BAND)
    wx, wy = inside.inner_point(value)
    scale = 2.0**view.zoom
    size = sum(inside.area(v[0]) for k, v in found if k == "polygon") * scale * scale
    x, y = wx * scale - view.left, wy * scale - view.top
    return Label(text, "area", x, y, size, rings=value, pole=(wx, wy))


def spots(label: Label, w: float, h: float) -> list[tuple[float, float]]:
    """The top-left corners to try, best first, for a box ``w`` x ``h``."""
    x, y = label.x, label.y
    if label.kind == "area":
        return [(x - w / 2, y - h / 2)]
    if label.kind == "line":
        return [(x - w / 2, y - GAP - h), (x - w / 2, y + GAP)]
    sx0, sy0, sx1, sy1 = label.symbol
    left, top, right, bottom = x + sx0, y + sy0, x + sx1, y + sy1
    middle, centre = (top + bottom) / 2 - h / 2, (left + right) / 2 - w / 2
    return [
        (right + GAP, middle), (left - GAP - w, middle), (centre, top - GAP - h), (centre, bottom + GAP),
        (right, top - h), (right, bottom), (left - w, top - h), (left - w, bottom),
    ]  # fmt: skip


def _value(style: Mapping[str, Any] | None, f: Feature) -> float | None:
    by = style.get("by") if style is not None else None
    if not isinstance(by, str):
        return None
    return number(props_at(f, style.get("time") if style is not None else None).get(by))


def _must_fit(style: Mapping[str, Any] | None, label: Label) -> bool:
    chosen = style is not None and style.get("kind") in FITTING and style.get("label") is None
    return chosen and label.rings is not None


def place_labels(
    draw: ImageDraw.ImageDraw,
    view: ImageView,
    features: list[Feature],
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    over: Sequence[Box] = (),
    dots: bool = False,
) -> list[Box]:
    """Each label where it fits (the module's docstring says how), clear of ``over`` (what is
    drawn over the map: the legend, the attribution), drawn; returns their boxes in the order
    placed."""
    styles = styles or {}
    face = font(LABEL_FONT)
    height = line_height(LABEL_FONT) + 8
    margin = 300  # px: an anchor this far out cannot have a label inside the image
    ordered: list[tuple[Feature, Label, int]] = []
    for seq, f in enumerate(features):
        if not f.label:
            continue
        stop_if_cancelled()  # an area's spot is looked for: 3,000 polygons took 1.3-1.6 s
        text = shown(f.label if len(f.label) <= 60 else f.label[:59] + "…")
        label = label_place(view, f, text, dots)
        if -margin <= label.x <= view.width + margin and -margin <= label.y <= view.height + margin:
            label.value = _value(styles.get(f.layer), f)
            ordered.append((f, label, seq))
    ordered.sort(key=lambda c: (-c[1].size, math.inf if c[1].value is None else -c[1].value, -c[2]))
    # what a box keeps off, by cell: the labels and covers placed (rank PLACED, before any), and
    # the labelled points' symbols with their ranks
    placed: dict[tuple[int, int], list[Box]] = {}
    for cover in over:
        _take(placed, cover)
    symbols = _symbols([label for _, label, _ in ordered])
    drawn: list[Box] = []
    for rank, (f, label, _) in enumerate(ordered):
        stop_if_cancelled()
        if label.kind != "line" and _covered(placed, label.x, label.y):
            continue  # a point's symbol under a label, or an area's one spot taken
        fit = _must_fit(styles.get(f.layer), label)
        # A box no label of this text can be narrower than (each of its spots is inside the
        # wider one's): most labels of a crowded map are refused on it, before their text is
        # measured (30 us a label).
        narrow = 3 * len(label.text) + 10
        point = label.kind == "point"
        if point and _nowhere(placed, symbols, view, spots(label, narrow, height), narrow, rank):
            continue
        grid = _Grid(placed, symbols, view, label, not fit and not point, height)
        if not point and all(grid.free(narrow, xy, rank) is None for xy in spots(label, narrow, height)):
            continue
        width = face.getlength(label.text) + 10
        if fit and not _fits_inside(label, width, height, view.zoom):
            continue
        tries = spots(label, width, height)
        box = next(
            (b for limit in (math.inf, rank) for xy in tries if (b := grid.free(width, xy, limit))), None
        )
        if box is None:
            continue
        _take(placed, box)
        draw.rounded_rectangle(box, radius=3, fill="#ffffff", outline="#9ca3af")
        middle = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        draw.text(middle, label.text, font=face, fill="#111827", anchor="mm")
        drawn.append(box)
    return drawn


Symbols = dict[tuple[int, int], list[tuple[Box, int]]]


def _take(placed: dict[tuple[int, int], list[Box]], box: Box) -> None:
    for cell in _cells(box):
        placed.setdefault(cell, []).append(box)


def _symbols(labels: list[Label]) -> Symbols:
    """The labelled points' symbols with their ranks, by cell, each cell's in order of rank;
    none past SYMBOLS of them."""
    out: Symbols = {}
    if sum(label.kind == "point" for label in labels) > SYMBOLS:
        return out
    for rank, label in enumerate(labels):
        if label.kind == "point":
            x0, y0, x1, y1 = label.symbol
            box = (label.x + x0, label.y + y0, label.x + x1, label.y + y1)
            for cell in _cells(box):
                out.setdefault(cell, []).append((box, rank))
    return out


@dataclass
class _Grid:
    """What one label's box must keep off: the labels and covers placed, and the symbols."""

    placed: dict[tuple[int, int], list[Box]]
    symbols: Symbols  # each cell's in order of rank
    view: ImageView
    label: Label
    slide: bool  # an area's or a line's box slides inside the image while it covers its place
    height: float

    def free(self, w: float, xy: tuple[float, float], rank: float) -> Box | None:
        """The box ``w`` wide at ``xy`` when it is inside the image and ``_clear``; else None."""
        view, label, h = self.view, self.label, self.height
        x, y = float(round(xy[0])), float(round(xy[1]))
        if self.slide:
            x = max(0, min(x, view.width - w))
            y = max(0, min(y, view.height - h))
            if x > label.x or x + w < label.x or y > label.y + GAP + h or y + h < label.y - GAP - h:
                return None
        box = (x, y, x + w, y + h)
        if x < 0 or y < 0 or box[2] > view.width or box[3] > view.height:
            return None
        return box if _clear(self.placed, self.symbols, box, rank) else None


def _nowhere(
    placed: dict[tuple[int, int], list[Box]],
    symbols: Symbols,
    view: ImageView,
    tries: list[tuple[float, float]],
    w: float,
    rank: float,
) -> bool:
    """Whether no box ``w`` wide at ``tries`` is free (``_Grid.free``'s rule for a point's label,
    which does not slide), without a grid: most labels of a crowded map end here."""
    h = line_height(LABEL_FONT) + 8
    for sx, sy in tries:
        x, y = float(round(sx)), float(round(sy))
        inside = x >= 0 and y >= 0 and x + w <= view.width and y + h <= view.height
        if inside and _clear(placed, symbols, (x, y, x + w, y + h), rank):
            return False
    return True


def _clear(placed: dict[tuple[int, int], list[Box]], symbols: Symbols, box: Box, rank: float) -> bool:
    """Whether ``box`` overlaps no label or cover placed and no symbol ranked before ``rank``.
    (The one hot loop of a crowded map: a thousand labels try up to 16 spots each, so the cells
    and overlaps are written out.)"""
    x, y, right, bottom = box
    rows = range(int(y // _CELL), int(bottom // _CELL) + 1)
    for cx in range(int(x // _CELL), int(right // _CELL) + 1):
        for cy in rows:
            for b in placed.get((cx, cy), ()):
                if x < b[2] and b[0] < right and y < b[3] and b[1] < bottom:
                    return False
            for b, r in symbols.get((cx, cy), ()):
                if r >= rank:
                    break  # the rest are ranked after
                if x < b[2] and b[0] < right and y < b[3] and b[1] < bottom:
                    return False
    return True


def _covered(placed: dict[tuple[int, int], list[Box]], x: float, y: float) -> bool:
    cell = (int(x // _CELL), int(y // _CELL))
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in placed.get(cell, ()))


def _fits_inside(label: Label, width: float, height: float, zoom: float) -> bool:
    room = inside.room_at(label.rings, *label.pole, width / 2, height / 2)
    return bool(2.0**-zoom <= room)


def _cells(box: Box) -> list[tuple[int, int]]:
    xs = range(int(box[0] // _CELL), int(box[2] // _CELL) + 1)
    return [(cx, cy) for cx in xs for cy in range(int(box[1] // _CELL), int(box[3] // _CELL) + 1)]
