"""``derive``'s shapes against independent computations: areas with geographiclib's geodesic
polygons (not pyproj, not Shapely), points inside with a ray casting of the test's own; the
antimeridian, holes, self-crossing rings, poles and too many corners. A result is one feature:
a polygon with its holes, or a multipolygon of its parts."""

from __future__ import annotations

import math

import pytest
from geographiclib.geodesic import Geodesic

from mapsrv.core.model import Feature
from mapsrv.errors import InvalidInput
from mapsrv.spatial import MAX_VERTICES, derive

WGS84 = Geodesic.WGS84


Ring = tuple[tuple[float, float], ...]


def ring_km2(ring: Ring) -> float:
    polygon = WGS84.Polygon()
    for lat, lon in ring:
        polygon.AddPoint(lat, lon)
    return float(abs(polygon.Compute(False, True)[2])) / 1e6


def km2(polygons: list[tuple[Ring, ...]]) -> float:
    """Each polygon's outline less its holes."""
    return sum(ring_km2(outline) - sum(ring_km2(hole) for hole in holes) for outline, *holes in polygons)


def covered(point: tuple[float, float], polygons: list[tuple[Ring, ...]]) -> bool:
    return any(
        inside(point, outline) and not any(inside(point, h) for h in holes) for outline, *holes in polygons
    )


def inside(point: tuple[float, float], ring: Ring) -> bool:
    lat, lon = point
    hit = False
    for (lat1, lon1), (lat2, lon2) in zip(ring, (*ring[1:], ring[0]), strict=True):
        if (lat1 > lat) != (lat2 > lat) and lon < lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1):
            hit = not hit
    return hit


@pytest.mark.parametrize("lat", [0.0, -23.5, 45.0, 60.0, 70.0, 79.9])
@pytest.mark.parametrize("lon", [12.0, 179.99, -180.0])
def test_a_10_km_buffer_has_the_area_of_its_circle_at_any_latitude(lat: float, lon: float) -> None:
    made = derive("buffer", [Feature("p", "marker", (lat, lon))], km=10)
    assert km2(made.polygons) == pytest.approx(math.pi * 100, rel=0.01)
    assert made.area_m2 / 1e6 == pytest.approx(math.pi * 100, rel=0.01)
    for outline, *_ in made.polygons:
        assert all(-180 <= p[1] <= 180 for p in outline)
    if lon == 12.0:
        assert made.geometry[0] == "polygon" and not made.split_at_180
    else:  # one multipolygon, a part on each side of the 180th meridian
        assert made.split_at_180 and made.geometry[0] == "multipolygon" and len(made.polygons) == 2
        assert {min(p[1] for p in rings[0]) > 0 for rings in made.polygons} == {True, False}


def test_a_line_buffer_across_the_antimeridian_is_one_multipolygon_cut_there() -> None:
    line = Feature("l", "polyline", ((-16.0, 179.5), (-17.0, -179.5)))
    made = derive("buffer", [line], km=5)
    assert made.split_at_180 and made.geometry[0] == "multipolygon" and len(made.polygons) == 2
    length = WGS84.Inverse(-16.0, 179.5, -17.0, -179.5)["s12"] / 1000
    assert km2(made.polygons) == pytest.approx(2 * 5 * length + math.pi * 25, rel=0.01)


def test_a_difference_that_makes_a_hole_is_one_polygon_with_that_hole() -> None:
    outer = Feature("o", "rectangle", ((40.0, 10.0), (42.0, 12.0)))
    inner = Feature("i", "circle", (41.0, 11.0), radius=30_000.0)
    made = derive("difference", [outer, inner])
    assert made.holes == 1 and len(made.polygons) == 1
    kind, coords = made.geometry
    assert kind == "polygon" and len(coords) == 2  # its outline, then its hole
    assert not covered((41.0, 11.0), made.polygons)  # the hole stays open
    assert covered((40.2, 10.2), made.polygons) and covered((41.0, 11.5), made.polygons)
    expected = ring_km2(((40, 10), (40, 12), (42, 12), (42, 10))) - math.pi * 900
    assert km2(made.polygons) == pytest.approx(expected, rel=0.01)
    assert made.area_m2 / 1e6 == pytest.approx(expected, rel=0.01)


def test_a_self_crossing_ring_is_made_valid() -> None:
    bowtie = Feature("b", "polygon", ((0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)))
    made = derive("union", [bowtie])  # two triangles, as the page draws it
    assert made.geometry[0] == "multipolygon" and len(made.polygons) == 2
    assert km2(made.polygons) == pytest.approx(2 * ring_km2(((0, 0), (1, 0), (0.5, 0.5))), rel=0.01)


def test_overlaps_hulls_and_centroids() -> None:
    a = Feature("a", "rectangle", ((0.0, 0.0), (1.0, 1.0)))
    b = Feature("b", "rectangle", ((0.5, 0.5), (1.5, 1.5)))
    far = Feature("far", "rectangle", ((5.0, 5.0), (6.0, 6.0)))
    both = derive("intersection", [a, b])
    assert km2(both.polygons) == pytest.approx(
        ring_km2(((0.5, 0.5), (0.5, 1.0), (1.0, 1.0), (1.0, 0.5))), rel=0.01
    )
    assert derive("intersection", [a, far]).empty
    union = km2(derive("union", [a, b]).polygons)
    assert union == pytest.approx(2 * km2(derive("union", [a]).polygons) - km2(both.polygons), rel=0.01)
    apart = derive("union", [a, far])
    assert apart.geometry[0] == "multipolygon" and len(apart.polygons) == 2  # one feature
    hull = derive(
        "hull", [Feature(f"m{i}", "marker", p) for i, p in enumerate([(0, 0), (0, 1), (1, 0), (0.2, 0.2)])]
    )
    assert hull.geometry[0] == "polygon" and len(hull.polygons) == 1 and len(hull.polygons[0][0]) == 3
    middle = derive("centroid", [a])
    assert middle.point == pytest.approx((0.5, 0.5), abs=1e-3)
    across = derive("centroid", [Feature("e", "marker", (0, 179.0)), Feature("w", "marker", (0, -179.0))])
    assert across.point is not None and abs(across.point[1]) == pytest.approx(180.0)


@pytest.mark.parametrize(
    ("op", "features", "km", "says"),
    [
        ("buffer", [Feature("p", "marker", (1, 1))], 0, "more than 0 and at most 2000"),
        ("buffer", [Feature("p", "marker", (1, 1))], 40_000, "got 40000"),
        ("buffer", [Feature("p", "marker", (1, 1))], None, "got None"),
        ("buffer", [Feature("p", "marker", (90, 0))], 10, "north pole"),
        ("buffer", [Feature("p", "marker", (-89.99, 0))], 10, "south pole"),
        ("union", [Feature("p", "marker", (1, 1))], None, "marker 'p'"),
        ("union", [Feature("p", "polygon", ((0, 0), (0, 1), (1, 1)))], 3, "km is for buffer only"),
        ("intersection", [Feature("p", "polygon", ((0, 0), (0, 1), (1, 1)))], None, "at least 2"),
        ("hull", [Feature("a", "marker", (0, 0)), Feature("b", "marker", (1, 1))], None, "one line"),
        ("spin", [Feature("a", "marker", (0, 0))], None, "one of buffer"),
        ("hull", [], None, "at least 1"),
    ],
)
def test_bad_input_is_refused_clearly(op: str, features: list[Feature], km: float | None, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        derive(op, features, km)


def test_too_many_corners_are_simplified_and_said() -> None:
    zigzag = tuple((45.0 + (0.01 if i % 2 else 0.0), 10.0 + i * 0.001) for i in range(12_000))
    made = derive("buffer", [Feature("z", "polyline", zigzag)], km=0.2)
    assert made.simplified_m is not None and made.simplified_m > 0
    assert sum(len(ring) for rings in made.polygons for ring in rings) <= MAX_VERTICES
    expected = derive("buffer", [Feature("z", "polyline", ((45.0, 10.0), (45.01, 10.0)))], km=0.2)
    assert km2(made.polygons) > km2(expected.polygons)
