"""Where labels go: boxes beside their anchor, and a grid of 64 px cells that finds the boxes
already placed near a new one (a crowded map places thousands)."""

from __future__ import annotations

__all__ = ["Box", "box_at", "cells", "overlaps", "taken"]

Box = tuple[float, float, float, float]


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
