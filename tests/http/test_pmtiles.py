"""The PMTiles reader (``mapsrv.http.pmtiles``) against real sockets and archives the ``pmtiles``
package wrote: the header and root directory in one range request, a tile by z/x/y through a
leaf directory (fetched once, then kept), gzip'd tiles unpacked; and the guards of the fetcher it
reads through: loopback not allowed, a hang cut at the deadline, a range answered with a huge
body cut at the bytes asked for; headers, directories and tiles that cannot be read refused with
the reason."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
import trio
from pmtiles.tile import Compression, TileType, serialize_header, zxy_to_tileid
from support.pmtiles_archives import many_tiles_archive, mvt_square, serve_archives, tile_body, vector_archive
from support.sources import serve_source

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.pmtiles import HEAD_BYTES, MAX_UNPACKED, ArchiveReaders, _directory, _header, open_archive

LOCAL = SourcePolicy.of(("127.0.0.1",), deadline=5.0)


async def test_a_tile_is_found_through_a_leaf_directory_kept_once(nursery: trio.Nursery) -> None:
    asked: list[tuple[str, str]] = []
    port = await serve_archives(nursery, {"/many.pmtiles": many_tiles_archive()}, asked)
    archive = await open_archive(LOCAL, f"http://127.0.0.1:{port}/many.pmtiles")
    assert archive.header["leaf_directory_length"] > 0, "the archive has leaf directories"
    assert asked == [("/many.pmtiles", f"Range: bytes=0-{HEAD_BYTES - 1}")]
    for x in (100, 101):
        got = await archive.tile(7, x, 27)
        assert got is not None and got.startswith(tile_body(zxy_to_tileid(7, x, 27), 0))
    assert len(asked) == 1 + 1 + 2, "the header, one leaf (then kept), two tiles"
    assert await archive.tile(8, 0, 0) is None, "past the archive's max zoom"


async def test_gzipped_vector_tiles_are_unpacked(nursery: trio.Nursery) -> None:
    port = await serve_archives(nursery, {"/v.pmtiles": vector_archive()})
    readers = ArchiveReaders(LOCAL)
    url = f"http://127.0.0.1:{port}/v.pmtiles"
    assert await readers.tile(url, 1, 1, 0) == mvt_square("squares", 1, 1, 0)
    assert await readers.tile(url, 1, 0, 1) is None, "a tile the archive does not hold"


async def test_loopback_is_refused_unless_listed(nursery: trio.Nursery) -> None:
    port = await serve_archives(nursery, {"/v.pmtiles": vector_archive()})
    with pytest.raises(InvalidInput, match=r"loopback, private or reserved address.*--allowed-sources"):
        await open_archive(SourcePolicy.of(deadline=5.0), f"http://127.0.0.1:{port}/v.pmtiles")


async def hostile(target: str, stream: trio.SocketStream) -> None:
    if target == "/huge.pmtiles":  # a 206 that says 2 GB follow
        head = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2147483647/2147483648\r\n"
        await stream.send_all(head + b"Content-Length: 2147483648\r\n\r\n" + b"PMTiles\x03" * 128)
        await trio.sleep_forever()
    elif target == "/endless.pmtiles":  # no length: streams until cut
        await stream.send_all(b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-16383/*\r\n\r\n")
        for _ in range(2048):
            await stream.send_all(b"x" * 2**16)
    else:
        await trio.sleep_forever()


async def test_a_hang_is_cut_at_the_deadline(nursery: trio.Nursery) -> None:
    port = await serve_source(nursery, hostile)
    policy = SourcePolicy.of(("127.0.0.1",), deadline=0.5)
    with trio.fail_after(5), pytest.raises(InvalidInput, match=re.escape("did not answer within 0.5 s")):
        await open_archive(policy, f"http://127.0.0.1:{port}/hang.pmtiles")


@pytest.mark.parametrize("path", ["/huge.pmtiles", "/endless.pmtiles"])
async def test_a_huge_answer_to_a_range_is_cut(nursery: trio.Nursery, path: str) -> None:
    port = await serve_source(nursery, hostile)
    with trio.fail_after(5), pytest.raises(PayloadTooLarge, match="at most the 16384 bytes asked for"):
        await open_archive(LOCAL, f"http://127.0.0.1:{port}{path}")


def test_a_gzip_bomb_directory_is_refused() -> None:
    bomb = gzip.compress(b"\x00" * (MAX_UNPACKED + 1))
    with pytest.raises(InvalidInput, match="more than 4 MiB unpacked"):
        _directory(bomb, Compression.GZIP)


def header(**changes: Any) -> bytes:
    fields: Any = {"root_offset": 127, "root_length": 0, "metadata_offset": 127, "metadata_length": 0}
    fields |= {"tile_data_offset": 127, "tile_data_length": 0, "clustered": True}
    fields |= {"internal_compression": Compression.GZIP, "tile_compression": Compression.NONE}
    fields |= {"tile_type": TileType.PNG, "min_zoom": 0, "max_zoom": 2} | changes
    return bytes(serialize_header(fields))


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"PMTiles\x03" + b"\x00" * 50, "not a PMTiles archive, got 58 bytes"),
        (b"PM\x02\x00" + b"\x00" * 200, "PMTiles version 2 archive"),
        (b"PMTiles\x04" + header()[8:], "PMTiles version 4 archive, not 3"),
        (b"\xff\xfe" + header()[2:], "not a PMTiles archive, got b'\\xff\\xfeTiles'"),
        (header()[:99] + b"\x09" + header()[100:], "unknown compression or tile type (020109)"),
        (header(tile_type=TileType.MLT), "tile type must be mvt, png, jpeg or webp, got mlt"),
        (header(tile_compression=Compression.BROTLI), "tile compression must be none or gzip, got brotli"),
        (
            header(internal_compression=Compression.ZSTD),
            "internal compression must be none or gzip, got zstd",
        ),
        (header(max_zoom=31), "zooms must be 0 <= min <= max <= 30, got 0-31"),
    ],
)
def test_a_header_that_cannot_be_read_is_refused_with_the_reason(head: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        _header(head)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip", "directory is not gzip as its header says"),
        (gzip.compress(b"\x05\x01", mtime=0), "directory ends early"),
    ],
)
def test_a_directory_that_cannot_be_read_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _directory(data, Compression.GZIP)


async def test_a_root_past_the_first_16_kib_and_a_short_tile_are_refused(nursery: trio.Nursery) -> None:
    far = header(root_offset=20000, root_length=10)
    whole = gzip.compress(b"\x01\x00\x01\x10\x01")  # one entry: tile 0, 16 bytes at offset 0
    short = header(root_length=len(whole), tile_data_offset=127 + len(whole)) + whole + b"tile"
    port = await serve_archives(nursery, {"/far.pmtiles": far, "/short.pmtiles": short})
    with pytest.raises(InvalidInput, match="root directory ends at byte 20010, past the first 127"):
        await open_archive(LOCAL, f"http://127.0.0.1:{port}/far.pmtiles")
    archive = await open_archive(LOCAL, f"http://127.0.0.1:{port}/short.pmtiles")
    with pytest.raises(InvalidInput, match="answered 4 bytes for 16 asked"):
        await archive.tile(0, 0, 0)
