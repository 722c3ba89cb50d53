"""The street basemap's one style (``street_style.json`` beside this module, shipped as package
data), read once: the page's renderer (``static/streets.js``) reads the same file, so colours,
widths and zoom thresholds are defined in one place. Widths are interpolated linearly by zoom
between the zooms a table gives and held past its ends, as the page does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from PIL import ImageColor

__all__ = ["STYLE_FILE", "rgb", "street_style", "width_at"]

STYLE_FILE = Path(str(resources.files("mapsrv.image").joinpath("street_style.json")))  # package data


@cache
def street_style() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(STYLE_FILE.read_text(encoding="utf-8"))
    return loaded


@cache
def _stops(items: tuple[tuple[str, float], ...]) -> list[tuple[float, float]]:
    return sorted((float(z), float(w)) for z, w in items)


def width_at(table: Mapping[str, float], zoom: float) -> float:
    """The width a table of ``{zoom: px}`` gives at ``zoom``."""
    stops = _stops(tuple(table.items()))
    if zoom <= stops[0][0]:
        return stops[0][1]
    for (z0, w0), (z1, w1) in pairwise(stops):
        if zoom <= z1:
            return w0 + (w1 - w0) * (zoom - z0) / (z1 - z0)
    return stops[-1][1]


@cache
def rgb(color: str) -> tuple[int, int, int, int]:
    """A style colour ("#rrggbb") as opaque RGBA."""
    r, g, b = ImageColor.getrgb(color)[:3]
    return r, g, b, 255
