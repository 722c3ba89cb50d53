"""A table joined to boundaries: each row names a country or a first-level region (a state, a
province), and becomes its outline, with the row's cells as properties (numbers as numbers, so
they can be styled by value) and the place's name as label.

The outlines come from ``find`` (the offline Natural Earth data in ``mapsrv.places``; formats
does not import it). A region's country comes from the ``country`` argument, else from the
row's country column when the table has one. A row whose value matches nothing is listed in
``Imported.unresolved`` with the reason, and left out whole; the rest are imported. Each row is
one feature, its outline whole: a polygon (with its holes: South Africa's Lesotho), or a
multipolygon when it has several parts (islands).

The key column is ``key`` when given, else the first column named like one
(``country``, ``iso_a3``, ``state``, ``province``...), else the column whose first values match
best. When all the rows' outlines would pass three quarters of ``max_total_points`` (a long table with
repeats), each is thinned to its ``COARSE_PARTS`` biggest parts and the first of ``THINNED`` (metres)
that fits, and a note says so. ``find`` gives the parts biggest first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.columns import normalise
from mapsrv.formats.simplify import simplify
from mapsrv.formats.table import numeric_columns, property_names, property_value, read_rows

__all__ = ["COARSE_PARTS", "JOINS", "THINNED", "Find", "Join", "Outline", "read_joined"]

Join = Literal["countries", "regions"]
JOINS: tuple[Join, ...] = ("countries", "regions")
THINNED = (5_000.0, 20_000.0, 50_000.0)  # metres tried in turn: 5 km is about the 1:110m world's detail
COARSE_PARTS = 3  # parts kept per outline (its biggest) when thinned
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
_COUNTRY = ("country", "countrycode", "countryname", "iso", "isoa2", "isoa3", "iso2", "iso3", "nation")


class Outline(Protocol):
    """A country's or region's outline: its code, its name, its polygons (each its outer ring,
    then its holes) as (lon, lat), biggest first."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def polygons(self) -> Sequence[Sequence[Sequence[tuple[float, float]]]]: ...


# (join, value, country) -> the outline, or why none ("not a country")
Find = Callable[[Join, str, str], "Outline | str"]


def _key_column(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    join: Join,
    key: str | None,
    find: Find,
    country: str,
) -> int:
    if key is not None:
        for i, name in enumerate(header):
            if name == key or normalise(name) == normalise(key):
                return i
        shown = ", ".join(repr(h[:30]) for h in header[:12])
        raise InvalidInput(f"key must name a column of the table, got {key!r:.40}; the columns: {shown}")
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
        raise InvalidInput(
            f"csv has no column of {join} to join: saw {shown or 'no header'}; name it"
            f" ({'country or iso_a3' if join == 'countries' else 'state, province or region'}) or pass key"
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


def _shapes(outline: Outline, tolerance: float) -> _Polygons:
    """The outline's polygons as rings of [lat, lon] points, unclosed; thinned to ``tolerance``
    metres (and its ``COARSE_PARTS`` biggest parts) when it is not 0."""
    out = []
    for polygon in outline.polygons[:COARSE_PARTS] if tolerance else outline.polygons:
        rings = [_ring(ring, tolerance) for ring in polygon]
        if len(rings[0]) >= 3:
            out.append([rings[0], *(hole for hole in rings[1:] if len(hole) >= 3)])
    return out


def _fit(matched: list[tuple[int, Outline, dict[str, object]]], out: Collector) -> dict[int, _Polygons]:
    """Each outline's shapes, by ``id``: as they are, or thinned as little as keeps all the
    rows within three quarters of ``max_total_points`` (a long table with repeats)."""
    budget = out.limits.max_total_points * 3 // 4
    distinct = {id(outline): outline for _, outline, _ in matched}
    uses: dict[int, int] = {}
    for _, outline, _ in matched:
        uses[id(outline)] = uses.get(id(outline), 0) + 1
    for tolerance in (0, *THINNED):
        shapes = {key: _shapes(outline, tolerance) for key, outline in distinct.items()}
        points = sum(uses[key] * sum(len(r) for p in polygons for r in p) for key, polygons in shapes.items())
        if points <= budget:
            if tolerance:
                out.note(
                    f"outlines thinned to {tolerance / 1000:g} km, at most {COARSE_PARTS} parts each,"
                    f" so that {len(matched)} rows fit in {budget} points"
                )
            return shapes
    raise PayloadTooLarge(
        f"csv rows' outlines must fit in {budget} points (3/4 of max_total_points), got {points}"
        f" even thinned to {THINNED[-1] / 1000:g} km; one row per place: aggregate the table first"
    )


def read_joined(
    data: bytes, out: Collector, join: Join, find: Find, *, key: str | None = None, country: str = ""
) -> None:
    """Read a CSV table's rows into ``out`` as the outlines they name (see the module's docstring)."""
    if join not in JOINS:
        raise InvalidInput(f"join must be one of {', '.join(JOINS)}, got {join!r:.40}")
    header, rows, comma = read_rows(data, out)
    column = _key_column(header, rows, join, key, find, country)
    keys = [normalise(h) for h in header]
    country_column = None
    if join == "regions" and not country:
        country_column = next(
            (keys.index(n) for n in _COUNTRY if n in keys and keys.index(n) != column), None
        )
    names = property_names(header)
    numeric = numeric_columns(rows, len(names), comma)
    found: dict[tuple[str, str], Outline | str] = {}
    matched: list[tuple[int, Outline, dict[str, object]]] = []
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
            shown = f"{value}, {where}" if where and where != country else value
            out.unresolved.append((line, f"{shown} ({outline})"))
            continue
        props = {
            names[i]: property_value(cell.strip(), numeric[i], comma)
            for i, cell in enumerate(row[: len(names)])
        }
        matched.append((line, outline, props))
    shapes = _fit(matched, out)
    for line, outline, props in matched:
        polygons = shapes[id(outline)]
        if not polygons:
            out.unresolved.append((line, f"{outline.name} (no outline)"))
            continue
        kind, coords = ("polygon", polygons[0]) if len(polygons) == 1 else ("multipolygon", polygons)
        try:
            out.add(f"csv line {line}", kind, coords, label=outline.name, properties=props)
        except PayloadTooLarge:
            raise
        except InvalidInput as exc:
            out.unresolved.append((line, f"{outline.name} (its outline: {exc.message})"))
    out.note(f"joined {len(matched)} of {len(rows)} rows to {join} by column {header[column]!r:.40}")
