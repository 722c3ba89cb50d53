"""A map as GIS tables (Arrow): one row per feature, its geometry as WKB, a typed column per
property, then mapsrv's own columns (``mapsrvtype``, ``layer``, ``label``, ``popup``, ``style``
as JSON text, ``radius``), which bring circles, rectangles, styles and layers back on import
(``gisrows``). One of mapsrv's whose name the data has is written ``m_`` and its name.

No property can break the file. One named (in any case: GDAL and SQLite match column names
ignoring it) as a column the format keeps for itself (``reserved``: a GeoPackage's ``fid``,
GDAL's ``OGC_FID``), as the ``geometry`` column or one of mapsrv's, or as another property but
for case, is written as ``fid_2`` (``_3``... past any property of that name), with a note.

A property's column type is what its values are: booleans, integers (64-bit), reals, dates (text
that is all ``YYYY-MM-DD``), else text; a column that mixes kinds is written as text, with a
note, as are integers past 64 bits. A real that is not finite (NaN) is written as null, text that
is not UTF-8 (a lone surrogate) with U+FFFD in its place, text without its NUL characters (GDAL's
text ends at one), each with a note. Per-point lists (a track's times) are left out, with a note:
a cell holds one value; a line's or shape's ``elevations`` are its geometry's Z. Arrays and
objects are JSON text (``held`` notes it), but in a GeoParquet (``nested``), Arrow lists and
structs when one type holds a column's values exactly.

Shapefile's rules (``shapefile=True``): field names of at most 10 bytes (longer ones shortened
and listed), text of at most 254 bytes, numbers its fields hold (a column with an integer of more
than 18 characters or a real past 1e20 is text), one geometry kind per file (points, lines,
polygons: a table each; collections cannot be held and are left out, counted).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mapsrv.core.heights import ELE, ELEVATIONS, heights
from mapsrv.core.model import Feature, MapState
from mapsrv.formats.cells import json_text
from mapsrv.formats.columns import unique_name
from mapsrv.formats.gisrows import OWN, OWN_PREFIX, OWN_TYPE
from mapsrv.formats.gistypes import column_of, type_of
from mapsrv.formats.wkb import WKB_TYPES, to_wkb

__all__ = ["GEOMETRY", "GisTable", "gis_tables"]

MAX_DBF_TEXT = 254  # bytes of a Shapefile's text field
MAX_DBF_NAME = 10  # bytes of a Shapefile's field name
GEOMETRY = "geometry"  # the WKB column of every table
MAX_LISTED = 10  # names listed in a note
_SURROGATE = re.compile("[\ud800-\udfff]")
_GEOMETRY = "mapsrv writes the geometry in its geometry column"
_KINDS = {"Point": "points", "MultiPoint": "points", "LineString": "lines", "MultiLineString": "lines"}
_KINDS |= {"Polygon": "polygons", "MultiPolygon": "polygons"}


@dataclass
class GisTable:
    """One table to write: its name, its columns (the geometry last, as WKB, ``geometry``), and
    the WKB types of its geometries (GDAL's name for the layer's type: ``Unknown`` if several)."""

    name: str
    table: pa.Table
    types: list[str] = field(default_factory=list)

    @property
    def geometry_type(self) -> str:
        return self.types[0] if len(self.types) == 1 else "Unknown"


def _is_text(text: str) -> bool:
    """Whether ``text`` is UTF-8 text: no lone surrogate, which no file holds."""
    return text.isascii() or _SURROGATE.search(text) is None


def _shown(text: str) -> str:
    """``text`` as a note names it: a lone surrogate written as its escape."""
    return text if _is_text(text) else text.encode(errors="backslashreplace").decode()


def _listed(items: Sequence[str], between: str = "; ") -> str:
    more = len(items) - MAX_LISTED
    return between.join(items[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _column_list(keys: Sequence[str]) -> str:
    return f"column{'s' * (len(keys) > 1)} {_listed([_shown(k) for k in keys], ', ')}"


def _changed(counts: dict[str, int], what: str) -> list[str]:
    """A note on the values changed in some columns (``counts``: how many, by column)."""
    n = sum(counts.values())
    return [f"{n} value{'s' * (n > 1)} {what}: {_column_list(list(counts))}"] if n else []


def _column_names(
    keys: Sequence[str], own: Collection[str], reserved: Mapping[str, str], shapefile: bool
) -> tuple[dict[str, str], list[str]]:
    """Each property's column name, and the notes on those renamed: a name the format keeps for
    itself (``reserved``: lower case, and why), one of mapsrv's ``own`` columns, one another
    property has but for case, one that is not UTF-8, or (``shapefile``) one past 10 bytes."""
    size = MAX_DBF_NAME if shapefile else None
    mine = {name.lower(): name for name in own}
    taken = {*mine, *reserved}
    whys: dict[str, str] = {}
    for key in keys:  # every name that can stay does, first: a new name takes none of theirs
        folded = key.lower()
        if folded in reserved:
            whys[key] = reserved[folded]
        elif folded in mine:
            whys[key] = f"mapsrv keeps {mine[folded]} for its own column"
        elif not _is_text(key):
            whys[key] = "a column name is UTF-8 text"
        elif folded in taken:
            whys[key] = "GIS programs match column names ignoring case"
        elif size is not None and len(key.encode()) > size:
            whys[key] = ""  # a Shapefile's short names: said apart, as GIS people know them
        else:
            taken.add(folded)
    names = {key: key for key in keys}
    for key in whys:
        names[key] = unique_name(_SURROGATE.sub("\ufffd", key), taken, size)
    said: dict[str, list[str]] = {}
    for key, why in whys.items():
        said.setdefault(why, []).append(
            f"property {_shown(key)} renamed {names[key]}" if why else f"{key} as {names[key]}"
        )
    notes = [f"{_listed(items)}: {why}" for why, items in said.items() if why]
    if "" in said:
        notes.append(f"Shapefile field names are at most {MAX_DBF_NAME} bytes: {_listed(said[''])}")
    return names, notes


def _as_z(feature: Feature) -> bool:
    """Whether a feature's ``ele``, if it has one, is written as its Z alone: a point's number."""
    value = dict(feature.properties).get(ELE)
    return value is None or (type(value) in (int, float) and feature.type in ("marker", "circle"))


def _cells(props: list[dict[str, Any]], key: str) -> list[Any]:
    """The values of property ``key``, one a feature: None for a per-point list (left out)."""
    return [None if type(v) is tuple else v for v in (p.get(key) for p in props)]


class _Columns:
    """The columns every table of one export shares, and the notes they make."""

    def __init__(
        self,
        features: Sequence[Feature],
        shapefile: bool,
        dates: bool,
        reserved: Mapping[str, str],
        notes: list[str],
        nested: bool = False,
    ) -> None:
        self.shapefile = shapefile
        keys: dict[str, None] = {}
        lists: set[str] = set()
        for feature in features:
            for key, value in feature.properties:
                if isinstance(value, tuple):
                    lists.add(key)
                else:
                    keys.setdefault(key, None)
        self.heights = ELE in keys or ELEVATIONS in lists  # some feature may have heights
        lists.discard(ELEVATIONS)  # a geometry's heights: its Z (``wkb``)
        if ELE in keys and all(_as_z(f) for f in features):
            del keys[ELE]  # every point's height is its Z, read back as its ele
        if lists:
            listed = _listed([_shown(k) for k in sorted(lists)], ", ")
            notes.append(f"per-point lists left out (a cell holds one value): {listed}")
        self.keys = list(keys)
        folded = {k.lower() for k in keys}
        self.own = {k: OWN_PREFIX + k if k in folded else k for k in OWN}
        # ``m_label`` is mapsrv's label wherever it is (``gisrows``): never a property's name
        own = [OWN_TYPE, *(OWN_PREFIX + k for k in OWN)]
        self.names, renamed = _column_names(self.keys, own, {GEOMETRY: _GEOMETRY} | dict(reserved), shapefile)
        notes += renamed
        self.dates = dates
        self.nested = nested
        # each table's columns are typed by its own rows (a layer's int uID stays int beside
        # another layer's real uID); the columns of any table written as text, by why
        self.whys: dict[str, dict[str, None]] = {"mixed": {}, "wide": {}, "dbf": {}, "nested": {}}
        self.cut = 0
        self.unfinite: dict[str, int] = {}  # reals that are not finite, by property
        self.mended: dict[str, int] = {}  # text with a lone surrogate, by column
        self.nul: dict[str, int] = {}  # text with a NUL character, by column

    def _short(self, value: Any) -> Any:
        if isinstance(value, str) and len(value.encode()) > MAX_DBF_TEXT:
            self.cut += 1
            return value.encode()[:MAX_DBF_TEXT].decode(errors="ignore")
        return value

    def _property(self, key: str, props: list[dict[str, Any]]) -> pa.Array:
        values = _cells(props, key)
        kind, why = type_of(values, self.dates, self.shapefile, self.nested)
        if why in self.whys:
            self.whys[why][key] = None
        if pa.types.is_floating(kind):
            bad = sum(type(v) is float and not math.isfinite(v) for v in values)
            if bad:
                self.unfinite[key] = self.unfinite.get(key, 0) + bad
                values = [None if type(v) is float and not math.isfinite(v) else v for v in values]
        elif pa.types.is_string(kind):
            texts = [None if v is None else v if isinstance(v, str) else json_text(v) for v in values]
            return self._texts(key, texts)
        return column_of(values, kind)

    def _texts(self, name: str, values: list[Any]) -> pa.Array:
        """Text as a column: a lone surrogate (UTF-8 cannot hold it) as U+FFFD, without NUL
        characters (GDAL's text ends at one), and in a Shapefile at most 254 bytes."""
        try:
            column = pa.array(values, pa.string())
        except UnicodeEncodeError:
            bad = [v is not None and not _is_text(v) for v in values]
            values = [_SURROGATE.sub("\ufffd", v) if b else v for v, b in zip(values, bad, strict=True)]
            self.mended[name] = self.mended.get(name, 0) + sum(bad)
            column = pa.array(values, pa.string())
        nul = pc.sum(pc.match_substring(column, "\x00")).as_py() if len(column) else 0
        if nul:
            self.nul[name] = self.nul.get(name, 0) + nul
            column = pc.replace_substring(column, "\x00", "")
        longest = pc.max(pc.binary_length(column)).as_py() if self.shapefile and len(column) else None
        if longest is None or longest <= MAX_DBF_TEXT:  # nothing to cut: no pass in Python
            return column
        return pa.array([self._short(v) for v in column.to_pylist()], pa.string())

    def table(self, features: Sequence[Feature], layers: dict[str, str], multi: bool, z: bool) -> pa.Table:
        """The table of ``features``: a column for each property they have (all of the export's
        when there are none), typed by their values, then mapsrv's own; its geometries 3D with
        ``z``."""
        arrays: dict[str, pa.Array] = {}
        props = [dict(f.properties) for f in features]
        had = set().union(*props) if props else set(self.keys)
        for key in self.keys:
            if key in had:
                arrays[self.names[key]] = self._property(key, props)
        own = self.own
        arrays[OWN_TYPE] = pa.array([f.type for f in features], pa.string())
        arrays[own["layer"]] = self._texts("layer", [layers.get(f.layer, f.layer) for f in features])
        arrays[own["label"]] = self._texts("label", [f.label for f in features])
        arrays[own["popup"]] = self._texts("popup", [f.popup for f in features])
        styles = [json.dumps(dict(f.style), separators=(",", ":")) if f.style else "" for f in features]
        arrays[own["style"]] = pa.array(styles, pa.string())
        arrays[own["radius"]] = pa.array([f.radius for f in features], pa.float64())
        arrays[GEOMETRY] = pa.array([to_wkb(f, multi=multi, z=z) for f in features], pa.binary())
        return pa.table(arrays)

    def value_notes(self) -> list[str]:
        """What was changed of the values as the tables were made."""
        notes = []
        if mixed := list(self.whys["mixed"]):
            verb = "mix" if len(mixed) > 1 else "mixes"
            notes.append(f"{_column_list(mixed)} {verb} numbers, text or booleans: written as text")
        if wide := list(self.whys["wide"]):
            verb = "have" if len(wide) > 1 else "has"
            notes.append(
                f"{_column_list(wide)} {verb} integers past 64 bits: written as text, every digit kept"
            )
        if big := list(self.whys["dbf"]):
            verb = "have" if len(big) > 1 else "has"
            notes.append(
                f"{_column_list(big)} {verb} numbers past a Shapefile's fields (18 digits, 1e20):"
                " written as text, every digit kept"
            )
        if self.cut:
            n = self.cut
            notes.append(
                f"Shapefile text is at most {MAX_DBF_TEXT} bytes: {n} value{'s' * (n > 1)} shortened"
            )
        notes += _changed(self.unfinite, "not a finite number (nan) written as null")
        notes += _changed(self.mended, "not UTF-8 text (a lone surrogate) written with U+FFFD")
        notes += _changed(self.nul, "written without NUL characters (GIS programs end text at one)")
        if nested := list(self.whys["nested"]) if self.nested else []:
            verb = "hold" if len(nested) > 1 else "holds"
            notes.append(
                f"{_column_list(nested)} {verb} arrays or objects no one Parquet type holds exactly"
                " (of other keys, or mixed with numbers or text): written as JSON text"
            )
        return notes


def _groups(
    state: MapState, by_layer: bool, shapefile: bool, notes: list[str]
) -> Iterable[tuple[str, list[Feature]]]:
    features = list(state.features.values())
    if shapefile:
        kept = [f for f in features if f.type != "collection"]
        if len(kept) < len(features):
            n = len(features) - len(kept)
            notes.append(
                f"Shapefile holds one kind of geometry per file: {n} collection{'s' * (n > 1)} of shapes"
                " left out (GeoPackage keeps them)"
            )
        features = kept
    layered: dict[str, list[Feature]] = {}
    names: set[str] = set()
    for feature in features:
        key = feature.layer if by_layer else ""
        if shapefile:
            key += "\x00" + _KINDS[WKB_TYPES[feature.type]]
        layered.setdefault(key, []).append(feature)
    for key, group in layered.items():
        lid, _, kind = key.partition("\x00")
        name = state.layers[lid].name if lid in state.layers and by_layer else lid or "features"
        name = f"{name}_{kind}" if kind and _several_kinds(layered, lid) else name
        unique, n = name, 1
        while unique.lower() in names:  # two layers of one name: each its own table
            n += 1
            unique = f"{name}_{n}"
        names.add(unique.lower())
        yield unique, group


def _several_kinds(groups: dict[str, list[Feature]], lid: str) -> bool:
    return sum(1 for key in groups if key.partition("\x00")[0] == lid) > 1


def gis_tables(
    state: MapState,
    *,
    by_layer: bool,
    shapefile: bool = False,
    dates: bool = True,
    reserved: Mapping[str, str] | None = None,
    nested: bool = False,
) -> tuple[list[GisTable], list[str]]:
    """``state``'s features as tables: one per layer when ``by_layer`` (a GeoPackage), else one
    (a FlatGeobuf, a GeoParquet), and per kind of geometry for a Shapefile; and the notes on
    what the format could not hold. Without ``dates`` (FlatGeobuf has only date-times), dates
    stay text. A property named as one of ``reserved`` (lower case: why the format keeps it) is
    written under a new name."""
    notes: list[str] = []
    columns = _Columns(list(state.features.values()), shapefile, dates, reserved or {}, notes, nested)
    layers = {lid: layer.name for lid, layer in state.layers.items()}
    tables = []
    for name, group in _groups(state, by_layer, shapefile, notes):
        types = sorted({WKB_TYPES[f.type] for f in group})
        multi = shapefile and len(types) > 1  # a Shapefile's points are points or multipoints, not both
        if multi:
            types = [t for t in types if t.startswith("Multi")]
        z = columns.heights and any(heights(f.type, f.coords, f.properties) for f in group)  # 3D
        types = [f"{t} Z" for t in types] if z else types
        tables.append(GisTable(name, columns.table(group, layers, multi, z), types))
    if not tables:  # an empty map: an empty table, its columns all there
        tables.append(GisTable("features", columns.table([], layers, False, False), ["Point"]))
    return tables, notes + columns.value_notes()
