"""KML's ExtendedData: a placemark's attributes, with their types.

In: ``<Data name><value>`` pairs and ``<SchemaData schemaUrl><SimpleData name>`` ones. A field
its ``<Schema>`` declares (``<SimpleField name type>``, as GDAL, QGIS and Google Earth write
them) has that type: ``string`` stays text (``-99``, ``007``), ``int``, ``uint``, ``short``,
``ushort``, ``float`` and ``double`` are numbers, ``bool`` is true or false; a value that does not
spell its type is kept as its text. Any other name is typed as a column of a table over the
whole document (``mapsrv.formats.cells``): numbers when every placemark's value is one.

Out: a ``<Schema>`` per layer that declares each of its properties' type (``int``, ``double`` or
``bool`` when every feature's value has it, else ``string``), and each placemark's values as
``SchemaData``, so that text comes back as text and numbers as numbers, here and in other tools.
A property named like a field GDAL's KML readers (and so QGIS) keep for the placemark itself
(``id``, ``name``, ``description``, ``begin``..., any case) is written renamed (``ID_2``), with a
note: under its own name GDAL read it as null, or not at all.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from mapsrv.core.model import Feature
from mapsrv.formats.cells import cell_text, is_numeric, number, typed
from mapsrv.formats.columns import unique_name
from mapsrv.formats.safexml import attribute, escape, local_name, text_of

__all__ = [
    "SCHEMA_ID",
    "DataTypes",
    "extended_xml",
    "field_types",
    "kml_names",
    "kml_notes",
    "read_extended",
    "schema_xml",
]

SCHEMA_ID = "mapsrv"
# The placemark's own fields in GDAL's LIBKML and KML drivers, compared ignoring case
_GDAL_FIELDS = frozenset(
    "id name description timestamp begin end altitudemode tessellate extrude visibility draworder"
    " icon".split()
)
_NUMBERS = frozenset({"int", "uint", "short", "ushort", "float", "double"})
_INT32 = 2**31


def _value_of(el: ET.Element) -> str:
    value = next((c for c in el if local_name(c.tag) == "value"), None)
    return text_of(value)


class DataTypes:
    """What one document's ExtendedData values are: the types its schemas declare, and which
    names it leaves undeclared are numbers in every placemark that has them."""

    def __init__(self, root: ET.Element) -> None:
        namespace = root.tag[: -len("kml")]
        self.schemas: dict[str, dict[str, str]] = {}
        for schema in root.iter(namespace + "Schema"):
            fields = {
                str(f.get("name")): str(f.get("type", "string")).lower()
                for f in schema
                if local_name(f.tag) == "SimpleField" and f.get("name")
            }
            for key in (schema.get("id"), schema.get("name")):
                if key:
                    self.schemas.setdefault(key, fields)
        cells: dict[str, list[str]] = {}
        for data in root.iter(namespace + "Data"):
            cells.setdefault(str(data.get("name")), []).append(_value_of(data))
        for group in root.iter(namespace + "SchemaData"):
            declared = self.declared(group)
            for item in group:
                name = item.get("name")
                if local_name(item.tag) == "SimpleData" and name and name not in declared:
                    cells.setdefault(name, []).append(text_of(item))
        self.numeric = {name for name, texts in cells.items() if is_numeric(texts)}

    def declared(self, group: ET.Element) -> dict[str, str]:
        """The fields a ``SchemaData``'s schema declares, by name."""
        url = str(group.get("schemaUrl", ""))
        return self.schemas.get(url.rpartition("#")[2], {})

    def value(self, name: str, text: str, declared: str | None = None) -> Any:
        """``text`` as the value of field ``name`` (of type ``declared`` when its schema says)."""
        if declared is None:
            return typed(text, name in self.numeric)
        if declared in _NUMBERS:
            value = number(text)
            if value is None:
                try:
                    value = float(text)  # a declared number may be written 1.5e-05
                except ValueError:
                    return text
            return value if math.isfinite(value) else text
        if declared == "bool" and text.lower() in ("true", "1", "false", "0"):
            return text.lower() in ("true", "1")
        return text


def read_extended(el: ET.Element, types: DataTypes) -> dict[str, Any]:
    """An ExtendedData's ``Data`` and ``SimpleData`` values, by name."""
    out: dict[str, Any] = {}
    for child in el:
        kind = local_name(child.tag)
        if kind == "Data" and child.get("name"):
            out[str(child.get("name"))] = types.value(str(child.get("name")), _value_of(child))
        elif kind == "SchemaData":
            declared = types.declared(child)
            for item in child:
                name = item.get("name")
                if local_name(item.tag) == "SimpleData" and name:
                    out[name] = types.value(name, text_of(item), declared.get(name))
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -_INT32 <= value < _INT32 else "double"
    return "double" if isinstance(value, float) else "string"


def _written(feature: Feature) -> list[tuple[str, Any]]:
    """The properties a placemark's ExtendedData holds: its scalars (per-point lists are in the
    geometry or left out), but a ``name`` equal to its label, which its <name> says already."""
    return [
        (key, value)
        for key, value in feature.properties
        if value is not None and not isinstance(value, tuple) and (key, value) != ("name", feature.label)
    ]


def kml_names(features: Iterable[Feature]) -> dict[str, str]:
    """The written properties GDAL would take for a placemark's own field, each to its new name
    (``ID``: ``ID_2``; a number more while that is taken, case aside)."""
    keys = list(dict.fromkeys(key for feature in features for key, _ in _written(feature)))
    taken = {key.lower() for key in keys} | _GDAL_FIELDS
    return {key: unique_name(key, taken) for key in keys if key.lower() in _GDAL_FIELDS}


def kml_notes(features: Iterable[Feature]) -> list[str]:
    """What ``kml_names`` renames, said once."""
    renamed = kml_names(features)
    if not renamed:
        return []
    said = "; ".join(f"property {key} renamed {new}" for key, new in renamed.items())
    return [f"{said}: GDAL and QGIS read a KML placemark's {', '.join(renamed)} as its own field"]


def field_types(features: Iterable[Feature], names: dict[str, str] | None = None) -> dict[str, str]:
    """Each written property's KML type (by its written name, ``names``): the one every
    feature's value has, else ``string``."""
    names = names or {}
    kinds: dict[str, set[str]] = {}
    for feature in features:
        for key, value in _written(feature):
            kinds.setdefault(names.get(key, key), set()).add(_kind(value))
    out = {}
    for key, seen in kinds.items():
        if len(seen) == 1:
            out[key] = seen.pop()
        else:
            out[key] = "double" if seen <= {"int", "double"} else "string"
    return out


def schema_xml(types: dict[str, str], schema: str = SCHEMA_ID) -> str:
    """A ``<Schema>`` for ``field_types``, its id ``schema``; "" when there are no properties."""
    if not types:
        return ""
    fields = "".join(
        f"<SimpleField{attribute('type', kind)}{attribute('name', key)}/>" for key, kind in types.items()
    )
    return f"<Schema{attribute('name', schema)}{attribute('id', schema)}>{fields}</Schema>\n"


def extended_xml(feature: Feature, schema: str = SCHEMA_ID, names: dict[str, str] | None = None) -> str:
    """A placemark's ExtendedData: its properties (by their written ``names``), as the Schema
    ``schema`` types them."""
    names = names or {}
    items = [
        f"<SimpleData{attribute('name', names.get(key, key))}>{escape(cell_text(value))}</SimpleData>"
        for key, value in _written(feature)
    ]
    if not items:
        return ""
    data = f"<SchemaData{attribute('schemaUrl', '#' + schema)}>{''.join(items)}</SchemaData>"
    return f"<ExtendedData>{data}</ExtendedData>"
