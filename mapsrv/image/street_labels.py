"""The street basemap's labels, placed by the rule the page's renderer (``static/streets.js``)
keeps too, so a tile reads the same in both: per tile, a label is drawn only when its whole box
lies inside the tile (no label is cut at a tile's edge, and two tiles' labels never overlap), and
one whose box meets an already placed one is skipped. A box is the axis-aligned bounding box of
the rotated text (its advance width by its font size) grown by the style's ``labels.gap`` px;
"meets" is overlaps (boxes that only touch do not meet). The order is the caller's: places, road
names, house numbers.

A road's name goes along its line once per tile: on its longest straight run (consecutive
segments, each cut to the tile first, whose points stay within ``SAG`` px of the run's chord;
past the max zoom one segment of the max-zoom tile crosses several tiles, and each weighs its own
piece), if that is at least the text's width + ``ROAD_ROOM`` px long, centred on the chord's
middle and turned to its angle normalised into (-90, 90] degrees, so it never reads upside down."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from PIL import Image, ImageDraw

from mapsrv.image.text import font, shown

__all__ = ["ROAD_ROOM", "SAG", "Box", "Label", "Placer", "along", "clip", "draw_label", "segments"]

ROAD_ROOM = 8  # px a road's run must be longer than its name
SAG = 2.0  # px a run's points may stray from its chord
Box = tuple[float, float, float, float]
Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Label:
    text: str
    size: int
    color: str
    x: float  # the text's centre, in tile pixels
    y: float
    angle: float = 0.0  # degrees, clockwise on screen (y down)

    def box(self, gap: float) -> Box:
        w, h = font(self.size).getlength(self.text), float(self.size)
        a = math.radians(self.angle)
        c, s = abs(math.cos(a)), abs(math.sin(a))
        half_w, half_h = (w * c + h * s) / 2 + gap, (w * s + h * c) / 2 + gap
        return self.x - half_w, self.y - half_h, self.x + half_w, self.y + half_h


def clip(a: Point, b: Point, size: float) -> tuple[Point, Point] | None:
    """The part of the segment a-b inside the square [0, size]², or None (Liang-Barsky)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0]), (dx, size - a[0]), (-dy, a[1]), (dy, size - a[1])):
        if p == 0:
            if q < 0:
                return None
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    if t0 > t1:
        return None
    return (a[0] + t0 * dx, a[1] + t0 * dy), (a[0] + t1 * dx, a[1] + t1 * dy)


def segments(parts: Sequence[Sequence[Point]], size: float) -> list[tuple[Point, Point, float]]:
    """A line's straight runs cut to the tile, each (start, end, length): consecutive segments
    inside the tile join into one run while every point of it stays within ``SAG`` px of the
    run's chord (a gently curving street, drawn as many short segments, carries its name)."""
    out: list[tuple[Point, Point, float]] = []
    for part in parts:
        run: list[Point] = []
        for a, b in pairwise(part):
            cut = clip(a, b, size)
            if cut is None:
                run = _ended(run, out)
                continue
            p, q = cut
            if run and run[-1] == p and _straight([*run, q]):
                run.append(q)
            else:
                _ended(run, out)
                run = [p, q]
            if q != b:  # it leaves the tile here
                run = _ended(run, out)
        _ended(run, out)
    return out


def _straight(points: Sequence[Point]) -> bool:
    """Whether every point lies within ``SAG`` px of the chord from the first to the last."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        return False
    return all(abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length <= SAG for x, y in points[1:-1])


def _ended(run: list[Point], out: list[tuple[Point, Point, float]]) -> list[Point]:
    """``run`` kept as a piece when it has length; a new, empty run."""
    if len(run) >= 2 and run[0] != run[-1]:
        out.append((run[0], run[-1], math.dist(run[0], run[-1])))
    return []


def along(text: str, size: int, color: str, pieces: Sequence[tuple[Point, Point, float]]) -> Label | None:
    """A road's name on its longest run (of ``segments``), or None when even that is too short
    for it."""
    best, length = None, 0.0
    for a, b, d in pieces:
        if d > length:
            best, length = (a, b), d
    shown_text = shown(text)
    if best is None or length < font(size).getlength(shown_text) + ROAD_ROOM:
        return None
    (x0, y0), (x1, y1) = best
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return Label(shown_text, size, color, (x0 + x1) / 2, (y0 + y1) / 2, angle)


class Placer:
    """The labels placed in one tile so far: each new one kept only when its box lies inside the
    tile and meets none of theirs."""

    def __init__(self, size: int, gap: float) -> None:
        self.size, self.gap = size, gap
        self.placed: list[tuple[Label, Box]] = []

    def place(self, label: Label) -> bool:
        box = label.box(self.gap)
        x0, y0, x1, y1 = box
        if x0 < 0 or y0 < 0 or x1 > self.size or y1 > self.size:
            return False
        for _, (a0, b0, a1, b1) in self.placed:
            if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                return False
        self.placed.append((label, box))
        return True


def draw_label(image: Image.Image, label: Label, halo: str, halo_width: float) -> None:
    """The label's text with its halo, turned to its angle about its centre."""
    face = font(label.size)
    if abs(label.angle) < 0.5:
        draw = ImageDraw.Draw(image)
        draw.text(
            (label.x, label.y), label.text, font=face, fill=label.color, anchor="mm",
            stroke_width=halo_width, stroke_fill=halo,
        )  # fmt: skip
        return
    pad = math.ceil(halo_width) + 2
    w = math.ceil(face.getlength(label.text)) + 2 * pad
    h = math.ceil(label.size * 1.4) + 2 * pad
    sprite = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(sprite).text(
        (w / 2, h / 2), label.text, font=face, fill=label.color, anchor="mm",
        stroke_width=halo_width, stroke_fill=halo,
    )  # fmt: skip
    turned = sprite.rotate(-label.angle, resample=Image.Resampling.BICUBIC, expand=True)
    at = (round(label.x - turned.width / 2), round(label.y - turned.height / 2))
    image.alpha_composite(turned, at) if at[0] >= 0 and at[1] >= 0 else _paste_clipped(image, turned, at)


def _paste_clipped(image: Image.Image, sprite: Image.Image, at: tuple[int, int]) -> None:
    """``alpha_composite`` refuses a negative offset: the sprite's part inside is composited."""
    left, top = max(0, -at[0]), max(0, -at[1])
    image.alpha_composite(sprite.crop((left, top, sprite.width, sprite.height)), (at[0] + left, at[1] + top))
