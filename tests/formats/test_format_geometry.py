"""The shapes other files write, as properties: WKT written by mapsrv reads back to the same
geometry, whole (holes, parts and members), thinning never moves a line by more than its
tolerance, layer ids made from any name are valid ids, and a cell's text is a number only when
it spells one."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapsrv.core.model import Limits, build_feature
from mapsrv.core.values import ID_RE
from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import layer_id
from mapsrv.formats.geometry import parse_wkt, to_wkt
from mapsrv.formats.simplify import simplify

lat = st.floats(min_value=-85, max_value=85, allow_nan=False)
lon = st.floats(min_value=-179, max_value=179, allow_nan=False)
point = st.tuples(lat, lon)


ring = st.lists(point, min_size=3, max_size=12, unique=True)
line = st.lists(point, min_size=2, max_size=12)
members = st.one_of(
    st.builds(lambda p: {"type": "marker", "coords": p}, point),
    st.builds(lambda ps: {"type": "polyline", "coords": ps}, line),
    st.builds(lambda rs: {"type": "polygon", "coords": rs}, st.lists(ring, min_size=1, max_size=3)),
    st.builds(lambda ps: {"type": "multipoint", "coords": ps}, st.lists(point, min_size=1, max_size=5)),
    st.builds(lambda ls: {"type": "multipolyline", "coords": ls}, st.lists(line, min_size=1, max_size=3)),
    st.builds(
        lambda ps: {"type": "multipolygon", "coords": ps},
        st.lists(st.lists(ring, min_size=1, max_size=3), min_size=1, max_size=3),
    ),
)


@given(
    st.one_of(
        members,
        st.builds(lambda ms: {"type": "collection", "coords": ms}, st.lists(members, min_size=1, max_size=4)),
    )
)
def test_wkt_reads_back_to_the_same_geometry_whole(shape: dict[str, object]) -> None:
    feature = build_feature(id="", limits=Limits(), **shape)  # type: ignore[arg-type]
    kind, coords = parse_wkt(to_wkt(feature), "wkt")
    assert kind == feature.type
    again = build_feature(id="", type=kind, coords=coords, limits=Limits())
    assert again.coords == feature.coords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POINT(2 48)", ("marker", [48.0, 2.0])),
        ("srid=4326;point z (2 48 100)", ("marker", [48.0, 2.0])),
        ("POINTZ (2 48 100)", ("marker", [48.0, 2.0])),
        ("MULTIPOINT (1 2, 3 4)", ("multipoint", [[2.0, 1.0], [4.0, 3.0]])),
        ("MULTIPOINT ((1 2), (3 4))", ("multipoint", [[2.0, 1.0], [4.0, 3.0]])),
        ("POLYGON ((0 0, 9 0, 9 9, 0 0), (1 1, 2 1, 2 2, 1 1))",
         ("polygon", [[[0.0, 0.0], [0.0, 9.0], [9.0, 9.0]], [[1.0, 1.0], [1.0, 2.0], [2.0, 2.0]]])),
        ("MULTILINESTRING ((1 2, 3 4), (5 6, 7 8))",
         ("multipolyline", [[[2.0, 1.0], [4.0, 3.0]], [[6.0, 5.0], [8.0, 7.0]]])),
        ("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
         ("multipolygon", [[[[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], [[[5.0, 5.0], [5.0, 6.0], [6.0, 6.0]]]])),
        ("GEOMETRYCOLLECTION (POINT (1 2), GEOMETRYCOLLECTION (LINESTRING (1 2, 3 4), POINT EMPTY))",
         ("collection", [{"type": "marker", "coords": [2.0, 1.0]},
                         {"type": "polyline", "coords": [[2.0, 1.0], [4.0, 3.0]]}])),
    ],
)  # fmt: skip
def test_wkt_forms(text: str, expected: tuple[str, object]) -> None:
    assert parse_wkt(text, "wkt") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "CIRCLE (1 2)",
            "wkt WKT type must be POINT, LINESTRING, POLYGON, a MULTI one or GEOMETRYCOLLECTION",
        ),
        ("POINT (1)", "wkt WKT position must be two numbers (longitude latitude), got '1'"),
        ("MULTILINESTRING ((1 2, 3 4)", "wkt WKT has unbalanced parentheses in '(1 2, 3 4'"),
        ("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0))))", "wkt WKT has unbalanced parentheses"),
        ("POLYGON EMPTY", "wkt WKT is empty (POLYGON EMPTY); give a shape or leave the row out"),
        ("GEOMETRYCOLLECTION (POINT EMPTY)", "wkt WKT is an empty GEOMETRYCOLLECTION"),
        ("GEOMETRYCOLLECTION (" * 6 + "POINT (1 2)" + ")" * 6, "wkt WKT is nested more than 4 deep"),
    ],
)
def test_bad_wkt_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_wkt(text, "wkt")
    assert err.value.message.startswith(message)


def _deviation(points: list[tuple[float, float]], kept: list[int]) -> float:
    """The farthest a point lies from the kept line, in metres on simplify's local plane."""
    scale = 6_371_008.8 * math.pi / 180
    cos = math.cos(math.radians(points[0][0]))
    xs = [(p[1] - points[0][1]) * scale * cos for p in points]
    ys = [(p[0] - points[0][0]) * scale for p in points]
    worst = 0.0
    for a, b in itertools.pairwise(kept):
        dx, dy = xs[b] - xs[a], ys[b] - ys[a]
        length2 = dx * dx + dy * dy
        for i in range(a + 1, b):
            t = (
                0.0
                if length2 == 0
                else max(0.0, min(1.0, ((xs[i] - xs[a]) * dx + (ys[i] - ys[a]) * dy) / length2))
            )
            worst = max(worst, math.hypot(xs[i] - xs[a] - t * dx, ys[i] - ys[a] - t * dy))
    return worst


walk = st.lists(st.tuples(st.floats(-0.001, 0.001), st.floats(-0.001, 0.001)), min_size=3, max_size=80).map(
    lambda steps: list(
        itertools.accumulate(steps, lambda p, s: (p[0] + s[0], p[1] + s[1]), initial=(47.0, 8.0))
    )
)


@given(walk, st.floats(min_value=0.5, max_value=200))
def test_simplify_never_moves_a_line_more_than_its_tolerance(
    points: list[tuple[float, float]], tolerance: float
) -> None:
    kept = simplify(points, tolerance)
    assert kept[0] == 0 and kept[-1] == len(points) - 1
    assert kept == sorted(set(kept))
    assert _deviation(points, kept) <= tolerance * (1 + 1e-9) + 1e-9


@given(walk, st.floats(min_value=0.5, max_value=200))
def test_a_ring_keeps_at_least_three_points(points: list[tuple[float, float]], tolerance: float) -> None:
    kept = simplify(points, tolerance, closed=True)
    assert len(kept) >= 3 and kept[0] == 0
    assert _deviation([*points, points[0]], [*kept, len(points)]) <= tolerance * (1 + 1e-9) + 1e-9


@given(st.text(max_size=100))
def test_a_layer_id_from_any_name_is_a_valid_id(name: str) -> None:
    assert ID_RE.fullmatch(layer_id(name))
