"""Decompression bombs: zeros deflated in layers, a few KB that decode to a GiB, each a valid
stream (checksums and lengths right), built in a fraction of a second.

The innermost layer is not compressed byte by byte: after a full flush a deflater starts afresh,
so every megabyte of zeros deflates to the same ~1 KB, which is repeated; its checksum is taken
over the zeros it stands for. The outer layers are deflated for real (the repeats squeeze well).

Zips are built the same way (``repeated``, ``raw_zip``): a member of hundreds of megabytes of one
pattern (a ``.shx`` of 25 M records, 8 M empty XML elements) without its bytes in memory; and
the shapes of a zip's directory that Python's zipfile trusts (``extra_fields_zip``, ``zip64_end``)."""

from __future__ import annotations

import functools
import gzip
import io
import struct
import zipfile
import zlib
from typing import NamedTuple

__all__ = [
    "GIB",
    "Deflated",
    "bomb",
    "extra_fields_zip",
    "raw_zip",
    "repeated",
    "zeros_deflated",
    "zip64_end",
]

GIB = 2**30
BLOCK = 2**20
FINAL_EMPTY = b"\x03\x00"  # a last, empty block with fixed codes (RFC 1951 section 3.2.6)


def zeros_deflated(size: int) -> bytes:
    """Raw deflate of ``size`` zero bytes (a multiple of 1 MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(bytes(BLOCK)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (size // BLOCK) + FINAL_EMPTY


def _gzip_zeros(size: int) -> bytes:
    crc, zeros = 0, bytes(BLOCK)
    for _ in range(size // BLOCK):
        crc = zlib.crc32(zeros, crc)
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # RFC 1952: deflate, no name, mtime 0
    return head + zeros_deflated(size) + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _zlib_zeros(size: int) -> bytes:
    adler = (size % 65521) << 16 | 1  # RFC 1950's Adler-32 of zeros: a stays 1, b counts them
    return b"\x78\xda" + zeros_deflated(size) + struct.pack(">I", adler)


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ZEROS = {"gzip": _gzip_zeros, "deflate": _zlib_zeros}
PACK = {"gzip": lambda data: gzip.compress(data, 9, mtime=0), "deflate": _raw_deflate}


@functools.cache
def bomb(content_encoding: str, size: int = GIB) -> bytes:
    """A body coded as ``content_encoding`` says (in the order applied) that decodes to ``size``
    zero bytes. The first deflate is zlib-wrapped (as RFC 9110 has it), a later one raw (as some
    servers send it), so a stack of two has both forms."""
    first, *rest = [c.strip() for c in content_encoding.split(",")]
    body = ZEROS[first](size)
    for coding in rest:
        body = PACK[coding](body)
    return body


class Deflated(NamedTuple):
    """A zip member's raw deflate stream, with the CRC-32 and size of what it inflates to."""

    data: bytes
    crc: int
    size: int


def _deflate(data: bytes, *, last: bool) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def repeated(head: bytes, pattern: bytes, times: int, tail: bytes = b"") -> Deflated:
    """``head + pattern * times + tail`` deflated from one block of about 1 MiB of patterns,
    repeated: never that many bytes in memory, built in a fraction of a second."""
    per = max(1, BLOCK // max(1, len(pattern)))
    whole, rest = divmod(times, per)
    block, end = pattern * per, pattern * rest + tail
    crc = zlib.crc32(head)
    for _ in range(whole):
        crc = zlib.crc32(block, crc)
    data = _deflate(head, last=False) + _deflate(block, last=False) * whole + _deflate(end, last=True)
    return Deflated(data, zlib.crc32(end, crc), len(head) + len(pattern) * times + len(tail))


def raw_zip(members: dict[str, bytes | Deflated]) -> bytes:
    """A zip of ``members``, each deflated (given as bytes) or already (``repeated``), written
    field by field as APPNOTE 4.3.7 and 4.3.12 have them (zipfile would deflate every byte)."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, member in members.items():
        body = member if isinstance(member, Deflated) else repeated(member, b"", 0)
        sizes = (body.crc, len(body.data), body.size, len(name.encode()))
        at = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, *sizes, 0))
        out.write(name.encode() + body.data)
        directory.write(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, *sizes, 0, 0, 0, 0, 0, at)
        )
        directory.write(name.encode())
    start, listing = out.tell(), directory.getvalue()
    count = len(members)
    out.write(listing + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(listing), start, 0))
    return out.getvalue()


def extra_fields_zip(members: int, extra: int = 0xFFFC) -> bytes:
    """A zip of ``members`` empty members, each with an extra field of ``extra`` bytes made of
    empty 4-byte fields: zipfile decodes each in time quadratic in its length."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(members):
            entry = zipfile.ZipInfo(f"{i}.png", date_time=(1980, 1, 1, 0, 0, 0))
            entry.extra = b"\xff\xff\x00\x00" * (extra // 4)
            archive.writestr(entry, b"")
    return out.getvalue()


def zip64_end(data: bytes, said: tuple[int, int] | None = None, count: int | None = None) -> bytes:
    """``data`` (a zip without a comment) with a zip64 end record and its locator before its end
    record, as zip64 writers put them. The zip64 record holds the directory's true count (or
    ``count``) and size; the end record says ``said`` (count, size) when given, else the same."""
    end = len(data) - 22
    entries, size, offset = struct.unpack_from("<HLL", data, end + 10)
    total = entries if count is None else count
    fields = (44, 45, 45, 0, 0, entries, total, size, offset)  # its size past 12 bytes, versions, disks
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", *fields)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    said_entries, said_size = said or (entries, size)
    tail = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, said_entries, said_entries, said_size, offset, 0)
    return data[:end] + record + locator + tail
