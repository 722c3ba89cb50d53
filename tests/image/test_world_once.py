"""The picture fits the data (issue 58): a choropleth of every country in map_image shows the world
once, framed on the data (the page's whole zoom would show it 1.5 to 2.5 times side by side,
the data on the middle copy), with map tiles drawn at the next whole zoom and scaled to it; a
smaller area keeps the page's view; and every source shown is credited in the corner, the legend
kept above the credits however many lines they take."""

from __future__ import annotations

import io
from typing import Any

import trio
from PIL import Image
from support.sources import http_answer, png_tile, serve_source

from mapsrv.core import Feature, Layer, Limits, MapState, apply_all
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerStyle
from mapsrv.image.paths import feature_bounds
from mapsrv.image.projection import TILE
from mapsrv.image.render import NATURAL_EARTH, OSM, ImageRequest, render
from mapsrv.image.service import MapImages
from mapsrv.image.text import attribution_lines
from mapsrv.places.world import countries

TILE_COLOR = (255, 0, 255)


def world(extra_layers: tuple[Layer, ...] = ()) -> MapState:
    """Natural Earth's countries (1:110m), one feature each, in Jenks classes of a made-up number."""
    features = []
    for i, country in enumerate(countries("110m")):
        coords = tuple(
            tuple(tuple((lat, lon) for lon, lat in ring[:-1]) for ring in polygon if len(ring) > 3)
            for polygon in country.polygons
            if len(polygon[0]) > 3
        )
        props = (("gdp", (i * 7919) % 90_000 + 500), ("name", country.name))
        features.append(Feature(f"c{i}", "multipolygon", coords, layer="countries", properties=props))
    ops: list[Any] = [AddLayer("countries", "GDP per head"), ImportFeatures(tuple(features))]
    ops.append(SetLayerStyle("countries", {"by": "gdp", "method": "jenks", "classes": 5}))
    state, _ = apply_all(MapState("m", title="World"), ops, Limits())
    layers = {**state.layers, **{layer.id: layer for layer in extra_layers}}
    return MapState(state.id, state.version, state.title, state.view, layers, state.features, state.seq)


def test_a_world_choropleth_shows_the_world_once_framed_on_the_data() -> None:
    state = world()
    s, w, n, e = feature_bounds(state.features.values()) or (0, 0, 0, 0)
    assert w < -179 and e > 179, "the data spans the world"
    for width, height in ((1200, 600), (800, 600), (1280, 720), (1280, 400)):
        rendered = render(state, ImageRequest(width=width, height=height))
        view = rendered.view
        assert view.height == height and view.width <= width
        assert view.width <= TILE * 2**view.zoom, (width, height, view)  # no second copy beside it
        _, west, _, east = view.bounds()
        assert -180.5 <= west and east <= 180.5, (width, height, view.bounds())
        x0, y0 = view.pixel(n, w)
        x1, y1 = view.pixel(s, e)
        assert -1 <= x0 and x1 <= view.width + 1 and -1 <= y0 and y1 <= view.height + 1, "the data is all in"
        assert x1 - x0 >= 0.9 * view.width or y1 - y0 >= 0.75 * view.height, "and fills the frame"
        assert Image.open(io.BytesIO(rendered.png)).size == (view.width, height)
        assert f"{view.width}x{height} px" in rendered.caption


def test_an_area_keeps_the_pages_whole_zoom_and_the_size_asked() -> None:
    spain = next(c for c in countries("110m") if c.name == "Spain")
    ring = tuple((lat, lon) for lon, lat in spain.polygons[0][0][:-1])
    state = MapState("m", 1, "", None, features={"es": Feature("es", "polygon", ring)})
    rendered = render(state, ImageRequest(width=1200, height=600))
    assert rendered.view.zoom == int(rendered.view.zoom) and rendered.view.width == 1200


async def test_tiles_at_a_zoom_between_two_are_the_next_zooms_scaled(nursery: trio.Nursery) -> None:
    asked: list[str] = []

    async def tiles(target: str, stream: trio.SocketStream) -> None:
        asked.append(target)
        await stream.send_all(http_answer("200 OK", png_tile(TILE_COLOR), "image/png"))

    port = await serve_source(nursery, tiles)
    images = MapImages(f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png", attribution="© Tiles & Co")
    rendered = await images.render(world(), ImageRequest(width=1200, height=600))
    view = rendered.view
    assert view.zoom != int(view.zoom) and rendered.basemap == "tiles"
    zooms = {int(path.split("/")[1]) for path in asked}
    assert zooms == {view.tile_zoom}, asked
    assert len(asked) == len(set(asked)) <= (2**view.tile_zoom) ** 2
    picture = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    x, y = view.pixel(0.0, -150.0)  # the Pacific: a tile there, scaled
    pacific = picture.getpixel((round(x), round(y)))
    assert all(abs(a - b) <= 12 for a, b in zip(pacific, TILE_COLOR, strict=True)), pacific
    assert rendered.credits == ("© Tiles & Co",) and "credits: © Tiles & Co" in rendered.caption


def test_every_source_is_credited_and_the_legend_stays_above_the_credits() -> None:
    long = "© " + "Very Long Survey Office of Somewhere " * 4
    layers = (
        Layer(
            "ortho",
            "Ortho",
            source={
                "type": "xyz",
                "url": "https://a.example/{z}/{x}/{y}.png",
                "attribution": "© Ortho Example",
                "opacity": 1.0,
            },
        ),
        Layer(
            "rivers",
            "Rivers",
            source={
                "type": "wms",
                "url": "https://b.example/ows",
                "layers": "r",
                "attribution": long,
                "opacity": 1.0,
            },
        ),
        Layer(
            "hidden",
            "Hidden",
            visible=False,
            source={"type": "xyz", "url": "https://c.example/{z}/{x}/{y}", "attribution": "© Not Shown"},
        ),
        Layer(
            "again",
            "Again",
            source={"type": "xyz", "url": "https://d.example/{z}/{x}/{y}", "attribution": "© Ortho Example"},
        ),
    )
    state = world(layers)
    one_line = render(world(), ImageRequest(width=400, height=300))
    rendered = render(state, ImageRequest(width=400, height=300))
    assert one_line.credits == (NATURAL_EARTH,)
    assert rendered.credits == (NATURAL_EARTH, "© Ortho Example", long.strip())
    assert rendered.legend is not None and one_line.legend is not None
    # two lines, the long credit cut to one: the legend moved up a line, and covers none of them
    width = rendered.view.width  # the world once: narrower than asked
    lines = attribution_lines(rendered.credits, width - 8)
    assert lines == ["Natural Earth | © Ortho Example", lines[1]] and lines[1].endswith("…")
    assert rendered.legend[3] <= 300 - 2 * 12 < one_line.legend[3]
    picture = Image.open(io.BytesIO(rendered.png)).convert("RGB")
    strip = [picture.getpixel((x, 299 - 2)) for x in range(width // 2, width)]
    assert sum(p[0] > 200 and p[1] > 200 and p[2] > 200 for p in strip) > width // 4, "the credits' light box"
    assert render(world(), ImageRequest(width=400, height=300)).credits == (NATURAL_EARTH,)
    assert OSM.startswith("©")
