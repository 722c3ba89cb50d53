"""Layers styled by value, drawn as the page draws them: each feature of a styled layer takes its
class's (or category's) colour, a proportional circle its size, a label from the template; what
the filter or the time window hides is left out; a heatmap layer's points become a heat surface
(leaflet.heat's gradient). The rules are core's (``mapsrv.core.layer_style``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image, ImageFilter

from mapsrv.core import Feature, MapState
from mapsrv.core.geometry import is_area
from mapsrv.core.layer_style import color_of, label_of, number, shown, size_of
from mapsrv.image.projection import ImageView

__all__ = ["HEAT_GRADIENT", "HEAT_TYPES", "Heat", "heat_image", "paint"]

HEAT_TYPES = ("marker", "multipoint")  # a heatmap layer's lines and areas are drawn, as the page's
FILL_OPACITY = 0.8  # a styled polygon's fill: its class reads through, the basemap barely
# leaflet.heat's default gradient (stop -> colour), which the page's heat layer uses
HEAT_GRADIENT = (
    (0.4, (0, 0, 255)),
    (0.6, (0, 255, 255)),
    (0.7, (0, 255, 0)),
    (0.8, (255, 255, 0)),
    (1.0, (255, 0, 0)),
)

Heat = tuple[float, float, float, float]  # lat, lon, weight, radius px


def paint(state: MapState, features: Iterable[Feature]) -> tuple[list[Feature], list[Heat]]:
    """The features as drawn: those of styled layers restyled (or left out when hidden), and the
    markers and multipoints of heatmap layers as heat instead."""
    styles: dict[str, Mapping[str, Any]] = {
        lid: layer.style for lid, layer in state.layers.items() if layer.style is not None
    }
    if not styles:
        return list(features), []
    out: list[Feature] = []
    heat: list[Heat] = []
    for feature in features:
        style = styles.get(feature.layer)
        if style is None:
            out.append(feature)
            continue
        props = dict(feature.properties)
        if not shown(style, props):
            continue
        if style["kind"] == "heatmap" and feature.type in HEAT_TYPES:
            weight = 1.0 if style.get("weight") is None else number(props.get(style["weight"]))
            if weight:
                for lat, lon in feature.points():
                    heat.append((lat, lon, abs(weight), float(style.get("radius", 25))))
            continue
        out.append(_restyled(feature, style, props))
    return out, heat


def _restyled(feature: Feature, style: Mapping[str, Any], props: dict[str, Any]) -> Feature:
    own = dict(feature.style)
    color = color_of(style, props)
    if color is not None:
        own.update(color=color, fill_color=color, fill_opacity=FILL_OPACITY)
        if is_area(feature.type):
            own.update(weight=1)
        own.pop("symbol", None)
    if style["kind"] == "proportional":
        size = size_of(style, props)
        if size is None:
            own.update(color=style.get("other", "#999999"), size=float(style["min_size"]))
        else:
            own["size"] = size
    label = (
        feature.label if style.get("label") is None else label_of(str(style["label"]), props, feature.label)
    )
    return Feature(**{**vars(feature), "style": tuple(sorted(own.items())), "label": label})


def _lut() -> list[int]:
    """256 RGB entries along the heat gradient (transparent below its first stop)."""
    table: list[int] = []
    for channel in range(3):
        for i in range(256):
            t = i / 255
            low_stop, low = 0.0, HEAT_GRADIENT[0][1]
            value = float(low[channel])
            for stop, rgb in HEAT_GRADIENT:
                if t <= stop:
                    span = stop - low_stop
                    f = 0.0 if span <= 0 else (t - low_stop) / span
                    value = low[channel] + (rgb[channel] - low[channel]) * max(0.0, f)
                    break
                low_stop, low = stop, rgb
                value = float(rgb[channel])
            table.append(round(value))
    return table


_LUT = _lut()


def heat_image(view: ImageView, heat: list[Heat]) -> Image.Image | None:
    """The heat surface over the view (RGBA at the view's size), or None without points."""
    if not heat:
        return None
    width, height = view.width, view.height
    radius = max(h[3] for h in heat)
    cell = max(1, int(radius // 4))
    grid: dict[tuple[int, int], float] = {}
    for lat, lon, weight, _ in heat:
        x, y = view.pixel(lat, lon)
        if -radius <= x <= width + radius and -radius <= y <= height + radius:
            key = (int(x // cell), int(y // cell))
            grid[key] = grid.get(key, 0.0) + weight
    if not grid:
        return None
    top = max(grid.values())
    intensity = Image.new("L", (width, height), 0)
    for (cx, cy), value in grid.items():
        level = round(255 * value / top)
        x0, y0 = cx * cell, cy * cell
        intensity.paste(level, (max(0, x0), max(0, y0), min(width, x0 + cell), min(height, y0 + cell)))
    blurred = intensity.filter(ImageFilter.GaussianBlur(radius / 2))
    peak = blurred.getextrema()[1] or 1
    scaled = blurred.point(lambda v: min(255, v * 255 // peak))
    rgb = Image.merge("RGB", (scaled, scaled, scaled)).point(_LUT)
    alpha = scaled.point(lambda v: 0 if v < 8 else min(230, 60 + v))
    rgb.putalpha(alpha)
    return rgb
