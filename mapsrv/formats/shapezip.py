"""A zipped Shapefile, made ready for GDAL: each ``.shp`` in any folder of the zip, with the
``.shx``, ``.dbf``, ``.prj`` and ``.cpg`` beside it, checked and laid flat in a new zip.

What the zip's listing and headers tell is checked before a member is unzipped: at most a map's
layers of shapefiles (unless ``file_layer`` picks one), at most ``MAX_UNZIPPED`` bytes declared in
all (a zip bomb is refused unread), no more ``.shx`` records than the ``.shp``'s size can hold
(12 bytes each at least), and a ``.dbf`` whose rows would take more than ``MAX_DECODED`` bytes to
read, estimated from its header, is refused with its numbers. Then, before GDAL sees a byte, each
index is checked against its ``.shp``: a ``.shx`` whose records point past the end of the
``.shp``, at a record that is not the one it names, or over each other, is refused (GDAL would
read what the index says), as is a ``.dbf`` whose header promises more rows than it holds or than
the index has shapes. The text encoding is the ``.cpg``'s, else the ``.dbf``'s
code page; a file with neither whose text is valid UTF-8 is read as UTF-8 (QGIS and others write
UTF-8 without saying so), else as Latin-1, GDAL's default.

The new zip stores (does not compress) the members at its root, one set per name, so GDAL opens
it as a folder of shapefiles, one layer each, named after its ``.shp``.
"""

from __future__ import annotations

import codecs
import io
import posixpath
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.archive import open_zip, read_head, read_member

__all__ = ["MAX_DECODED", "MAX_UNZIPPED", "ShapeSet", "open_shapefiles", "zip_files"]

MAX_UNZIPPED = 256 << 20  # bytes of the chosen shapefiles, unzipped, in all
_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_HINT = (
    "a zipped Shapefile holds the .shp with its .shx, .dbf and .prj (and .cpg): zip those files"
    " together and send the .zip"
)
_FILE_CODE = 9994
_LEAST_RECORD = 12  # bytes of the smallest .shp record: its 8-byte header and a shape type
_CHUNK = 1 << 18  # index records checked at a time
_DBF_HEADER = 1 << 16  # bytes of a .dbf's header at most (its size is 16 bits)
_PIECE = 1 << 20  # bytes of a .dbf's text looked at at a time for its encoding
MAX_DECODED = 512 << 20  # bytes a .dbf's rows may take as features, estimated as ``_table`` does
# What reading a .dbf costs at its peak (RSS, points read whole with read_file), measured on tables
# of 1,000-100,000 rows, 10-255 fields, 1-254 characters: about 1 KiB a row, 128 bytes a value, and
# 3 bytes a byte of text (GDAL's copy, Arrow's and Python's); 100,000 rows of 100 fields of 10
# characters take 1.5 GB, 4,000 rows of 255 fields of 254 characters (277 KB zipped) 0.85 GB
_ROW, _CELL, _TEXT = 1024, 128, 3


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


def _check_count(name: str, shp: int, shx: int) -> None:
    """The number of records the ``.shx`` indexes against what the ``.shp``'s size can hold: run
    on the sizes the zip declares, before either is unzipped (a 200 MB ``.shx`` pointing 25 M
    records at one offset zips to 284 KB, and its arrays would take gigabytes)."""
    records, room = max(0, shx - 100) // 8, max(0, shp - 100) // _LEAST_RECORD
    if records > room:
        raise InvalidInput(
            f"shapefile {name}.shx is damaged: it indexes {records} records, where {name}.shp"
            f" ({shp} bytes) holds at most {room}; rebuild the index (ogr2ogr or QGIS can) and send it again"
        )


def _check_index(name: str, shp: bytes, shx: bytes) -> int:
    """The index's every record against the ``.shp``, ``_CHUNK`` records at a time (the arrays
    stay a few MiB whatever the file); the number of records."""
    for what, body in ((f"{name}.shp", shp), (f"{name}.shx", shx)):
        if len(body) < 100 or struct.unpack_from(">i", body, 0)[0] != _FILE_CODE:
            raise InvalidInput(f"shapefile {what} is not a shapefile (its header is not one); {_HINT}")
    if (len(shx) - 100) % 8:
        raise InvalidInput(f"shapefile {name}.shx is damaged: its records are cut short; rebuild it")
    _check_count(name, len(shp), len(shx))
    records, claimed = (len(shx) - 100) // 8, 0
    heads = np.frombuffer(shp, dtype=np.uint8)
    for first in range(0, records, _CHUNK):
        n = min(_CHUNK, records - first)
        index = np.frombuffer(shx, dtype=">i4", count=2 * n, offset=100 + 8 * first)
        index = index.reshape(-1, 2).astype(np.int64) * 2
        offsets, lengths = index[:, 0], index[:, 1]
        bad = (offsets < 100) | (lengths < 0) | (offsets + 8 + lengths > len(shp))
        if not bad.any():
            numbers = heads[offsets[:, None] + np.arange(8)].view(">i4").reshape(-1, 2).astype(np.int64)
            bad = (numbers[:, 0] != np.arange(first + 1, first + n + 1)) | (numbers[:, 1] * 2 != lengths)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidInput(
                f"shapefile {name}.shx is damaged: its record {first + i} points at byte {offsets[i]} of"
                f" {name}.shp ({lengths[i]} bytes), where {name}.shp ({len(shp)} bytes) has no such record;"
                " rebuild the index (ogr2ogr or QGIS can) and send it again"
            )
        claimed += int(lengths.sum()) + 8 * n
    if claimed > len(shp) - 100:  # records that overlap: GDAL would read the same bytes again and again
        raise InvalidInput(
            f"shapefile {name}.shx is damaged: its records take {claimed} bytes of {name}.shp in all,"
            f" which has {len(shp) - 100} after its header; rebuild the index (ogr2ogr or QGIS can)"
            " and send it again"
        )
    return records


def _table(name: str, head: bytes, size: int) -> int:
    """A ``.dbf``'s number of rows from its header (``head``, at least its field
    descriptors), checked against its ``size`` and the text it would decode to, before the rows
    are unzipped; a ``.dbf`` past its budget is refused with its numbers."""
    if size < 32 or len(head) < 32:
        raise InvalidInput(f"shapefile {name}.dbf is not a dBASE table (it is {size} bytes)")
    rows, header, width = struct.unpack_from("<IHH", head, 4)
    if header + rows * width > size:
        raise InvalidInput(
            f"shapefile {name}.dbf is damaged: it says it has {rows} rows of {width} bytes, it holds"
            f" {max(0, size - header) // max(width, 1)}; save the shapefile again"
        )
    fields: list[int] = []
    for at in range(32, min(header, len(head)) - 31, 32):
        if head[at] == 0x0D:  # the end of the field descriptors
            break
        fields.append(head[at + 16])  # its width (shapelib reads no high byte in the decimals)
    text = sum(fields)
    decoded = rows * (_ROW + _CELL * len(fields) + _TEXT * text)
    if decoded > MAX_DECODED:
        raise PayloadTooLarge(
            f"shapefile {name}.dbf must take at most {MAX_DECODED >> 20} MiB to read, got {rows} rows of"
            f" {len(fields)} fields, {text} characters a row: about {decoded / 2**20:,.0f} MiB; send fewer"
            " rows or fields (ogr2ogr -select, -where), or split it"
        )
    return int(rows)


def _encoding(parts: dict[str, bytes]) -> str | None:
    """For a ``.dbf`` with neither a ``.cpg`` nor a code page, and text that is not ASCII: UTF-8
    when it is valid UTF-8, else Latin-1 (GDAL's default, which its Arrow stream does not apply).
    The text is looked at a piece at a time: a copy of a 256 MiB table is not made to see it."""
    dbf = parts.get(".dbf")
    if ".cpg" in parts or dbf is None or len(dbf) < 32 or dbf[29] != 0:
        return None
    plain, utf8 = True, codecs.getincrementaldecoder("utf-8")()
    try:
        for piece in _dbf_text(dbf):
            plain = plain and piece.isascii()
            if not plain:
                utf8.decode(piece)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError:
        return "ISO-8859-1"
    return None if plain else "UTF-8"


def _dbf_text(dbf: bytes) -> Iterator[bytes]:
    """A ``.dbf``'s text in pieces: its field names and its records, without the binary numbers of
    its header (a count of 250 rows is the byte 0xFA, never UTF-8: Natural Earth's UTF-8 countries
    read as Latin-1, "PalÃ¤stina")."""
    header = int.from_bytes(dbf[8:10], "little")
    yield b"".join(dbf[at : at + 11] for at in range(32, min(header, len(dbf)) - 1, 32) if dbf[at] != 0x0D)
    for at in range(header, len(dbf), _PIECE):
        yield dbf[at : at + _PIECE]


def _chosen(
    infos: dict[str, zipfile.ZipInfo], layer: str | None, max_layers: int
) -> dict[str, dict[str, str]]:
    """The shapefiles to read (see ``_sets``): the one named ``layer``, else all, refused from the
    zip's listing alone when there are more than a map's layers or they declare too many bytes."""
    sets = _sets(list(infos))
    if not sets:
        listed = ", ".join(list(infos)[:6]) or "nothing"
        raise InvalidInput(f"shapefile zip holds no .shp file, got {listed}; {_HINT}")
    if layer is not None:
        sets = {s: p for s, p in sets.items() if posixpath.basename(p[".shp"])[:-4] == layer}
        if not sets:
            raise InvalidInput(f"file_layer {layer!r:.60} is not a .shp in the zip; leave it out to read all")
    if len(sets) > max_layers:
        raise PayloadTooLarge(
            f"shapefile zip must hold at most {max_layers} shapefiles, a map's layers (max_layers), got"
            f" {len(sets)}; name the one to read with file_layer, or split the zip"
        )
    declared = sum(infos[name].file_size for parts in sets.values() for name in parts.values())
    if declared > MAX_UNZIPPED:
        raise PayloadTooLarge(
            f"shapefile zip must unzip to at most {MAX_UNZIPPED >> 20} MiB, got {declared / 2**20:,.0f}"
            " MiB declared; send a smaller file, or name one layer with file_layer"
        )
    return sets


def _check_unread(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], parts: dict[str, str]) -> None:
    """What one shapefile's sizes and ``.dbf`` header tell, before its members are unzipped."""
    name = posixpath.basename(parts[".shp"])[:-4]
    if ".shx" not in parts:
        raise InvalidInput(f"shapefile {name}.shp comes without its index {name}.shx; {_HINT}")
    _check_count(name, infos[parts[".shp"]].file_size, infos[parts[".shx"]].file_size)
    if ".dbf" in parts:
        dbf = infos[parts[".dbf"]]
        _table(name, read_head(archive, dbf, _DBF_HEADER, "shapefile zip"), dbf.file_size)


def _check_read(name: str, read: dict[str, bytes]) -> None:
    """One shapefile's members as unzipped: its index against its shapes, its rows against both."""
    records = _check_index(name, read[".shp"], read[".shx"])
    if ".dbf" in read:
        rows = _table(name, read[".dbf"], len(read[".dbf"]))
        if rows != records:
            raise InvalidInput(
                f"shapefile {name}.dbf is damaged: it has {rows} rows, and {name}.shx indexes {records}"
                " shapes; save the shapefile again"
            )


def open_shapefiles(
    data: bytes, layer: str | None, *, max_layers: int = Limits.max_layers
) -> tuple[bytes, list[ShapeSet]]:
    """The shapefiles of a zip (the one named ``layer``, else all, at most ``max_layers``),
    checked, as a flat zip GDAL reads, and what each is."""
    with open_zip(data, "shapefile zip", _HINT) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        sets = _chosen(infos, layer, max_layers)
        for parts in sets.values():
            _check_unread(archive, infos, parts)
        out = io.BytesIO()
        shapes: list[ShapeSet] = []
        used: set[str] = set()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as flat:
            for parts in sets.values():
                path = parts[".shp"][:-4]
                name = posixpath.basename(path)
                read = {
                    ext: read_member(archive, infos[m], MAX_UNZIPPED, "shapefile zip")
                    for ext, m in parts.items()
                }
                _check_read(name, read)
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
