"""The one geometry value (``mapsrv.core.geometry``): each type's wire shape, its checks with
errors naming the path of the bad value, and the helpers every consumer reads it through."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core import geometry
from mapsrv.core.geometry import GEOMETRY_TYPES, MEMBER_TYPES
from mapsrv.core.positions import check_latlon
from mapsrv.errors import InvalidInput, PayloadTooLarge

SQUARE = [[0.0, 0.0], [0.0, 4.0], [4.0, 4.0], [4.0, 0.0]]
HOLE = [[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 1.0]]
SMALL = [[10.0, 10.0], [10.0, 11.0], [11.0, 11.0]]

# Each type with its wire form, as the table in docs/protocol.md shows it.
WIRE = {
    "marker": [48.85, 2.35],
    "circle": [51.5, -0.12],
    "rectangle": [[40.0, -75.0], [41.0, -73.5]],
    "polyline": [[48.85, 2.35], [48.86, 2.36]],
    "polygon": [SQUARE, HOLE],
    "multipoint": [[1.0, 2.0], [3.0, 4.0]],
    "multipolyline": [[[0.0, 0.0], [1.0, 1.0]], [[2.0, 2.0], [3.0, 3.0], [4.0, 2.0]]],
    "multipolygon": [[SQUARE, HOLE], [SMALL]],
    "collection": [
        {"type": "marker", "coords": [1.0, 2.0]},
        {"type": "polygon", "coords": SMALL},
        {"type": "multipolyline", "coords": [[[0.0, 0.0], [1.0, 1.0]]]},
    ],
}
COUNTS = {
    "marker": 1,
    "circle": 1,
    "rectangle": 2,
    "polyline": 2,
    "polygon": 8,
    "multipoint": 2,
    "multipolyline": 5,
    "multipolygon": 11,
    "collection": 6,
}


def test_the_nine_types_and_what_a_collection_holds() -> None:
    assert set(WIRE) == set(GEOMETRY_TYPES) and len(GEOMETRY_TYPES) == 9
    assert "collection" not in MEMBER_TYPES and "circle" not in MEMBER_TYPES
    assert "rectangle" not in MEMBER_TYPES


@pytest.mark.parametrize("type_", GEOMETRY_TYPES)
def test_every_type_checks_encodes_and_decodes_to_the_same_value(type_: str) -> None:
    held = geometry.check(type_, WIRE[type_], 1000)
    assert geometry.encode(type_, held) == WIRE[type_]
    assert geometry.decode(type_, json.loads(json.dumps(geometry.encode(type_, held)))) == held
    assert geometry.check(type_, held, 1000) == held, "a checked value checks as itself"
    assert geometry.count(type_, held) == COUNTS[type_] == len(geometry.points(type_, held))
    hash(held)  # held as tuples: a frozen feature's field


def test_a_polygon_without_holes_keeps_the_flat_form() -> None:
    flat = geometry.check("polygon", SQUARE, 100)
    assert geometry.check("polygon", [SQUARE], 100) == flat, "one ring is held flat"
    assert geometry.encode("polygon", flat) == SQUARE
    assert geometry.polygon_rings(flat) == (tuple(map(tuple, SQUARE)),)
    holed = geometry.check("polygon", [SQUARE, HOLE], 100)
    assert len(geometry.polygon_rings(holed)) == 2


def test_rings_are_held_unclosed() -> None:
    closed = [*SQUARE, SQUARE[0]]
    assert geometry.check("polygon", closed, 100) == geometry.check("polygon", SQUARE, 100)
    held = geometry.check("multipolygon", [[closed, [*HOLE, HOLE[0]]]], 100)
    assert [len(r) for r in held[0]] == [4, 4]
    triangle = [[0, 0], [0, 1], [0, 0]]  # three points, the last the first: kept as drawn
    assert len(geometry.check("polygon", triangle, 100)) == 3


@pytest.mark.parametrize(
    ("type_", "coords", "message"),
    [
        ("polygon", [SQUARE, [[1, 1], [1, 2]]], r"coords\[1\] needs at least 3 points, got 2"),
        ("polygon", [[0, 0], [1, 1]], r"coords needs at least 3 points, got 2"),
        ("polyline", [[0, 0]], r"coords needs at least 2 points, got 1; add points or draw a marker"),
        ("multipolyline", [[[0, 0], [1, 1]], [[2, 2]]], r"coords\[1\] needs at least 2 points"),
        ("multipolygon", [[SQUARE, [[1, 1], [1, 200], [2, 2]]]], r"coords\[0\]\[1\]\[1\] longitude"),
        ("multipolygon", [SQUARE], r"coords\[0\] must be a list of rings .* one more \[\]"),
        ("multipolygon", [], r"coords needs at least 1 part"),
        ("multipoint", [], r"coords needs at least 1 point, got 0"),
        ("multipoint", [[1, 2], [95, 2]], r"coords\[1\] latitude must be between -90 and 90"),
        ("collection", [], r"coords needs at least 1 part"),
        ("collection", [{"type": "circle", "coords": [1, 2]}], r"coords\[0\] type must be one of marker"),
        (
            "collection",
            [{"type": "collection", "coords": []}],
            r"coords\[0\] type must be one of .*, got 'collection' \(a collection inside a collection",
        ),
        ("collection", [[1, 2]], r'coords\[0\] must be an object \{"type"'),
        ("collection", [{"type": "polyline", "coords": [[0, 0], "x"]}], r"coords\[0\]\.coords\[1\] must be"),
        ("polygon", [[SQUARE]], r"coords\[0\]\[0\] must be a \[lat, lon\] pair"),
        ("polygon", "x", r"coords must be a list of \[lat, lon\] points, got str"),
        ("marker", [[1, 2]], r"coords must be a \[lat, lon\] pair"),
        ("rectangle", [[1, 2]], r"bounds must be \[\[south, west\], \[north, east\]\]"),
        ("hexagon", [1, 2], r"geometry type must be one of marker, .*collection, got 'hexagon'; pick one"),
    ],
)
def test_a_bad_geometry_is_refused_naming_the_path(type_: str, coords: object, message: str) -> None:
    name = "bounds" if type_ == "rectangle" else "coords"
    with pytest.raises(InvalidInput, match=message):
        geometry.check(type_, coords, 100, name)


def test_too_many_points_are_refused_before_they_are_read() -> None:
    with pytest.raises(PayloadTooLarge, match=r"coords must have at most 100 points, got 101; simplify"):
        geometry.check("polyline", [[0, 0]] * 101, 100)
    # parts add up: 10 lines of 20 are 200 points, refused at the line that passes 100
    lines = [[[0, 0]] * 20] * 10
    with pytest.raises(PayloadTooLarge, match=r"got at least 120 \(at coords\[5\]\)"):
        geometry.check("multipolyline", lines, 100)
    # ten million vertices: refused by their count, not read (the points are not even valid)
    huge = [[[["x"]] * 10_000_000]]
    with pytest.raises(PayloadTooLarge, match=r"at most 100000 points, got at least 10000000"):
        geometry.check("multipolygon", huge, 100_000)


def test_parts_of_each_type() -> None:
    held = {t: geometry.check(t, WIRE[t], 1000) for t in GEOMETRY_TYPES}
    kinds = {t: [kind for kind, _ in geometry.parts(t, held[t])] for t in GEOMETRY_TYPES}
    assert kinds == {
        "marker": ["point"],
        "circle": ["point"],
        "rectangle": ["polygon"],
        "polyline": ["line"],
        "polygon": ["polygon"],
        "multipoint": ["point", "point"],
        "multipolyline": ["line", "line"],
        "multipolygon": ["polygon", "polygon"],
        "collection": ["point", "polygon", "line"],
    }
    ((_, rings),) = geometry.parts("rectangle", held["rectangle"])
    assert rings == (((40.0, -75.0), (40.0, -73.5), (41.0, -73.5), (41.0, -75.0)),)
    ((_, rings),) = geometry.parts("polygon", held["polygon"])
    assert len(rings) == 2


def test_the_largest_part_stands_for_the_whole() -> None:
    held = geometry.check("multipolygon", [[SMALL], [SQUARE, HOLE]], 100)
    assert geometry.largest_part("multipolygon", held) == ("polygon", held[1])
    # near the pole a degree of longitude is short: the wider-looking square there is smaller
    north = [[80.0, 0.0], [80.0, 3.0], [81.0, 3.0], [81.0, 0.0]]
    south = [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]
    held = geometry.check("multipolygon", [[north], [south]], 100)
    assert geometry.largest_part("multipolygon", held)[1] == held[1]
    lines = geometry.check("multipolyline", [[[0, 0], [0, 1]], [[0, 0], [0, 5]]], 100)
    assert geometry.largest_part("multipolyline", lines) == ("line", lines[1])
    collection = geometry.check("collection", WIRE["collection"], 100)
    assert geometry.largest_part("collection", collection)[0] == "polygon"
    assert geometry.largest_part("multipoint", ((1.0, 2.0), (3.0, 4.0))) == ("point", (1.0, 2.0))


def test_areas_and_kind_names() -> None:
    areas = [t for t in GEOMETRY_TYPES if geometry.is_area(t)]
    assert areas == ["polygon", "circle", "rectangle", "multipolygon"]
    assert [geometry.kind_name(t) for t in GEOMETRY_TYPES] == [
        "marker",
        "line",
        "polygon",
        "circle",
        "rectangle",
        "multipoint",
        "multiline",
        "multipolygon",
        "collection",
    ]


# Points as files and agents send them: plain numbers, in range or not, and the values the plain
# path must leave to the per-point check (bools, text, NaN, huge integers, a third coordinate).
_coordinate = (
    st.floats(min_value=-200, max_value=200)
    | st.integers(min_value=-200, max_value=200)
    | st.sampled_from([True, "1.5", math.nan, math.inf, 10**400, None])
)
_point = st.lists(_coordinate, min_size=2, max_size=2) | st.lists(_coordinate, min_size=1, max_size=3)


def _one_by_one(points: list[object]) -> tuple[tuple[float, float], ...]:
    return tuple(check_latlon(f"coords[{i}]", p) for i, p in enumerate(points))


@settings(max_examples=500)
@given(st.lists(_point, min_size=2, max_size=30))
def test_a_line_reads_as_its_points_do_one_by_one(points: list[object]) -> None:
    """The plain path that reads a file's long ring without a message per point gives what the
    per-point check gives: the same points, or the same error naming the same point."""
    try:
        expected: object = _one_by_one(points)
    except InvalidInput as exc:
        expected = str(exc)
    try:
        got: object = geometry.check("polyline", points, 1_000)
    except InvalidInput as exc:
        got = str(exc)
    assert got == expected
