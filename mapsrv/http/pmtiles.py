"""A small PMTiles v3 reader on trio: an archive by URL, read with HTTP range requests through
the guarded fetcher (``mapsrv.http.fetch``), so every read is checked like any other fetch.

The first 16 KiB hold the 127-byte header and the root directory (the spec keeps them there);
leaf directories are fetched when a tile needs them and kept. The ``pmtiles`` package does the
pure parts (the header's layout, Hilbert tile ids, the directory search); the directories'
varints are read here because the package's reader assumes gzip and decompresses without a cap.
"""

from __future__ import annotations

import io
import os
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from pmtiles.tile import (
    Compression,
    Entry,
    HeaderDict,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_header,
    find_tile,
    read_varint,
    zxy_to_tileid,
)

from mapsrv.errors import InvalidInput
from mapsrv.http.fetch import SourcePolicy, fetch_source

__all__ = ["HEAD_BYTES", "Archive", "ArchiveReaders", "open_archive", "open_local_archive"]

HEAD_BYTES = 16384  # the header and the root directory, by the spec
MAX_UNPACKED = 4 * 2**20  # bytes a directory or a tile may take once decompressed
MAX_DEPTH = 4  # root, leaves: the spec's writers use two levels; more is a loop
MAX_LEAVES = 64  # leaf directories kept per archive
FORMATS = {TileType.MVT: "mvt", TileType.PNG: "png", TileType.JPEG: "jpeg", TileType.WEBP: "webp"}
FETCHED = (Compression.NONE, Compression.GZIP)  # what the server and the page both decompress


@dataclass
class Archive:
    """One archive's header facts, its root directory and the leaves read so far."""

    url: str
    policy: SourcePolicy | None  # None: a local file (``path``), read without the fetcher
    header: HeaderDict
    root: list[Entry]
    leaves: OrderedDict[int, list[Entry]] = field(default_factory=OrderedDict)
    path: Path | None = None

    def facts(self) -> dict[str, Any]:
        """What a layer's source keeps (``mapsrv.core.layer_source``) and the page needs."""
        h = self.header
        tiles = "vector" if h["tile_type"] is TileType.MVT else "raster"
        bounds = [h["min_lon_e7"], h["min_lat_e7"], h["max_lon_e7"], h["max_lat_e7"]]
        return {
            "tiles": tiles,
            "format": FORMATS[h["tile_type"]],
            "minzoom": h["min_zoom"],
            "maxzoom": h["max_zoom"],
            "bounds": [round(b / 1e7, 7) for b in bounds],
        }

    async def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at z/x/y, decompressed; None where the archive has none."""
        data = await self.stored_tile(z, x, y)
        return None if data is None else self.unpacked(data)

    def unpacked(self, data: bytes) -> bytes:
        """A tile as ``stored_tile`` gave it, decompressed within ``MAX_UNPACKED``."""
        return _decompressed(data, self.header["tile_compression"], "tile")

    @property
    def gzipped(self) -> bool:
        """Whether tiles are stored gzipped (``stored_tile`` gives them so)."""
        return self.header["tile_compression"] is Compression.GZIP

    async def stored_tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at z/x/y as stored (compressed as the header says); None where there is none."""
        if not self.header["min_zoom"] <= z <= self.header["max_zoom"]:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        entries, offset = self.root, self.header["tile_data_offset"]
        for _ in range(MAX_DEPTH):
            entry = find_tile(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                if entry.length > MAX_UNPACKED:
                    raise InvalidInput(f"url's tile is {entry.length} bytes, more than {MAX_UNPACKED}")
                return await self._read(offset + entry.offset, entry.length)
            entries = await self._leaf(entry)
        raise InvalidInput(
            f"url's directories must be at most {MAX_DEPTH} deep, got deeper; check the archive"
        )

    async def _leaf(self, entry: Entry) -> list[Entry]:
        key = self.header["leaf_directory_offset"] + entry.offset
        if key in self.leaves:
            self.leaves.move_to_end(key)
            return self.leaves[key]
        data = await self._read(key, entry.length)
        leaf = await trio.to_thread.run_sync(_directory, data, self.header["internal_compression"])
        self.leaves[key] = leaf
        while len(self.leaves) > MAX_LEAVES:
            self.leaves.popitem(last=False)
        return leaf

    async def _read(self, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        if self.path is not None:
            got = await trio.to_thread.run_sync(_pread, self.path, start, length)
        else:
            assert self.policy is not None
            got = (await fetch_source(self.policy, self.url, (start, start + length - 1))).body
        if len(got) != length:
            raise InvalidInput(f"url answered {len(got)} bytes for {length} asked; check the archive")
        return got


async def open_archive(policy: SourcePolicy, url: str) -> Archive:
    """The archive at ``url``: its header and root directory, checked, in one range request."""
    fetched = await fetch_source(policy, url, (0, HEAD_BYTES - 1))
    head = fetched.body
    if "html" in fetched.content_type or head[:512].lstrip().lower().startswith((b"<!doctype", b"<html")):
        raise InvalidInput(
            f"url answered {fetched.content_type or 'html'!r}, not a PMTiles archive; give the URL"
            " of the .pmtiles file itself"
        )
    header, root = await _opened(head)
    return Archive(url, policy, header, root)


async def open_local_archive(path: Path) -> Archive:
    """The archive in the file at ``path`` (an operator's basemap), checked as a fetched one is."""
    header, root = await _opened(await trio.to_thread.run_sync(_pread, path, 0, HEAD_BYTES))
    return Archive(path.name, None, header, root, path=path)


async def _opened(head: bytes) -> tuple[HeaderDict, list[Entry]]:
    """An archive's first bytes read: its header and root directory, checked."""
    header = _header(head)
    start, length = header["root_offset"], header["root_length"]
    if start + length > len(head):
        raise InvalidInput(
            f"url's root directory ends at byte {start + length}, past the first {len(head)};"
            " check the archive (the spec keeps it within the first 16 KiB)"
        )
    root = await trio.to_thread.run_sync(
        _directory, head[start : start + length], header["internal_compression"]
    )
    return header, root


def _pread(path: Path, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, start)
    finally:
        os.close(fd)


def _header(head: bytes) -> HeaderDict:
    if head[:2] == b"PM" and head[2:3] in (b"\x01", b"\x02"):
        raise InvalidInput(
            f"url is a PMTiles version {head[2]} archive, got no version 3 header; convert it with"
            " `pmtiles convert` (spec version 3)"
        )
    if len(head) < 127:
        raise InvalidInput(f"url is not a PMTiles archive, got {len(head)} bytes; give a .pmtiles file")
    try:
        header = deserialize_header(head)
    except (MagicNumberNotFound, UnicodeDecodeError):
        raise InvalidInput(
            f"url is not a PMTiles archive, got {head[:7]!r} where 'PMTiles' begins one; give a .pmtiles file"
        ) from None
    except SpecVersionUnsupported:
        raise InvalidInput(
            f"url is a PMTiles version {head[7]} archive, not 3; write or convert it as spec version 3"
        ) from None
    except ValueError:  # a compression or tile type the spec does not name
        raise InvalidInput(
            f"url's PMTiles header names an unknown compression or tile type ({head[97:100].hex()});"
            " check the archive"
        ) from None
    if header["tile_type"] not in FORMATS:
        raise InvalidInput(
            f"tile type must be mvt, png, jpeg or webp, got {header['tile_type'].name.lower()};"
            " give an archive of vector (mvt) or raster tiles"
        )
    for name, compression in (
        ("internal", header["internal_compression"]),
        ("tile", header["tile_compression"]),
    ):
        if compression not in FETCHED:
            raise InvalidInput(
                f"{name} compression must be none or gzip, got {compression.name.lower()};"
                " write the archive with gzip (the page decompresses gzip only)"
            )
    if not header["min_zoom"] <= header["max_zoom"] <= 30:
        raise InvalidInput(
            f"zooms must be 0 <= min <= max <= 30, got {header['min_zoom']}-{header['max_zoom']};"
            " check the archive"
        )
    return header


def _decompressed(data: bytes, compression: Compression, what: str) -> bytes:
    if compression is Compression.NONE:
        return data
    inflate = zlib.decompressobj(wbits=31)  # gzip
    try:
        out = inflate.decompress(data, MAX_UNPACKED)
    except zlib.error:
        raise InvalidInput(f"url's {what} is not gzip as its header says; check the archive") from None
    if inflate.unconsumed_tail:
        raise InvalidInput(
            f"url's {what} is more than {MAX_UNPACKED // 2**20} MiB unpacked; check the archive"
        )
    return out


def _directory(data: bytes, compression: Compression) -> list[Entry]:
    """A directory's entries (the spec's layout: count, then ids, run lengths, lengths, offsets,
    each column of varints)."""
    raw = io.BytesIO(_decompressed(data, compression, "directory"))
    try:
        count = read_varint(raw)
        entries, last = [], 0
        for _ in range(count):
            last += read_varint(raw)
            entries.append(Entry(last, 0, 0, 0))
        for entry in entries:
            entry.run_length = read_varint(raw)
        for entry in entries:
            entry.length = read_varint(raw)
        for i, entry in enumerate(entries):
            value = read_varint(raw)
            after = entries[i - 1].offset + entries[i - 1].length if i else 0
            entry.offset = after if i and value == 0 else value - 1
    except EOFError:
        raise InvalidInput("url's directory ends early; check the archive") from None
    return entries


class ArchiveReaders:
    """Open archives by URL, for ``map_image``: a raster PMTiles layer's tiles through the guards."""

    def __init__(self, policy: SourcePolicy, size: int = 16) -> None:
        self.policy, self.size = policy, size
        self._open: OrderedDict[str, Archive] = OrderedDict()
        self._opening: dict[str, trio.Lock] = {}

    async def tile(self, url: str, z: int, x: int, y: int) -> bytes | None:
        """The tile at z/x/y of the archive at ``url`` (opened once, by the first tile asked for,
        then kept)."""
        async with self._opening.setdefault(url, trio.Lock()):
            archive = self._open.get(url)
            if archive is None:
                archive = self._open[url] = await open_archive(self.policy, url)
                while len(self._open) > self.size:
                    self._open.popitem(last=False)
            self._open.move_to_end(url)
        return await archive.tile(z, x, y)
