"""A zipped Shapefile, made ready for GDAL: each ``.shp`` in any folder of the zip, with the
``.shx``, ``.dbf``, ``.prj`` and ``.cpg`` beside it, checked and laid flat in a new zip.

The members are unzipped with ``archive``'s caps (at most ``MAX_UNZIPPED`` bytes declared in all:
a zip bomb is refused unread). Before GDAL sees a byte, each index is checked against its
``.shp``: a ``.shx`` whose records point past the end of the ``.shp``, or at a record that is
not the one it names, is refused (GDAL would read what the index says), as is a ``.dbf`` whose
header promises more rows than it holds. The text encoding is the ``.cpg``'s, else the ``.dbf``'s
code page; a file with neither whose text is valid UTF-8 is read as UTF-8 (QGIS and others write
UTF-8 without saying so), else as Latin-1, GDAL's default.

The new zip stores (does not compress) the members at its root, one set per name, so GDAL opens
it as a folder of shapefiles, one layer each, named after its ``.shp``.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.archive import open_zip, read_member

__all__ = ["MAX_UNZIPPED", "ShapeSet", "open_shapefiles", "zip_files"]

MAX_UNZIPPED = 256 << 20  # bytes of the chosen shapefiles, unzipped, in all
_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_HINT = (
    "a zipped Shapefile holds the .shp with its .shx, .dbf and .prj (and .cpg): zip those files"
    " together and send the .zip"
)
_FILE_CODE = 9994


@dataclass(frozen=True)
class ShapeSet:
    """One shapefile of the zip: its layer name (the ``.shp``'s name), where it was, and the
    encoding its text is read with (None: the ``.cpg`` or code page GDAL finds)."""

    name: str
    path: str
    encoding: str | None


def _sets(names: list[str]) -> dict[str, dict[str, str]]:
    """``{stem path: {".shp": member name, ...}}`` for every ``.shp`` in the zip, in any folder
    (macOS's ``__MACOSX`` copies and ``._`` files left out)."""
    found: dict[str, dict[str, str]] = {}
    for name in names:
        base = posixpath.basename(name)
        if name.startswith("__MACOSX/") or base.startswith("._") or name.endswith("/"):
            continue
        stem, ext = posixpath.splitext(name)
        if ext.lower() in _PARTS:
            found.setdefault(stem.lower(), {})[ext.lower()] = name
    return {stem: parts for stem, parts in found.items() if ".shp" in parts}


def _check_shp(name: str, shp: bytes, shx: bytes, dbf: bytes | None) -> None:
    """The index's every record against the ``.shp``, and the ``.dbf``'s row count."""
    for what, body in ((f"{name}.shp", shp), (f"{name}.shx", shx)):
        if len(body) < 100 or struct.unpack_from(">i", body, 0)[0] != _FILE_CODE:
            raise InvalidInput(f"shapefile {what} is not a shapefile (its header is not one); {_HINT}")
    if (len(shx) - 100) % 8:
        raise InvalidInput(f"shapefile {name}.shx is damaged: its records are cut short; rebuild it")
    index = np.frombuffer(shx, dtype=">i4", offset=100).reshape(-1, 2).astype(np.int64) * 2
    offsets, lengths = index[:, 0], index[:, 1]
    bad = (offsets < 100) | (lengths < 0) | (offsets + 8 + lengths > len(shp))
    if not bad.any() and len(index):
        heads = np.frombuffer(shp, dtype=np.uint8)[offsets[:, None] + np.arange(8)]
        numbers = heads.view(">i4").reshape(-1, 2).astype(np.int64)
        bad = (numbers[:, 0] != np.arange(1, len(index) + 1)) | (numbers[:, 1] * 2 != lengths)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInput(
            f"shapefile {name}.shx is damaged: its record {i} points at byte {offsets[i]} of {name}.shp"
            f" ({lengths[i]} bytes), where {name}.shp ({len(shp)} bytes) has no such record;"
            " rebuild the index (ogr2ogr or QGIS can) and send it again"
        )
    if dbf is not None:
        if len(dbf) < 32:
            raise InvalidInput(f"shapefile {name}.dbf is not a dBASE table (it is {len(dbf)} bytes)")
        rows, header, width = struct.unpack_from("<IHH", dbf, 4)
        if header + rows * width > len(dbf) or rows != len(index):
            raise InvalidInput(
                f"shapefile {name}.dbf is damaged: it says it has {rows} rows of {width} bytes, it holds"
                f" {max(0, len(dbf) - header) // max(width, 1)}, and {name}.shx indexes {len(index)} shapes;"
                " save the shapefile again"
            )


def _encoding(parts: dict[str, bytes]) -> str | None:
    """For a ``.dbf`` with neither a ``.cpg`` nor a code page, and text that is not ASCII: UTF-8
    when it is valid UTF-8, else Latin-1 (GDAL's default, which its Arrow stream does not apply)."""
    dbf = parts.get(".dbf")
    if ".cpg" in parts or dbf is None or len(dbf) < 32 or dbf[29] != 0:
        return None
    text = _dbf_text(dbf)
    if text.isascii():
        return None
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return "ISO-8859-1"
    return "UTF-8"


def _dbf_text(dbf: bytes) -> bytes:
    """A ``.dbf``'s text: its field names and its records, without the binary numbers of its
    header (a count of 250 rows is the byte 0xFA, never UTF-8: Natural Earth's UTF-8 countries
    read as Latin-1, "PalÃ¤stina")."""
    header = int.from_bytes(dbf[8:10], "little")
    names = [dbf[at : at + 11] for at in range(32, min(header, len(dbf)) - 1, 32) if dbf[at] != 0x0D]
    return b"".join(names) + dbf[header:]


def open_shapefiles(data: bytes, layer: str | None) -> tuple[bytes, list[ShapeSet]]:
    """The shapefiles of a zip (the one named ``layer``, else all), checked, as a flat zip GDAL
    reads, and what each is."""
    with open_zip(data, "shapefile zip", _HINT) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        sets = _sets(list(infos))
        if not sets:
            listed = ", ".join(list(infos)[:6]) or "nothing"
            raise InvalidInput(f"shapefile zip holds no .shp file, got {listed}; {_HINT}")
        if layer is not None:
            sets = {s: p for s, p in sets.items() if posixpath.basename(p[".shp"])[:-4] == layer}
            if not sets:
                raise InvalidInput(
                    f"file_layer {layer!r:.60} is not a .shp in the zip; leave it out to read all"
                )
        declared = sum(infos[name].file_size for parts in sets.values() for name in parts.values())
        if declared > MAX_UNZIPPED:
            raise PayloadTooLarge(
                f"shapefile zip must unzip to at most {MAX_UNZIPPED >> 20} MiB, got {declared / 2**20:,.0f}"
                " MiB declared; send a smaller file, or name one layer with file_layer"
            )
        out = io.BytesIO()
        shapes: list[ShapeSet] = []
        used: set[str] = set()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as flat:
            for parts in sets.values():
                path = parts[".shp"][:-4]
                name = posixpath.basename(path)
                if ".shx" not in parts:
                    raise InvalidInput(f"shapefile {name}.shp comes without its index {name}.shx; {_HINT}")
                read = {
                    ext: read_member(archive, infos[m], MAX_UNZIPPED, "shapefile zip")
                    for ext, m in parts.items()
                }
                _check_shp(name, read[".shp"], read[".shx"], read.get(".dbf"))
                stem, n = name, 1
                while stem.lower() in used:
                    n += 1
                    stem = f"{name}_{n}"
                used.add(stem.lower())
                for ext, body in read.items():
                    flat.writestr(stem + ext, body)
                shapes.append(ShapeSet(stem, path, _encoding(read)))
    return out.getvalue(), shapes


def zip_files(files: dict[str, bytes]) -> bytes:
    """``files`` (name: bytes) in a zip, deflated, dated 1980-01-01: the same map, the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, body)
    return out.getvalue()
