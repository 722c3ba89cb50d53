"""Dashed strokes in the image, as the page's SVG draws a style's ``dash`` (``stroke-dasharray``):
lengths in pixels, dash then gap, repeated (an odd list twice over, as SVG repeats it), walked
along the path across its corners. A pattern too fine to see at the image's size, or one that
would cut a path into more than ``MAX_PIECES``, is drawn solid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from PIL import ImageDraw

__all__ = ["MAX_PIECES", "dashes", "pattern", "stroke_path"]

MAX_PIECES = 20_000  # dashes of one path
Point = tuple[float, float]


def pattern(dash: Any, scale: float) -> list[float] | None:
    """A style's ``dash`` ("6 4") as lengths at ``scale`` pixels a pixel, or None for solid."""
    if not isinstance(dash, str):
        return None
    try:
        lengths = [float(v) * scale for v in dash.replace(",", " ").split()]
    except ValueError:
        return None
    if not lengths or any(not math.isfinite(v) or v < 0 for v in lengths) or sum(lengths) < scale:
        return None
    return lengths * 2 if len(lengths) % 2 else lengths


def dashes(xy: Sequence[Point], lengths: Sequence[float]) -> list[list[Point]]:
    """The drawn pieces of the path ``xy`` under the dash ``lengths``; the path whole when the
    pattern would cut it into more than ``MAX_PIECES``."""
    total = sum(math.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in pairwise(xy))
    if total / sum(lengths) * len(lengths) / 2 > MAX_PIECES:
        return [list(xy)]
    out: list[list[Point]] = []
    k, left, on = 0, lengths[0], True
    current: list[Point] = list(xy[:1])
    for (x0, y0), (x1, y1) in pairwise(xy):
        seg, done = math.hypot(x1 - x0, y1 - y0), 0.0
        while seg - done > left:
            done += left
            point = (x0 + (x1 - x0) * done / seg, y0 + (y1 - y0) * done / seg)
            if on:
                out.append([*current, point])
            current = [point]
            on, k = not on, (k + 1) % len(lengths)
            left = lengths[k]
        left -= seg - done
        if on:
            current.append((x1, y1))
    if on and len(current) >= 2:
        out.append(current)
    return out


def stroke_path(
    draw: ImageDraw.ImageDraw, xy: Sequence[Point], fill: Any, width: int, lengths: Sequence[float] | None
) -> None:
    """``xy`` stroked, solid or in dashes."""
    for piece in [list(xy)] if lengths is None else dashes(xy, lengths):
        if len(piece) >= 2:
            draw.line(piece, fill=fill, width=width, joint="curve")
