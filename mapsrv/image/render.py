"""A map drawn as a PNG with Pillow, the way the page draws it: the same view (Web Mercator,
``fitBounds`` / ``setView``), the same colours, symbols and label placement (a label only where
it fits), on map tiles when they came or on the offline basemap (Natural Earth) otherwise.

Pure and CPU-bound: ``mapsrv.image.service`` runs it in a worker thread. Shapes are drawn at
twice the size and scaled down (Pillow draws no anti-aliased polygons); text is drawn at size.
A map of ``CLUSTER_FROM`` points or more draws them as clusters with counts, and every line
is thinned to one point per pixel; the caption says so.
"""

from __future__ import annotations

import io
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import xstatic.pkg.leaflet
from PIL import Image, ImageColor, ImageDraw

from mapsrv.core import Feature, MapState
from mapsrv.core.framing import framed
from mapsrv.core.geometry import parts
from mapsrv.core.pace import paced
from mapsrv.image.basemap import Raster, basemap
from mapsrv.image.caption import CLUSTER_FROM, caption_of
from mapsrv.image.dashes import pattern, stroke_path
from mapsrv.image.legend import draw_legend
from mapsrv.image.paths import feature_bounds, world_path
from mapsrv.image.placement import CIRCLE_MARKER, DOT, SYMBOL_SIZE, place_labels
from mapsrv.image.projection import (
    WORLD_CENTER,
    WORLD_ZOOM,
    ImageView,
    fit,
    meters_per_pixel,
    one_world,
)
from mapsrv.image.styling import heat_image, paint
from mapsrv.image.symbols import draw_symbol, drawable
from mapsrv.image.text import centered_text, draw_attribution, font
from mapsrv.workers import stop_if_cancelled

__all__ = [
    "CLUSTER_FROM",
    "DEFAULT_SIZE",
    "NATURAL_EARTH",
    "OSM",
    "credits",
    "MAX_SIDE",
    "ImageRequest",
    "Rendered",
    "choose_view",
    "render",
    "selected",
]

DEFAULT_SIZE = (800, 600)
MAX_SIDE = 1280
MIN_SIDE = 64
SUPER = 2  # shapes drawn at this multiple, then scaled down
CLUSTER_CELL = 48  # px
PATH = "#3388ff"  # Leaflet's default path colour, as the page
SYMBOL_COLOR = "#2563eb"
BIG_AT = 400  # shapes from which the page draws a map as big (render.js BIG_AT)
OSM = "© OpenStreetMap contributors"  # the default tile server's attribution (config: tile_attribution)
NATURAL_EARTH = "Natural Earth"  # the offline basemap's source
LEGEND_BELOW = 22  # px kept under the legend at least: the attribution's line
# Leaflet's own marker, from the package that serves it to the page (not a copy of ours)
_PIN = Path(xstatic.pkg.leaflet.BASE_DIR) / "images" / "marker-icon.png"


@dataclass(frozen=True)
class ImageRequest:
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    bbox: tuple[float, float, float, float] | None = None  # south, west, north, east
    ids: Collection[str] | None = None  # only these features (and the view fits them)
    layer: str | None = None  # only this layer's features


@dataclass(frozen=True)
class Rendered:
    png: bytes
    caption: str
    view: ImageView
    shown: int  # features drawn (clusters count their members)
    clustered: bool
    basemap: str  # "tiles" or "natural earth"
    markers: dict[str, tuple[float, float]] = field(default_factory=dict)  # marker id -> pixel
    labels: list[tuple[float, float, float, float]] = field(default_factory=list)  # boxes drawn
    legend: tuple[float, float, float, float] | None = None  # the legend's box, when drawn
    credits: tuple[str, ...] = ()  # the sources credited in its corner
    street_labels: tuple[str, ...] = ()  # the street basemap's names drawn (``mapsrv.image.streets``)


def choose_view(state: MapState, request: ImageRequest, chosen: list[Feature]) -> ImageView:
    """The view the page would show: the asked bbox, the asked features, the map's own view, all
    its features, or the world; a view fitted on data as wide as the world shows it once
    (``one_world``), where the page would repeat it on both sides."""
    w, h = request.width, request.height
    if request.bbox is not None:
        s, west, n, e = request.bbox
        return one_world(fit(s, west, n, e, w, h, padding=0, max_zoom=18), s, west, n, e, padding=0)
    if request.ids is not None or request.layer is not None or state.view is None:
        box = feature_bounds(chosen)
        if box is not None and len(chosen) >= 50 and (found := framed(chosen))[1]:  # a few far away aside
            (s, west), (n, e) = found[0]
            box = (s, west, n, e)
        if box is None:
            return ImageView.centered(*WORLD_CENTER, WORLD_ZOOM, w, h)
        return one_world(fit(*box, w, h), *box)
    view = state.view
    if view.bounds is not None:
        (s, west), (n, e) = view.bounds
        return one_world(fit(s, west, n, e, w, h), s, west, n, e)
    assert view.center is not None
    zoom = round(view.zoom) if view.zoom is not None else WORLD_ZOOM
    return ImageView.centered(view.center[0], view.center[1], zoom, w, h)


def render(
    state: MapState,
    request: ImageRequest,
    tiles: Mapping[tuple[int, int], Image.Image] | None = None,
    view: ImageView | None = None,
    chosen: list[Feature] | None = None,
    rasters: Sequence[Raster] = (),
    attribution: str = OSM,
    streets: str = "",
) -> Rendered:
    """The image; ``tiles`` (tile x, y -> 256 px image at the view's tile zoom) when they came,
    credited with ``attribution``, and ``rasters`` (the street basemap ``streets`` first, if any)."""
    if chosen is None:
        chosen = selected(state, request)
    if view is None:
        view = choose_view(state, request, chosen)
    base = basemap(view, tiles, rasters)
    chosen, heat, heated = paint(state, chosen)  # styles by value: colours, sizes, labels, what shows
    overlay = Image.new("RGBA", (view.width * SUPER, view.height * SUPER), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    points = [f for f in chosen if f.type == "marker"]
    clustered = len(points) >= CLUSTER_FROM  # the page's rule too (points.js: total >= CLUSTER_FROM)
    unshown = ""  # the symbols that cannot be drawn, left out (mapsrv.image.symbols)
    if not clustered and (drawn := drawable(chosen))[1]:
        chosen, unshown = drawn
        points = [f for f in chosen if f.type == "marker"]
    dots = _big(state)  # as the page: a big map's points are dots, not pins
    for feature in chosen:  # each a step a cancelled call stops at (the client left)
        stop_if_cancelled()
        if feature.type != "marker":
            _shape(overlay, draw, view, feature)
    markers: dict[str, tuple[float, float]] = {}
    clusters: list[tuple[float, float, int]] = []
    if clustered:
        clusters = _clusters(view, points)
        for x, y, count in clusters:
            _cluster_disc(draw, x, y, count)
    else:
        for feature in points:
            stop_if_cancelled()
            x, y = view.pixel(*feature.coords)
            markers[feature.id] = (x, y)
            _marker_shape(draw, x, y, feature, dots)
    small = overlay.reduce(SUPER)  # a box filter, as resize(BOX) but in a fifth of the time
    hot = heat_image(view, heat)
    if hot is not None:  # under the shapes and points, as the page draws it (issue 76)
        base.alpha_composite(hot)
    image = Image.alpha_composite(base, small)
    stop_if_cancelled()
    text = ImageDraw.Draw(image)
    if clustered:
        for x, y, count in clusters:
            centered_text(text, x, y, _count(count), font(11), "#ffffff")
    else:
        pin = _pin()
        for feature in points:
            x, y = markers[feature.id]
            style = dict(feature.style)
            if style.get("symbol"):
                draw_symbol(image, text, x, y, str(style["symbol"]))
            elif not style.get("color") and not dots:
                image.alpha_composite(pin, (round(x) - 12, round(y) - 41))
    styles = {lid: layer.style for lid, layer in state.layers.items() if layer.style is not None}
    labelled = chosen if not clustered else [f for f in chosen if f.type != "marker"]
    background = "tiles" if tiles else f"streets ({streets})" if streets else "natural earth"
    credited = credits(state, attribution if tiles else OSM if streets else NATURAL_EARTH)
    # the attribution and the legend are drawn over the map after the labels: drawn first on a
    # sheet of their own, their boxes are where no label goes
    sheet = Image.new("RGBA", image.size)
    below = draw_attribution(ImageDraw.Draw(sheet), view, credited)
    over = [sheet.getbbox(), draw_legend(sheet, state, request.layer, below=max(below, LEGEND_BELOW))]
    boxes = place_labels(text, view, labelled, styles, [box for box in over if box is not None], dots)
    below = draw_attribution(text, view, credited)
    legend = draw_legend(image, state, request.layer, below=max(below, LEGEND_BELOW))
    out = io.BytesIO()
    image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=False)
    shown = sum(c for _, _, c in clusters) + (len(chosen) - len(points)) if clustered else len(chosen)
    shown += heated
    caption = (
        caption_of(state, view, chosen, len(chosen) + heated, len(boxes), clustered, background, heated)
        + (f"; {unshown}" if unshown else "")
        + f"; credits: {' | '.join(credited)}"
    )
    return Rendered(
        out.getvalue(), caption, view, shown, clustered, background, markers, boxes, legend, credited
    )


# --- what is drawn -------------------------------------------------------------------------------


def credits(state: MapState, basemap: str) -> tuple[str, ...]:
    """What the image must credit, each once: its basemap's source, then each shown layer from
    elsewhere's own attribution (the page's attribution control lists the same)."""
    out = [basemap]
    for layer in state.layers.values():
        if layer.visible and layer.source is not None and str(layer.source.get("attribution", "")).strip():
            out.append(str(layer.source["attribution"]).strip())
    return tuple(dict.fromkeys(out))


def selected(state: MapState, request: ImageRequest) -> list[Feature]:
    """The features the image shows: the asked ids or layer, of the visible layers."""
    visible = {lid for lid, layer in state.layers.items() if layer.visible}
    out = []
    wanted = set(request.ids) if request.ids is not None else None
    for feature in state.features.values():
        if wanted is not None and feature.id not in wanted:
            continue
        if request.layer is not None and feature.layer != request.layer:
            continue
        if feature.layer in visible or feature.layer not in state.layers:
            out.append(feature)
    return out


# --- features --------------------------------------------------------------------------------------


def _rgb(value: object, default: str) -> tuple[int, int, int]:
    try:
        rgb = ImageColor.getrgb(str(value)) if value else ImageColor.getrgb(default)
    except ValueError:
        rgb = ImageColor.getrgb(default)
    return rgb[0], rgb[1], rgb[2]


def _alpha(value: object, default: float) -> int:
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    return round(255 * max(0.0, min(1.0, float(number))))


def _shape(overlay: Image.Image, draw: ImageDraw.ImageDraw, view: ImageView, f: Feature) -> None:
    """Every part of a feature but a marker, as the page draws it: an area's holes left empty
    (the basemap shows through), a multipoint's points as dots, a collection's members each."""
    style = dict(f.style)
    color = _rgb(style.get("color"), PATH)
    stroke = (*color, _alpha(style.get("opacity"), 1.0))
    fill = (
        *_rgb(style.get("fill_color") or style.get("color"), PATH),
        _alpha(style.get("fill_opacity"), 0.2),
    )
    weight = style.get("weight")
    width = max(1, round((float(weight) if isinstance(weight, (int, float)) else 3.0) * SUPER))
    dash = pattern(style.get("dash"), SUPER)
    if f.type == "circle":
        lat, lon = f.coords
        x, y = view.pixel(lat, lon)
        r = (f.radius or 0) / meters_per_pixel(lat, view.zoom)
        box = [(x - r) * SUPER, (y - r) * SUPER, (x + r) * SUPER, (y + r) * SUPER]
        draw.ellipse(box, fill=fill, outline=None if dash else stroke, width=width)
        if dash:  # its outline as the page's SVG dashes it, from the top clockwise
            turn = [2 * math.pi * k / 128 for k in range(129)]
            ring = [(x * SUPER + r * SUPER * math.sin(t), y * SUPER - r * SUPER * math.cos(t)) for t in turn]
            stroke_path(draw, ring, stroke, width, dash)
        return
    if f.type == "rectangle":
        (s, w), (n, e) = f.coords
        xy = _thin([view.pixel(lat, lon) for lat, lon in ((s, w), (n, w), (n, e), (s, e))])
        _area(overlay, draw, [xy], fill, stroke, width, dash)
        return
    dot = (*_rgb(style.get("color"), SYMBOL_COLOR), 230)
    for kind, value in parts(f.type, f.coords):
        if kind == "point":
            x, y = view.pixel(*value)
            r = DOT * SUPER
            box = [x * SUPER - r, y * SUPER - r, x * SUPER + r, y * SUPER + r]
            draw.ellipse(box, fill=dot, outline=(255, 255, 255, 255), width=max(1, round(1.5 * SUPER)))
        elif kind == "line":
            stroke_path(draw, _path(view, value), stroke, width, dash)
        else:
            _area(overlay, draw, [_path(view, ring) for ring in value], fill, stroke, width, dash)


def _path(view: ImageView, coords: Any) -> list[tuple[float, float]]:
    """Projected and thinned once per ring or line and zoom (``paths``), moved to the view."""
    dx, dy = view.left * SUPER, view.top * SUPER
    return [(x - dx, y - dy) for x, y in world_path(coords, view.zoom, SUPER)]


def _area(
    overlay: Image.Image,
    draw: ImageDraw.ImageDraw,
    rings: list[list[tuple[float, float]]],
    fill: tuple[int, int, int, int],
    stroke: tuple[int, int, int, int],
    width: int,
    dash: list[float] | None,
) -> None:
    """A polygon: its outline filled but for its holes, then every ring stroked (dashed with
    ``dash``)."""
    outline, *holes = rings
    if len(outline) < 3:
        return
    holes = [hole for hole in holes if len(hole) >= 3]
    if not holes:
        draw.polygon(outline, fill=fill)
    else:  # through a mask the size of the outline's box (within the image): holes stay empty
        xs, ys = [x for x, _ in outline], [y for _, y in outline]
        x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
        x1, y1 = min(overlay.width, math.ceil(max(xs)) + 1), min(overlay.height, math.ceil(max(ys)) + 1)
        if x0 < x1 and y0 < y1:
            mask = Image.new("L", (x1 - x0, y1 - y0), 0)
            cut = ImageDraw.Draw(mask)
            cut.polygon([(x - x0, y - y0) for x, y in outline], fill=255)
            for hole in holes:
                cut.polygon([(x - x0, y - y0) for x, y in hole], fill=0)
            overlay.paste(fill, (x0, y0, x1, y1), mask)
    for ring in (outline, *holes):
        stroke_path(draw, [*ring, ring[0]], stroke, width, dash)


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At twice the size, one point per pixel: a 50,000-point track draws as what shows."""
    out: list[tuple[float, float]] = []
    for x, y in points:
        p = (x * SUPER, y * SUPER)
        if not out or abs(p[0] - out[-1][0]) + abs(p[1] - out[-1][1]) >= SUPER:
            out.append(p)
    if len(points) >= 2 and len(out) == 1:
        out.append((points[-1][0] * SUPER, points[-1][1] * SUPER))
    return out


def _big(state: MapState) -> bool:
    """Whether the page draws the map as big (render.js ``BIG_AT``: 400 shapes, a feature's parts
    each one), its unstyled points as dots."""
    if len(state.features) >= BIG_AT:
        return True
    return sum(sum(1 for _ in parts(f.type, f.coords)) for f in state.features.values()) >= BIG_AT


def _marker_shape(draw: ImageDraw.ImageDraw, x: float, y: float, f: Feature, dots: bool) -> None:
    style = dict(f.style)
    if style.get("symbol"):
        r = SYMBOL_SIZE / 2 * SUPER
        color = _rgb(style.get("color"), SYMBOL_COLOR)
        draw.ellipse(
            [x * SUPER - r, y * SUPER - r, x * SUPER + r, y * SUPER + r],
            fill=(*color, 255),
            outline=(255, 255, 255, 255),
            width=2 * SUPER,
        )
    elif style.get("color"):
        r = float(style.get("size", CIRCLE_MARKER)) * SUPER  # a proportional symbol's radius
        color = _rgb(style.get("color"), PATH)
        draw.ellipse(
            [x * SUPER - r, y * SUPER - r, x * SUPER + r, y * SUPER + r],
            fill=(*color, 178),
            outline=(*color, 255),
            width=2 * SUPER,
        )
    elif dots:  # points.js's point: its radius, the symbol colour, a white rim
        r = DOT * SUPER
        box = [x * SUPER - r, y * SUPER - r, x * SUPER + r, y * SUPER + r]
        draw.ellipse(
            box, fill=(*_rgb(None, SYMBOL_COLOR), 255), outline=(255, 255, 255, 255), width=round(1.5 * SUPER)
        )


def _clusters(view: ImageView, points: list[Feature]) -> list[tuple[float, float, int]]:
    grid: dict[tuple[int, int], list[float]] = {}
    for f in paced(points):
        x, y = view.pixel(*f.coords)
        if (
            -CLUSTER_CELL <= x <= view.width + CLUSTER_CELL
            and -CLUSTER_CELL <= y <= view.height + CLUSTER_CELL
        ):
            cell = grid.setdefault((int(x // CLUSTER_CELL), int(y // CLUSTER_CELL)), [0.0, 0.0, 0.0])
            cell[0] += x
            cell[1] += y
            cell[2] += 1
    return [(sx / n, sy / n, int(n)) for sx, sy, n in grid.values()]


def _cluster_disc(draw: ImageDraw.ImageDraw, x: float, y: float, count: int) -> None:
    r = (10 + min(12, 3 * math.log10(max(count, 1)) * 2)) * SUPER
    color = (37, 99, 235) if count < 100 else (234, 88, 12) if count >= 1000 else (124, 58, 237)
    draw.ellipse(
        [x * SUPER - r, y * SUPER - r, x * SUPER + r, y * SUPER + r],
        fill=(*color, 210),
        outline=(255, 255, 255, 255),
        width=2 * SUPER,
    )


def _count(n: int) -> str:
    return f"{n / 1000:.0f}k" if n >= 10_000 else str(n)


# --- text ------------------------------------------------------------------------------------------


@cache
def _pin() -> Image.Image:
    return Image.open(_PIN).convert("RGBA")
