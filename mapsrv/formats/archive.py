"""Zips from strangers (a KMZ, a zipped Shapefile), opened with caps.

A zip is opened only after its central directory is walked here, the way zipfile will read it
(APPNOTE 4.3.12-4.3.16): found from the end record, or from the zip64 end record just before it
when a locator says there is one (zipfile believes that record's count and size, so the caps see
them too). The directory must hold at most ``MAX_MEMBERS`` entries in at most ``MAX_DIRECTORY``
bytes (zipfile makes an object of every entry when it opens: 16 MiB of bare entries would be
350,000), each with an extra field of at most ``MAX_EXTRA`` bytes (zipfile decodes it in time
quadratic in its length: 44 members of 64 KiB of 4-byte fields held the server 1.4-6.2 s; real
zips carry tens of bytes), and exactly as many entries in as many bytes as its end record says.

A member is unzipped only when the size its header declares is within the caller's cap, and
through a read that stops there: zipfile never hands out more than the declared size (and checks
the CRC at its end), so a zip bomb, whose members declare gigabytes or lie about their size,
costs at most the cap in memory and time.

What a zip holds may be small and still cost much to read: ``check_elements`` counts an XML
document's tags (a KML, a KMZ's) before its tree is built, at most ``MAX_TAGS``.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MAX_DIRECTORY",
    "MAX_EXTRA",
    "MAX_MEMBERS",
    "MAX_TAGS",
    "ZIP_MAGIC",
    "check_elements",
    "is_zip",
    "open_zip",
    "read_head",
    "read_member",
]

MAX_MEMBERS = 1_000
MAX_DIRECTORY = 1 << 20  # bytes of the central directory
MAX_EXTRA = 1 << 10  # bytes of one member's extra field
# An XML document's tags: ElementTree's tree takes about 100 bytes of memory per element (101 for
# <a/>, 118 for <Folder><name>x</name></Folder>, RSS measured on 1,000,000 of each), so 128 bytes
# a tag within 256 MiB; 32 MiB of KML (kmz.MAX_KML) passes unless its tags average under 16 bytes
# (a gx:Track's <when> and <gx:coord> take 16 and 20)
_TAG = 128  # bytes of memory a tag is counted at
MAX_TAGS = (512 << 20) // _TAG  # 4 M: a GPX of 650,000 points (6 tags each) still comes in
_END = b"PK\x05\x06"  # the end of central directory record (22 bytes, then its comment)
_END_SIZE = 22
_LOCATOR = b"PK\x06\x07"  # the zip64 end of central directory locator, just before the end record
_LOCATOR_SIZE = 20
_END64 = b"PK\x06\x06"  # the zip64 end record, just before its locator (zipfile looks nowhere else)
_END64_SIZE = 56
_ENTRY = b"PK\x01\x02"  # a central directory entry: 46 bytes, then its name, extra field and comment
_ENTRY_SIZE = 46
_MAX_COMMENT = 0xFFFF
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError)


def check_elements(data: bytes | str, what: str) -> None:
    """Refuse an XML document of more than ``MAX_TAGS`` tags (each ``<``) before it is parsed: a
    32 KB KMZ of 8 M empty elements unzips to 32 MB, whose tree would take 1.75 GB. Counting the
    decoded text sees every encoding; counting bytes misses a ``<`` a UTF-7 document spells out."""
    tags = data.count(b"<") if isinstance(data, bytes) else data.count("<")
    if tags > MAX_TAGS:
        raise PayloadTooLarge(
            f"{what} must have at most {MAX_TAGS:,} tags, got {tags:,}: its tree would take about"
            f" {tags * _TAG >> 20:,} MiB to read; split the file"
        )


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first bytes: a member, or an empty zip's directory end


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def _end_record(data: bytes, what: str, hint: str) -> tuple[int, int, int, tuple[int, int]]:
    """Where the directory ends (at the zip64 end record when there is one), the entry count and
    size it is declared with, found as zipfile finds them, and those of the classic end record."""
    end = len(data) - _END_SIZE
    if not (end >= 0 and data.startswith(_END, end) and data.endswith(b"\x00\x00")):
        end = data.rfind(_END, max(0, len(data) - _END_SIZE - _MAX_COMMENT - 1))
    if end < 0 or len(data) < end + _END_SIZE:
        raise InvalidInput(f"{what} is not a zip archive (it has no zip directory); {hint}")
    entries, size = struct.unpack_from("<HI", data, end + 10)
    locator = end - _LOCATOR_SIZE
    if locator < 0 or not data.startswith(_LOCATOR, locator):
        return end, entries, size, (entries, size)
    disk, _, disks = struct.unpack_from("<IQI", data, locator + 4)
    if disk != 0 or disks > 1:
        raise InvalidInput(f"{what} is one part of a zip split over {disks} disks; join them in one zip")
    record = locator - _END64_SIZE
    if record < 0 or not data.startswith(_END64, record):
        return end, entries, size, (entries, size)
    entries64, size64 = struct.unpack_from("<QQ", data, record + 32)
    return record, entries64, size64, (entries, size)


def _check_directory(data: bytes, what: str, hint: str) -> None:
    """The directory walked as zipfile will read it, entry by entry, before zipfile does."""
    stop, entries, size, (said, said_size) = _end_record(data, what, hint)
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY:
        raise PayloadTooLarge(
            f"{what} must have at most {MAX_MEMBERS} members in a {MAX_DIRECTORY >> 20} MiB directory,"
            f" got {entries} in {size} bytes; {hint}"
        )
    # beside a zip64 end record, the end record keeps the same values or all ones (APPNOTE 4.4.1.4)
    if said not in (entries, 0xFFFF) or said_size not in (size, 0xFFFF_FFFF):
        raise InvalidInput(
            f"{what} is damaged: its zip64 end record says {entries} members in {size} bytes, its end"
            f" record {said} in {said_size}; {hint}"
        )
    at, count = stop - size, 0
    while 0 <= at < stop:
        if at + _ENTRY_SIZE > stop or not data.startswith(_ENTRY, at):
            break
        name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
        if extra > MAX_EXTRA:
            member = data[at + _ENTRY_SIZE : at + _ENTRY_SIZE + name].decode("utf-8", "replace")
            raise PayloadTooLarge(
                f"{what} member {member!r:.60} must have an extra field of at most {MAX_EXTRA} bytes,"
                f" got {extra}; {hint}"
            )
        at += _ENTRY_SIZE + name + extra + comment
        count += 1
        if count > entries:
            break
    if at != stop or count != entries:
        raise InvalidInput(
            f"{what} is damaged: its directory does not hold the {entries} members in {size} bytes its"
            f" end record says; {hint}"
        )


def open_zip(data: bytes, what: str, hint: str) -> zipfile.ZipFile:
    """``data`` as a zip, its directory checked first. ``what`` names the file in errors ("kmz"),
    ``hint`` says what to send instead."""
    _check_directory(data, what, hint)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise InvalidInput(f"{what} is not a readable zip archive: {exc}; {hint}") from None
    if len(archive.infolist()) > MAX_MEMBERS:  # as walked, unless a zipfile version reads otherwise
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
    body = _read(archive, info, most + 1, what)
    if len(body) > most:
        raise PayloadTooLarge(f"{what} {info.filename} must unzip to at most {most >> 20} MiB, got more")
    return body


def read_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, what: str) -> bytes:
    """A member's first ``size`` bytes (fewer when it is shorter), unzipped no further: a header
    looked at before the whole member is."""
    return _read(archive, info, size, what)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, what: str) -> bytes:
    try:
        with archive.open(info) as member:
            return member.read(size)
    except _ZIP_ERRORS as exc:
        raise InvalidInput(
            f"{what} is not a readable zip archive: {exc} (in {info.filename}); send the file as it was saved"
        ) from None
    except RuntimeError as exc:  # zipfile's word for an encrypted member
        raise InvalidInput(
            f"{what} {info.filename} cannot be read: {exc}; save it without a password"
        ) from None
