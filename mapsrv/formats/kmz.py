"""KMZ: a zip holding a KML document (``doc.kml``, else the first ``.kml``) and its images.

The zip is opened with ``archive``'s caps, and the KML is unzipped through a bounded read of at
most ``MAX_KML`` bytes whatever its header claims, so a zip bomb costs at most that much memory
and time. Images and other members are never unzipped.
"""

from __future__ import annotations

import io
import zipfile

from mapsrv.errors import InvalidInput
from mapsrv.formats.archive import MAX_DIRECTORY, MAX_MEMBERS, MAX_TAGS, check_elements, open_zip, read_member
from mapsrv.formats.collect import Collector
from mapsrv.formats.kml import read_kml

__all__ = ["MAX_DIRECTORY", "MAX_KML", "MAX_MEMBERS", "MAX_TAGS", "read_kmz", "write_kmz"]

MAX_KML = 32 << 20  # bytes of the KML, unzipped
_HINT = "a KMZ is a zipped KML: send the .kmz as it is, or the .kml inside it"


def _pick(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    infos = archive.infolist()
    kml = [i for i in infos if i.filename.lower().endswith(".kml") and not i.is_dir()]
    doc = [i for i in kml if i.filename.lower() == "doc.kml"]
    if not kml:
        names = ", ".join(i.filename for i in infos[:5]) or "nothing"
        raise InvalidInput(f"kmz must hold a .kml document, got {names}; is this a KMZ?")
    return (doc or kml)[0]


def read_kmz(data: bytes, collector: Collector) -> None:
    """Read the KML document inside a KMZ into ``collector``."""
    with open_zip(data, "kmz", _HINT) as archive:
        info = _pick(archive)
        body = read_member(archive, info, MAX_KML, "kmz")
    check_elements(body, f"kmz {info.filename}")
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
