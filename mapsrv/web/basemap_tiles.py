"""The street basemap's tiles, served to the page (issue 79): a raw ASGI handler,
as the static files are (``mapsrv.web.static``: a view asks for a dozen tiles at once, and each
through Quart cost ~3 ms of the loop).

- ``GET /basemap/<name>/<z>/<x>/<y>.mvt``: a Mapbox Vector Tile of the street map ``name``
  (``mapsrv.http.basemaps``), sent as stored (gzip) to a client that accepts it; 204 where the map
  has no tile (outside it, or nothing there), 404 for a name there is not, 400 for a tile that
  cannot be.

Tiles are public, as the static files are (the operator's extract, no user's map), with a strong
ETag (the archive's size and time and the tile's place) and an hour of caching: a re-import
changes the ETag.
"""

from __future__ import annotations

import hashlib
import re

import trio

from mapsrv.errors import HttpError, InvalidInput, MapsrvError
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.compression import accepts_gzip
from mapsrv.http.responses import send_error
from mapsrv.http.types import Receive, Scope, Send, header
from mapsrv.web.static import etag_matches

__all__ = ["BasemapTiles"]

_TILE = re.compile(r"/basemap/(?P<name>[a-z0-9_-]{1,64})/(?P<z>\d{1,2})/(?P<x>\d{1,9})/(?P<y>\d{1,9})\.mvt")
_MVT = b"application/vnd.mapbox-vector-tile"
_CACHE = b"public, max-age=3600"


class BasemapTiles:
    def __init__(self, basemaps: Basemaps, headers: list[tuple[str, str]]) -> None:
        self.basemaps = basemaps
        self._common = [
            (b"access-control-allow-origin", b"*"),  # the MCP App's iframe draws them too
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise HttpError(405, "method not allowed", headers=(("Allow", "GET, HEAD"),))
            await self._send_tile(scope, send)
        except MapsrvError as exc:
            await send_error(send, exc)

    async def _send_tile(self, scope: Scope, send: Send) -> None:
        found = _TILE.fullmatch(scope["path"])
        if found is None:
            raise HttpError(404, "not found; basemap tiles are /basemap/<name>/<z>/<x>/<y>.mvt")
        name, z, x, y = found["name"], int(found["z"]), int(found["x"]), int(found["y"])
        if z > 30 or x >= 2**z or y >= 2**z:
            raise InvalidInput(f"tile must have x and y below 2**z and z at most 30, got {z}/{x}/{y}")
        try:
            street, data = await self.basemaps.stored_tile(name, z, x, y)
        except LookupError:
            raise HttpError(404, f"no basemap named {name!r}") from None
        if data is None:
            await self._send(scope, send, 204, [*self._common, (b"cache-control", _CACHE)], b"")
            return
        size, stamp = street.stamp
        tag = hashlib.blake2b(b"%d/%d/%d/%d/%d" % (size, stamp, z, x, y), digest_size=12).hexdigest()
        etag = f'"{tag}"'.encode()
        headers = [*self._common, (b"content-type", _MVT), (b"cache-control", _CACHE), (b"etag", etag)]
        if etag_matches(header(scope, b"if-none-match") or "", etag):
            await self._send(scope, send, 304, headers, b"")
            return
        if street.archive.gzipped:
            if accepts_gzip(header(scope, b"accept-encoding") or ""):
                headers.append((b"content-encoding", b"gzip"))
            else:
                data = await trio.to_thread.run_sync(street.archive.unpacked, data)
        await self._send(scope, send, 200, headers, data)

    @staticmethod
    async def _send(
        scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        headers = [*headers, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
