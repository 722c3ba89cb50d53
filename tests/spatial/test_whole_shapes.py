"""Real countries (Natural Earth) kept whole through ``derive``, ``select`` and the measures, against
the reference libraries: Shapely for the shapes and pyproj's ``Geod.geometry_area_perimeter`` (or
an aeqd projection of pyproj's CRS machinery) for areas. South Africa is a polygon with Lesotho
as its hole, Fiji a multipolygon whose parts meet at the 180th meridian, Canada 30 islands."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import shape
from support.natural_earth import countries_geojson

from mapsrv.core import measure as core_measure
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.measure import feature_area
from mapsrv.core.model import Feature, Limits
from mapsrv.spatial import derive, select_within, shapes
from mapsrv.spatial import measure as spatial_measure
from mapsrv.spatial.index import FeatureIndex
from mapsrv.spatial.shapes import feature_geometry, geometries

GEOD = Geod(ellps="WGS84")
LESOTHO = (-29.6, 28.25)  # its middle, well inside: South Africa's hole
JOHANNESBURG = (-26.2, 28.04)


def country(fid: str) -> tuple[Feature, Any]:
    """The feature mapsrv imports for a 1:110m country, and its GeoJSON geometry as Shapely's."""
    raw = countries_geojson("110m")
    item = next(f for f in raw["features"] if f["id"] == fid)
    (feature,) = features_from_geojson({"type": "FeatureCollection", "features": [item]}, Limits())
    return feature, shape(item["geometry"])


def geodesic_km2(geometry: Any) -> float:
    return abs(float(GEOD.geometry_area_perimeter(geometry)[0])) / 1e6


def test_south_africa_keeps_lesotho_as_its_hole_in_shapes_and_areas() -> None:
    south_africa, reference = country("710")
    lesotho, _ = country("426")
    assert south_africa.type == "polygon" and len(south_africa.coords) == 2
    drawn = feature_geometry(south_africa)
    assert isinstance(drawn, shapely.Polygon) and len(drawn.interiors) == 1
    assert drawn.normalize().equals_exact(reference.normalize(), 1e-9)
    outline = shapely.Polygon(drawn.exterior)
    expected = geodesic_km2(outline) - geodesic_km2(
        shape({"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in lesotho.coords]]})
    )
    assert feature_area(south_africa, "km2") == pytest.approx(expected, rel=1e-3)
    assert feature_area(south_africa, "km2") == pytest.approx(geodesic_km2(reference), rel=1e-6)
    assert not drawn.covers(shapely.Point(LESOTHO[::-1]))
    assert drawn.covers(shapely.Point(JOHANNESBURG[::-1]))


def test_select_within_south_africa_leaves_out_a_marker_in_lesotho() -> None:
    south_africa, _ = country("710")
    markers = [Feature("maseru", "marker", LESOTHO), Feature("joburg", "marker", JOHANNESBURG)]
    index = FeatureIndex([south_africa, *markers])
    area = shapely.make_valid(feature_geometry(south_africa))
    found = select_within(index, area, skip="710")
    assert [f.feature.id for f in found.top(10)] == ["joburg"]


def test_a_union_of_south_africa_is_one_polygon_with_its_hole_and_its_area() -> None:
    south_africa, reference = country("710")
    made = derive("union", [south_africa])
    kind, coords = made.geometry
    assert kind == "polygon" and len(coords) == 2 and made.holes == 1
    assert made.area_m2 / 1e6 == pytest.approx(geodesic_km2(reference), rel=0.01)


def test_a_union_of_fiji_across_the_180th_meridian_is_one_multipolygon() -> None:
    fiji, reference = country("242")
    made = derive("union", [fiji])
    kind, coords = made.geometry
    assert kind == "multipolygon" and made.split_at_180
    assert {min(p[1] for p in rings[0]) > 0 for rings in coords} == {True, False}  # both sides
    assert all(-180 <= lon <= 180 for rings in coords for ring in rings for _, lon in ring)
    assert made.area_m2 / 1e6 == pytest.approx(geodesic_km2(reference), rel=0.01)
    buffered = derive("buffer", [fiji], km=5)
    assert buffered.geometry[0] == "multipolygon" and buffered.split_at_180
    assert buffered.area_m2 > made.area_m2


def reference_buffer_km2(line: list[tuple[float, float]], km: float) -> float:
    """A buffer made only with the reference libraries: pyproj's CRS to an aeqd projection,
    Shapely's buffer there, back to degrees, Geod's geodesic area."""
    lat0, lon0 = np.mean(line, axis=0)
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84")
    there = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    drawn = shapely.LineString([(lon, lat) for lat, lon in line])
    made = shapely.transform(drawn, lambda xy: np.column_stack(there.transform(xy[:, 0], xy[:, 1])))
    grown = made.buffer(km * 1000, quad_segs=16)
    assert isinstance(grown, shapely.Polygon) and len(grown.interiors) == 1
    degrees = shapely.transform(grown, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    return geodesic_km2(degrees)


def test_a_buffer_around_a_loop_is_one_polygon_with_a_hole_of_the_right_area() -> None:
    lons, lats, _ = GEOD.fwd(
        np.full(181, 10.0), np.full(181, 52.0), np.linspace(0, 360, 181), np.full(181, 20_000.0)
    )
    loop = [(float(lat), float(lon)) for lat, lon in zip(lats, lons, strict=True)]
    made = derive("buffer", [Feature("loop", "polyline", tuple(loop))], km=5)
    kind, coords = made.geometry
    assert kind == "polygon" and made.holes == 1 and len(coords) == 2
    assert made.area_m2 / 1e6 == pytest.approx(reference_buffer_km2(loop, 5), rel=0.01)
    assert made.area_m2 / 1e6 == pytest.approx(4 * math.pi * 20 * 5, rel=0.01)  # an annulus


def test_a_difference_with_a_hole_matches_shapely_and_pyproj() -> None:
    outer = Feature("o", "rectangle", ((40.0, 10.0), (42.0, 12.0)))
    inner = Feature("i", "circle", (41.0, 11.0), radius=30_000.0)
    made = derive("difference", [outer, inner])
    assert made.geometry[0] == "polygon" and made.holes == 1
    box = shapely.segmentize(shapely.box(10, 40, 12, 42), 0.01)  # its edges follow parallels
    lons, lats, _ = GEOD.fwd(np.full(360, 11.0), np.full(360, 41.0), np.arange(360.0), np.full(360, 30_000.0))
    reference = box.difference(shapely.Polygon(np.column_stack([lons, lats])))
    assert made.area_m2 / 1e6 == pytest.approx(geodesic_km2(reference), rel=0.01)


def test_every_country_is_indexed_whole_as_shapely_reads_its_geojson() -> None:
    raw = countries_geojson("110m")
    features = features_from_geojson(raw, Limits())
    built = geometries(list(features))
    for feature, geometry, item in zip(features, built, raw["features"], strict=True):
        assert feature.id == item["id"]
        assert geometry.normalize().equals_exact(shape(item["geometry"]).normalize(), 1e-9), feature.id


def test_fast_lengths_and_areas_are_core_measures_on_every_country() -> None:
    """PROJ's geodesics (spatial.measure) against geographiclib's (core.measure), every part and
    hole of every 1:110m country, and the kinds with closed forms."""
    features = list(features_from_geojson(countries_geojson("110m"), Limits()))
    features += [
        Feature("c", "circle", (45.0, 7.0), radius=1_000.0),
        Feature("r", "rectangle", ((40.0, 10.0), (42.0, 12.0))),
        Feature("l", "multipolyline", (((0.0, 0.0), (1.0, 1.0)), ((2.0, 2.0), (2.0, 3.0)))),
        Feature("m", "multipoint", ((0.0, 0.0), (1.0, 1.0))),
    ]
    for f in features:
        assert spatial_measure.feature_area(f, "km2") == pytest.approx(
            core_measure.feature_area(f, "km2"), rel=1e-9
        )
        assert spatial_measure.feature_length(f, "km") == pytest.approx(
            core_measure.feature_length(f, "km"), rel=1e-9
        )


@pytest.mark.parametrize("count", [1, 8_191, 8_192, 8_193, 30_000])
def test_points_become_an_array_a_slice_at_a_time_as_in_one_call(count: int) -> None:
    rng = np.random.default_rng(count)
    points = [(float(lat), float(lon)) for lat, lon in rng.uniform(-90, 90, (count, 2))]
    assert np.array_equal(shapes._lon_lat(points), np.array(points, dtype=float)[:, ::-1])
