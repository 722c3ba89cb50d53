"""The triggers a GeoPackage may hold (``mapsrv.formats.gpkg`` reads a file's schema and asks
here): the ones the specification and GDAL write, compared token by token with the file's names
filled in, and any whose body only stops a write.

A trigger is code that runs when a table changes; GDAL opens a file read-only, so none runs while
mapsrv reads one, but a file that carries code of its own is not one GDAL wrote.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

__all__ = ["RTREE_INDEX", "same_sql", "strange_triggers"]

# --- the specification's triggers: <n> the trigger, <t> its table, <c> the geometry column,
# <i> the integer primary key, <r> the R-tree (rtree_<t>_<c>); ? any text (a message, a pattern)
_BOX = "VALUES (NEW.<i>, ST_MinX(NEW.<c>), ST_MaxX(NEW.<c>), ST_MinY(NEW.<c>), ST_MaxY(NEW.<c>))"
_FULL, _EMPTY = "NEW.<c> NOTNULL AND NOT ST_IsEmpty(NEW.<c>)", "NEW.<c> ISNULL OR ST_IsEmpty(NEW.<c>)"
_WAS_FULL, _WAS_EMPTY = _FULL.replace("NEW", "OLD"), _EMPTY.replace("NEW", "OLD")
_MOVE = f"DELETE FROM <r> WHERE id = OLD.<i>; INSERT OR REPLACE INTO <r> {_BOX}"
_SAME, _OTHER = "WHEN OLD.<i> = NEW.<i> AND", "WHEN OLD.<i> != NEW.<i> AND"
_RTREE = {
    "insert": [f"AFTER INSERT ON <t> WHEN ({_FULL}) BEGIN INSERT OR REPLACE INTO <r> {_BOX}; END"],
    "update1": [f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) BEGIN INSERT OR REPLACE INTO <r> {_BOX}; END"],
    "update2": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_EMPTY}) BEGIN DELETE FROM <r> WHERE id = OLD.<i>; END"
    ],
    # 1.0-1.3 print it both ways; 1.4 replaced it with update5 (any column: the key may change)
    "update3": [f"AFTER UPDATE {of}ON <t> {_OTHER} ({_FULL}) BEGIN {_MOVE}; END" for of in ("OF <c> ", "")],
    "update4": [
        f"AFTER UPDATE ON <t> {_OTHER} ({_EMPTY}) BEGIN DELETE FROM <r> WHERE id IN (OLD.<i>, NEW.<i>); END"
    ],
    "update5": [f"AFTER UPDATE ON <t> {_OTHER} ({_FULL}) BEGIN {_MOVE}; END"],
    "update6": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) AND ({_WAS_FULL}) BEGIN UPDATE <r> SET"
        " minx = ST_MinX(NEW.<c>), maxx = ST_MaxX(NEW.<c>), miny = ST_MinY(NEW.<c>),"
        " maxy = ST_MaxY(NEW.<c>) WHERE id = NEW.<i>; END"
    ],
    "update7": [
        f"AFTER UPDATE OF <c> ON <t> {_SAME} ({_FULL}) AND ({_WAS_EMPTY}) BEGIN INSERT INTO <r> {_BOX}; END"
    ],
    "delete": ["AFTER DELETE ON <t> WHEN OLD.<c> NOT NULL BEGIN DELETE FROM <r> WHERE id = OLD.<i>; END"],
}
_COUNT = (
    "AFTER {} ON <t> BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count {} 1"
    " WHERE table_name = <t>; END"
)
_COUNTS = {"insert": _COUNT.format("INSERT", "+"), "delete": _COUNT.format("DELETE", "-")}
_TILE = "SELECT {} FROM gpkg_tile_matrix WHERE table_name = <t>"
_AT_ZOOM = " AND zoom_level = NEW.zoom_level"
_SCOPES = "'undefined','fieldSession','collectionSession','series','dataset','featureType','feature',"
_SCOPES += "'attributeType','attribute','tile','model','catalogue','schema','taxonomy','software','service',"
_SCOPES += "'collectionHardware','nonGeographicDataset','dimensionGroup'"
_TYPES = "'GEOMETRY','POINT','LINESTRING','POLYGON','MULTIPOINT','MULTILINESTRING','MULTIPOLYGON',"
_TYPES += "'GEOMCOLLECTION','CIRCULARSTRING','COMPOUNDCURVE','CURVEPOLYGON','MULTICURVE','MULTISURFACE',"
_TYPES += "'CURVE','SURFACE'"
_NO_COLUMN = "(NEW.reference_scope IN ('geopackage','table','row') AND NEW.{} NOT NULL)"
_HAS_COLUMN = (
    "(NEW.reference_scope IN ('column','row/col') AND NOT NEW.table_name IN (SELECT name FROM"
    " SQLITE_MASTER WHERE type = 'table' AND name = NEW.table_name"
    " AND sql LIKE ('%' || NEW.column_name || '%')))"
)
_NO_ROW = "NEW.reference_scope IN ('geopackage','table','column') AND NEW.row_id_value IS NOT NULL"
_HAS_ROW = (
    "NEW.reference_scope IN ('row','row/col') AND NOT EXISTS (SELECT rowid FROM (SELECT NEW.table_name"
    " AS table_name) WHERE rowid = NEW.row_id_value)"
)
# BEFORE INSERT (<t>_<stem>_insert) and BEFORE UPDATE OF <column> (<t>_<stem>_update) triggers
# that only abort a write: table (None: a tile pyramid, any table) -> (stem, column, variants),
# each variant the conditions of its SELECT RAISE(ABORT, ...) WHERE statements
_CHECKS: dict[str | None, list[tuple[str, str, list[list[str]]]]] = {
    None: [
        ("zoom", "zoom_level", [[f"NOT (NEW.zoom_level IN ({_TILE.format('zoom_level')}))"]]),
        *(
            (
                f"tile_{rc}",
                f"tile_{rc}",
                [[f"(NEW.tile_{rc} < 0)", f"NOT (NEW.tile_{rc} < ({_TILE.format(size)}{_AT_ZOOM}))"]],
            )
            for rc, size in (("column", "matrix_width"), ("row", "matrix_height"))
        ),
    ],
    "gpkg_tile_matrix": [
        *(
            (c, c, [[f"(NEW.{c} < {low})"]])
            for c, low in (("zoom_level", 0), ("matrix_width", 1), ("matrix_height", 1))
        ),
        *((c, c, [[f"NOT (NEW.{c} > 0)"]]) for c in ("pixel_x_size", "pixel_y_size")),
    ],
    "gpkg_metadata": [("md_scope", "md_scope", [[f"NOT (NEW.md_scope IN ({_SCOPES}))"]])],
    "gpkg_metadata_reference": [
        (
            "reference_scope",
            "reference_scope",
            [["NOT NEW.reference_scope IN ('geopackage','table','column','row','row/col')"]],
        ),
        # the specification's update prints "column_nameIS", and GDAL copied it
        (
            "column_name",
            "column_name",
            [[_NO_COLUMN.format(c), _HAS_COLUMN] for c in ("column_name IS", "column_nameIS")],
        ),
        ("row_id_value", "row_id_value", [[_NO_ROW, _HAS_ROW], [_NO_ROW]]),  # GDAL writes the first only
        (
            "timestamp",
            "timestamp",
            [["NOT (NEW.timestamp GLOB ? AND strftime('%s',NEW.timestamp) NOT NULL)"]],
        ),
    ],
    "gpkg_geometry_columns": [
        ("geometry_type_name", "geometry_type_name", [[f"NOT (NEW.geometry_type_name IN ({_TYPES}))"]])
    ],
}
RTREE_INDEX = "CREATE VIRTUAL TABLE <r> USING rtree(id, minx, maxx, miny, maxy)"

_TOKEN = re.compile(
    r"\s+|--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\[[^\]]*\]"
    r"|[\w$]+|!=|<>|<=|>=|==|\|\||\S",
    re.DOTALL,
)
_Token = tuple[str, str]  # kind (w a word or quoted name, s a string, ? any string, o the rest), text


def _tokens(sql: str) -> list[_Token]:
    """``sql`` as SQLite's tokens, lowercase, in one canonical spelling: quotes off names and
    strings, NOTNULL as NOT NULL, no FOR EACH ROW (the only kind SQLite has), lower(x) as x, no
    closing semicolons. Strings and names compare equal on their text, as SQLite takes one for
    the other where it must ('t' names a table after ON, "t" is text where no column is)."""
    out: list[_Token] = []
    for match in _TOKEN.finditer(sql):
        text = match.group()
        first = text[0]
        if first.isspace() or text.startswith(("--", "/*")):
            continue
        if first in "'\"`[" and len(text) > 1:
            inner = text[1:-1] if first == "[" else text[1:-1].replace(first * 2, first)
            out.append(("s" if first == "'" else "w", inner.lower()))
        elif first.isalnum() or first in "_$":
            word = text.lower()
            out += (
                [("w", "is" if word == "isnull" else "not"), ("w", "null")]
                if word in ("notnull", "isnull")
                else [("w", word)]
            )
        else:
            out.append(("?" if text == "?" else "o", {"==": "=", "<>": "!="}.get(text, text)))
    folded: list[_Token] = []
    for token in out:
        if token == ("w", "row") and folded[-2:] == [("w", "for"), ("w", "each")]:
            del folded[-2:]
        elif token == ("o", ")") and folded[-3:-1] == [("w", "lower"), ("o", "(")]:
            folded[-3:] = folded[-1:]
        else:
            folded.append(token)
    while folded and folded[-1] == ("o", ";"):
        folded.pop()
    return folded


def _same(template: list[_Token], sql: list[_Token]) -> bool:
    if len(template) != len(sql):
        return False
    for (kind, text), (other, said) in zip(template, sql, strict=True):
        if kind == "?":
            if other != "s":
                return False
        elif text != said or (kind != other and not {kind, other} <= {"w", "s"}):
            return False
    return True


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _render(sql: str, names: dict[str, str]) -> list[_Token]:
    return _tokens(re.sub(r"<([a-z])>", lambda m: _quoted(names[m.group(1)]), sql))


def _templates(table: str, column: str | None, key: str | None) -> dict[str, list[str]]:
    """The triggers the specification (and GDAL) write on ``table``, by lowercase name: each its
    statements, placeholders left in. ``column``: its geometry column; ``key``: its primary key."""
    out: dict[str, list[str]] = {}
    for stem, of, variants in _CHECKS[None] + _CHECKS.get(table.lower(), []):
        for event, on in (("insert", "INSERT"), ("update", f"UPDATE OF {_quoted(of)}")):
            out[f"{table}_{stem}_{event}".lower()] = [
                f"CREATE TRIGGER <n> BEFORE {on} ON <t> BEGIN "
                + "".join(f"SELECT RAISE(ABORT, ?) WHERE {condition}; " for condition in conditions)
                + "END"
                for conditions in variants
            ]
    for event, body in _COUNTS.items():
        out[f"trigger_{event}_feature_count_{table}".lower()] = [f"CREATE TRIGGER <n> {body}"]
    if column is not None and key is not None:
        for suffix, bodies in _RTREE.items():
            out[f"rtree_{table}_{column}_{suffix}".lower()] = [
                f"CREATE TRIGGER <n> {body}" for body in bodies
            ]
    return out


_ABORTS = ("abort", "fail", "rollback", "ignore")
_WRITES = frozenset({"insert", "update", "delete", "replace", "create", "drop", "alter", "attach", "pragma"})


def _only_aborts(sql: list[_Token]) -> bool:
    """Whether a trigger's body is only ``SELECT RAISE(ABORT, '...') [WHERE ...]`` statements: it
    can stop a write, never make one (a tile table's checks, as any version of GDAL or the
    specification words them)."""
    words = [text for kind, text in sql if kind == "w"]
    if "begin" not in words or sql[-1] != ("w", "end"):
        return False
    body = sql[sql.index(("w", "begin")) + 1 : -1]
    statements: list[list[_Token]] = [[]]
    for token in body:
        if token == ("o", ";"):
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [st for st in statements if st]
    for st in statements:
        head = [text for _, text in st[:7]]
        if head[:3] != ["select", "raise", "("] or head[3:4] not in ([a] for a in _ABORTS):
            return False
        if head[4:5] == [")"]:  # RAISE(IGNORE)
            rest = st[5:]
        elif head[4:5] == [","] and len(st) > 6 and st[5][0] in ("s", "?") and head[6] == ")":
            rest = st[7:]
        else:
            return False
        if rest and rest[0] != ("w", "where"):
            return False
        if any(kind == "w" and text in _WRITES for kind, text in rest):
            return False
    return bool(statements)


def strange_triggers(
    db: sqlite3.Connection, triggers: Iterable[tuple[str, str, str]], geometry: dict[str, str]
) -> list[str]:
    """The names of the triggers, as (name, table, SQL), that are neither the specification's
    nor only stops to a write (``_only_aborts``). ``geometry``: each layer's geometry column, by
    the table's lowercase name."""
    known: dict[str, tuple[dict[str, list[str]], dict[str, str]]] = {}
    strangers: list[str] = []
    for name, table, sql in triggers:
        if table.lower() not in known:
            column, keys = geometry.get(table.lower()), []
            if column is not None:  # an R-tree's triggers name the table's key
                rows = db.execute("SELECT name, pk FROM pragma_table_info(?)", (table,))
                keys = [str(key) for key, pk in rows if pk]
            key = keys[0] if len(keys) == 1 else None
            names = {"t": table, "c": column or "", "i": key or "", "r": f"rtree_{table}_{column}"}
            known[table.lower()] = (_templates(table, column, key), names)
        templates, names = known[table.lower()]
        said = _tokens(sql)
        if _only_aborts(said):
            continue
        if not any(_same(_render(t, names | {"n": name}), said) for t in templates.get(name.lower(), [])):
            strangers.append(name)
    return strangers


def same_sql(template: str, names: dict[str, str], sql: str) -> bool:
    """Whether ``sql`` is ``template`` with ``names`` filled in (case, quotes and spacing aside)."""
    return _same(_render(template, names), _tokens(sql))
