"""Decompression bombs: zeros deflated in layers, a few KB that decode to a GiB, each a valid
stream (checksums and lengths right), built in a fraction of a second.

The innermost layer is not compressed byte by byte: after a full flush a deflater starts afresh,
so every megabyte of zeros deflates to the same ~1 KB, which is repeated; its checksum is taken
over the zeros it stands for. The outer layers are deflated for real (the repeats squeeze well)."""

from __future__ import annotations

import functools
import gzip
import struct
import zlib

__all__ = ["GIB", "bomb", "zeros_deflated"]

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
