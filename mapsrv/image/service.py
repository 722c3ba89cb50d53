"""Map images for the MCP tool and ``/m/<id>/image.png``: tiles fetched concurrently on Trio
with a short deadline and kept in a bounded memory cache, the offline basemap where they do not
come, and the drawing in worker threads, at most ``max_renders`` at a time (so 20 images asked
for at once queue rather than take 20 images' memory).

A tile server that refuses, fails or hangs costs one deadline (``TILE_DEADLINE``); for
``RETRY_AFTER`` seconds after that, images are drawn on the offline basemap at once, then the
tiles are tried again. py-staticmaps and staticmap were judged and not taken: both fetch tiles
with synchronous ``requests`` (one waits 10 s per dead tile server, the other raises), which here
would stop the event loop.
"""

from __future__ import annotations

import functools
import io
import logging
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import trio
from PIL import Image

from mapsrv import __version__
from mapsrv.core import Feature, MapState
from mapsrv.core.layer_source import RASTER, tile_url
from mapsrv.errors import MapsrvError
from mapsrv.image.basemap import Raster, tiles_for
from mapsrv.image.projection import ImageView
from mapsrv.image.render import ImageRequest, Rendered, choose_view, render, selected

__all__ = ["MAX_RENDERS", "RETRY_AFTER", "TILE_DEADLINE", "ImageStatistics", "MapImages"]

log = logging.getLogger("mapsrv.image")

TILE_DEADLINE = 2.0  # seconds for all of an image's tiles
RETRY_AFTER = 60.0  # seconds the offline basemap is used after the tiles failed
MAX_RENDERS = 2  # images drawn at once (one per core here); the rest wait their turn
TILE_CACHE = 512  # tiles kept (about 10 MB of PNG)
MAX_TILE_BYTES = 1 << 20


@dataclass
class ImageStatistics:
    rendered: int = 0
    tiles_fetched: int = 0
    tiles_cached: int = 0
    tiles_failed: int = 0


class MapImages:
    def __init__(
        self,
        tile_url: str,
        *,
        max_renders: int = MAX_RENDERS,
        deadline: float = TILE_DEADLINE,
        fetch: Callable[[str], Awaitable[bytes]] | None = None,
    ) -> None:
        self.tile_url = tile_url
        # the guarded fetcher (``mapsrv.http.fetch``) for raster layers' tiles; None: not drawn
        self.fetch = fetch
        self._rasters: OrderedDict[str, bytes] = OrderedDict()
        self.deadline = deadline
        self.statistics = ImageStatistics()
        self._limiter = trio.CapacityLimiter(max_renders)
        self._tiles: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._offline_until = 0.0
        self._client: httpx.AsyncClient | None = None

    async def render(self, state: MapState, request: ImageRequest) -> Rendered:
        async with self._limiter:
            chosen = await trio.to_thread.run_sync(selected, state, request)
            view = await trio.to_thread.run_sync(choose_view, state, request, chosen)
            tiles = await self._fetch(view) if self.tile_url else {}
            rasters = await self._fetch_rasters(state, view)
            rendered = await trio.to_thread.run_sync(
                _render_with_tiles, state, request, tiles, view, chosen, rasters
            )
        self.statistics.rendered += 1
        return rendered

    async def _fetch(self, view: ImageView) -> dict[tuple[int, int], bytes]:
        """The view's tiles that came within the deadline (none while the tile server is known
        to be away)."""
        now = trio.current_time()
        if now < self._offline_until:
            return {}
        wanted = tiles_for(view)
        count = 2**view.zoom
        got: dict[tuple[int, int], bytes] = {}
        missing = []
        for x, y in wanted:
            key = (view.zoom, x % count, y)
            if key in self._tiles:
                self._tiles.move_to_end(key)
                got[(x, y)] = self._tiles[key]
                self.statistics.tiles_cached += 1
            else:
                missing.append((x, y))
        if not missing:
            return got

        async def one(x: int, y: int) -> None:
            key = (view.zoom, x % count, y)
            url = self.tile_url.replace("{z}", str(key[0])).replace("{x}", str(key[1])).replace("{y}", str(y))
            url = url.replace("{s}", "abc"[(x + y) % 3]).replace("{r}", "")
            assert self._client is not None
            try:
                response = await self._client.get(url)
            except httpx.HTTPError:
                return
            if response.status_code != 200 or len(response.content) > MAX_TILE_BYTES:
                return
            got[(x, y)] = response.content
            self._keep(key, response.content)
            self.statistics.tiles_fetched += 1

        with trio.move_on_after(self.deadline) as scope:
            async with self._http() as self._client, trio.open_nursery() as nursery:
                for x, y in missing:
                    nursery.start_soon(one, x, y)
        missed = [tile for tile in missing if tile not in got]
        self.statistics.tiles_failed += len(missed)
        if missed and (scope.cancelled_caught or len(missed) == len(missing)):
            self._offline_until = trio.current_time() + RETRY_AFTER
            log.info(
                "map tiles did not come (%d of %d); the offline basemap for %g s",
                len(missed),
                len(missing),
                RETRY_AFTER,
            )
        return got

    async def _fetch_rasters(
        self, state: MapState, view: ImageView
    ) -> list[tuple[float, dict[tuple[int, int], bytes]]]:
        """The tiles of the map's shown raster layers (xyz, wms) that came within the deadline,
        each through the guarded fetcher: a source refused, failing or slow leaves tiles out."""
        sources = [
            layer.source
            for layer in state.layers.values()
            if layer.visible and layer.source is not None and layer.source.get("type") in RASTER
        ]
        if not sources or self.fetch is None:
            return []
        fetch, count = self.fetch, 2**view.zoom
        out: list[tuple[float, dict[tuple[int, int], bytes]]] = [
            (float(s.get("opacity", 1.0)), {}) for s in sources
        ]

        async def one(index: int, url: str, x: int, y: int) -> None:
            try:
                data = await fetch(url)
            except MapsrvError:
                self.statistics.tiles_failed += 1
                return
            out[index][1][(x, y)] = self._rasters[url] = data
            while len(self._rasters) > TILE_CACHE:
                self._rasters.popitem(last=False)

        with trio.move_on_after(self.deadline):
            async with trio.open_nursery() as nursery:
                for index, source in enumerate(sources):
                    for x, y in tiles_for(view):
                        url = tile_url(source, view.zoom, x % count, y)
                        if url in self._rasters:
                            self._rasters.move_to_end(url)
                            out[index][1][(x, y)] = self._rasters[url]
                        else:
                            nursery.start_soon(one, index, url, x, y)
        return out

    def _http(self) -> httpx.AsyncClient:
        """A client for one image's tiles (its connections end with them), on the process's one
        TLS context (making one costs ~40 ms)."""
        return httpx.AsyncClient(
            verify=_tls(),
            timeout=httpx.Timeout(self.deadline),
            headers={"User-Agent": f"mapsrv/{__version__} (map images)"},
            follow_redirects=False,
            limits=httpx.Limits(max_connections=8),
        )

    def _keep(self, key: tuple[int, int, int], data: bytes) -> None:
        self._tiles[key] = data
        self._tiles.move_to_end(key)
        while len(self._tiles) > TILE_CACHE:
            self._tiles.popitem(last=False)


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _render_with_tiles(
    state: MapState,
    request: ImageRequest,
    tiles: dict[tuple[int, int], bytes],
    view: ImageView,
    chosen: list[Feature],
    rasters: list[tuple[float, dict[tuple[int, int], bytes]]],
) -> Rendered:
    decoded = _decoded(tiles, "RGB")
    layers: list[Raster] = [(opacity, _decoded(got, "RGBA")) for opacity, got in rasters]
    return render(state, request, decoded, view, chosen, layers)


def _decoded(tiles: dict[tuple[int, int], bytes], mode: str) -> dict[tuple[int, int], Image.Image]:
    decoded: dict[tuple[int, int], Image.Image] = {}
    for key, data in tiles.items():
        try:
            with Image.open(io.BytesIO(data)) as tile:
                if tile.size == (256, 256):
                    decoded[key] = tile.convert(mode)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # not an image (an HTML page, say): that tile is left out
    return decoded
