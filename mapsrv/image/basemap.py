"""The image's background: Natural Earth's countries drawn for a view (kept per view: a map drawn
again at the same view, as after each change, reuses it), under whatever map tiles came, and
which tiles a view needs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import shapely
from PIL import Image, ImageDraw

from mapsrv.image.projection import TILE, ImageView, world_pixel
from mapsrv.places.world import Scale, countries, scale_for_zoom
from mapsrv.workers import stop_if_cancelled

__all__ = ["BORDER", "LAND", "SEA", "Raster", "basemap", "tiles_for"]

# A raster layer from elsewhere (xyz, wms): its opacity and the tiles that came (x, y -> image)
Raster = tuple[float, Mapping[tuple[int, int], Image.Image]]

SEA = (214, 226, 235)
LAND = (246, 244, 238)
BORDER = (190, 184, 172)

Ring = tuple[tuple[float, float], ...]
BIG = 4  # a ring this many times the view's size is cut to it before it is drawn


def basemap(
    view: ImageView, tiles: Mapping[tuple[int, int], Image.Image] | None, rasters: Sequence[Raster] = ()
) -> Image.Image:
    """Natural Earth's countries under whatever tiles came (a missing tile shows the outline),
    and the map's raster layers over them, in order. Tiles are at the view's ``tile_view``: a
    view between two whole zooms has them scaled down to it."""
    outline = _outline(view.zoom, round(view.left), round(view.top), view.width, view.height)
    base = outline.convert("RGBA")  # a copy: the cached outline stays as it is
    if tiles:
        base = Image.alpha_composite(base, _sheet(view, tiles))
    for opacity, layer in rasters:
        stop_if_cancelled()
        sheet = _sheet(view, layer)
        if opacity < 1:
            sheet.putalpha(sheet.getchannel("A").point([round(a * opacity) for a in range(256)]))
        base = Image.alpha_composite(base, sheet)
    return base


def _sheet(view: ImageView, tiles: Mapping[tuple[int, int], Image.Image]) -> Image.Image:
    """The tiles (x, y at the view's tile zoom) placed on a transparent image of the view."""
    at = view.tile_view()
    sheet = Image.new("RGBA", (at.width, at.height), (0, 0, 0, 0))
    for (tx, ty), tile in tiles.items():
        stop_if_cancelled()
        sheet.paste(tile.convert("RGBA"), (round(tx * TILE - at.left), round(ty * TILE - at.top)))
    if at is view:
        return sheet
    grow = 2.0 ** (at.zoom - view.zoom)
    x, y = view.left * grow - at.left, view.top * grow - at.top
    box = (x, y, x + view.width * grow, y + view.height * grow)
    return sheet.resize((view.width, view.height), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)


@lru_cache(maxsize=8)
def _outline(zoom: float, left: int, top: int, width: int, height: int) -> Image.Image:
    """The countries drawn for one view (kept: a map drawn again at the same view, as after each
    change, reuses it). Drawn at size: a quiet background needs no smoothing."""
    image = Image.new("RGB", (width, height), SEA)
    draw = ImageDraw.Draw(image)
    world = TILE * 2**zoom
    shifts = [0.0]
    if left < 0:
        shifts.append(-world)
    if left + width > world:
        shifts.append(world)
    for bbox, rings in _projected(scale_for_zoom(zoom), zoom):
        x0, y0, x1, y1 = bbox
        for shift in shifts:
            if x1 + shift < left or x0 + shift > left + width or y1 < top or y0 > top + height:
                continue
            dx, dy = left - shift, top
            for index, ring, (rx0, ry0, rx1, ry1) in rings:
                if rx1 < dx or rx0 > dx + width or ry1 < dy or ry0 > dy + height:
                    continue
                fill = LAND if index == 0 else SEA
                if rx1 - rx0 > BIG * width or ry1 - ry0 > BIG * height:
                    for part in _clipped(ring, dx, dy, width, height):
                        draw.polygon(part, fill=fill, outline=BORDER)
                    continue
                draw.polygon([(x - dx, y - dy) for x, y in ring], fill=fill, outline=BORDER)
    return image


def _clipped(ring: Ring, dx: float, dy: float, width: int, height: int) -> list[list[tuple[float, float]]]:
    """A ring far bigger than the view (a country at street level) cut to the view and a margin
    (its cut edges, where the outline is drawn too, fall outside the image): Pillow fills a
    polygon scanline by scanline over all its edges, so Finland's whole outline at zoom 16 took
    ~400 ms an image; cut, a millisecond."""
    try:
        cut = shapely.clip_by_rect(shapely.Polygon(ring), dx - 2, dy - 2, dx + width + 2, dy + height + 2)
    except shapely.errors.GEOSException:
        return [[(x - dx, y - dy) for x, y in ring]]
    return [
        [(x - dx, y - dy) for x, y in polygon.exterior.coords]
        for polygon in shapely.get_parts(cut)
        if isinstance(polygon, shapely.Polygon) and not polygon.is_empty
    ]


@lru_cache(maxsize=6)
def _projected(
    scale: Scale, zoom: float
) -> list[
    tuple[tuple[float, float, float, float], list[tuple[int, Ring, tuple[float, float, float, float]]]]
]:
    """Each country's rings in world pixels at ``zoom``, thinned to a point per pixel, each with
    its pixel box, and the country's: projected once per zoom, translated per view."""
    out = []
    for country in countries(scale):
        rings: list[tuple[int, Ring, tuple[float, float, float, float]]] = []
        for polygon in country.polygons:
            for index, ring in enumerate(polygon):
                xy: list[tuple[float, float]] = []
                for lon, lat in ring:
                    p = world_pixel(lat, lon, zoom)
                    if not xy or abs(p[0] - xy[-1][0]) + abs(p[1] - xy[-1][1]) >= 1:
                        xy.append(p)
                if len(xy) >= 3:
                    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
                    rings.append((index, tuple(xy), (min(xs), min(ys), max(xs), max(ys))))
        west, south, east, north = country.bbox
        (x0, y0), (x1, y1) = world_pixel(north, west, zoom), world_pixel(south, east, zoom)
        out.append(((x0, y0, x1, y1), rings))
    return out


def tiles_for(view: ImageView) -> list[tuple[int, int]]:
    """The tiles (x, y at the view's tile zoom) the image covers, wrapped around the world in x."""
    view = view.tile_view()
    count = 2**view.tile_zoom
    xs = range(math.floor(view.left / TILE), math.floor((view.left + view.width - 1) / TILE) + 1)
    ys = range(
        max(0, math.floor(view.top / TILE)),
        min(count - 1, math.floor((view.top + view.height - 1) / TILE)) + 1,
    )
    return [(x, y) for y in ys for x in xs]
