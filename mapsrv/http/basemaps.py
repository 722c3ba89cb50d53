"""The street basemaps mapsrv draws and serves (issue 79): each imported extract's archive
(``<region>.basemap.pmtiles`` beside its index, built by ``mapsrv places import``), or the one
archive ``--basemap`` names (a path, or an https URL read through the guarded fetcher), as
Protomaps-schema vector tiles.

The page asks for tiles at ``/basemap/<name>/<z>/<x>/<y>.mvt`` (``mapsrv.web.basemap_tiles``)
and ``map_image`` draws them (``mapsrv.image.streets``); both get them here. The places
directory is looked at again at most every ``RESCAN`` seconds, so a region imported or removed
while the server runs shows (a re-import renames a new archive over the old: it is reopened when
its size or time changes). Tiles are kept as stored (gzipped) in a cache bounded by bytes.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from mapsrv.config import Config
from mapsrv.errors import InvalidInput, MapsrvError
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.pmtiles import Archive, open_archive, open_local_archive
from mapsrv.places.offline_files import BASEMAP_SUFFIX

__all__ = ["CACHE_BYTES", "Basemaps", "StreetMap"]

RESCAN = 2.0  # seconds between looks at the places directory
CACHE_BYTES = 32 * 2**20  # tiles kept, as stored
ATTRIBUTION = "© OpenStreetMap contributors"
_NAME = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class StreetMap:
    """One street basemap: its archive and what the page and ``map_image`` need of it."""

    name: str
    archive: Archive
    stamp: tuple[int, int] = (0, 0)  # a local file's (size, mtime_ns): reopened when it changes

    @property
    def zooms(self) -> tuple[int, int]:
        return self.archive.header["min_zoom"], self.archive.header["max_zoom"]

    def covers(self, west: float, south: float, east: float, north: float) -> bool:
        """Whether the box (degrees) meets this map's."""
        w, s, e, n = self.archive.facts()["bounds"]
        return bool(west <= e and east >= w and south <= n and north >= s)

    def describe(self) -> dict[str, Any]:
        """What the page is told (``data-basemaps``): the archive's zooms and bounds, and where
        mapsrv serves its tiles."""
        facts = self.archive.facts()
        return {
            "name": self.name,
            "title": f"Streets ({self.name})",
            "url": f"/basemap/{self.name}/{{z}}/{{x}}/{{y}}.mvt",
            "minzoom": facts["minzoom"],
            "maxzoom": facts["maxzoom"],
            "bounds": facts["bounds"],
            "attribution": ATTRIBUTION,
        }


class Basemaps:
    """The street basemaps of one server, by ``mode`` (the ``basemap`` setting)."""

    def __init__(self, mode: str, places_dir: Path, policy: SourcePolicy | None = None) -> None:
        self.mode, self.places_dir, self.policy = mode, places_dir, policy
        self._maps: dict[str, StreetMap] = {}
        self._looked = -RESCAN
        self._lock = trio.Lock()
        self._cache: OrderedDict[tuple[str, int, int, int], bytes | None] = OrderedDict()
        self._cached_bytes = 0
        self.failures: list[str] = []  # archives that would not open, said in /ready

    @classmethod
    def from_config(cls, config: Config, policy: SourcePolicy) -> Basemaps:
        """The server's basemaps; an archive given by URL is fetched through the guarded fetcher
        with its host allowed too (the operator named it), every other guard as for any source."""
        host = (
            urlsplit(config.basemap).hostname if config.basemap.startswith(("http://", "https://")) else None
        )
        if host:
            policy = SourcePolicy.of(
                (*config.allowed_sources, host), config.tile_url, max_size=policy.max_size
            )
        return cls(config.basemap, config.places_path(), policy)

    @property
    def cached_bytes(self) -> int:
        """The street tiles' bytes cached now."""
        return self._cached_bytes

    @property
    def drawn(self) -> bool:
        return self.mode not in ("osm", "none")

    async def maps(self) -> list[StreetMap]:
        """The street maps there are now (the places directory looked at again when it is time)."""
        if not self.drawn:
            return []
        async with self._lock:
            if time.monotonic() - self._looked >= RESCAN:
                await self._look()
                self._looked = time.monotonic()
        return list(self._maps.values())

    async def covering(
        self, south: float, west: float, north: float, east: float
    ) -> list[tuple[str, int, int]]:
        """(name, min zoom, max zoom) of each street map meeting the box, for ``map_image``."""
        return [(m.name, *m.zooms) for m in await self.maps() if m.covers(west, south, east, north)]

    def known(self) -> list[StreetMap]:
        """The street maps as last looked at, without looking (for code off the loop)."""
        return list(self._maps.values())

    async def _look(self) -> None:
        if self.mode.endswith(".pmtiles"):
            if not self._maps:
                await self._open_configured()
            return
        found: dict[str, StreetMap] = {}
        paths = await trio.to_thread.run_sync(_archives, self.places_dir)
        for name, path, stamp in paths:
            known = self._maps.get(name)
            if known is not None and known.stamp == stamp:
                found[name] = known
                continue
            try:
                found[name] = StreetMap(name, await open_local_archive(path), stamp)
            except (MapsrvError, OSError) as exc:
                self.failures.append(f"{path.name}: {exc}")
                del self.failures[:-5]
                continue
            self._forget(name)
        for gone in set(self._maps) - set(found):
            self._forget(gone)
        self._maps = found

    async def _open_configured(self) -> None:
        where = self.mode
        name = _NAME.sub("-", Path(urlsplit(where).path).name.removesuffix(".pmtiles").lower()).strip("-_")
        name = name[:64] or "basemap"
        try:
            if urlsplit(where).scheme in ("http", "https"):
                if self.policy is None:
                    raise InvalidInput("a basemap URL needs the guarded fetcher")
                archive = await open_archive(self.policy, where)
            else:
                archive = await open_local_archive(Path(where))
        except (MapsrvError, OSError) as exc:
            self.failures.append(f"{where}: {exc}")
            del self.failures[:-5]
            return
        if archive.header["tile_type"].name != "MVT":
            self.failures.append(
                f"{where}: its tiles are {archive.header['tile_type'].name.lower()}, not mvt"
            )
            return
        stamp = (0, 0)
        if archive.path is not None:
            stat = archive.path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
        self._maps = {name: StreetMap(name, archive, stamp)}

    def _forget(self, name: str) -> None:
        for key in [k for k in self._cache if k[0] == name]:
            data = self._cache.pop(key)
            self._cached_bytes -= len(data or b"")

    async def stored_tile(self, name: str, z: int, x: int, y: int) -> tuple[StreetMap, bytes | None]:
        """A tile of the street map ``name`` as stored (gzipped when its archive says so), or None
        where it has none; LookupError for a name there is not."""
        found = {m.name: m for m in await self.maps()}.get(name)
        if found is None:
            raise LookupError(name)
        key = (name, z, x, y)
        if key in self._cache:
            self._cache.move_to_end(key)
            return found, self._cache[key]
        data = await found.archive.stored_tile(z, x, y)
        self._cache[key] = data
        self._cached_bytes += len(data or b"")
        while self._cached_bytes > CACHE_BYTES and self._cache:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped or b"")
        return found, data

    async def tile(self, name: str, z: int, x: int, y: int) -> bytes | None:
        """A tile, decompressed (for ``map_image``); None where there is none."""
        found, data = await self.stored_tile(name, z, x, y)
        if data is None or not found.archive.gzipped:
            return data
        return await trio.to_thread.run_sync(found.archive.unpacked, data)

    def statistics(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "maps": sorted(self._maps),
            "tiles_cached": len(self._cache),
            "cached_mb": round(self._cached_bytes / 2**20, 1),
            "failures": list(self.failures),
        }


def _archives(directory: Path) -> list[tuple[str, Path, tuple[int, int]]]:
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob(f"*{BASEMAP_SUFFIX}")):
        name = path.name.removesuffix(BASEMAP_SUFFIX)
        if name.startswith("."):
            continue  # one being built
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((name, path, (stat.st_size, stat.st_mtime_ns)))
    return out
