"""Web Mercator as Leaflet does it (EPSG:3857, 256-pixel tiles), and the view of an image: which
part of the world it shows at which zoom, chosen the way the page's ``fitBounds`` and
``setView`` choose it, so a marker sits where it sits in the page (within a pixel or two)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MAX_LAT", "TILE", "ImageView", "fit", "latlon_of", "meters_per_pixel", "one_world", "world_pixel"]

TILE = 256
MAX_LAT = 85.0511287798  # Web Mercator's edge
EARTH_CIRCUMFERENCE = 40_075_016.686  # metres at the equator (Leaflet's Earth CRS)
WORLD_CENTER = (20.0, 0.0)  # the page's view of an empty map
WORLD_ZOOM = 2
FIT_PADDING = 40  # px on each side, as the page fits features
FIT_MAX_ZOOM = 16  # as the page: a lone marker does not zoom to street level
MAX_ZOOM = 18


def world_pixel(lat: float, lon: float, zoom: float) -> tuple[float, float]:
    """The point's pixel in the whole world's image at ``zoom`` (Leaflet's ``project``)."""
    size = TILE * 2.0**zoom
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    x = (lon + 180.0) / 360.0 * size
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size
    return x, y


def latlon_of(x: float, y: float, zoom: float) -> tuple[float, float]:
    """The inverse of ``world_pixel``."""
    size = TILE * 2.0**zoom
    lon = x / size * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / size))))
    return lat, lon


def meters_per_pixel(lat: float, zoom: float) -> float:
    return float(EARTH_CIRCUMFERENCE * math.cos(math.radians(lat)) / (TILE * 2.0**zoom))


@dataclass(frozen=True)
class ImageView:
    """``zoom`` and the world pixel at the image's top-left corner (whole pixels, as Leaflet
    rounds its pixel origin). The zoom is whole, as the page's, but for a view of the whole world
    (``one_world``): map tiles are then drawn at the next whole zoom, scaled down
    (``tile_view``)."""

    zoom: float
    left: float
    top: float
    width: int
    height: int

    @classmethod
    def centered(cls, lat: float, lon: float, zoom: int, width: int, height: int) -> ImageView:
        x, y = world_pixel(lat, lon, zoom)
        return cls(zoom, round(x - width / 2), round(y - height / 2), width, height)

    def pixel(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = world_pixel(lat, lon, self.zoom)
        return x - self.left, y - self.top

    @property
    def tile_zoom(self) -> int:
        """The whole zoom whose tiles the image is drawn with."""
        return math.ceil(self.zoom - 1e-9)

    def tile_view(self) -> ImageView:
        """This view at ``tile_zoom``, where map tiles are placed before they are scaled to it
        (the view itself when its zoom is whole)."""
        whole = self.tile_zoom
        if whole == self.zoom:
            return self
        grow = 2.0 ** (whole - self.zoom)
        left, top = math.floor(self.left * grow), math.floor(self.top * grow)
        width = math.ceil((self.left + self.width) * grow) - left
        height = math.ceil((self.top + self.height) * grow) - top
        return ImageView(whole, left, top, width, height)

    def bounds(self) -> tuple[float, float, float, float]:
        """south, west, north, east of what the image shows."""
        north, west = latlon_of(self.left, self.top, self.zoom)
        south, east = latlon_of(self.left + self.width, self.top + self.height, self.zoom)
        return south, west, north, east


def fit(
    south: float,
    west: float,
    north: float,
    east: float,
    width: int,
    height: int,
    *,
    padding: int = FIT_PADDING,
    max_zoom: int = FIT_MAX_ZOOM,
) -> ImageView:
    """The page's ``fitBounds(bounds, {padding, maxZoom})``: the largest whole zoom at which the
    bounds fit inside the image less its padding, centred on the bounds' middle."""
    x0, y0 = world_pixel(north, west, 0)
    x1, y1 = world_pixel(south, east, 0)
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    room_x, room_y = max(width - 2 * padding, 1), max(height - 2 * padding, 1)
    scale = min(room_x / span_x, room_y / span_y)
    zoom = math.log2(scale)
    zoom = round(zoom * 100) / 100  # within 1 % of a whole zoom counts as it (Leaflet's zoomSnap)
    whole = max(0, min(max_zoom, math.floor(zoom)))
    cx, cy = (x0 + x1) / 2 * 2**whole, (y0 + y1) / 2 * 2**whole
    return ImageView(whole, round(cx - width / 2), round(cy - height / 2), width, height)


def one_world(
    view: ImageView,
    south: float,
    west: float,
    north: float,
    east: float,
    *,
    padding: int = FIT_PADDING,
) -> ImageView:
    """A view fitted on the box (``fit``) that would show the world more than once side by side
    (an image wider than the world at its whole zoom: a world choropleth repeated on both sides of
    the data): the zoom that fits the box exactly instead, between two whole ones, and the image
    no wider than one world, so the world shows once, framed on the data."""
    if TILE * 2.0**view.zoom >= view.width:
        return view
    x0, y0 = world_pixel(north, west, 0)
    x1, y1 = world_pixel(south, east, 0)
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    room_x, room_y = max(view.width - 2 * padding, 1), max(view.height - 2 * padding, 1)
    zoom = max(0.0, math.log2(min(room_x / span_x, room_y / span_y)))
    world = TILE * 2.0**zoom
    width = min(view.width, math.floor(world))
    cx, cy = (x0 + x1) / 2 * 2**zoom, (y0 + y1) / 2 * 2**zoom
    left = min(max(0.0, cx - width / 2), world - width)
    return ImageView(zoom, round(left), round(cy - view.height / 2), width, view.height)
