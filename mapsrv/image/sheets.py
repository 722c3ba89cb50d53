"""The tiles an image fetched (``mapsrv.image.service``), made into what ``render`` draws, in a
worker: the tile server's decoded, each layer from elsewhere's as a sheet of 256-pixel RGBA
tiles (vector ones drawn as the page draws them, the part of a max-zoom tile past it), and the
street basemap drawn in its style (``mapsrv.image.streets``), its names said in the caption."""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field

from PIL import Image

from mapsrv.core import Feature, MapState
from mapsrv.image.basemap import Raster
from mapsrv.image.projection import ImageView
from mapsrv.image.render import ImageRequest, Rendered, render
from mapsrv.image.streets import draw_streets
from mapsrv.image.vector_tiles import draw_vector_tile
from mapsrv.workers import stop_if_cancelled

__all__ = ["NAMES_TOLD", "TILE_SIZE", "Sheet", "Tile", "render_with_tiles"]

TILE_SIZE = 256
NAMES_TOLD = 12  # the street map's names an image's caption lists (an agent reads where it is)
Tile = tuple[int, int]  # x, y at the image's zoom


@dataclass
class Sheet:
    """One layer from elsewhere's tiles for an image: raster images, or vector tiles (MVT) drawn
    as the page draws them; ``deeper`` zooms past the archive's max zoom, each tile then the
    part of its max-zoom tile under it."""

    opacity: float
    vector: bool = False
    deeper: int = 0
    tiles: dict[Tile, bytes] = field(default_factory=dict)
    name: str = ""  # a street basemap's


def render_with_tiles(
    state: MapState,
    request: ImageRequest,
    tiles: dict[tuple[int, int], bytes],
    view: ImageView,
    chosen: list[Feature],
    sheets: list[Sheet],
    attribution: str,
    streets: Sheet | None = None,
) -> Rendered:
    decoded = _decoded(tiles, "RGB")
    layers: list[Raster] = [(sheet.opacity, _sheet(sheet, 2**view.tile_zoom)) for sheet in sheets]
    if streets is None or not streets.tiles:
        return render(state, request, decoded, view, chosen, layers, attribution)
    drawn = draw_streets(streets.tiles, view.tile_view().tile_zoom, streets.deeper)
    layers.insert(0, (1.0, drawn.tiles))
    rendered = render(state, request, decoded, view, chosen, layers, attribution, streets=streets.name)
    named = f"; names on the street map: {', '.join(drawn.labels[:NAMES_TOLD])}" if drawn.labels else ""
    return dataclasses.replace(rendered, street_labels=drawn.labels, caption=rendered.caption + named)


def _sheet(sheet: Sheet, count: int) -> dict[Tile, Image.Image]:
    """A sheet's tiles as 256-pixel RGBA images; one that does not decode is left out."""
    if not sheet.vector and not sheet.deeper:
        return _decoded(sheet.tiles, "RGBA")
    scale = 2**sheet.deeper
    out: dict[Tile, Image.Image] = {}
    for (x, y), data in sheet.tiles.items():
        stop_if_cancelled()
        dx, dy = ((x % count) % scale) * TILE_SIZE, (y % scale) * TILE_SIZE
        try:
            if sheet.vector:
                out[(x, y)] = draw_vector_tile(data, scale, (dx, dy))
                continue
            with Image.open(io.BytesIO(data)) as tile:
                if tile.size == (TILE_SIZE, TILE_SIZE):
                    part = (dx / scale, dy / scale, (dx + TILE_SIZE) / scale, (dy + TILE_SIZE) / scale)
                    box = tuple(round(v) for v in part)
                    out[(x, y)] = tile.convert("RGBA").crop(box).resize((TILE_SIZE, TILE_SIZE))
        except (OSError, ValueError, OverflowError, Image.DecompressionBombError):
            continue  # not an image or not a vector tile: left out
    return out


def _decoded(tiles: dict[tuple[int, int], bytes], mode: str) -> dict[tuple[int, int], Image.Image]:
    decoded: dict[tuple[int, int], Image.Image] = {}
    for key, data in tiles.items():
        stop_if_cancelled()
        try:
            with Image.open(io.BytesIO(data)) as tile:
                if tile.size == (256, 256):
                    decoded[key] = tile.convert(mode)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # not an image (an HTML page, say): that tile is left out
    return decoded
