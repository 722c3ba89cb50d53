"""CSV in and out (spreadsheets: Excel, LibreOffice, Google Sheets, QGIS).

In: the delimiter is the one of ``,`` ``;`` tab ``|`` that the header uses most (or the one an
Excel ``sep=`` line names); the text is UTF-8 (with or without a byte order mark), else
Windows-1252. Each row is one feature, whose geometry comes from its latitude and longitude
columns, else its WKT or GeoJSON geometry column (whole: a MULTIPOLYGON is one multipolygon),
else its place name (with its country column, when there is one) looked up through ``lookup``;
a row with none of those is skipped and listed, and a place that did not resolve is reported in
``Imported.unresolved`` (at most ``MAX_LOOKUPS`` different names are looked up). With ``;`` or
tab as the delimiter, ``48,85`` is a decimal comma. A ``layer`` column puts rows in layers. Every
column is a property as well, whatever it was read for (a user's ``lat``, ``name`` or ``city``
are theirs): numbers when every cell of the column is a plain decimal, else text as written
(``formats.cells``). Only a CSV that mapsrv wrote (its header starts with mapsrv's nine columns,
``id`` to ``wkt``, in order) has columns that are mapsrv's rather than the data's: those nine are
the feature itself (``type`` and ``radius`` bring circles and rectangles back), and a property
written beside one of them as ``lat (property)`` is ``lat`` again.

Out: one row per feature: id, type, layer, label, popup, lat and lon for a marker or a circle's
centre, radius, WKT for every other geometry, whole (a polygon's holes, a multipolygon's parts,
a collection's members), then one column per property (per-point lists, such as
a track's times, are not written: a cell is no place for 50,000 values). Text that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) is written with a leading
``'``, which reading takes off again; a cell so guarded is text (``'-99`` reads as "-99"), as it
is in a spreadsheet. Numbers are plain decimals (``0.00001``, not ``1e-05``). The file starts
with a byte order mark, which Excel needs to read UTF-8.

Caps: at most ``MAX_COLUMNS`` columns (checked on the header before parsing, and on every row),
fields of at most ``MAX_FIELD`` characters (a WKT line of 100,000 points fits), and at most
``limits.max_features`` rows (plus a few blank ones).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

from mapsrv.core.geojson import geometry_from_geojson
from mapsrv.core.geometry import rectangle_corners
from mapsrv.core.heights import ELE, geojson_heights, height_key, numbers
from mapsrv.core.model import LatLon, MapState
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.cells import cell_text, is_numeric, number, typed
from mapsrv.formats.collect import Collector
from mapsrv.formats.columns import Columns, find_columns, no_position, paired_names
from mapsrv.formats.geometry import parse_wkt, to_wkt

__all__ = [
    "MAX_COLUMNS",
    "MAX_FIELD",
    "MAX_LOOKUPS",
    "Rows",
    "numeric_columns",
    "property_names",
    "property_value",
    "read_csv",
    "read_rows",
    "write_csv",
]

MAX_COLUMNS = 1_000
# Different place names looked up per file: the gazetteer takes ~0.1 ms for a name it knows and
# ~2 ms for one it does not (it finds the closest names), so 1,000 misses cost ~2 s of CPU.
MAX_LOOKUPS = 1_000
MAX_FIELD = 8 << 20  # characters of one field
_BLANK_ROWS = 10_000  # blank or skipped rows allowed beyond max_features
_DELIMITERS = (",", ";", "\t", "|")
_SEP_LINE = re.compile(r"sep=(.)")
_COORDINATE = re.compile(r"([-+]?[0-9]+(?:[.,][0-9]+)?)\s*°?\s*([NSEWnsew]?)")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_FIXED = ["id", "type", "layer", "label", "popup", "lat", "lon", "radius", "wkt"]
_RENAMED = " (property)"  # a property named like one of mapsrv's columns, in a CSV written here
_OWN = Columns(kind=1, layer=2, label=3, popup=4, lat=5, lon=6, radius=7, geometry=8)  # of _FIXED


def _decode(data: bytes, out: Collector) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    out.note("read as Windows-1252 text, not UTF-8: check accented letters")
    return text


def _delimiter(first_line: str) -> str:
    counts = [(first_line.count(d), -n) for n, d in enumerate(_DELIMITERS)]
    best, order = max(counts)
    return _DELIMITERS[-order] if best else ","


def _unescape(text: str) -> str:
    """Text as written before a formula guard: ``'=1+1`` is ``=1+1``."""
    return text[1:] if text[:1] == "'" and text[1:2] in _FORMULA else text


def _coordinate(text: str, comma: bool, negative: str) -> float | None:
    """A decimal degree, with a decimal comma when ``comma``, and an optional hemisphere letter
    (``48.85 N``; ``negative`` holds the letters that make it negative)."""
    found = _COORDINATE.fullmatch(text)
    if found is None or ("," in found.group(1) and not comma):
        return None
    value = float(found.group(1).replace(",", "."))
    hemisphere = found.group(2).upper()
    return -abs(value) if hemisphere and hemisphere in negative else value


def _rows(
    text: str, delimiter: str, limits_rows: int, skipped: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows that have a value, each with its line number (``skipped`` lines
    came before ``text``)."""
    if csv.field_size_limit() < MAX_FIELD:
        csv.field_size_limit(MAX_FIELD)  # process-wide; raised once, to the same value by every caller
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    count = 0
    try:
        header = next(reader, [])
        for row in reader:
            count += 1
            line = reader.line_num + skipped
            if len(row) > MAX_COLUMNS:
                raise PayloadTooLarge(
                    f"csv must have at most {MAX_COLUMNS} columns, got {len(row)} on line {line}"
                )
            if count > limits_rows:
                raise PayloadTooLarge(
                    f"csv must have at most {limits_rows - _BLANK_ROWS} rows (max_features),"
                    f" got more by line {line}; split the file"
                )
            if any(cell.strip() for cell in row):
                rows.append((line, row))
    except csv.Error as exc:
        raise InvalidInput(f"csv line {reader.line_num + skipped} cannot be read: {exc}") from None
    return [h.strip() for h in header], rows


def _geometry(text: str, where: str, out: Collector, zs: list[float | None]) -> tuple[str, Any]:
    """A cell's WKT or GeoJSON geometry, its heights added to ``zs``."""
    if text.startswith("{"):
        try:
            geometry = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise InvalidInput(f"{where} geometry is not valid GeoJSON") from None
        found = geometry_from_geojson(where, geometry, out.limits.max_points)
        zs += geojson_heights(geometry) or []
        return found
    return parse_wkt(text, where, zs)


def _headers(header: list[str], used: set[int], own: bool = False) -> list[str]:
    """Property names: every column named, and named once among the columns kept as properties."""
    names: list[str] = []
    for i, raw in enumerate(header):
        if own and raw.endswith(_RENAMED) and raw[: -len(_RENAMED)] in _FIXED:
            raw = raw[: -len(_RENAMED)]  # a property written beside mapsrv's column of that name
        name, n = raw or f"column {i + 1}", 1
        while name in names:
            n += 1
            name = f"{raw or f'column {i + 1}'} ({n})"
        names.append(name if i not in used else "")
    return names


class _Table:
    def __init__(
        self,
        out: Collector,
        header: list[str],
        rows: list[tuple[int, list[str]]],
        cols: Columns,
        comma: bool,
        lookup: Any,
    ) -> None:
        self.out, self.cols, self.comma, self.lookup = out, cols, comma, lookup
        self.numeric = numeric_columns(rows, len(header), comma)
        own = cols.kind is not None
        self.used = set(range(len(_FIXED))) if own else set()  # a CSV mapsrv wrote: its columns
        self.names = _headers(header, self.used, own)
        self.places: dict[str, LatLon | None] = {}

    def row(self, line: int, row: list[str]) -> None:
        def cell(i: int | None) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        cols, where = self.cols, f"csv line {line}"
        shape: tuple[str, Any] | None = None
        zs: list[float | None] = []
        if cols.lat is not None and cols.lon is not None and (cell(cols.lat) or cell(cols.lon)):
            lat = _coordinate(cell(cols.lat), self.comma, "S")
            lon = _coordinate(cell(cols.lon), self.comma, "W")
            if lat is None or lon is None:
                self.out.skip("rows whose latitude or longitude is missing or not a number", f"line {line}")
                return
            shape = ("marker", [lat, lon])
        if shape is None and cols.geometry is not None and cell(cols.geometry):
            try:
                shape = _geometry(cell(cols.geometry), where, self.out, zs)
            except PayloadTooLarge:
                raise
            except InvalidInput as exc:
                reason = exc.message.removeprefix(where).lstrip(": ")
                self.out.skip("rows whose geometry cannot be read", f"line {line}", reason)
                return
        if shape is None and cols.place is not None and cell(cols.place):
            point = self._look_up(line, cell(cols.place), cell(cols.country))
            if point is None:
                return
            shape = ("marker", list(point))
        if shape is None:
            self.out.skip("rows without a position", f"line {line}")
            return
        self._add(line, row, shape, cell, zs)

    def _look_up(self, line: int, place: str, country: str) -> LatLon | None:
        name = f"{place}, {country}" if country else place
        if name not in self.places:
            if len(self.places) >= MAX_LOOKUPS:
                self.out.count(f"place names not looked up (past the first {MAX_LOOKUPS} different ones)")
                self.out.unresolved.append((line, name))
                return None
            self.places[name] = self.lookup(name)
        point = self.places[name]
        if point is None:
            self.out.unresolved.append((line, name))
        return point

    def _add(
        self,
        line: int,
        row: list[str],
        shape: tuple[str, Any],
        cell: Callable[[int | None], str],
        zs: list[float | None],
    ) -> None:
        """The row as one feature: its geometry whole, a circle or a rectangle again when
        mapsrv's ``type`` column says it was one, its WKT's heights its ``ele`` or
        ``elevations`` (unless it has a column of that name)."""
        cols = self.cols
        kind = cell(cols.kind)
        props = {
            self.names[i]: property_value(text.strip(), self.numeric[i], self.comma)
            for i, text in enumerate(row[: len(self.names)])
            if text.strip() and i not in self.used
        }
        column = self.names[cols.geometry] if cols.geometry is not None else ""
        if isinstance(props.get(column), str) and len(props[column]) > self.out.limits.max_popup:
            del props[column]  # cut short, it would be no geometry at all
            self.out.count(
                f"geometry texts longer than {self.out.limits.max_popup} characters not kept as a property"
                " (the shape is drawn)"
            )
        layer = self.out.layer(cell(cols.layer)) if cols.layer is not None else None
        type_, coords = shape
        radius = None
        if kind == "circle" and type_ == "marker":
            radius = number(cell(cols.radius), self.comma)
            type_ = "circle" if isinstance(radius, (int, float)) else type_
            radius = radius if type_ == "circle" else None
        elif (
            kind == "rectangle" and type_ == "polygon" and (corners := rectangle_corners(coords)) is not None
        ):
            type_, coords = "rectangle", corners
        key = height_key(type_)
        if zs and key not in props and type_ != "rectangle" and (found := numbers(zs)) is not None:
            props[key] = found[0] if key == ELE else found
        try:
            self.out.add(
                f"csv line {line}",
                type_,
                coords,
                label=_unescape(cell(cols.label)),
                popup=_unescape(cell(cols.popup)),
                properties=props,
                radius=radius,
                layer=layer,
            )
        except PayloadTooLarge:
            raise
        except InvalidInput as exc:
            reason = exc.message.removeprefix(f"csv line {line}").lstrip(": ")
            self.out.skip("rows that break a rule", f"line {line}", reason)


Rows = tuple[list[str], list[tuple[int, list[str]]], bool]  # header, rows by line, decimal comma


def read_rows(data: bytes, out: Collector) -> Rows:
    """A CSV's header, its rows that have a value (each with its line number), and whether its
    numbers may have a decimal comma (``;`` or tab as the delimiter)."""
    text = _decode(data, out)
    first_line = text[: text.find("\n")] if "\n" in text else text
    declared = _SEP_LINE.fullmatch(first_line.rstrip("\r"))
    if declared:  # Excel's "sep=;" line names the delimiter and is no row
        text = text[len(first_line) + 1 :]
        first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = declared.group(1) if declared else _delimiter(first_line)
    if first_line.count(delimiter) >= MAX_COLUMNS:
        raise PayloadTooLarge(
            f"csv must have at most {MAX_COLUMNS} columns,"
            f" got {first_line.count(delimiter) + 1} in its header; is this a table?"
        )
    header, rows = _rows(text, delimiter, out.limits.max_features + _BLANK_ROWS, 1 if declared else 0)
    return header, rows, delimiter != ","


def property_names(header: list[str]) -> list[str]:
    """Every column's property name: named, and named once."""
    return _headers(header, set())


def numeric_columns(rows: list[tuple[int, list[str]]], width: int, comma: bool) -> list[bool]:
    """Whether each of the first ``width`` columns is numbers: every cell of it, in all the
    rows, a plain decimal (a cell with a formula guard, ``'-99``, is text)."""
    return [is_numeric((row[i].strip() for _, row in rows if i < len(row)), comma) for i in range(width)]


def property_value(text: str, numeric: bool, comma: bool) -> Any:
    """A cell as a property: its number in a column of numbers (``numeric_columns``), else its
    text as written (a spreadsheet's formula guard taken off)."""
    return typed(text, numeric, comma) if numeric else _unescape(text)


def read_csv(data: bytes | Rows, out: Collector, lookup: Callable[[str], LatLon | None] | None) -> None:
    """Read a CSV table's rows into ``collector`` (see the module's docstring): its bytes, or the
    rows ``read_rows`` read from them (in the sandbox: ``mapsrv.formats.sandbox``)."""
    header, rows, comma = read_rows(data, out) if isinstance(data, bytes) else data
    own = [h.strip() for h in header[: len(_FIXED)]] == _FIXED
    cols = _OWN if own else find_columns(header, [row for _, row in rows[:5]])
    if not cols.positioned():
        raise no_position(header)
    if cols.lat is not None and cols.lon is not None and paired_names(header[cols.lat]):
        out.note(f"csv positions from columns {header[cols.lat]!r:.40} and {header[cols.lon]!r:.40}")
    only_places = cols.geometry is None and (cols.lat is None or cols.lon is None)
    if only_places and lookup is None:
        raise InvalidInput(
            f"csv positions would come from the place names in column {header[cols.place or 0]!r:.40},"
            " and no place lookup is available here; add lat and lon columns"
        )
    table = _Table(out, header, rows, cols, comma, lookup)
    for line, row in rows:
        table.row(line, row)


# Writing ------------------------------------------------------------------------------------


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        return ""
    return _text(value) if isinstance(value, str) else cell_text(value)


def write_csv(state: MapState) -> bytes:
    """The map as a CSV table (see the module's docstring)."""
    keys: dict[str, None] = {}
    for feature in state.features.values():
        keys.update((k, None) for k, v in feature.properties if not isinstance(v, tuple))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*_FIXED, *(_text(k + _RENAMED if k in _FIXED else k) for k in keys)])
    for f in state.features.values():
        props = dict(f.properties)
        point = f.type in ("marker", "circle")
        lat, lon = f.coords if point else ("", "")
        writer.writerow(
            [
                f.id,
                f.type,
                f.layer,
                _text(f.label),
                _text(f.popup),
                _cell(lat),
                _cell(lon),
                _cell(f.radius),
                "" if point else to_wkt(f),
                *(_cell(props.get(k)) for k in keys),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()
