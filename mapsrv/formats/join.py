"""A table joined to boundaries: each row names a country or a first-level region (a state, a
province), and becomes its outline, with the row's cells as properties (numbers as numbers, so
they can be styled by value) and the place's name as label.

The outlines come from ``find`` (the offline Natural Earth data in ``mapsrv.places``; formats
does not import it). A region's country comes from the ``country`` argument, else from the
row's country column when the table has one. A row whose value matches nothing is listed in
``Imported.unresolved`` with the reason, and left out whole; the rest are imported. Each row is
one feature, its outline whole: a polygon (with its holes: South Africa's Lesotho), or a
multipolygon when it has several parts (islands).

What happened is said: a value that matches nothing is listed once with its lines, its reason
and the name it may mean (``near``: "Hong Kng (not a country; nearest: Hong Kong)"); rows that
land on one outline at one time (a table giving both Koreas KOR), where a time column (``year``,
``date``...) does not tell them apart, are imported and listed in ``Imported.stacked`` by
outline with their lines, and a note says so.

The key column is ``key`` when given, else the first column named like one
(``country``, ``iso_a3``, ``state``, ``province``...), else the column whose first values match
best. When all the rows' outlines would pass three quarters of ``max_total_points`` (a long table with
repeats), each is thinned to the first of ``THINNED`` (metres) that fits: its rings simplified to
that tolerance, and its parts smaller than it (islets, under the detail kept) left out, never its
biggest (``find`` gives the parts biggest first), and a note names the places that lost parts
(Indonesia keeps Java, Sulawesi and the Lesser Sundas; a cap on parts had dropped them). Only
when the coarsest is still too fine (10,000 rows) are outlines cut to their ``LAST_PARTS``
biggest parts, named alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from mapsrv.core.pace import paced
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import MAX_LISTED, Collector
from mapsrv.formats.columns import normalise
from mapsrv.formats.join_places import Outline, Place, Row, by_place
from mapsrv.formats.simplify import simplify
from mapsrv.formats.table import Rows, numeric_columns, property_names, property_value, read_rows

__all__ = [
    "JOINS", "LAST_PARTS", "THINNED", "Find", "Join", "Near", "NoKeyColumn", "Outline", "key_index",
    "outline_shapes", "read_joined",
]  # fmt: skip

Join = Literal["countries", "regions"]
JOINS: tuple[Join, ...] = ("countries", "regions")
THINNED = (5_000.0, 20_000.0, 50_000.0)  # metres tried in turn: 5 km is about the 1:110m world's detail
LAST_PARTS = 3  # the biggest parts kept when even the coarsest tolerance is too fine (10,000 rows)
_METRES_PER_DEGREE = 111_195.0  # a part's size in metres, from its extent in degrees
_MAX_VALUE = 100  # characters of a key cell looked up; a longer one is no name
_SAMPLE = 20  # rows tried per column when no column is named like a key
_KEYS: dict[Join, tuple[str, ...]] = {
    "countries": (
        "country", "countrycode", "countryname", "countryregion", "iso", "isoa2", "isoa3", "iso2", "iso3",
        "isocode", "iso3166", "iso31661", "iso31661alpha2", "iso31661alpha3", "nation", "land", "pays",
        "admin", "sovereignty", "code", "name",
    ),
    "regions": (
        "region", "state", "province", "statecode", "stateabbr", "stateabbreviation", "statename",
        "provincename", "provincecode", "regionname", "regioncode", "subdivision", "iso31662", "admin1",
        "territory", "code", "name",
    ),
}  # fmt: skip
_TIMES = ("time", "day", "month", "quarter", "timestamp", "datetime", "yr", "when")
_NEAR_LOOKUPS = 50  # unmatched values offered a nearest name (each a search of every name)
_COUNTRY = ("country", "countrycode", "countryname", "iso", "isoa2", "isoa3", "iso2", "iso3", "nation")


# (join, value, country) -> the outline, or why none ("not a country")
Find = Callable[[Join, str, str], "Outline | str"]
# (join, value, country) -> the name the value may mean ("Hong Kng": "Hong Kong"), or None
Near = Callable[[Join, str, str], "str | None"]


def _names(header: list[str]) -> list[str]:
    """The table's column names as an answer lists them (a name past 200 characters cut)."""
    return [name[:200] for name in header]


class NoKeyColumn(InvalidInput):
    """No column to join by (none named ``key``, none found): the answer lists the table's
    ``columns``, so that the page can offer them to choose from."""

    def __init__(self, message: str, columns: list[str]) -> None:
        super().__init__(message)
        self.columns = _names(columns)

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"columns": self.columns}


def key_index(header: list[str], key: str) -> int:
    """The column ``key`` names (exactly, or as ``normalise`` reads both); else refused with
    the table's columns, for the page to offer."""
    for i, name in enumerate(header):
        if name == key or normalise(name) == normalise(key):
            return i
    shown = ", ".join(repr(h[:30]) for h in header[:12])
    message = f"key must name a column of the table, got {key!r:.40}; the columns: {shown}"
    raise NoKeyColumn(message, header)


def _key_column(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    join: Join,
    key: str | None,
    find: Find,
    country: str,
) -> int:
    if key is not None:
        return key_index(header, key)
    keys = [normalise(h) for h in header]
    for name in _KEYS[join]:
        if name in keys:
            return keys.index(name)
    scores = [0] * len(header)
    for _, row in rows[:_SAMPLE]:
        for i, cell in enumerate(row[: len(header)]):
            value = cell.strip()
            if value and len(value) <= _MAX_VALUE and not isinstance(find(join, value, country), str):
                scores[i] += 1
    if not scores or max(scores) == 0:
        shown = ", ".join(repr(h[:30]) for h in header[:12])
        raise NoKeyColumn(
            f"csv has no column of {join} to join: saw {shown or 'no header'}; name it"
            f" ({'country or iso_a3' if join == 'countries' else 'state, province or region'}) or pass key",
            header,
        )
    return scores.index(max(scores))


_Polygons = list[list[list[list[float]]]]  # polygons, each its rings of [lat, lon] points


def _ring(ring: Sequence[tuple[float, float]], tolerance: float) -> list[list[float]]:
    points = [(lat, lon) for lon, lat in ring]
    if len(points) > 3 and points[0] == points[-1]:
        points.pop()
    if tolerance and len(points) > 3:
        points = [points[i] for i in simplify(points, tolerance, closed=True)]
    return [[lat, lon] for lat, lon in points]


def outline_shapes(
    outline: Outline, tolerance: float = 0.0, most: int | None = None
) -> tuple[_Polygons, int]:
    """The outline's polygons as rings of [lat, lon] points, unclosed, and how many parts were
    left out: thinned to ``tolerance`` metres when it is not 0, its parts smaller than that left
    out but the first (the biggest), and past the ``most`` biggest when given."""
    out = []
    dropped = 0
    for index, polygon in enumerate(paced(outline.polygons, every=8)):
        if (tolerance and index and _size_m(polygon[0]) < tolerance) or (most is not None and index >= most):
            dropped += 1
            continue
        rings = [_ring(ring, tolerance) for ring in polygon]
        if len(rings[0]) >= 3:
            out.append([rings[0], *(hole for hole in rings[1:] if len(hole) >= 3)])
        else:
            dropped += 1
    return out, dropped


def _size_m(ring: Sequence[tuple[float, float]]) -> float:
    """A ring's larger extent, east-west or north-south, in metres (roughly: its box's)."""
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    middle = math.radians((max(lats) + min(lats)) / 2)
    wide = (max(lons) - min(lons)) * math.cos(middle)
    return max(wide, max(lats) - min(lats)) * _METRES_PER_DEGREE


def _fit(matched: list[tuple[int, Outline, dict[str, object]]], out: Collector) -> dict[int, _Polygons]:
    """Each outline's shapes, by ``id``: as they are, or thinned as little as keeps all the
    rows within three quarters of ``max_total_points`` (a long table with repeats)."""
    budget = out.limits.max_total_points * 3 // 4
    distinct = {id(outline): outline for _, outline, _ in matched}
    uses: dict[int, int] = {}
    for _, outline, _ in matched:
        uses[id(outline)] = uses.get(id(outline), 0) + 1
    for tolerance, most in ((0, None), *((t, None) for t in THINNED), (THINNED[-1], LAST_PARTS)):
        made = {
            key: outline_shapes(outline, tolerance, most) for key, outline in paced(distinct.items(), every=1)
        }
        shapes = {key: polygons for key, (polygons, _) in made.items()}
        points = sum(uses[key] * sum(len(r) for p in polygons for r in p) for key, polygons in shapes.items())
        if points <= budget:
            if tolerance:
                lost = sorted(
                    ((dropped, distinct[key].name) for key, (_, dropped) in made.items() if dropped),
                    key=lambda pair: (-pair[0], pair[1]),
                )
                said = ", ".join(f"{name} ({n})" for n, name in lost[:MAX_LISTED])
                more = f" and {len(lost) - MAX_LISTED} more" if len(lost) > MAX_LISTED else ""
                out.note(
                    f"outlines thinned to {tolerance / 1000:g} km so that {len(matched)} rows fit in"
                    f" {budget} points"
                    + (f"; parts smaller than that left out of {said}{more}" if lost else "")
                )
            return shapes
    raise PayloadTooLarge(
        f"csv rows' outlines must fit in {budget} points (3/4 of max_total_points), got {points}"
        f" even thinned to {THINNED[-1] / 1000:g} km; one row per place: aggregate the table first"
    )


def _time_column(header: list[str], column: int) -> int | None:
    """The table's time column (``year``, ``date``, ``period``...), other than the key: rows of one
    place at different times are a time series, not rows stacked on one outline."""
    for i, name in enumerate(header):
        key = normalise(name)
        if i != column and (key in _TIMES or any(word in key for word in ("year", "date", "period"))):
            return i
    return None


def _name_column(header: list[str], column: int, join: Join) -> int | None:
    """A column other than the key that names the place too (``country`` beside ``iso_alpha``)."""
    keys = [normalise(h) for h in header]
    return next((keys.index(n) for n in _KEYS[join][:-2] if n in keys and keys.index(n) != column), None)


def _cell(row: list[str], i: int | None) -> str:
    return row[i].strip()[:_MAX_VALUE] if i is not None and i < len(row) else ""


def _unresolved(
    misses: dict[tuple[str, str, str], list[int]], out: Collector, near: Near | None, join: Join, country: str
) -> None:
    """Each value that matched nothing once, with its lines and the name it may mean."""
    for (value, where, why), lines in sorted(misses.items(), key=lambda item: item[1][0]):
        hint = near(join, value, where) if near is not None and len(out.unresolved) < _NEAR_LOOKUPS else None
        shown = f"{value}, {where}" if where and where != country else value
        said = f"{why}; nearest: {hint}" if hint else why
        on = f", lines {_lines(lines)}" if len(lines) > 1 else ""
        out.unresolved.append((lines[0], f"{shown} ({said}){on}"))


def _lines(lines: list[int]) -> str:
    """``3, 5-9, 12``: runs of lines as ranges, the first ``MAX_LISTED`` runs."""
    runs: list[list[int]] = []
    for line in lines:
        if runs and line == runs[-1][1] + 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    text = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:MAX_LISTED])
    return text + (f" and {len(runs) - MAX_LISTED} more" if len(runs) > MAX_LISTED else "")


def _stacked(matched: list[Row], out: Collector) -> None:
    """Rows that landed on one outline at one time (or with no time column), by outline: which
    rows, and what they said; noted, since each is drawn over the other."""
    at: dict[tuple[int, str], list[Row]] = {}
    for row in matched:
        at.setdefault((id(row.outline), row.time), []).append(row)
    by_outline: dict[int, list[Row]] = {}
    for rows in at.values():
        if len(rows) > 1:
            by_outline.setdefault(id(rows[0].outline), []).extend(rows)
    for rows in sorted(by_outline.values(), key=lambda rows: min(r.line for r in rows)):
        said = tuple(dict.fromkeys(r.said for r in sorted(rows, key=lambda r: r.line)))
        out.stacked.append((rows[0].outline.name, tuple(sorted(r.line for r in rows)), said))
    if by_outline:
        n = sum(len(rows) for rows in by_outline.values())
        first = min(by_outline.values(), key=lambda rows: min(r.line for r in rows))
        out.note(
            f"{n} rows share an outline with another row{' at the same time' if matched[0].timed else ''}"
            f" ({len(by_outline)} outline{'s' * (len(by_outline) > 1)}, the first {first[0].outline.name}:"
            f" lines {_lines(sorted(r.line for r in first))}): each is drawn over the other; see stacked"
        )


def read_joined(
    data: bytes | Rows,
    out: Collector,
    join: Join,
    find: Find,
    *,
    key: str | None = None,
    country: str = "",
    near: Near | None = None,
) -> None:
    """Read a CSV table's rows into ``out`` as the outlines they name (see the module's docstring);
    ``near`` offers the name an unmatched row may mean."""
    if join not in JOINS:
        raise InvalidInput(f"join must be one of {', '.join(JOINS)}, got {join!r:.40}")
    header, rows, comma = read_rows(data, out) if isinstance(data, bytes) else data
    column = _key_column(header, rows, join, key, find, country)
    keys = [normalise(h) for h in header]
    country_column = None
    if join == "regions" and not country:
        country_column = next(
            (keys.index(n) for n in _COUNTRY if n in keys and keys.index(n) != column), None
        )
    when, named = _time_column(header, column), _name_column(header, column, join)
    names = property_names(header)
    numeric = numeric_columns(rows, len(names), comma)
    found: dict[tuple[str, str], Outline | str] = {}
    matched: list[Row] = []
    misses: dict[tuple[str, str, str], list[int]] = {}
    for line, row in rows:
        value = row[column].strip() if column < len(row) else ""
        where = country
        if country_column is not None and country_column < len(row):
            where = row[country_column].strip()[:_MAX_VALUE]
        if not value:
            out.skip(f"rows without a {'country' if join == 'countries' else 'region'}", f"line {line}")
            continue
        if len(value) > _MAX_VALUE:
            out.unresolved.append((line, f"{value[:40]}... (too long for a name)"))
            continue
        if (value, where) not in found:
            found[(value, where)] = find(join, value, where)
        outline = found[(value, where)]
        if isinstance(outline, str):
            misses.setdefault((value, where, outline), []).append(line)
            continue
        props = {
            names[i]: property_value(cell.strip(), numeric[i], comma)
            for i, cell in enumerate(row[: len(names)])
        }
        name = _cell(row, named)
        said = value if not name or name == value else f"{value}: {name}"
        time_key = names[when] if when is not None and when < len(names) else ""
        timed = when is not None
        matched.append(Row(line, outline, props, _cell(row, when), said[:_MAX_VALUE], timed, time_key))
    _unresolved(misses, out, near, join, country)
    if matched:
        _stacked(matched, out)
    places = (
        by_place(matched, names[when])
        if when is not None and when < len(names)
        else [Place(r.outline, r.props, "", [r.line]) for r in matched]
    )
    shapes = _fit([(p.lines[0], p.outline, p.props) for p in places], out)
    for p in places:
        polygons = shapes[id(p.outline)]
        if not polygons:
            out.unresolved.append((p.lines[0], f"{p.outline.name} (no outline)"))
            continue
        kind, coords = ("polygon", polygons[0]) if len(polygons) == 1 else ("multipolygon", polygons)
        where = f"csv line{'s' * (len(p.lines) > 1)} {_lines(p.lines)}"
        try:
            out.add(where, kind, coords, label=p.outline.name, properties=p.props, series=p.series)
        except PayloadTooLarge:
            raise
        except InvalidInput as exc:
            out.unresolved.append((p.lines[0], f"{p.outline.name} (its outline: {exc.message})"))
    if by := next((p.series for p in places if p.series), ""):
        out.note(
            f"{len(matched)} rows joined as {len(places)} outlines, one per place with its rows by"
            f" {by!r:.40} (series): the page, the image and the classes show each place's row"
            " at the latest time inside the layer's time window"
        )
    out.note(f"joined {len(matched)} of {len(rows)} rows to {join} by column {header[column]!r:.40}")
    out.joined = {"to": join, "key": header[column], "columns": _names(header), "rows": len(rows)}
    out.joined["matched"] = len(matched)
