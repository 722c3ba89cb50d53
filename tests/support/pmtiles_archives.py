"""PMTiles archives for the add_layer tests, written by the ``pmtiles`` package's writer: raster
archives of solid-colour PNG tiles (Pillow) and a vector archive whose tiles are Mapbox Vector
Tiles encoded here (a tiny encoder: one layer, one square polygon); and a server of archives as
a static file host is: HTTP range requests answered with 206 and Content-Range, and the CORS
headers a page on another origin needs (``Range`` is not a safelisted header, so the browser
asks first, with OPTIONS)."""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import random
import re
from functools import partial

import trio
from PIL import Image, PngImagePlugin
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from support.sources import http_answer, read_request

__all__ = [
    "EXTENT",
    "SQUARE",
    "many_tiles_archive",
    "mvt_square",
    "raster_archive",
    "serve_archives",
    "tile_body",
    "tile_point",
    "vector_archive",
]

SQUARE = (0.0, 0.0, 20.0, 20.0)  # west, south, east, north: the vector archive's one polygon
EXTENT = 4096
RANGE = re.compile(rb"\r\nrange: *bytes=(\d+)-(\d*)\r\n", re.I)


def _archive(
    tiles: dict[tuple[int, int, int], bytes], tile_type: TileType, compression: Compression
) -> bytes:
    out = io.BytesIO()
    writer = Writer(out)
    for z, x, y in sorted(tiles, key=lambda t: zxy_to_tileid(*t)):
        writer.write_tile(zxy_to_tileid(z, x, y), tiles[(z, x, y)])
    header = {"tile_type": tile_type, "tile_compression": compression}
    header |= {"min_lon_e7": -180 * 10**7, "min_lat_e7": -85 * 10**7}
    header |= {"max_lon_e7": 180 * 10**7, "max_lat_e7": 85 * 10**7}
    writer.finalize(header, {"name": "mapsrv test archive"})
    return out.getvalue()


def raster_archive(color: tuple[int, int, int], max_zoom: int = 4) -> bytes:
    """Every tile from zoom 0 to ``max_zoom`` one colour, stored once per zoom, as a run (the
    writer takes the archive's max zoom from its last entry's first tile: one run of all the
    zooms would make it 0)."""
    tiles = {}
    for z in range(max_zoom + 1):
        tile = _png(color, z)
        tiles |= {(z, x, y): tile for x in range(2**z) for y in range(2**z)}
    return _archive(tiles, TileType.PNG, Compression.NONE)


def many_tiles_archive(max_zoom: int = 7) -> bytes:
    """An archive of 21,845 different tiles (``tile_body``) of random lengths: its directory is
    past 16 KiB even gzip'd, so it has leaf directories."""
    lengths = random.Random(45)
    ids = sorted(
        zxy_to_tileid(z, x, y) for z in range(max_zoom + 1) for x in range(2**z) for y in range(2**z)
    )
    out = io.BytesIO()
    writer = Writer(out)
    for tile_id in ids:
        writer.write_tile(tile_id, tile_body(tile_id, lengths.randrange(1, 250)))
    writer.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE}, {})
    return out.getvalue()


def tile_body(tile_id: int, padding: int) -> bytes:
    return b"tile %d " % tile_id + b"." * padding


def _png(color: tuple[int, int, int], zoom: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("zoom", str(zoom))
    out = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field: a varint (wire type 0) or length-delimited bytes (wire type 2)."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def tile_point(lon: float, lat: float, z: int, x: int, y: int) -> tuple[int, int]:
    n = 2**z
    wx = (lon + 180) / 360 * n
    wy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return round((wx - x) * EXTENT), round((wy - y) * EXTENT)


def mvt_square(
    layer: str, z: int, x: int, y: int, square: tuple[float, float, float, float] = SQUARE
) -> bytes:
    """A vector tile (MVT 2.1) with one layer holding ``square`` as one polygon, in the tile's
    coordinates (parts past the tile's edge are left for the reader to clip)."""
    west, south, east, north = square
    ring = [
        tile_point(lon, lat, z, x, y)
        for lon, lat in ((west, north), (west, south), (east, south), (east, north))
    ]
    # a polygon's exterior ring winds clockwise in tile coordinates (y down): spec 4.3.4.4
    commands, cx, cy = [], 0, 0
    for i, (px, py) in enumerate(ring):
        if i == 0:
            commands.append(1 | 1 << 3)  # MoveTo, once
        elif i == 1:
            commands.append(2 | (len(ring) - 1) << 3)  # LineTo, three times
        commands += [_zigzag(px - cx), _zigzag(py - cy)]
        cx, cy = px, py
    commands.append(7 | 1 << 3)  # ClosePath
    geometry = b"".join(_varint(c) for c in commands)
    feature = _field(1, 1) + _field(3, 3) + _field(4, geometry)  # id, type POLYGON, geometry
    body = _field(15, 2) + _field(1, layer.encode()) + _field(2, feature) + _field(5, EXTENT)
    return _field(3, body)


def vector_archive(layer: str = "squares", max_zoom: int = 3) -> bytes:
    """Gzip'd vector tiles of ``SQUARE`` from zoom 0 to ``max_zoom``, in the tiles it touches."""
    tiles = {}
    for z in range(max_zoom + 1):
        for x in range(2**z):
            for y in range(2**z):
                corners = [
                    tile_point(lon, lat, z, x, y)
                    for lon, lat in ((SQUARE[0], SQUARE[3]), (SQUARE[2], SQUARE[1]))
                ]
                (x0, y0), (x1, y1) = corners
                if x1 > 0 and x0 < EXTENT and y1 > 0 and y0 < EXTENT:
                    tiles[(z, x, y)] = gzip.compress(mvt_square(layer, z, x, y), mtime=0)
    return _archive(tiles, TileType.MVT, Compression.GZIP)


async def serve_archives(
    nursery: trio.Nursery, files: dict[str, bytes], asked: list[tuple[str, str]] | None = None
) -> int:
    """Serves ``files`` by path on 127.0.0.1 as a static host with range requests does (CORS
    included); each request's path and Range header go to ``asked``. The port."""

    async def one(stream: trio.SocketStream) -> None:
        # a socket the browser resets or closes unused is let go, not let crash the host
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError):
                data = await read_request(stream)
                if data is None:
                    return
                head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
                target = data.split(b" ", 2)[1].decode()
                wanted = RANGE.search(head)
                if asked is not None:
                    asked.append((target, wanted[0].decode().strip() if wanted else ""))
                await stream.send_all(_answer(files, head, target, wanted))

    listeners = await nursery.start(partial(trio.serve_tcp, one, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


def _answer(files: dict[str, bytes], head: bytes, target: str, wanted: re.Match[bytes] | None) -> bytes:
    cors = {"Access_Control_Allow_Origin": "*", "Access_Control_Allow_Headers": "Range"}
    cors["Access_Control_Expose_Headers"] = "Content-Range, Content-Length"
    if head.startswith(b"OPTIONS "):
        return http_answer("204 No Content", b"", "text/plain", **cors)
    body = files.get(target.split("?")[0])
    if body is None:
        return http_answer("404 Not Found", b"no such file", "text/plain", **cors)
    if wanted is None:
        return http_answer("200 OK", body, "application/octet-stream", **cors)
    first = int(wanted[1])
    last = min(int(wanted[2]) if wanted[2] else len(body) - 1, len(body) - 1)
    content_range = f"bytes {first}-{last}/{len(body)}"
    part = body[first : last + 1]
    return http_answer(
        "206 Partial Content", part, "application/octet-stream", Content_Range=content_range, **cors
    )
