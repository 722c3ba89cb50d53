"""``select``'s geometry against independent computations: brute-force nearest with geographiclib
(no pyproj, no Shapely), a ray-casting point-in-polygon written here, and geodesic distances to a
line's nearest point; the index cache per map version."""

from __future__ import annotations

import gc
import random

import pytest
import shapely
from geographiclib.geodesic import Geodesic

from mapsrv.core.model import Feature, MapState
from mapsrv.spatial import FeatureIndex, index_of, select_near, select_touching, select_within
from mapsrv.spatial import index as index_module
from mapsrv.spatial.select import degree_box

WGS84 = Geodesic.WGS84


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(WGS84.Inverse(a[0], a[1], b[0], b[1])["s12"])


def markers(n: int, seed: int, south: float = -70, north: float = 70) -> list[Feature]:
    rng = random.Random(seed)
    return [
        Feature(
            f"m{i}", "marker", (rng.uniform(south, north), rng.uniform(-180, 180)), layer=rng.choice("ab")
        )
        for i in range(n)
    ]


def inside(point: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    """Ray casting in (lat, lon) degrees: the test's own point-in-polygon."""
    lat, lon = point
    hit = False
    for (lat1, lon1), (lat2, lon2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (lat1 > lat) != (lat2 > lat) and lon < lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1):
            hit = not hit
    return hit


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 5, 40])
def test_nearest_matches_brute_force(seed: int, n: int) -> None:
    features = markers(2_000, seed)
    index = FeatureIndex(features)
    rng = random.Random(seed * 7)
    origin = (rng.uniform(-80, 80), rng.uniform(-180, 180))
    expected = sorted(features, key=lambda f: (metres(origin, f.coords), f.id))[:n]
    found = select_near(index, origin, nearest=n).top(n)
    assert [f.feature.id for f in found] == [f.id for f in expected]
    for f in found:
        assert f.metres == pytest.approx(metres(origin, f.feature.coords), abs=0.01)


def test_nearest_in_a_layer_and_within_a_distance_match_brute_force() -> None:
    features = markers(3_000, 9, south=30, north=60)
    index = FeatureIndex(features)
    origin = (45.0, 10.0)
    close = {f.id for f in features if f.layer == "a" and metres(origin, f.coords) <= 800_000}
    chosen = select_near(index, origin, within_m=800_000, layer="a")
    assert {f.feature.id for f in chosen.top(10_000)} == close and chosen.count == len(close)
    distances = [f.metres for f in chosen.top(10_000)]
    assert distances == sorted(distances)
    both = select_near(index, origin, within_m=800_000, nearest=3, layer="a").top(9)
    assert [f.feature.id for f in both] == [f.feature.id for f in chosen.top(3)]


def test_nearest_across_the_antimeridian() -> None:
    east = Feature("east", "marker", (0.0, 179.9))
    west = Feature("west", "marker", (0.0, -179.95))
    far = Feature("far", "marker", (0.0, 170.0))
    found = select_near(FeatureIndex([far, east, west]), (0.0, 180.0), nearest=2).top(2)
    assert [f.feature.id for f in found] == ["west", "east"]
    assert found[0].metres == pytest.approx(metres((0, 180), (0, -179.95)), abs=0.01)


def test_distance_to_a_line_is_to_its_nearest_point_and_zero_inside_an_area() -> None:
    line = Feature("line", "polyline", ((0.0, 0.0), (0.0, 10.0)))
    box = Feature("box", "rectangle", ((-1.0, 20.0), (1.0, 22.0)))
    found = {
        f.feature.id: f.metres for f in select_near(FeatureIndex([line, box]), (1.0, 5.0), nearest=2).top(2)
    }
    assert found["line"] == pytest.approx(metres((1.0, 5.0), (0.0, 5.0)), rel=1e-3)
    inside_box = select_near(FeatureIndex([line, box]), (0.5, 21.0), nearest=1).top(1)
    assert inside_box[0].feature.id == "box" and inside_box[0].metres == 0.0


def test_within_a_polygon_matches_ray_casting() -> None:
    ring = [(40.0, -5.0), (52.0, 0.0), (45.0, 3.0), (50.0, 12.0), (38.0, 10.0)]
    features = markers(5_000, 4, south=35, north=55)
    area = shapely.Polygon([(lon, lat) for lat, lon in ring])
    chosen = select_within(FeatureIndex(features), area)
    assert {f.feature.id for f in chosen.top(10_000)} == {f.id for f in features if inside(f.coords, ring)}
    assert chosen.count >= 50


def test_within_a_circle_is_geodesic_and_lines_must_lie_wholly_inside() -> None:
    centre, radius = (60.0, 25.0), 300_000.0
    features = markers(3_000, 5, south=50, north=70)
    expected = {f.id for f in features if metres(centre, f.coords) <= radius}
    crossing = Feature("crossing", "polyline", (centre, (60.0, 40.0)))
    inner = Feature("inner", "polyline", (centre, (60.5, 26.0)))
    chosen = select_within(FeatureIndex([*features, crossing, inner]), (centre, radius))
    assert {f.feature.id for f in chosen.top(10_000)} == expected | {"inner"}


def test_intersecting_a_feature_leaves_it_out() -> None:
    line = Feature("line", "polyline", ((0.0, 0.0), (2.0, 2.0)))
    box = Feature("box", "rectangle", ((0.5, 0.5), (0.6, 0.6)))
    away = Feature("away", "rectangle", ((5.0, 5.0), (6.0, 6.0)))
    index = FeatureIndex([line, box, away])
    found = select_touching(index, shapely.LineString([(0, 0), (2, 2)]), "line")
    assert [f.feature.id for f in found.top(9)] == ["box"]


def test_degree_boxes_hold_the_circle_and_wrap() -> None:
    for lat in (0.0, 45.0, 80.0):
        south, west, north, east = degree_box((lat, 0.0), 500_000)
        for azimuth in range(0, 360, 10):
            end = WGS84.Direct(lat, 0.0, azimuth, 500_000)
            assert south <= end["lat2"] <= north and west <= end["lon2"] <= east
    south, west, north, east = degree_box((0.0, 179.0), 500_000)
    assert west > east  # crosses 180: two boxes
    assert degree_box((89.0, 0.0), 500_000)[1:4:2] == (-180.0, 180.0)


def test_the_index_is_built_once_per_map_version_and_bounded() -> None:
    state = MapState("m1", version=3, features={f.id: f for f in markers(10, 1)})
    assert index_of(state) is index_of(state)
    newer = MapState("m1", version=4, features=dict(state.features))
    assert index_of(newer) is not index_of(state)
    states = [MapState(f"s{i}", features={}) for i in range(index_module.CACHED + 3)]
    for each in states:
        index_of(each)
    assert len(index_module._cache) <= index_module.CACHED
    held = states[-1]
    key = (held.id, held.version)
    assert key in index_module._cache
    del held, states, each
    gc.collect()
    assert key not in index_module._cache  # its state gone, its index goes too


def test_near_a_pole_and_a_self_crossing_polygon() -> None:
    pole = Feature("pole", "marker", (90.0, 0.0))
    bowtie = Feature("bow", "polygon", ((0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)))
    across = Feature("across", "marker", (89.5, -170.0))
    index = FeatureIndex([bowtie, across, pole])
    found = select_near(index, (89.9, 10.0), nearest=2).top(2)
    assert [f.feature.id for f in found] == ["pole", "across"]
    assert found[1].metres == pytest.approx(metres((89.9, 10.0), (89.5, -170.0)), abs=0.01)
    inside_bowtie = select_near(index, (0.5, 0.2), nearest=1).top(1)  # in its left triangle
    assert inside_bowtie[0].feature.id == "bow" and inside_bowtie[0].metres == 0.0
    assert [f.feature.id for f in select_within(index, shapely.box(-1, -1, 2, 2)).top(9)] == ["bow"]


def test_within_a_polygon_leaves_out_lines_that_only_cross_its_edge() -> None:
    area = shapely.box(0.0, 0.0, 2.0, 2.0)  # lon 0-2, lat 0-2
    crossing = Feature("crossing", "polyline", ((1.0, 1.0), (1.0, 3.0)))
    inner = Feature("inner", "polyline", ((0.5, 0.5), (1.5, 1.5)))
    chosen = select_within(FeatureIndex([crossing, inner]), area)
    assert [f.feature.id for f in chosen.top(9)] == ["inner"]


def test_near_a_long_shape_features_by_its_far_end_are_found() -> None:
    """The search box must reach as far as the shape does, not only around its middle."""
    line = shapely.LineString([(0.0, 0.0), (8.0, 0.0)])  # ~890 km along the equator
    by_far_end = Feature("far-end", "marker", (0.005, 8.0))  # ~550 m north of its east end
    found = select_near(FeatureIndex([by_far_end]), line, within_m=1_000).top(9)
    assert [f.feature.id for f in found] == ["far-end"]
    assert found[0].metres == pytest.approx(metres((0.0, 8.0), (0.005, 8.0)), rel=1e-3)


def test_the_search_box_wraps_past_minus_180() -> None:
    over = Feature("over", "marker", (0.0, 179.95))  # ~11 km west of the place, across 180
    found = select_near(FeatureIndex([over]), (0.0, -179.95), within_m=20_000).top(9)
    assert [f.feature.id for f in found] == ["over"]
    assert found[0].metres == pytest.approx(metres((0.0, -179.95), (0.0, 179.95)), rel=1e-6)


def test_nearest_is_found_even_when_a_farther_one_sits_in_the_first_box_corner() -> None:
    """The first look is a 10 km circle in its box: a feature in the box's corner (~14 km) is
    farther than one just outside the box to the east (~12 km), which must be the answer."""
    corner = Feature("corner", "marker", (0.0899, 0.0899))
    east = Feature("east", "marker", (0.0, 0.108))
    found = select_near(FeatureIndex([corner, east]), (0.0, 0.0), nearest=1).top(1)
    assert metres((0, 0), corner.coords) > metres((0, 0), east.coords) > 10_000
    assert [f.feature.id for f in found] == ["east"]
