"""``within``'s fast point test (``mapsrv.spatial.area_points``: a grid of cells wholly in or out,
exact tests near the edge) against shapely's own ``covers``, point by point, on Natural Earth's
real borders (a coast of islands and bays, a state line on a river, a country across the 180th meridian,
a region with an enclave): thousands of random points over each area's box, and points near its
edge (its vertices, jittered by a metre or less, and the vertices themselves, which ``covers``
counts as in). ``select_within`` on a map of every kind of feature answers as ``covers`` does."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely

from mapsrv.core.model import Feature
from mapsrv.places.borders import country_area, region_area
from mapsrv.spatial import FeatureIndex, area_points, select_within
from mapsrv.spatial.area_points import GRID_VERTICES, AreaGrid, covered_points

AREAS = {
    "Florida (keys, coast)": lambda: region_area("US-FL"),
    "Massachusetts (bays, islands)": lambda: region_area("US-MA"),
    "New York (rivers, Long Island)": lambda: region_area("US-NY"),
    "Brandenburg (Berlin its hole)": lambda: region_area("DE-BB"),
    "Fiji (across the 180th meridian)": lambda: country_area("FJ"),
    "Norway (fjords)": lambda: country_area("NO"),
}


def _points(
    area: shapely.Geometry, rng: np.random.Generator, n: int = 4_000
) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = area.bounds
    x, y = rng.uniform(west - 0.1, east + 0.1, n), rng.uniform(south - 0.1, north + 0.1, n)
    edge = shapely.get_coordinates(area)
    near = edge[rng.integers(0, len(edge), n)]
    jitter = rng.uniform(-1e-5, 1e-5, (n, 2))  # a metre or less
    exact = edge[rng.integers(0, len(edge), n // 4)]
    return (
        np.concatenate([x, near[:, 0] + jitter[:, 0], exact[:, 0]]),
        np.concatenate([y, near[:, 1] + jitter[:, 1], exact[:, 1]]),
    )


@pytest.mark.parametrize("name", AREAS)
def test_same_as_covers_on_real_borders(name: str) -> None:
    kept = AREAS[name]()
    assert kept is not None and shapely.get_num_coordinates(kept) >= GRID_VERTICES  # the grid is used
    area = shapely.from_wkb(shapely.to_wkb(kept))  # an area no test asked about before
    x, y = _points(area, np.random.default_rng(59))
    expected = shapely.covers(area, shapely.points(x, y))
    found = covered_points(area, x, y)
    assert np.array_equal(found, expected), np.flatnonzero(found != expected)[:10]
    assert 0 < expected.sum() < len(x)  # some in, some out
    assert not area_points._grids.holds(id(area), area)  # 9,000 points: tested one by one
    assert np.array_equal(covered_points(area, x, y), expected)  # asked again: by a grid
    assert area_points._grids.holds(id(area), area)
    assert np.array_equal(covered_points(area, x, y), expected)  # the kept grid


def test_every_cell_is_what_its_mark_says() -> None:
    """A cell marked wholly in or out is so: its box is covered by the area, or misses it."""
    area = region_area("US-RI")
    grid = AreaGrid(area)
    rng = np.random.default_rng(1)
    for mark, predicate in ((1, shapely.covers), (0, shapely.disjoint)):
        j, i = np.nonzero(grid.marks == mark)
        pick = rng.integers(0, len(i), 300)
        boxes = shapely.box(grid.xs[i[pick]], grid.ys[j[pick]], grid.xs[i[pick] + 1], grid.ys[j[pick] + 1])
        assert predicate(area, boxes).all()
    assert (grid.marks == 2).mean() < 0.05  # most cells are decided without a point test


def test_a_few_vertices_and_an_unprepared_area() -> None:
    """A drawn triangle (no grid: too few vertices), not prepared by its caller; a line-thin one."""
    triangle = shapely.Polygon([(0, 0), (2, 0), (0, 2)])
    x = np.array([0.5, 1.0, 1.5, 2.0, -0.1, 0.0, np.nan])
    y = np.array([0.5, 1.0, 1.5, 0.0, 0.5, 2.0, 0.0])
    assert covered_points(triangle, x, y).tolist() == [True, True, False, True, False, True, False]
    flat = shapely.make_valid(shapely.Polygon([(0, 0), (1, 0), (2, 0)]))
    assert covered_points(flat, np.array([0.5, 0.5]), np.array([0.0, 0.1])).tolist() == [True, False]


def test_a_collection_of_parts_lines_and_points() -> None:
    """A repaired area may be a collection: polygons (one with a hole), a line, a point."""
    ring = [(np.cos(t), np.sin(t)) for t in np.linspace(0, 2 * np.pi, 300)[:-1]]
    holed = shapely.Polygon(ring, [[(x / 2, y / 2) for x, y in ring]])
    far = shapely.Polygon([(x + 3, y) for x, y in ring])
    area = shapely.GeometryCollection(
        [shapely.MultiPolygon([holed, far]), shapely.LineString([(5, 0), (6, 1)]), shapely.Point(7, 7)]
    )
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1.5, 7.5, 20_000), rng.uniform(-1.5, 7.5, 20_000)
    x = np.concatenate([x, [5.5, 7.0, 0.5, 0.25]])
    y = np.concatenate([y, [0.5, 7.0, 0.0, 0.0]])
    expected = shapely.covers(area, shapely.points(x, y))
    assert np.array_equal(covered_points(area, x, y), expected)
    assert expected[-4:].tolist() == [True, True, True, False]


def test_a_spike_of_no_area_beside_the_area_holds_its_tip() -> None:
    """A difference can leave a polygon folded onto itself (a spike: there and back, no area) as
    a part of the area; ``covers`` holds its vertices, GEOS's segmentize of it loses its tip, and
    the grid must still test the points there."""
    ring = [(np.cos(t), np.sin(t)) for t in np.linspace(0, 2 * np.pi, GRID_VERTICES + 8)[:-1]]
    spike = shapely.Polygon([(1.5, 0.5), (3.0, 2.0), (3.0, 2.0 + 1e-15), (1.5, 0.5)])
    area = shapely.MultiPolygon([shapely.Polygon(ring), spike])
    tip = np.array([1.5, 3.0, 2.25]), np.array([0.5, 2.0, 1.25])
    expected = shapely.covers(area, shapely.points(*tip))
    assert expected[:2].all()  # the spike's ends are the area's for covers
    assert np.array_equal(covered_points(area, *tip), expected)  # one by one
    assert np.array_equal(covered_points(area, *tip), expected)  # by its grid
    assert area_points._grids.holds(id(area), area)


def test_select_within_answers_as_covers_for_every_kind_of_feature() -> None:
    rng = random.Random(5)
    area = region_area("US-NJ")
    assert area is not None
    west, south, east, north = area.bounds
    features = []
    for i in range(3_000):
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        kind = rng.choice(["marker", "marker", "marker", "polyline", "polygon", "circle"])
        if kind == "marker":
            features.append(Feature(f"f{i}", kind, (lat, lon), layer=rng.choice("ab")))
        elif kind == "circle":
            features.append(Feature(f"f{i}", kind, (lat, lon), radius=500.0))
        else:
            ring = ((lat, lon), (lat + 0.01, lon), (lat + 0.01, lon + 0.01))
            features.append(Feature(f"f{i}", kind, ring if kind == "polyline" else (ring,)))
    index = FeatureIndex(features)
    for layer in (None, "a"):
        rows = np.sort(np.asarray(index.tree.query(area), dtype=np.intp))
        if layer is not None:
            rows = rows[index.layers[rows] == layer]
        expected = rows[shapely.covers(area, index.geoms[rows])]
        found = select_within(index, area, layer=layer)
        assert found.rows.tolist() == expected.tolist()
        assert (index.layers[expected] == "a").all() == (layer is not None)
        kinds = {index.features[r].type for r in expected}
        assert kinds == ({"marker"} if layer else {"marker", "polyline", "polygon", "circle"})


def test_grids_are_kept_per_area_and_let_go_with_it() -> None:
    area = shapely.Polygon(
        [(np.cos(t), np.sin(t)) for t in np.linspace(0, 2 * np.pi, GRID_VERTICES + 8)[:-1]]
    )
    covered_points(area, np.array([0.0]), np.array([0.0]))
    key = id(area)
    assert not area_points._grids.holds(key, area)  # one point: no grid at the first question
    covered_points(area, np.array([0.0]), np.array([0.0]))
    assert area_points._grids.holds(key, area)
    del area
    assert key not in area_points._grids
