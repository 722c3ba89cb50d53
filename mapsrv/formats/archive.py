"""Zips from strangers (a KMZ, a zipped Shapefile), opened with caps.

A zip is opened only after its central directory is checked (at most ``MAX_MEMBERS`` entries in
at most ``MAX_DIRECTORY`` bytes: zipfile reads every entry of the directory when it opens, so a
16 MiB body of bare entries would be 350,000 objects). A member is unzipped only when the size its
header declares is within the caller's cap, and through a read that stops there: zipfile never
hands out more than the declared size (and checks the CRC at its end), so a zip bomb, whose
members declare gigabytes or lie about their size, costs at most the cap in memory and time.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = ["MAX_DIRECTORY", "MAX_MEMBERS", "is_zip", "open_zip", "read_member"]

MAX_MEMBERS = 1_000
MAX_DIRECTORY = 1 << 20  # bytes of the central directory
_END = b"PK\x05\x06"  # the end of central directory record's signature
_END_SIZE = 22
_MAX_COMMENT = 0xFFFF
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError)


def is_zip(data: bytes) -> bool:
    return data.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def _check_directory(data: bytes, what: str, hint: str) -> None:
    end = data.rfind(_END, max(0, len(data) - _END_SIZE - _MAX_COMMENT))
    if end < 0 or len(data) < end + _END_SIZE:
        raise InvalidInput(f"{what} is not a zip archive (it has no zip directory); {hint}")
    entries, size = struct.unpack_from("<HI", data, end + 10)
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY:
        raise PayloadTooLarge(
            f"{what} must have at most {MAX_MEMBERS} members in a {MAX_DIRECTORY >> 20} MiB directory,"
            f" got {entries} in {size} bytes; {hint}"
        )


def open_zip(data: bytes, what: str, hint: str) -> zipfile.ZipFile:
    """``data`` as a zip, its directory checked first. ``what`` names the file in errors ("kmz"),
    ``hint`` says what to send instead."""
    _check_directory(data, what, hint)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise InvalidInput(f"{what} is not a readable zip archive: {exc}; {hint}") from None
    if len(archive.infolist()) > MAX_MEMBERS:  # the directory's count is 16 bits; its list is not
        raise PayloadTooLarge(
            f"{what} must have at most {MAX_MEMBERS} members, got {len(archive.infolist())}; {hint}"
        )
    return archive


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, most: int, what: str) -> bytes:
    """One member's bytes, refused unread when it declares more than ``most`` bytes, and never
    more than it declares (a member that inflates past its size fails its CRC check)."""
    if info.file_size > most:
        raise PayloadTooLarge(
            f"{what} {info.filename} must unzip to at most {most >> 20} MiB,"
            f" got {info.file_size / 2**20:,.0f} MiB declared; send a smaller file"
        )
    try:
        with archive.open(info) as member:
            body = member.read(most + 1)
    except _ZIP_ERRORS as exc:
        raise InvalidInput(
            f"{what} is not a readable zip archive: {exc} (in {info.filename}); send the file as it was saved"
        ) from None
    except RuntimeError as exc:  # zipfile's word for an encrypted member
        raise InvalidInput(
            f"{what} {info.filename} cannot be read: {exc}; save it without a password"
        ) from None
    if len(body) > most:
        raise PayloadTooLarge(f"{what} {info.filename} must unzip to at most {most >> 20} MiB, got more")
    return body
