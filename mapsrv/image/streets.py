"""The street basemap for ``map_image``: a vector tile of mapsrv's own street tiles (Protomaps'
basemap schema v4, built by ``mapsrv places import``) drawn with Pillow in the one style the page
draws it in (``street_style.json``, read by ``street_style.py``). Geometry is drawn at twice the
size and halved (Pillow's lines and polygons are not anti-aliased; averaging 2x2 pixels smooths
their edges at a quarter of the cost of a finer grid), lines with round joins and caps; labels are
drawn after, at the tile's own size, so their text stays sharp (``street_labels.py`` places them).
Sans-IO: bytes in, a 256-pixel RGBA tile out; a tile that does not decode raises ValueError."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

from PIL import Image, ImageDraw

from mapsrv.image.dashes import dashes
from mapsrv.image.street_labels import Box, Label, Placer, along, draw_label, segments
from mapsrv.image.street_style import rgb, street_style, width_at
from mapsrv.image.text import shown
from mapsrv.image.vector_tiles import LINE, POINT, POLYGON, SIZE, Feature, decode
from mapsrv.workers import stop_if_cancelled

__all__ = ["ROAD_KINDS", "DrawnStreets", "StreetTile", "draw_street_tile", "draw_streets"]

SUPER = 2  # the geometry's pixels a tile pixel, each way
LAYERS = frozenset({"earth", "water", "landuse", "buildings", "roads", "transit", "places"})
ROAD_KINDS = ("highway", "major_road", "minor_road", "other", "path")  # most important first
Point = tuple[float, float]
Path = list[Point]


@dataclass(frozen=True)
class StreetTile:
    """A drawn tile: the 256-pixel RGBA ``image``, the ``labels`` drawn (their texts, in the
    order placed) and their ``boxes`` (tile pixels, grown by the style's gap)."""

    image: Image.Image
    labels: tuple[str, ...]
    boxes: tuple[Box, ...]
    names: tuple[str, ...] = ()  # the labels that name a place or a road (not house numbers)


def _shapes(data: bytes, zoom: int, scale: int, shift: tuple[int, int]) -> dict[str, list[Feature]]:
    """The basemap's layers by name, their coordinates in pixels of the supersampled canvas;
    house numbers only from the zoom they are drawn at (half a dense tile's features)."""
    out: dict[str, list[Feature]] = {name: [] for name in LAYERS}
    pixels, moved = SIZE * SUPER * scale, (shift[0] * SUPER, shift[1] * SUPER)
    numbers = zoom >= street_style()["labels"]["address"]["from"]

    def keep(layer: str, properties: dict[str, Any]) -> bool:
        return numbers or layer != "buildings" or properties.get("kind") != "address"

    for layer in decode(data, LAYERS, pixels=pixels, shift=moved, keep=keep):
        out[layer.name].extend(layer.features)
    return out


def _area(ring: Sequence[Point]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def _small(path: Sequence[Point]) -> Path:
    return [(x / SUPER, y / SUPER) for x, y in path]


def _fill(canvas: Image.Image, draw: ImageDraw.ImageDraw, rings: list[Path], fill: Any) -> None:
    """A polygon with its holes: rings of positive area filled, negative ones cut out (in a mask
    the size of the polygon's box, only when it has holes; most have none)."""
    big = [r for r in rings if len(r) >= 4]
    areas = [_area(r) for r in big]
    if all(a >= 0 for a in areas):
        for ring, a in zip(big, areas, strict=True):
            if a > 0:
                draw.polygon(ring, fill=fill)
        return
    xs = [x for r in big for x, _ in r]
    ys = [y for r in big for _, y in r]
    x0, y0 = max(0, int(min(xs))), max(0, int(min(ys)))
    x1, y1 = min(canvas.width, int(max(xs)) + 2), min(canvas.height, int(max(ys)) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    pen = ImageDraw.Draw(mask)
    for ring, a in zip(big, areas, strict=True):
        if a != 0:
            pen.polygon([(x - x0, y - y0) for x, y in ring], fill=255 if a > 0 else 0)
    canvas.paste(fill, (x0, y0, x1, y1), mask)


def _stroke(
    draw: ImageDraw.ImageDraw, paths: Iterable[Path], fill: Any, width: float, dash: Any = None
) -> None:
    """Lines ``width`` tile pixels wide with round joins and, when solid, round caps."""
    w = max(1, round(width * SUPER))
    lengths = [float(v) * SUPER for v in dash] if dash else None
    r = w / 2
    for big in paths:
        if len(big) < 2:
            continue
        for piece in dashes(big, lengths) if lengths else [big]:
            draw.line(piece, fill=fill, width=w, joint="curve")
        if not lengths and w >= 3:
            for x, y in (big[0], big[-1]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _lines(shapes: Iterable[Feature]) -> list[Path]:
    return [p for s in shapes if s.kind == LINE for p in s.parts]


def _roads(draw: ImageDraw.ImageDraw, roads: list[Feature], zoom: int, style: Mapping[str, Any]) -> None:
    """Roads, least important first: every casing, then every fill, so crossings join cleanly."""
    shown_kinds = [k for k in reversed(ROAD_KINDS) if zoom >= style[k].get("from", 0)]
    by_kind = {k: _lines(s for s in roads if s.properties.get("kind") == k) for k in shown_kinds}
    for kind in shown_kinds:
        rule = style[kind]
        if rule.get("casing"):
            wide = width_at(rule["widths"], zoom) + 2 * width_at(rule["casing_widths"], zoom)
            _stroke(draw, by_kind[kind], rgb(rule["casing"]), wide)
    for kind in shown_kinds:
        rule = style[kind]
        _stroke(draw, by_kind[kind], rgb(rule["fill"]), width_at(rule["widths"], zoom), rule.get("dash"))


def _geometry(layers: dict[str, list[Feature]], zoom: int) -> Image.Image:
    style = street_style()
    canvas = Image.new("RGBA", (SIZE * SUPER, SIZE * SUPER), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for shape in layers["earth"]:
        if shape.kind == POLYGON:
            _fill(canvas, draw, shape.parts, rgb(style["earth"]))
    for shape in layers["landuse"]:
        color = style["landuse"].get(shape.properties.get("kind"))
        if shape.kind == POLYGON and isinstance(color, str):
            _fill(canvas, draw, shape.parts, rgb(color))
    water = style["water"]
    for shape in layers["water"]:
        if shape.kind == POLYGON:
            _fill(canvas, draw, shape.parts, rgb(water["fill"]))
    _stroke(draw, _lines(layers["water"]), rgb(water["line"]), width_at(water["widths"], zoom))
    buildings = style["buildings"]
    if zoom >= buildings.get("from", 0):
        outline = rgb(buildings["stroke"])
        for shape in layers["buildings"]:
            if shape.kind == POLYGON:
                _fill(canvas, draw, shape.parts, rgb(buildings["fill"]))
                for ring in shape.parts:
                    if len(ring) >= 4:
                        draw.line(ring, fill=outline, width=1)
    for kind, rule in style["transit"].items():
        if zoom >= rule.get("from", 0):
            rails = _lines(s for s in layers["transit"] if s.properties.get("kind") == kind)
            _stroke(draw, rails, rgb(rule["line"]), width_at(rule["widths"], zoom), rule.get("dash"))
    _roads(draw, layers["roads"], zoom, style["roads"])
    return canvas.convert("RGBa").reduce(SUPER).convert("RGBA")


def _points(shapes: Iterable[Feature]) -> Iterable[tuple[Feature, Point]]:
    for shape in shapes:
        if shape.kind == POINT and shape.parts and shape.parts[0]:
            x, y = shape.parts[0][0]
            yield shape, (x / SUPER, y / SUPER)


def _labels(layers: dict[str, list[Feature]], zoom: int) -> Iterable[tuple[Label, str]]:
    """Every label that may be drawn, in the order they are placed: places (localities first),
    road names (by kind, the longer line first), house numbers; each with what it names
    ("place", "road", "address")."""
    rules = street_style()["labels"]
    place, road, address = rules["place"], rules["road"], rules["address"]
    for kind in ("locality", "neighbourhood"):
        if zoom >= place["from"][kind]:
            for shape, (x, y) in _points(s for s in layers["places"] if s.properties.get("kind") == kind):
                name = shape.properties.get("name")
                if isinstance(name, str) and name:
                    yield Label(shown(name), place["size"][kind], place["color"], x, y), "place"
    for kind in ROAD_KINDS:
        if zoom >= road["from"][kind]:
            named = [
                (s.properties["name"], segments([_small(p) for p in s.parts], SIZE))
                for s in layers["roads"]
                if s.kind == LINE
                and s.properties.get("kind") == kind
                and isinstance(s.properties.get("name"), str)
            ]
            for name, pieces in sorted(named, key=lambda n: -sum(d for _, _, d in n[1])):
                label = along(str(name), road["size"], road["color"], pieces)
                if label is not None:
                    yield label, "road"
    if zoom >= address["from"]:
        for shape, (x, y) in _points(s for s in layers["buildings"] if s.properties.get("kind") == "address"):
            number = shape.properties.get("addr_housenumber")
            if isinstance(number, (str, int)) and str(number):
                yield Label(shown(str(number)), address["size"], address["color"], x, y), "address"


def draw_street_tile(data: bytes, zoom: int, scale: int = 1, shift: tuple[int, int] = (0, 0)) -> StreetTile:
    """The tile drawn as shown at ``zoom`` (the style's thresholds and widths); past the tiles'
    max zoom, ``scale`` times larger and moved by ``shift`` pixels, as ``draw_vector_tile``."""
    layers = _shapes(data, zoom, scale, shift)
    image = _geometry(layers, zoom)
    rules = street_style()["labels"]
    placer = Placer(SIZE, rules["gap"])
    roads_named: set[str] = set()
    names: list[str] = []  # of places and roads, not house numbers
    for label, what in _labels(layers, zoom):
        if what == "road" and label.text in roads_named:
            continue
        if placer.place(label):
            draw_label(image, label, rules["halo"], rules["halo_width"])
            if what == "road":
                roads_named.add(label.text)
            if what != "address":
                names.append(label.text)
    placed = placer.placed
    return StreetTile(
        image, tuple(label.text for label, _ in placed), tuple(b for _, b in placed), tuple(names)
    )


@dataclass(frozen=True)
class DrawnStreets:
    """An image's street tiles drawn (x, y at its tile zoom -> 256-pixel RGBA) and the names on them."""

    tiles: dict[tuple[int, int], Image.Image]
    labels: tuple[str, ...]


def draw_streets(tiles: Mapping[tuple[int, int], bytes], zoom: int, deeper: int) -> DrawnStreets:
    """An image's street tiles (x, y at ``zoom`` -> the tile's bytes: past the archive's max zoom,
    the max-zoom tile ``deeper`` levels up), each drawn once and kept (``_drawn``: the next image
    of the same view, after each change of the map, draws none); one that does not decode is left out."""
    scale, count = 2**deeper, 2**zoom
    out: dict[tuple[int, int], Image.Image] = {}
    labels: list[str] = []
    for (x, y), data in tiles.items():
        stop_if_cancelled()
        shift = (((x % count) % scale) * SIZE, (y % scale) * SIZE)
        try:
            drawn = _drawn(data, zoom, scale, shift)
        except ValueError:
            continue
        out[(x, y)] = drawn.image
        labels += drawn.names
    return DrawnStreets(out, tuple(dict.fromkeys(labels)))


@lru_cache(maxsize=96)  # ~24 MB of drawn tiles: a few views' worth
def _drawn(data: bytes, zoom: int, scale: int, shift: tuple[int, int]) -> StreetTile:
    return draw_street_tile(data, zoom, scale, shift)
