"""A table joined to a layer already on the map (QGIS's "Join attributes by field value"): each
row's key matches the features whose id, label or property has that value, and its other cells
become those features' properties (numbers as numbers, so they can be styled by value).

The key column is ``key`` when given, else the column whose values match the layer best; what it
matches on the features (``by``: ``id``, ``label`` or a property) is the one that matches that
column best, and the answer says which. Values compare as text, case and surrounding spaces
aside, and a whole number as its digits (``101`` matches ``101.0``).

What happened is said, as the country joins say it: rows matched, rows that match nothing (each
with the layer's nearest key: "D-12 (nearest: D12)"), rows whose key came before (only the first
is joined), the layer's features no row named, and the layer's own properties a row's column
replaced. Nothing is written here: the caller writes the changed features in one step, which one
undo takes back.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import MAX_LISTED
from mapsrv.formats.join import key_index
from mapsrv.formats.table import Rows, numeric_columns, property_names, property_value

__all__ = ["LayerJoin", "Target", "join_to_layer"]

_SAMPLE = 200  # rows tried per column when no key is given
_NEAR = 50  # unmatched keys offered the nearest of the layer's
_MAX_KEY = 200  # characters of a key compared; a longer cell is no key


@dataclass(frozen=True)
class Target:
    """A feature of the layer: its id, its label and its properties."""

    id: str
    label: str
    properties: tuple[tuple[str, Any], ...]


@dataclass
class LayerJoin:
    """What a join changes and what it found."""

    key: str  # the table's column
    by: str  # what it matched on the features: "id", "label" or a property's name
    layer: str = ""  # the layer's id, for the answer
    rows: int = 0
    matched_rows: int = 0
    changed: dict[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)  # feature id -> properties
    unmatched: list[tuple[int, str, str | None]] = field(default_factory=list)  # line, value, nearest
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)  # value, its later lines
    unnamed: int = 0  # features of the layer no row named
    replaced: list[str] = field(default_factory=list)  # the layer's own properties a column replaced

    def report(self) -> dict[str, Any]:
        """The answer's ``joined``: counts, and the rows and values that need a look."""
        out: dict[str, Any] = {
            "to": "layer",
            "layer": self.layer,
            "key": self.key,
            "by": self.by,
            "rows": self.rows,
            "matched": self.matched_rows,
            "features": len(self.changed),
            "features_without_row": self.unnamed,
        }
        if self.unmatched:
            out["unmatched"] = [
                {"line": line, "value": value, **({"nearest": near} if near else {})}
                for line, value, near in self.unmatched[:MAX_LISTED]
            ]
            out["unmatched_count"] = len(self.unmatched)
        if self.duplicates:
            out["duplicates"] = [{"value": v, "lines": lines} for v, lines in self.duplicates[:MAX_LISTED]]
        if self.replaced:
            out["replaced"] = self.replaced[:MAX_LISTED]
        return out


def _canon(value: Any) -> str:
    """A key as compared: text, case and spaces aside; a whole number as its digits."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > _MAX_KEY:
        return ""
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else text.casefold()


def _fields(targets: Sequence[Target]) -> dict[str, dict[str, list[str]]]:
    """Each field a feature may be matched on: its values' keys -> the features' ids."""
    out: dict[str, dict[str, list[str]]] = {"id": {}, "label": {}}
    for t in targets:
        out["id"].setdefault(_canon(t.id), []).append(t.id)
        if t.label:
            out["label"].setdefault(_canon(t.label), []).append(t.id)
        for name, value in t.properties:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                out.setdefault(name, {}).setdefault(_canon(value), []).append(t.id)
    for found in out.values():
        found.pop("", None)
    return out


def _best(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    fields: dict[str, dict[str, list[str]]],
    key: int | None,
) -> tuple[int, str]:
    """The (column, field) pair whose values match most; ``key`` fixes the column."""
    columns = range(len(header)) if key is None else [key]
    best, pair = 0, (key if key is not None else 0, "id")
    for i in columns:
        values = {_canon(row[i]) for _, row in rows[:_SAMPLE] if i < len(row)} - {""}
        for name, found in fields.items():
            score = len(values & found.keys())
            if score > best:
                best, pair = score, (i, name)
    if best == 0:
        said = f"column {header[pair[0]]!r:.40}'s values" if key is not None else "no column's values"
        raise InvalidInput(
            f"join: {said} match the layer's features by id, label or any property;"
            " check that the table and the layer are about the same things, or name the column with key"
        )
    return pair


def join_to_layer(table: Rows, targets: Sequence[Target], key: str | None = None) -> LayerJoin:
    """Join ``table`` (``read_rows``' header, rows and decimal comma) to ``targets`` (a layer's
    features) by ``key`` (a column's name, else found): see the module's docstring."""
    header, rows, comma = table
    if not targets:
        raise InvalidInput("join: the layer has no features to join the table to; add them first")
    fields = _fields(targets)
    column, by = _best(header, rows, fields, None if key is None else key_index(header, key))
    names = property_names(header)
    numeric = numeric_columns(rows, len(header), comma)
    found = fields[by]
    current = {t.id: t for t in targets}
    joined = LayerJoin(key=header[column], by=by, rows=len(rows))
    first: dict[str, int] = {}
    later: dict[str, list[int]] = {}
    replaced: dict[str, None] = {}
    for line, row in rows:
        value = _canon(row[column]) if column < len(row) else ""
        ids = found.get(value)
        if not ids:
            joined.unmatched.append((line, row[column].strip()[:100] if column < len(row) else "", None))
            continue
        if value in first:
            later.setdefault(value, []).append(line)
            continue
        first[value] = line
        joined.matched_rows += 1
        cells = {
            names[i]: property_value(row[i], numeric[i], comma)
            for i in range(min(len(row), len(header)))
            if i != column and row[i].strip()
        }
        for fid in ids:
            props = dict(joined.changed.get(fid) or current[fid].properties)
            replaced.update(dict.fromkeys(k for k in cells if k in props and props[k] != cells[k]))
            props.update(cells)
            joined.changed[fid] = tuple(props.items())
    keys = list(found)
    for i, (line, value, _) in enumerate(joined.unmatched[:_NEAR]):
        near = difflib.get_close_matches(_canon(value), keys, n=1, cutoff=0.6) if value else []
        if near:
            joined.unmatched[i] = (line, value, _shown(found[near[0]][0], by, current))
    joined.duplicates = [(header_value, lines) for header_value, lines in later.items()]
    joined.unnamed = len(current) - len(joined.changed)
    joined.replaced = list(replaced)
    return joined


def _shown(fid: str, by: str, current: dict[str, Target]) -> str:
    """The layer's own spelling of a key (the feature's value, not its folded form)."""
    target = current[fid]
    if by == "id":
        return target.id
    if by == "label":
        return target.label
    return str(dict(target.properties).get(by, ""))
