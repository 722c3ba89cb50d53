"""Measurements against known values, in every unit, and bad input that names the field."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mapsrv.core.measure import (
    AREA_UNITS,
    LENGTH_UNITS,
    area,
    bbox,
    bearing,
    check_area_unit,
    check_length_unit,
    distance,
    feature_area,
    feature_length,
    legs,
)
from mapsrv.core.model import Feature, LatLon
from mapsrv.errors import InvalidInput

PARIS = (48.8566, 2.3522)
LONDON = (51.5072, -0.1276)
BERLIN = (52.52, 13.405)
UNIT_BOX = [(0, 0), (0, 1), (1, 1), (1, 0)]


def test_distance_paris_london() -> None:
    assert distance([PARIS, LONDON], "km") == pytest.approx(343.9, abs=0.5)
    assert distance([PARIS, LONDON]) == pytest.approx(343_897, rel=1e-4)
    assert distance([PARIS, LONDON], "mi") == pytest.approx(213.7, abs=0.3)
    assert distance([PARIS, LONDON], "nmi") == pytest.approx(185.7, abs=0.3)
    assert distance([PARIS, LONDON], "ft") == pytest.approx(1_128_271, rel=1e-3)


def test_a_route_is_the_sum_of_its_legs() -> None:
    route = [PARIS, LONDON, BERLIN, PARIS]
    parts = legs(route, "km")
    assert len(parts) == 3
    # London-Berlin: 931.6 km by haversine on the mean sphere, which is off by up to 0.5 %
    assert parts[1] == pytest.approx(931.6, rel=0.005)
    assert distance(route, "km") == pytest.approx(sum(parts))
    # one degree of longitude along the equator is 111.32 km on WGS84
    assert distance([(0, 0), (0, 1)], "km") == pytest.approx(111.3195, abs=1e-3)
    # antipodes along a meridian: half the meridian, 20,003.93 km
    assert distance([(90, 0), (-90, 0)], "km") == pytest.approx(20_003.93, abs=0.01)


def test_area_of_a_one_degree_box_at_the_equator() -> None:
    assert area(UNIT_BOX, "km2") == pytest.approx(12_308.78, abs=0.1)
    assert area(list(reversed(UNIT_BOX)), "km2") == pytest.approx(12_308.78, abs=0.1)
    assert area([*UNIT_BOX, UNIT_BOX[0]], "km2") == pytest.approx(12_308.78, abs=0.1)  # closed ring
    assert area(UNIT_BOX, "ha") == pytest.approx(1_230_878, rel=1e-5)
    assert area(UNIT_BOX, "mi2") == pytest.approx(4_752.4, abs=0.5)
    assert area(UNIT_BOX, "acres") == pytest.approx(3_041_553, rel=1e-4)
    assert area(UNIT_BOX) == pytest.approx(1.230878e10, rel=1e-5)


def test_feature_areas_and_lengths() -> None:
    rectangle = Feature("r", "rectangle", ((0, 0), (1, 1)))
    assert feature_area(rectangle, "km2") == pytest.approx(12_308.46, abs=0.1)  # edges on parallels
    whole_earth = Feature("w", "rectangle", ((-90, -180), (90, 180)))
    assert feature_area(whole_earth, "km2") == pytest.approx(510_065_621.7, rel=1e-9)
    circle = Feature("c", "circle", (10, 10), radius=1_000)
    assert feature_area(circle, "m2") == pytest.approx(3_141_592.7, rel=1e-6)
    assert feature_length(circle, "km") == pytest.approx(6.2832, abs=1e-4)
    polygon = Feature("p", "polygon", tuple(UNIT_BOX))
    assert feature_area(polygon, "km2") == pytest.approx(12_308.78, abs=0.1)
    assert feature_length(polygon, "km") == pytest.approx(4 * 111.0, rel=0.01)
    line = Feature("l", "polyline", (PARIS, LONDON))
    assert feature_length(line, "km") == pytest.approx(343.9, abs=0.5)
    assert feature_area(line) == 0.0
    assert feature_length(Feature("m", "marker", PARIS)) == 0.0


@pytest.mark.parametrize(
    ("end", "degrees", "compass", "word"),
    [
        ((1, 0), 0.0, "N", "north"),
        ((0, 1), 90.0, "E", "east"),
        ((-1, 0), 180.0, "S", "south"),
        ((0, -1), 270.0, "W", "west"),
        ((1, 1), 45.19, "NE", "north-east"),
        ((-1, -0.4), 201.93, "SSW", "south-south-west"),  # a degree of latitude is shorter,
    ],
)
def test_bearings(end: tuple[float, float], degrees: float, compass: str, word: str) -> None:
    found = bearing((0, 0), end)
    assert found.degrees == pytest.approx(degrees, abs=0.1)
    assert (found.compass, found.word) == (compass, word)


def test_bearing_paris_to_london() -> None:
    found = bearing(PARIS, LONDON)
    assert found.degrees == pytest.approx(330.0, abs=0.5) and found.compass == "NNW"


def test_bbox_of_points_and_features() -> None:
    assert bbox([PARIS, LONDON, BERLIN]) == ((48.8566, -0.1276), (52.52, 13.405))
    circle = Feature("c", "circle", (0, 0), radius=111_319.5)
    (south, west), (north, east) = bbox([circle, PARIS])
    assert west == pytest.approx(-1.0, abs=1e-4)
    assert south == pytest.approx(-1.0067, abs=1e-4)  # a degree of latitude is 110.57 km here
    assert (north, east) == PARIS
    line = Feature("l", "polyline", (PARIS, LONDON))
    assert bbox([line]) == ((48.8566, -0.1276), (51.5072, 2.3522))


def test_units_accept_common_spellings() -> None:
    assert [check_length_unit(u) for u in ("KM", "miles", "nautical miles", "feet", " metres ")] == [
        "km",
        "mi",
        "nmi",
        "ft",
        "m",
    ]
    assert [check_area_unit(u) for u in ("km²", "sq mi", "hectares", "acre", "m2")] == [
        "km2",
        "mi2",
        "ha",
        "acres",
        "m2",
    ]
    for unit in LENGTH_UNITS:
        assert distance([(0, 0), (0, 1)], unit) > 0
    for unit in AREA_UNITS:
        assert area(UNIT_BOX, unit) > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: distance([PARIS, LONDON], "furlongs"),
            "length unit must be one of m, km, mi, nmi, ft, got 'furlongs'",
        ),
        (lambda: area(UNIT_BOX, "km"), "area unit must be one of m2, km2, ha, acres, mi2, got 'km'"),
        (lambda: distance([PARIS], "km"), "points needs at least 2 points, got 1"),
        (lambda: distance("Paris to London"), "points must be a list of \\[lat, lon\\] points, got str"),
        (lambda: area([PARIS, LONDON]), "points needs at least 3 points, got 2"),
        (lambda: area([PARIS, PARIS, LONDON]), "points needs at least 3 distinct points, got 2"),
        (lambda: distance([PARIS, (123, 45)]), "points\\[1\\] latitude must be between -90 and 90, got 123"),
        (
            lambda: distance([PARIS, (45, 200)]),
            "points\\[1\\] longitude must be between -180 and 180, got 200",
        ),
        (lambda: distance([PARIS, (45,)]), "points\\[1\\] must be a \\[lat, lon\\] pair, got \\(45,\\)"),
        (lambda: bearing(PARIS, (91, 0)), "end latitude must be between -90 and 90, got 91"),
        (lambda: bearing(PARIS, PARIS), "end must differ from start, got the same point"),
        (lambda: bbox([]), "items needs at least 1 point or feature, got 0"),
        (lambda: bbox([PARIS, "x"]), "items\\[1\\] must be a \\[lat, lon\\] pair, got 'x'"),
        (
            lambda: distance([PARIS, (float("nan"), 0)]),
            "points\\[1\\] latitude must be a finite number, got nan",
        ),
    ],
)
def test_bad_input_names_the_field_the_value_and_the_range(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()  # type: ignore[operator]


points = st.tuples(st.floats(-89.9, 89.9, allow_nan=False), st.floats(-180, 180, allow_nan=False))


@given(st.lists(points, min_size=2, max_size=6))
def test_a_route_is_as_long_backwards_and_never_shorter_than_its_ends(route: list[LatLon]) -> None:
    assert distance(route) == pytest.approx(distance(route[::-1]), rel=1e-9, abs=1e-6)
    assert distance(route) >= distance([route[0], route[-1]]) - 1e-6
    assert 0 <= distance(route) <= (len(route) - 1) * 20_004_000


@given(points, points)
@example((0.0, 0.0), (12.0, -5.790387632061916e-15))  # an azimuth of -6e-16 degrees: % 360 gave 360.0
def test_bearings_are_in_range_and_the_word_matches_the_compass(a: LatLon, b: LatLon) -> None:
    if a == b:
        return
    found = bearing(a, b)
    assert 0 <= found.degrees < 360
    assert found.word.replace("-", " ").split()[0][0].upper() == found.compass[0]


@given(
    st.floats(-60, 60, allow_nan=False),
    st.floats(-170, 170, allow_nan=False),
    st.floats(0.01, 5, allow_nan=False),
    st.integers(0, 3),
)
def test_area_ignores_where_the_ring_starts_and_its_winding(
    lat: float, lon: float, size: float, turn: int
) -> None:
    ring = [(lat, lon), (lat, lon + size), (lat + size, lon + size), (lat + size, lon)]
    rotated = ring[turn:] + ring[:turn]
    assert area(rotated) == pytest.approx(area(ring), rel=1e-9)
    assert area(rotated[::-1]) == pytest.approx(area(ring), rel=1e-9)
    box = feature_area(Feature("r", "rectangle", ((lat, lon), (lat + size, lon + size))))
    assert area(ring) == pytest.approx(box, rel=0.01)  # geodesic edges vs parallels
