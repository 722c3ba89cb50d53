"""Map images for the MCP tool and ``/m/<id>/image.png``: tiles fetched concurrently on Trio
with a short deadline and kept in a bounded memory cache, the offline basemap where they do not
come, and the drawing in worker threads, at most ``max_renders`` at a time (so 20 images asked
for at once queue rather than take 20 images' memory).

A tile server or a layer's source that refuses, fails or hangs costs one deadline
(``TILE_DEADLINE``): it is then remembered as down (``mapsrv.core.origins``, the one memory the
guarded fetcher keeps too), and until its backoff is over images are drawn without it at once,
their caption saying what was skipped and when it is tried again; then one image probes it (the
basemap with one tile first). py-staticmaps and staticmap were judged and not taken: both fetch tiles
with synchronous ``requests`` (one waits 10 s per dead tile server, the other raises), which here
would stop the event loop.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import trio

from mapsrv import __version__
from mapsrv.core import MapState
from mapsrv.core.content_coding import Decoding
from mapsrv.core.layer_source import RASTER, tile_url
from mapsrv.core.origins import Down, Origins, origin_of
from mapsrv.errors import MapsrvError
from mapsrv.image.basemap import tiles_for
from mapsrv.image.projection import ImageView
from mapsrv.image.render import OSM, ImageRequest, Rendered, choose_view, selected
from mapsrv.image.sheets import Sheet, Tile, render_with_tiles
from mapsrv.workers import run

__all__ = ["MAX_RENDERS", "TILE_DEADLINE", "ImageStatistics", "MapImages", "StreetSource"]

log = logging.getLogger("mapsrv.image")

TILE_DEADLINE = 2.0  # seconds for all of an image's tiles
MAX_RENDERS = 2  # images drawn at once (one per core here); the rest wait their turn
TILE_CACHE = 512  # tiles kept (about 10 MB of PNG)
MAX_TILE_BYTES = 1 << 20


class StreetSource(Protocol):
    """The street basemaps (``mapsrv.http.basemaps.Basemaps``): which cover a box, and their tiles."""

    async def covering(
        self, south: float, west: float, north: float, east: float
    ) -> list[tuple[str, int, int]]:
        """(name, min zoom, max zoom) of each street map that meets the box."""
        ...

    async def tile(self, name: str, z: int, x: int, y: int) -> bytes | None: ...


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
        archive: Callable[[str, int, int, int], Awaitable[bytes | None]] | None = None,
        attribution: str = OSM,
        origins: Origins | None = None,
        streets: StreetSource | None = None,
    ) -> None:
        self.streets = streets  # drawn where the tile server is not used, or its tiles did not come
        self.tile_url = tile_url
        self.attribution = attribution  # the tile server's, drawn when its tiles are
        # the guarded fetcher (``mapsrv.http.fetch``) for raster layers' tiles; None: not drawn
        self.fetch = fetch
        # a raster PMTiles archive's tile by URL and z/x/y (``mapsrv.http.pmtiles``); None: not drawn
        self.archive = archive
        self._rasters: OrderedDict[str, bytes] = OrderedDict()
        self.deadline = deadline
        self.statistics = ImageStatistics()
        self._limiter = trio.CapacityLimiter(max_renders)
        self._tiles: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        # the sources that are down: the guarded fetcher's (``SourcePolicy.origins``), so both know
        self.origins = origins if origins is not None else Origins()

    async def render(self, state: MapState, request: ImageRequest) -> Rendered:
        async with self._limiter:
            chosen = await run("image", selected, state, request)
            view = await run("image", choose_view, state, request, chosen)
            skipped: list[str] = []  # sources left out, for the caption
            tiles = await self._fetch(view, skipped) if self.tile_url else {}
            rasters = await self._fetch_rasters(state, view, skipped)
            whole = bool(tiles) and len(tiles) == len(tiles_for(view.tile_view()))
            streets = None if whole else await self._fetch_streets(view)
            rendered = await run(
                "image",
                render_with_tiles,
                state,
                request,
                tiles,
                view,
                chosen,
                rasters,
                self.attribution,
                streets,
            )
        self.statistics.rendered += 1
        if skipped:
            rendered = dataclasses.replace(rendered, caption=f"{rendered.caption}; {'; '.join(skipped)}")
        return rendered

    async def _fetch(self, view: ImageView, skipped: list[str]) -> dict[tuple[int, int], bytes]:
        """The view's tiles that came within the deadline; none while the tile server is down
        (``skipped`` says so). The probe of a server that was down asks for one tile first."""
        view = view.tile_view()
        wanted = tiles_for(view)
        count = 2**view.tile_zoom
        got: dict[tuple[int, int], bytes] = {}
        missing = []
        for x, y in wanted:
            key = (view.tile_zoom, x % count, y)
            if key in self._tiles:
                self._tiles.move_to_end(key)
                got[(x, y)] = self._tiles[key]
                self.statistics.tiles_cached += 1
            else:
                missing.append((x, y))
        if not missing:
            return got
        origin, name = origin_of(self.tile_url)
        down = self.origins.check(origin)
        if down is not None:
            skipped.append(f"basemap {name} skipped: {down.describe()}")
            return {}
        batches = [missing[:1], missing[1:]] if origin in self.origins else [missing]  # a probe: one first
        answered, errors = False, []

        async def one(client: httpx.AsyncClient, x: int, y: int) -> None:
            nonlocal answered
            key = (view.tile_zoom, x % count, y)
            url = self.tile_url.replace("{z}", str(key[0])).replace("{x}", str(key[1])).replace("{y}", str(y))
            url = url.replace("{s}", "abc"[(x + y) % 3]).replace("{r}", "")
            try:
                tile = await _tile(client, url)
            except httpx.TransportError as exc:  # no connection, no answer, a broken one
                errors.append(type(exc).__name__)
                return
            except (httpx.HTTPError, MapsrvError):  # too large, not as coded: it answered
                answered = True
                return
            if isinstance(tile, int):
                answered = answered or tile < 500
                errors.append(f"HTTP {tile}")
                return
            answered = True
            got[(x, y)] = tile
            self._keep(key, tile)
            self.statistics.tiles_fetched += 1

        if _tls.cache_info().currsize == 0:  # the first: 40-50 ms of loading certificates, off the loop
            await run("index", _tls)  # (later, a hop for nothing: up to 38 ms queued behind a warm-up)
        with trio.move_on_after(self.deadline) as scope:
            async with self._http() as client:
                for batch in batches:
                    if batch is not batches[0] and not answered:
                        break  # the probe found it still down
                    async with trio.open_nursery() as nursery:
                        for x, y in batch:
                            nursery.start_soon(one, client, x, y)
        missed = [tile for tile in missing if tile not in got]
        self.statistics.tiles_failed += len(missed)
        if missed and (scope.cancelled_caught or not answered):
            if not scope.cancelled_caught:
                reason = errors[-1] if errors else "no tile came"
            elif answered:  # slow: answering some tiles, not the rest, costs each image the deadline
                reason = f"{len(missed)} of {len(missing)} tiles not within {self.deadline:g} s"
            else:
                reason = f"no answer within {self.deadline:g} s"
            down = self.origins.failed(origin, name, reason)
            skipped.append(f"basemap {name} skipped: {down.describe()}")
            log.info("map tiles did not come (%d of %d): %s", len(missed), len(missing), down.describe())
        elif answered:
            self.origins.succeeded(origin)
        return got

    async def _fetch_rasters(self, state: MapState, view: ImageView, skipped: list[str]) -> list[Sheet]:
        """The tiles of the map's shown layers from elsewhere (xyz, wms, pmtiles) that came within
        the deadline, each through the guarded fetcher: a source refused, failing or slow leaves
        tiles out, and one down is not asked at all (``skipped`` says so). Past an archive's max
        zoom, its max-zoom tile under each is taken."""
        sources = [
            (lid, layer.source)
            for lid, layer in state.layers.items()
            if layer.visible and layer.source is not None and self._draws(layer.source)
        ]
        if not sources:
            return []
        view = view.tile_view()
        zoom = view.tile_zoom
        out = [Sheet(float(s.get("opacity", 1.0)), s.get("tiles") == "vector") for _, s in sources]
        answered = [False] * len(sources)  # a tile, or the archive has none there
        waiting = [0] * len(sources)  # tiles asked for and not answered (cut by the deadline)

        async def one(
            i: int, sheet: Sheet, key: str, get: Callable[[], Awaitable[bytes | None]], at: list[Tile]
        ) -> None:
            waiting[i] += 1
            try:
                data = await get()
            except MapsrvError:
                waiting[i] -= 1
                self.statistics.tiles_failed += 1
                return
            waiting[i] -= 1
            answered[i] = True
            if data is None:
                return  # an archive without this tile
            self._rasters[key] = data
            sheet.tiles |= {xy: data for xy in at}
            while len(self._rasters) > TILE_CACHE:
                self._rasters.popitem(last=False)

        with trio.move_on_after(self.deadline) as scope:
            async with trio.open_nursery() as nursery:
                for i, (sheet, (_, source)) in enumerate(zip(out, sources, strict=True)):
                    if zoom < source.get("minzoom", 0):
                        continue
                    down = self.origins.peek(origin_of(source["url"])[0])  # its cached tiles only
                    sheet.deeper = max(0, zoom - source.get("maxzoom", zoom))
                    for (z, tx, ty), places in _under(view, sheet.deeper).items():
                        key = self._key(source, z, tx, ty)
                        if key in self._rasters:
                            self._rasters.move_to_end(key)
                            sheet.tiles |= {xy: self._rasters[key] for xy in places}
                        elif down is None:
                            nursery.start_soon(one, i, sheet, key, self._get(source, key, z, tx, ty), places)
        for i, (lid, source) in enumerate(sources):
            origin, name = origin_of(source["url"])
            told: Down | None = None
            if scope.cancelled_caught and waiting[i] and not answered[i]:
                told = self.origins.failed(origin, name, f"no answer within {self.deadline:g} s")
            elif not answered[i]:
                told = self.origins.peek(origin)
            if told is not None:
                skipped.append(f"layer {lid} ({name}) skipped: {told.describe()}")
        return out

    async def _fetch_streets(self, view: ImageView) -> Sheet | None:
        """The street basemap's tiles under the view (its max-zoom ones, drawn larger, past it),
        from the first street map that covers it; None where none does or the zoom is below its."""
        if self.streets is None:
            return None
        streets = self.streets
        zoom = view.tile_view().tile_zoom
        for name, low, high in await streets.covering(*view.bounds()):
            if zoom < low:
                continue
            sheet = Sheet(1.0, vector=True, deeper=max(0, zoom - high), name=name)
            with trio.move_on_after(self.deadline):
                async with trio.open_nursery() as nursery:
                    for at, places in _under(view.tile_view(), sheet.deeper).items():
                        nursery.start_soon(_street_tile, streets, sheet, at, places)
            return sheet
        return None

    def _draws(self, source: Mapping[str, Any]) -> bool:
        if source.get("type") == "pmtiles":
            return self.archive is not None
        return self.fetch is not None and source.get("type") in RASTER

    @staticmethod
    def _key(source: Mapping[str, Any], z: int, x: int, y: int) -> str:
        if source["type"] == "pmtiles":
            return f"{source['url']}#{z}/{x}/{y}"
        return tile_url(source, z, x, y)

    def _get(
        self, source: Mapping[str, Any], key: str, z: int, x: int, y: int
    ) -> Callable[[], Awaitable[bytes | None]]:
        """How to fetch one tile: by URL, or from an archive by z/x/y."""
        if source["type"] == "pmtiles":
            assert self.archive is not None
            return functools.partial(self.archive, str(source["url"]), z, x, y)
        assert self.fetch is not None
        return functools.partial(self.fetch, key)

    def _http(self) -> httpx.AsyncClient:
        """A client for one image's tiles (its connections end with them), on the process's one
        TLS context (making one costs ~40 ms)."""
        return httpx.AsyncClient(
            verify=_tls(),
            timeout=httpx.Timeout(self.deadline),
            headers={"User-Agent": f"mapsrv/{__version__} (map images)", "Accept-Encoding": "identity"},
            follow_redirects=False,
            limits=httpx.Limits(max_connections=8),
        )

    def _keep(self, key: tuple[int, int, int], data: bytes) -> None:
        self._tiles[key] = data
        self._tiles.move_to_end(key)
        while len(self._tiles) > TILE_CACHE:
            self._tiles.popitem(last=False)


async def _street_tile(
    streets: StreetSource, sheet: Sheet, at: tuple[int, int, int], places: list[Tile]
) -> None:
    data = await streets.tile(sheet.name, *at)
    if data is not None:
        sheet.tiles |= {xy: data for xy in places}


def _under(view: ImageView, deeper: int) -> dict[tuple[int, int, int], list[Tile]]:
    """The tiles to fetch for ``view`` (at its tile zoom) from a source whose tiles stop
    ``deeper`` zooms above it: each max-zoom tile (z, x, y, x wrapped around the world) and the
    view's tiles it lies under (drawn larger, ``sheets``)."""
    zoom = view.tile_zoom
    count = 2**zoom
    out: dict[tuple[int, int, int], list[Tile]] = {}
    for x, y in tiles_for(view):
        out.setdefault((zoom - deeper, (x % count) >> deeper, y >> deeper), []).append((x, y))
    return out


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


async def _tile(client: httpx.AsyncClient, url: str) -> bytes | int:
    """A basemap tile, or the status if the server answers otherwise than 200. Read as it came off the
    wire and decoded here within MAX_TILE_BYTES, a bounded step at a time, as the guarded fetcher
    reads (httpx's own decoding would inflate a small coded answer to gigabytes first)."""
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            return response.status_code
        decoding = Decoding(response.headers.get("content-encoding", ""), MAX_TILE_BYTES)
        pieces = []
        async for raw in response.aiter_raw():
            for piece in decoding.feed(raw):
                pieces.append(piece)
                await trio.lowlevel.checkpoint()
        decoding.end()
    return b"".join(pieces)
