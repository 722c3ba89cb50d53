"""Vector tiles drawn for ``map_image`` (``mapsrv.image.vector_tiles``), from tiles the tests'
own MVT encoder wrote: the square where it is, in its source layer's colour, filled at half
opacity; drawn larger and moved past the archive's max zoom; bytes that are not a tile refused."""

from __future__ import annotations

import pytest
from support.pmtiles_archives import mvt_square

from mapsrv.image.vector_tiles import draw_vector_tile, layer_color


def test_a_square_is_drawn_where_it_is_in_its_layers_colour() -> None:
    # a square over the lower-right quarter of the world tile
    tile = draw_vector_tile(mvt_square("squares", 0, 0, 0, (0.0, -85.0511, 180.0, 0.0)))
    inside, outside = tile.getpixel((192, 192)), tile.getpixel((64, 64))
    assert inside == (*layer_color("squares"), 128), "filled at half opacity"
    assert outside == (0, 0, 0, 0)


def test_past_the_max_zoom_the_part_under_the_tile_is_drawn_larger() -> None:
    data = mvt_square("squares", 0, 0, 0, (0.0, -85.0511, 180.0, 0.0))
    # zoom 1's tile 1/1: the square fills it whole; tile 0/0 holds none of it
    assert draw_vector_tile(data, 2, (256, 256)).getpixel((10, 10))[3] == 128
    assert draw_vector_tile(data, 2, (0, 0)).getpixel((200, 200))[3] == 0


@pytest.mark.parametrize("data", [b"\x1a\xff", b"\x1a\x05\x0a\x10ab", b"\x1f"])
def test_bytes_that_are_not_a_tile_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="mvt: "):
        draw_vector_tile(data)


def test_colours_differ_between_layers_and_stay_for_a_name() -> None:
    names = ["roads", "water", "buildings", "places", "landuse"]
    assert len({layer_color(n) for n in names}) >= 4
    assert layer_color("roads") == layer_color("roads")
