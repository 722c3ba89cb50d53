"""KMZ: a zip holding a KML document (``doc.kml``, else the first ``.kml``) and its images.

A zip is opened only after its central directory is checked (at most ``MAX_MEMBERS`` entries in
at most ``MAX_DIRECTORY`` bytes: zipfile reads every entry of the directory when it opens, so a
16 MiB body of bare entries would be 350,000 objects), and the KML is unzipped through a
bounded read of at most ``MAX_KML`` bytes whatever its header claims, so a zip bomb costs at
most that much memory and time. Images and other members are never unzipped.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.kml import read_kml

__all__ = ["MAX_DIRECTORY", "MAX_KML", "MAX_MEMBERS", "read_kmz", "write_kmz"]

MAX_MEMBERS = 1_000
MAX_DIRECTORY = 1 << 20  # bytes of the central directory
MAX_KML = 32 << 20  # bytes of the KML, unzipped
_END = b"PK\x05\x06"  # the end of central directory record's signature
_END_SIZE = 22
_MAX_COMMENT = 0xFFFF


def _check_directory(data: bytes) -> None:
    end = data.rfind(_END, max(0, len(data) - _END_SIZE - _MAX_COMMENT))
    if end < 0 or len(data) < end + _END_SIZE:
        raise InvalidInput(
            "kmz is not a zip archive (it has no zip directory); a KMZ is a zipped KML:"
            " send the .kmz as it is, or the .kml"
        )
    entries, size = struct.unpack_from("<HI", data, end + 10)
    if entries > MAX_MEMBERS or size > MAX_DIRECTORY:
        raise PayloadTooLarge(
            f"kmz must have at most {MAX_MEMBERS} members in a {MAX_DIRECTORY >> 20} MiB directory,"
            f" got {entries} in {size} bytes; send the .kml inside it"
        )


def _pick(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PayloadTooLarge(
            f"kmz must have at most {MAX_MEMBERS} members, got {len(infos)}; send the .kml inside it"
        )
    kml = [i for i in infos if i.filename.lower().endswith(".kml") and not i.is_dir()]
    doc = [i for i in kml if i.filename.lower() == "doc.kml"]
    if not kml:
        names = ", ".join(i.filename for i in infos[:5]) or "nothing"
        raise InvalidInput(f"kmz must hold a .kml document, got {names}; is this a KMZ?")
    return (doc or kml)[0]


def read_kmz(data: bytes, collector: Collector) -> None:
    """Read the KML document inside a KMZ into ``collector``."""
    _check_directory(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = _pick(archive)
            if info.file_size > MAX_KML:
                raise PayloadTooLarge(
                    f"kmz {info.filename} must unzip to at most {MAX_KML >> 20} MiB,"
                    f" got {info.file_size >> 20} MiB"
                )
            with archive.open(info) as member:
                body = member.read(MAX_KML + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as exc:
        raise InvalidInput(
            f"kmz is not a readable zip archive: {exc}; send the .kmz as it was saved, or the .kml"
        ) from None
    except RuntimeError as exc:  # zipfile's word for an encrypted member
        raise InvalidInput(f"kmz cannot be read: {exc}; save it without a password") from None
    if len(body) > MAX_KML:
        raise PayloadTooLarge(f"kmz {info.filename} must unzip to at most {MAX_KML >> 20} MiB, got more")
    try:
        read_kml(body, collector)
    except InvalidInput as exc:
        raise type(exc)(f"kmz {info.filename}: {exc.message}") from None


def write_kmz(kml: bytes) -> bytes:
    """A KMZ holding ``kml`` as ``doc.kml``. The entry's date is fixed: the same map gives the
    same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("doc.kml", date_time=(1980, 1, 1, 0, 0, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, kml)
    return out.getvalue()
