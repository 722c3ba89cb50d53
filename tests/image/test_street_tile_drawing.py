"""The street basemap drawn for ``map_image`` (``mapsrv.image.streets``) from tiles another
encoder wrote (``mapbox_vector_tile``, in Protomaps' schema): each thing in the style's colour
where it is, holes left open, the zoom thresholds kept, drawn larger past the max zoom, and the
label rule the page keeps too (boxes inside the tile and apart, a road's name on a segment long
enough for it, once, never upside down)."""

from __future__ import annotations

from itertools import combinations

import pytest
from shapely.geometry import LineString, Point
from support.street_tiles import ROAD, city_tile, encode, small_tile

from mapsrv.image.street_labels import along, clip, segments
from mapsrv.image.street_style import rgb, street_style
from mapsrv.image.streets import draw_street_tile
from mapsrv.image.vector_tiles import decode, draw_vector_tile

STYLE = street_style()
EARTH = rgb(STYLE["earth"])
BUILDING = rgb(STYLE["buildings"]["fill"])
HIGHWAY = rgb(STYLE["roads"]["highway"]["fill"])


def _near(pixel: tuple[int, ...], color: tuple[int, ...], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


def test_each_thing_is_drawn_where_it_is_in_the_styles_colour() -> None:
    tile = draw_street_tile(encode(small_tile("highway")), 16)
    image = tile.image
    assert image.size == (256, 256) and image.mode == "RGBA"
    assert _near(image.getpixel((20, 128)), HIGHWAY), "the road's fill along y = 128"
    assert _near(image.getpixel((35, 35)), BUILDING), "the building's fill"
    assert _near(image.getpixel((62, 62)), EARTH), "its courtyard (a hole) left open"
    assert _near(image.getpixel((60, 200)), rgb(STYLE["water"]["fill"])), "the lake"
    assert _near(image.getpixel((200, 200)), rgb(STYLE["landuse"]["park"])), "the park"
    assert _near(image.getpixel((125, 60)), rgb(STYLE["water"]["line"]), 40), "the stream at x = 125"
    assert _near(image.getpixel((240, 240)), EARTH)
    assert {"Rue Lepic", "Abbesses"} <= set(tile.labels)


def test_the_buildings_drawn_area_is_its_area_in_tile_pixels() -> None:
    layers = small_tile()
    courtyard = layers["buildings"][0][0]
    tile = draw_street_tile(encode(layers), 16).image
    drawn = sum(1 for x in range(0, 110) for y in range(0, 110) if not _near(tile.getpixel((x, y)), EARTH, 4))
    expected = courtyard.area * (256 / 4096) ** 2  # 5000 px
    assert drawn == pytest.approx(expected, rel=0.04)


def test_at_zoom_12_no_building_and_no_minor_road_or_its_name() -> None:
    tile = draw_street_tile(encode(small_tile("minor_road")), 12)
    assert _near(tile.image.getpixel((35, 35)), EARTH), "buildings start at zoom 14"
    assert _near(tile.image.getpixel((20, 128)), EARTH), "minor roads start at zoom 13"
    assert "Rue Lepic" not in tile.labels
    at_15 = draw_street_tile(encode(small_tile("minor_road")), 15)
    assert "Rue Lepic" in at_15.labels and not _near(at_15.image.getpixel((35, 35)), EARTH)


def test_house_numbers_from_zoom_17() -> None:
    assert "12" not in draw_street_tile(encode(small_tile()), 16).labels
    assert "12" in draw_street_tile(encode(small_tile()), 17).labels


def test_past_the_max_zoom_the_road_still_crosses_the_tile() -> None:
    data = encode(small_tile("highway"))
    # scale 4: the road, at y = 512, lies at y = 128 of the deeper tile 1/3 of the 4 x 4
    tile = draw_street_tile(data, 18, 4, (256, 384))
    for x in (3, 60, 200, 252):
        assert _near(tile.image.getpixel((x, 128)), HIGHWAY), x
    assert _near(tile.image.getpixel((128, 40)), EARTH)


def test_label_boxes_lie_inside_the_tile_and_apart() -> None:
    for zoom, least in ((15, 3), (16, 5), (17, 20)):
        tile = draw_street_tile(city_tile(7, 2 ** (18 - zoom)), zoom)
        assert len(tile.labels) == len(tile.boxes) >= least
        for x0, y0, x1, y1 in tile.boxes:
            assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256
        for a, b in combinations(tile.boxes, 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_a_name_too_long_for_any_straight_run_is_not_drawn() -> None:
    long_name = "Boulevard de la Grande Armée et des Maréchaux de France"
    assert "Boulevard" not in " ".join(
        draw_street_tile(encode(small_tile("major_road", long_name)), 16).labels
    )
    layers = small_tile("major_road", "Rue Lepic")
    # the same line in 40 px segments: one straight run, long enough for its name
    straight = LineString([(x, 2048) for x in range(0, 4097, 640)])
    layers["roads"] = [(straight, {"kind": "major_road", "name": "Rue Lepic"})]
    assert "Rue Lepic" in draw_street_tile(encode(layers), 16).labels
    # zigzagging 8 px either way: no run stays within 2 px of its chord, no segment is long enough
    zigzag = LineString([(x, 2048 + (128 if i % 2 else -128)) for i, x in enumerate(range(0, 4097, 640))])
    layers["roads"] = [(zigzag, {"kind": "major_road", "name": "Rue Lepic"})]
    assert "Rue Lepic" not in draw_street_tile(encode(layers), 16).labels


def test_a_roads_name_is_drawn_once_and_a_label_is_never_cut_at_the_edge() -> None:
    layers = small_tile("major_road")
    layers["roads"].append(
        (LineString([(0, 3000), (4096, 3000)]), {"kind": "major_road", "name": "Rue Lepic"})
    )
    layers["places"].append((Point(30, 1000), {"kind": "neighbourhood", "name": "Clichy"}))
    tile = draw_street_tile(encode(layers), 16)
    assert tile.labels.count("Rue Lepic") == 1
    assert "Clichy" not in tile.labels, "its box would cross the tile's left edge"


@pytest.mark.parametrize(
    ("line", "angle"),
    [
        ([(200, 100), (20, 100)], 0.0),  # drawn right to left: still reads left to right
        ([(100, 20), (100, 200)], 90.0),
        ([(100, 200), (100, 20)], 90.0),
        ([(20, 200), (200, 20)], -45.0),
        ([(200, 20), (20, 200)], -45.0),
        ([(200, 200), (20, 20)], 45.0),
    ],
)
def test_a_roads_name_never_reads_upside_down(line: list[tuple[float, float]], angle: float) -> None:
    label = along("Rue Lepic", 11, "#000000", segments([line], 256))
    assert label is not None and label.angle == pytest.approx(angle)
    assert (label.x, label.y) == pytest.approx(((line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2))


def test_properties_are_read_and_the_overlay_still_draws() -> None:
    data = encode({"roads": [(ROAD, {"kind": "highway", "lanes": 4, "width": 7.5, "oneway": True, "z": -3})]})
    (layer,) = decode(data)
    assert layer.name == "roads" and layer.extent == 4096
    assert layer.features[0].properties == {
        "kind": "highway",
        "lanes": 4,
        "width": 7.5,
        "oneway": True,
        "z": -3,
    }
    assert draw_vector_tile(data).getpixel((20, 128))[3] == 255


@pytest.mark.parametrize("data", [b"\x1a\xff", b"\x1a\x05\x0a\x10ab", b"\x1f"])
def test_bytes_that_are_not_a_tile_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="mvt: "):
        draw_street_tile(data, 16)


def test_past_the_max_zoom_a_roads_name_goes_on_its_piece_in_the_tile() -> None:
    layers = small_tile("major_road")
    layers["roads"] = [(ROAD, {"kind": "major_road", "name": "Rue Lepic"})]
    # scale 4: the one segment crosses four deeper tiles; each draws the name on its own piece
    for column in range(4):
        tile = draw_street_tile(encode(layers), 18, 4, (256 * column, 384))
        assert "Rue Lepic" in tile.labels, column
        ((x0, _, x1, _),) = tile.boxes
        assert x0 + x1 == pytest.approx(256), "centred on the piece inside the tile"


def test_a_segment_is_cut_to_the_tile() -> None:
    assert clip((-100, 50), (100, 50), 256) == ((0, 50), (100, 50))
    assert clip((-100, -100), (356, 356), 256) == ((0, 0), (256, 256))
    assert clip((300, 0), (300, 256), 256) is None


def test_a_gently_curving_road_carries_its_name() -> None:
    """A road drawn as 40 px segments along a gentle curve (the whole curve bows 5 px from its
    chord): no single segment is long enough for its name, a run of them is."""
    layers = small_tile("major_road", "Rue Lepic")
    bend = LineString([(x, 2048 + 2e-5 * (x - 2048) ** 2) for x in range(0, 4097, 640)])
    layers["roads"] = [(bend, {"kind": "major_road", "name": "Rue Lepic"})]
    assert "Rue Lepic" in draw_street_tile(encode(layers), 16).labels
