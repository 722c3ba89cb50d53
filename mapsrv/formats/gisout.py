"""A map as GIS tables (Arrow): one row per feature, its geometry as WKB, a typed column per
property, then mapsrv's own columns (``mapsrvtype``, ``layer``, ``label``, ``popup``, ``style``
as JSON text, ``radius``), which bring circles, rectangles, styles and layers back on import
(``gisrows``). One of mapsrv's whose name the data has is written ``m_`` and its name.

A property's column type is what its values are: booleans, integers (64-bit), reals, dates (text
that is all ``YYYY-MM-DD``), else text; a column that mixes kinds is written as text, with a
note. Per-point lists (a track's times) are left out, with a note: a cell holds one value.

Shapefile's rules (``shapefile=True``): field names of at most 10 bytes (longer ones shortened
and listed), text of at most 254 bytes, one geometry kind per file (points, lines, polygons: a
table each; collections cannot be held and are left out, counted).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mapsrv.core.model import Feature, MapState
from mapsrv.formats.cells import json_text
from mapsrv.formats.gisrows import OWN, OWN_PREFIX, OWN_TYPE
from mapsrv.formats.wkb import WKB_TYPES, to_wkb

__all__ = ["GisTable", "gis_tables"]

MAX_DBF_TEXT = 254  # bytes of a Shapefile's text field
MAX_DBF_NAME = 10  # bytes of a Shapefile's field name
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
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


def _type(values: Sequence[Any], dates: bool) -> tuple[pa.DataType, str]:
    """The column type for ``values``, and why it is text when they are not all text (they mix
    kinds, an integer is past 64 bits, a value is nested), else ""."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string(), ""
    if kinds == {bool}:
        return pa.bool_(), ""
    if kinds & {dict, list}:
        return pa.string(), "nested"
    wide = int in kinds and not all(-(2**63) <= v < 2**63 for v in values if type(v) is int)
    if kinds == {int} and not wide:
        return pa.int64(), ""
    if kinds <= {int, float} and not wide:
        return pa.float64(), ""
    if kinds <= {int, float}:  # a double would change its digits: an identifier, kept whole as text
        return pa.string(), "wide"
    if kinds == {str}:
        dated = dates and all(_DATE.fullmatch(v) for v in values if v is not None)
        return (pa.date32() if dated and _valid_dates(values) else pa.string()), ""
    return pa.string(), "mixed"


def _valid_dates(values: Sequence[Any]) -> bool:
    try:
        for v in values:
            if v is not None:
                datetime.date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_date32(kind):
        return pa.array([None if v is None else datetime.date.fromisoformat(v) for v in values], kind)
    if pa.types.is_string(kind):
        values = [None if v is None else v if isinstance(v, str) else json_text(v) for v in values]
    return pa.array(values, kind)


def _short(name: str, taken: set[str]) -> str:
    """A Shapefile field name: at most 10 bytes of UTF-8, unique (case-blind, as dBASE is)."""
    cut = name.encode()[:MAX_DBF_NAME].decode(errors="ignore")
    n = 1
    while cut.lower() in taken:
        n += 1
        suffix = f"_{n}"
        cut = name.encode()[: MAX_DBF_NAME - len(suffix)].decode(errors="ignore") + suffix
    taken.add(cut.lower())
    return cut


class _Columns:
    """The columns every table of one export shares, and the notes they make."""

    def __init__(self, features: Sequence[Feature], shapefile: bool, dates: bool, notes: list[str]) -> None:
        self.shapefile, self.notes = shapefile, notes
        keys: dict[str, None] = {}
        lists: set[str] = set()
        for feature in features:
            for key, value in feature.properties:
                if isinstance(value, tuple):
                    lists.add(key)
                else:
                    keys.setdefault(key, None)
        if lists:
            notes.append(
                f"per-point lists left out (a cell holds one value): {', '.join(sorted(lists)[:10])}"
            )
        self.keys = [k for k in keys if k != OWN_TYPE]
        self.own = {k: OWN_PREFIX + k if k in keys else k for k in OWN}
        taken: set[str] = {OWN_TYPE, *self.own.values()} if shapefile else set()
        self.names: dict[str, str] = {}
        for key in self.keys:
            self.names[key] = _short(key, taken) if shapefile else key
        renamed = [f"{k} as {v}" for k, v in self.names.items() if k != v]
        if renamed:
            notes.append(
                f"Shapefile field names are at most {MAX_DBF_NAME} bytes: {'; '.join(renamed[:10])}"
                + (f" and {len(renamed) - 10} more" if len(renamed) > 10 else "")
            )
        self.types: dict[str, pa.DataType] = {}
        for key in self.keys:
            values = [dict(f.properties).get(key) for f in features]
            self.types[key], why = _type(values, dates)
            if why == "mixed":
                notes.append(f"column {key} mixes numbers, text or booleans: written as text")
            elif why == "wide":
                notes.append(f"column {key} has integers past 64 bits: written as text, every digit kept")
        self.cut = 0

    def text(self, value: Any) -> Any:
        if self.shapefile and isinstance(value, str) and len(value.encode()) > MAX_DBF_TEXT:
            self.cut += 1
            return value.encode()[:MAX_DBF_TEXT].decode(errors="ignore")
        return value

    def table(self, features: Sequence[Feature], layers: dict[str, str], multi: bool) -> pa.Table:
        arrays: dict[str, pa.Array] = {}
        props = [dict(f.properties) for f in features]
        for key in self.keys:
            kind = self.types[key]
            values = [p.get(key) for p in props]
            if pa.types.is_string(kind):
                values = [self.text(v) for v in values]
            arrays[self.names[key]] = _column(values, kind)
        own = self.own
        arrays[OWN_TYPE] = pa.array([f.type for f in features], pa.string())
        arrays[own["layer"]] = pa.array([layers.get(f.layer, f.layer) for f in features], pa.string())
        arrays[own["label"]] = pa.array([self.text(f.label) for f in features], pa.string())
        arrays[own["popup"]] = pa.array([self.text(f.popup) for f in features], pa.string())
        styles = [json.dumps(dict(f.style), separators=(",", ":")) if f.style else "" for f in features]
        arrays[own["style"]] = pa.array(styles, pa.string())
        arrays[own["radius"]] = pa.array([f.radius for f in features], pa.float64())
        arrays["geometry"] = pa.array([to_wkb(f, multi=multi) for f in features], pa.binary())
        return pa.table(arrays)


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
    state: MapState, *, by_layer: bool, shapefile: bool = False, dates: bool = True
) -> tuple[list[GisTable], list[str]]:
    """``state``'s features as tables: one per layer when ``by_layer`` (a GeoPackage), else one
    (a FlatGeobuf, a GeoParquet), and per kind of geometry for a Shapefile; and the notes on
    what the format could not hold. Without ``dates`` (FlatGeobuf has only date-times), dates
    stay text."""
    notes: list[str] = []
    columns = _Columns(list(state.features.values()), shapefile, dates, notes)
    layers = {lid: layer.name for lid, layer in state.layers.items()}
    tables = []
    for name, group in _groups(state, by_layer, shapefile, notes):
        types = sorted({WKB_TYPES[f.type] for f in group})
        multi = shapefile and len(types) > 1  # a Shapefile's points are points or multipoints, not both
        if multi:
            types = [t for t in types if t.startswith("Multi")]
        tables.append(GisTable(name, columns.table(group, layers, multi), types))
    if not tables:  # an empty map: an empty table, its columns all there
        tables.append(GisTable("features", columns.table([], layers, False), ["Point"]))
    if columns.cut:
        n = columns.cut
        notes.append(f"Shapefile text is at most {MAX_DBF_TEXT} bytes: {n} value{'s' * (n > 1)} shortened")
    return tables, notes
