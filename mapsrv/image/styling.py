"""Layers styled by value, drawn as the page draws them: each feature of a styled layer takes its
class's (or category's) colour, a proportional circle its size, a label from the template; what
the filter or the time window hides is left out; a heatmap layer's points become a heat surface
(leaflet.heat's gradient). The rules are core's (``mapsrv.core.layer_style``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mapsrv.core import Feature, MapState
from mapsrv.core.geometry import is_area
from mapsrv.core.layer_style import color_of, label_of, number, shown, size_of
from mapsrv.core.series import props_at
from mapsrv.image.projection import ImageView

__all__ = ["HEAT_GRADIENT", "HEAT_TYPES", "Heat", "Painted", "heat_image", "paint"]

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


class Painted(NamedTuple):
    """The features as drawn (styled), the heat points, and how many features became heat."""

    features: list[Feature]
    heat: list[Heat]
    heated: int


def paint(state: MapState, features: Iterable[Feature]) -> Painted:
    """The features as drawn: those of styled layers restyled (or left out when hidden), and the
    markers and multipoints of heatmap layers as heat instead (of a style with ``heat``, as heat
    under them too)."""
    styles: dict[str, Mapping[str, Any]] = {
        lid: layer.style for lid, layer in state.layers.items() if layer.style is not None
    }
    if not styles:
        return Painted(list(features), [], 0)
    out: list[Feature] = []
    heat: list[Heat] = []
    heated = 0
    for feature in features:
        style = styles.get(feature.layer)
        if style is None:
            out.append(feature)
            continue
        props = props_at(feature, style.get("time"))  # a place's row at the time shown
        if not shown(style, props):
            continue
        instead = style["kind"] == "heatmap"  # else, with heat, a heat map under its own points
        if (instead or style.get("heat")) and feature.type in HEAT_TYPES:
            weight = 1.0 if style.get("weight") is None else number(props.get(style["weight"]))
            if weight:
                heated += instead
                for lat, lon in feature.points():
                    heat.append((lat, lon, abs(weight), float(style.get("radius", 25))))
            if instead:
                continue
        out.append(_restyled(feature, style, props))
    return Painted(out, heat, heated)


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


def _palette() -> NDArray[np.uint8]:
    """256 RGBA entries along the page's heat palette (static/style.js heatPalette): blue fading in
    from transparent up to the first stop, then the gradient."""
    stops = [(0.0, (0, 0, 255, 0)), *((at, (*rgb, 255)) for at, rgb in HEAT_GRADIENT)]
    t = (np.arange(256) + 0.5) / 256  # each entry's middle, as a 256 px wide canvas gradient
    channels = [np.interp(t, [at for at, _ in stops], [c[i] for _, c in stops]) for i in range(4)]
    out = np.round(np.stack(channels, axis=1)).astype(np.uint8)
    out[0] = 0  # no heat: left clear, as the page leaves a pixel of alpha 0
    return out


_PALETTE = _palette()


def _stamp(radius: float) -> NDArray[np.float64]:
    """The page's blurred disc of ``radius`` (its alpha): 1 at the middle, 0.6 at 45 % of the
    radius plus its blur (0.6 of the radius), 0 at the end of it, linear between."""
    reach = radius * 1.6
    size = int(np.ceil(reach))
    offsets = np.arange(-size, size + 1, dtype=np.float64)
    distance = np.hypot(offsets[None, :], offsets[:, None]) / reach
    return np.interp(distance, [0.0, 0.45, 1.0], [1.0, 0.6, 0.0], right=0.0)


def heat_image(view: ImageView, heat: list[Heat]) -> Image.Image | None:
    """The heat surface over the view (RGBA at the view's size), or None without points, as the
    page draws it (static/style.js HeatLayer): points summed in cells of a third of the radius,
    each cell stamps a blurred disc at its weighted middle with an alpha of its weight over the
    heaviest point's (at least 0.04) times 0.3, the stamps composited one over another, and the
    resulting alpha coloured by the palette. Smooth at every size: no cell is ever a square."""
    if not heat:
        return None
    width, height = view.width, view.height
    radius = max(h[3] for h in heat)
    stamp = _stamp(radius)
    reach = stamp.shape[0] // 2
    cell = max(2, round(radius / 3))
    top = max(h[2] for h in heat)
    cells: dict[tuple[int, int], list[float]] = {}
    for lat, lon, weight, _ in heat:
        x, y = view.pixel(lat, lon)
        if weight > 0 and -reach <= x <= width + reach and -reach <= y <= height + reach:
            sums = cells.setdefault((int((x + reach) // cell), int((y + reach) // cell)), [0.0, 0.0, 0.0])
            sums[0] += weight * x
            sums[1] += weight * y
            sums[2] += weight
    if not cells or top <= 0:
        return None
    # source-over compositing of alphas a_i is 1 - prod(1 - a_i): summed as logarithms
    clear = np.zeros((height + 2 * reach, width + 2 * reach), dtype=np.float64)
    for sx, sy, w in cells.values():
        alpha = max(0.04, min(1.0, w / top)) * 0.3
        x, y = round(sx / w), round(sy / w)
        clear[y : y + 2 * reach + 1, x : x + 2 * reach + 1] += np.log1p(-alpha * stamp)
    covered = 1.0 - np.exp(clear[reach : reach + height, reach : reach + width])
    level = np.clip(np.round(covered * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(_PALETTE[level], "RGBA")
