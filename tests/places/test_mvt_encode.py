"""mapsrv's own MVT encoder (``mapsrv.places.mvt_encode``, written for speed) against
``mapbox-vector-tile``'s on the same generated layers: both tiles, decoded by
``mapbox-vector-tile``'s decoder, hold the same geometries and properties; and the spec's rules
the encoder owns (winding, collapsed parts) on their own."""

from __future__ import annotations

import itertools
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, shape

from mapsrv.places.mvt_encode import encode_tile, encode_tiles

# whole units with a little noise, never near .5: both encoders round alike
coordinate = st.integers(-200, 4300).map(float) | st.integers(-200, 4300).map(lambda v: v + 0.2)


@st.composite
def boxes(draw: Any) -> Polygon:
    x, y = draw(st.integers(-100, 4000)), draw(st.integers(-100, 4000))
    w, h = draw(st.integers(12, 300)), draw(st.integers(12, 300))
    outer = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    if draw(st.booleans()):
        outer.reverse()  # either winding comes in: the encoder orients it
    if draw(st.booleans()):
        hole = [(x + 3, y + 3), (x + w - 3, y + 3), (x + w - 3, y + h - 3), (x + 3, y + h - 3)]
        return Polygon(outer, [hole])
    return Polygon(outer)


@st.composite
def lines(draw: Any) -> LineString:
    points = draw(st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=12, unique=True))
    rounded = [(round(x), round(y)) for x, y in points]
    if any(a == b for a, b in zip(rounded, rounded[1:], strict=False)):  # noqa: RUF007
        points = [p for i, p in enumerate(points) if i == 0 or rounded[i] != rounded[i - 1]]
    return LineString(points if len(points) >= 2 else [(0, 0), (5, 5)])


geometries = st.one_of(
    st.tuples(coordinate, coordinate).map(Point),
    st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=5).map(MultiPoint),
    lines(),
    st.lists(lines(), min_size=2, max_size=3).map(MultiLineString),
    boxes(),
    st.lists(boxes(), min_size=2, max_size=3).map(
        lambda ps: MultiPolygon(ps) if MultiPolygon(ps).is_valid else ps[0]
    ),
)
values = st.one_of(
    st.text(max_size=12), st.integers(-(2**40), 2**40), st.booleans(), st.floats(allow_nan=False, width=64)
)
properties = st.dictionaries(st.sampled_from(["name", "kind", "kind_detail", "n", "on"]), values, max_size=4)
layers = st.lists(
    st.tuples(
        st.sampled_from(["roads", "buildings", "water"]),
        st.lists(st.tuples(geometries, properties), max_size=8),
    ),
    max_size=3,
    unique_by=lambda layer: layer[0],
)


def _decoded(tile: bytes) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    out = {}
    for name, layer in mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True}).items():
        out[name] = [(shapely.normalize(shape(f["geometry"])), f["properties"]) for f in layer["features"]]
    return out


@settings(max_examples=120, deadline=None)
@given(layers)
def test_both_encoders_give_the_same_tile(drawn: list[tuple[str, list[tuple[Any, dict[str, Any]]]]]) -> None:
    ours = encode_tile([(name, [g for g, _ in items], [p for _, p in items]) for name, items in drawn])
    reference = mapbox_vector_tile.encode(
        [
            {"name": name, "features": [{"geometry": g, "properties": p} for g, p in items]}
            for name, items in drawn
        ],
        default_options={"y_coord_down": True, "extents": 4096},
    )
    mine, theirs = _decoded(ours), _decoded(reference)
    assert set(mine) == {name for name, items in theirs.items() if items}
    for name, features in mine.items():
        assert len(features) == len(theirs[name])
        for (g1, p1), (g2, p2) in zip(features, theirs[name], strict=True):
            assert g1.equals_exact(g2, 0), (name, g1.wkt, g2.wkt)
            assert p1 == p2


frames = st.tuples(
    st.floats(-2e7, 2e7, allow_nan=False), st.floats(-2e7, 2e7, allow_nan=False), st.floats(0.01, 100.0)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(layers, frames), min_size=1, max_size=4))
def test_tiles_in_frames_are_the_tiles_of_their_geometries_moved_into_them(
    tiles: list[tuple[list[tuple[str, list[tuple[Any, dict[str, Any]]]]], tuple[float, float, float]]],
) -> None:
    """A tile's frame (left, top, units per metre) takes its features into its units, as moving
    each geometry there first (``shapely.transform``, y down) does: the same bytes, tile by tile,
    with several tiles (and frames) encoded together."""

    def outside(frame: tuple[float, float, float]) -> Any:  # the tile's units back to its metres
        left, top, scale = frame
        return lambda c: np.column_stack((c[:, 0] / scale + left, top - c[:, 1] / scale))

    def inside(frame: tuple[float, float, float]) -> Any:
        left, top, scale = frame
        return lambda c: np.column_stack(((c[:, 0] - left) * scale, (top - c[:, 1]) * scale))

    placed, moved = [], []
    for drawn, frame in tiles:
        metres = [
            (n, [shapely.transform(g, outside(frame)) for g, _ in items], [p for _, p in items])
            for n, items in drawn
        ]
        placed.append(metres)
        moved.append([(n, [shapely.transform(g, inside(frame)) for g in gs], ps) for n, gs, ps in metres])
    framed = encode_tiles(placed, frames=[frame for _, frame in tiles])
    assert framed == encode_tiles(moved)
    assert framed == [encode_tile(layers) for layers in moved]


def _rings(tile: bytes) -> list[float]:
    """Each ring's signed area by the spec's surveyor's formula, read from the raw commands."""
    from mapsrv.image.vector_tiles import _fields, _geometry

    areas = []
    for number, layer in _fields(tile, 0, len(tile)):
        assert number == 3 and isinstance(layer, tuple)
        for field, feature in _fields(tile, *layer):
            if field != 2 or not isinstance(feature, tuple):
                continue
            for part, span in _fields(tile, *feature):
                if part == 4 and isinstance(span, tuple):
                    for ring in _geometry(tile, span):
                        areas.append(
                            sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
                        )
    return areas


def test_exteriors_are_positive_and_holes_negative_whichever_way_they_came() -> None:
    outer = [(0, 0), (0, 100), (100, 100), (100, 0)]
    hole = [(10, 10), (90, 10), (90, 90), (10, 90)]
    for o, h in ((outer, hole), (outer[::-1], hole[::-1])):
        areas = _rings(encode_tile([("buildings", [Polygon(o, [h])], [{}])]))
        assert len(areas) == 2 and areas[0] > 0 > areas[1]


def test_parts_that_rounding_collapses_are_left_out() -> None:
    tiny = Polygon([(1.1, 1.1), (1.3, 1.1), (1.3, 1.3)])  # one unit once rounded
    dot = LineString([(5.1, 5.1), (5.2, 5.2)])
    assert encode_tile([("buildings", [tiny], [{"kind": "building"}]), ("roads", [dot], [{}])]) == b""
    kept = MultiPolygon([tiny, Polygon([(0, 0), (50, 0), (50, 50)])])
    decoded = _decoded(encode_tile([("buildings", [kept], [{"kind": "building"}])]))
    assert [g.geom_type for g, _ in decoded["buildings"]] == ["Polygon"]
