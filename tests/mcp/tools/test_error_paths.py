"""Every validation error path an agent can reach teaches: its message names the field, the value
given, the valid range or form, and (after the value) what to do.

``CASES`` triggers each path once; ``test_every_raise_is_a_case`` reads the modules' source for
every ``raise`` of a validation error and fails, by file and line, on one no case reaches. A new
error path therefore needs a case here, with its three parts.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import http.server
import tempfile
import threading
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import shapely
from support.place_extract import write_place_extract

import mapsrv
from mapsrv.core import Feature, geometry
from mapsrv.core.classify import breaks
from mapsrv.core.colorbrewer import palette
from mapsrv.core.geojson import features_from_geojson
from mapsrv.core.layer_source import check_layer_source
from mapsrv.core.layer_style import check_layer_style
from mapsrv.core.measure import area, bbox, bearing, distance
from mapsrv.core.model import (
    MAX_DEPTH,
    MAX_PROPERTIES,
    Limits,
    check_bounds,
    check_geometry,
    check_latlon,
    check_members,
    check_properties,
    check_series,
    check_zoom,
)
from mapsrv.core.numbers import format_number
from mapsrv.core.parse import parse_op, parse_ops
from mapsrv.core.style import check_color, check_style, check_symbol
from mapsrv.core.values import check_id, check_number, check_text, number
from mapsrv.errors import InvalidInput, MapsrvError, NotFound
from mapsrv.http.fetch import SourcePolicy
from mapsrv.hub import MapHub
from mapsrv.hub.upload_slots import upload_slots
from mapsrv.mcp.tools import TOOLS, ToolContext, files
from mapsrv.mcp.tools.area_items import outline_of
from mapsrv.mcp.tools.arguments import Arguments
from mapsrv.mcp.tools.drawing import draw, edit, remove
from mapsrv.mcp.tools.maps import list_maps, set_view
from mapsrv.mcp.tools.measuring import measure
from mapsrv.mcp.tools.pages import cursor_for
from mapsrv.mcp.tools.places import find_places, nearest_place
from mapsrv.mcp.tools.reading import read
from mapsrv.mcp.tools.routing import along, reachable, travel_times
from mapsrv.mcp.tools.sources import add_layer
from mapsrv.mcp.tools.spatial import derive, select
from mapsrv.mcp.tools.styling import style_layer
from mapsrv.places import find_places as search
from mapsrv.places import resolve_places
from mapsrv.places.offline import OfflineIndex
from mapsrv.places.offline_import import import_extract
from mapsrv.places.service import PlaceService
from mapsrv.routing import Route, ValhallaRouter
from mapsrv.spatial import derive as derive_shapes

# Where the mapsrv that runs lives: the checkout, or site-packages when tox tests the wheel.
ROOT = Path(mapsrv.__file__).resolve().parent.parent
MODULES = [
    "mapsrv/core/values.py",
    "mapsrv/core/style.py",
    "mapsrv/core/model.py",
    "mapsrv/core/geometry.py",
    "mapsrv/core/geojson.py",
    "mapsrv/core/parse.py",
    "mapsrv/core/measure.py",
    "mapsrv/core/layer_style.py",
    "mapsrv/core/style_checks.py",
    "mapsrv/core/layer_source.py",
    "mapsrv/core/classify.py",
    "mapsrv/core/layer_properties.py",
    "mapsrv/core/numbers.py",
    "mapsrv/places/search.py",
    "mapsrv/spatial/derive.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "mapsrv" / "mcp" / "tools").glob("*.py"))),
]
ERRORS = {"InvalidInput", "PayloadTooLarge", "PlaceNotFound", "unknown"}
L = Limits()
DEEP: list[Any] = []  # a value nested one level past MAX_DEPTH
for _ in range(MAX_DEPTH):
    DEEP = [DEEP]
PARIS, LONDON = (48.8566, 2.3522), (51.5074, -0.1278)
MAP = "MAP"  # replaced by a real map id in the test
POINT = {"type": "Point", "coordinates": [2, 1]}
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


STYLED = [
    Feature("t1", "marker", (1.0, 2.0), properties=(("kind", "town"), ("pop", 10))),
    Feature("t2", "marker", (1.0, 3.0), properties=(("kind", "city"), ("pop", 99))),
]


def style(raw: Any) -> Any:
    return check_layer_style(raw, STYLED, "towns")


def source(**raw: Any) -> Any:
    return check_layer_source({"type": "xyz", "url": "https://t.example/{z}/{x}/{y}.png", **raw})


def archive(**raw: Any) -> Any:
    """A PMTiles source as add_layer keeps it, with ``raw`` in place of what its header said."""
    facts = {"tiles": "raster", "format": "png", "minzoom": 0, "maxzoom": 4, "bounds": [-180, -85, 180, 85]}
    return check_layer_source({"type": "pmtiles", "url": "https://a.example/o.pmtiles", **facts, **raw})


@functools.cache
def html_page() -> str:
    """A local page that answers HTML where a GeoJSON was asked for (a thread, started once)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "22")
            self.end_headers()
            self.wfile.write(b"<html>not a map</html>")

        def log_message(self, *args: Any) -> None:
            pass

    page = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{page.server_address[1]}/layer.geojson"


def allowing_local(tc: ToolContext) -> ToolContext:
    return dataclasses.replace(tc, sources=SourcePolicy.of(("127.0.0.1",), deadline=5.0))


def nested_collections(depth: int) -> dict[str, Any]:
    nested: dict[str, Any] = {"type": "Point", "coordinates": [0, 0]}
    for _ in range(depth):
        nested = {"type": "GeometryCollection", "geometries": [nested]}
    return nested


def gj(geometry: Any, **feature: Any) -> Callable[[], Any]:
    return lambda: features_from_geojson({"type": "Feature", "geometry": geometry, **feature}, L)


def items(*raw: Any, **extra: Any) -> Callable[[ToolContext], Awaitable[Any]]:
    return lambda tc: draw(tc, list(raw), map_id=MAP, **extra)


async def reshaped_by_points(tc: ToolContext) -> None:
    pair = {"type": "MultiPoint", "coordinates": [[2, 1], [3, 1]]}
    await draw(tc, [{"geometry": pair, "id": "pair"}], map_id=MAP)
    await edit(tc, MAP, [{"id": "pair", "points": [[1, 2], [1, 3]]}])


def drawn(tool: Callable[..., Awaitable[Any]], **arguments: Any) -> Callable[[ToolContext], Awaitable[Any]]:
    """``tool`` on MAP once it holds a marker ``p`` and a rectangle ``r``."""

    async def run(tc: ToolContext) -> Any:
        await draw(tc, [{"at": [1, 1], "id": "p"}, {"bounds": [[0, 0], [2, 2]], "id": "r"}], map_id=MAP)
        return await tool(tc, MAP, **arguments)

    return run


POINT = Feature("p", "marker", (1.0, 1.0))
AREA = Feature("a", "rectangle", ((0.0, 0.0), (1.0, 1.0)))


def sdk(tool: str, /, **arguments: Any) -> Callable[[], Any]:
    """The arguments of a call as the SDK hands them over, checked as a tool checks them."""
    spec = next(spec for spec in TOOLS if spec.name == tool)
    return lambda: Arguments.of(spec.function).validate(arguments)


@functools.cache
def _lisbon_index() -> Path:
    """support/place_extract.py's Lisbon, imported once into a directory of its own."""
    folder = Path(tempfile.mkdtemp(prefix="mapsrv-error-paths-"))
    write_place_extract(folder / "lisbon.osm.pbf")
    import_extract(folder / "lisbon.osm.pbf", folder, "lisbon")
    return folder


def indexed(tc: ToolContext) -> ToolContext:
    """``tc`` with an offline index of a real extract as its one place source."""
    return dataclasses.replace(tc, places=PlaceService([OfflineIndex(_lisbon_index())]))


# (call, field, value as the message shows it, the valid range or form)
CASES: list[tuple[Callable[..., Any], str, str, str]] = [
    # core values
    (lambda: check_number("weight", "x", 0, 20), "weight", "'x'", "a number"),
    (lambda: number("lat", 10**400), "lat", "401-digit", "a finite number"),
    (lambda: number("lat", float("nan")), "lat", "nan", "a finite number"),
    (lambda: check_number("weight", 30, 0, 20), "weight", "30", "between 0 and 20"),
    (lambda: check_id("layer", "bad id!"), "layer id", "'bad id!'", "1-64 characters"),
    (lambda: check_text("label", 5, 200), "label", "5", "a string"),
    (lambda: check_text("label", "x" * 201, 200), "label", "201", "at most 200 characters"),
    (lambda: check_text("label", "\ud800", 200), "label", "'\\ud800'", "valid text"),
    # core style
    (lambda: check_color("color", "blurple"), "color", "'blurple'", "#rgb, #rrggbb or a CSS colour name"),
    (lambda: check_symbol("four"), "symbol", "'four'", "1-3 letters or digits, or one emoji"),
    (lambda: check_style(5), "style", "int", "an object"),
    (lambda: check_style({"dash": "x"}), "style dash", "'x'", "numbers separated by spaces"),
    (lambda: check_style({"glow": 1}), "style key", "'glow'", "one of color, weight"),
    # core model
    (lambda: check_latlon("at", "x"), "at", "'x'", "a [lat, lon] pair"),
    (lambda: check_latlon("at", [123, 45]), "at latitude", "123", "between -90 and 90"),
    (lambda: check_latlon("at", [10, 200]), "at longitude", "200", "between -180 and 180"),
    (lambda: check_bounds("bounds", "ab"), "bounds", "'ab'", "[[south, west], [north, east]]"),
    (lambda: check_bounds("bounds", [[10, 0], [0, 1]]), "bounds south", "10", "at most north"),
    (lambda: check_bounds("bounds", [[0, 5], [1, 2]]), "bounds west", "5", "at most east"),
    (lambda: check_zoom(40, L), "zoom", "40", "between 0 and 22"),
    (lambda: check_geometry("polyline", "ab", None, L), "coords", "'ab'", "a list of [lat, lon] points"),
    (lambda: check_geometry("polyline", [[0, 0]] * 100_001, None, L), "coords", "100001", "at most 100000"),
    (lambda: check_geometry("polygon", [[0, 0], [1, 1]], None, L), "coords", "2", "at least 3 points"),
    (lambda: check_geometry("hexagon", [0, 0], None, L), "feature type", "'hexagon'", "one of marker"),
    (lambda: check_geometry("circle", [0, 0], None, L), "radius", "none", "a number of metres"),
    (lambda: check_geometry("marker", [0, 0], 5, L), "radius", "5", "left out for a marker"),
    (lambda: check_properties([1], L), "properties", "[1]", "an object"),
    # core geometry
    (lambda: check_geometry("polyline", [[[0, 0]]], None, L), "coords[0]", "[[0, 0]]", "a [lat, lon] pair"),
    (lambda: check_geometry("multipolygon", [[]], None, L), "coords[0]", "none", "at least 1 ring"),
    (
        lambda: check_geometry("multipolygon", [[[0, 0], [0, 1], [1, 1]]], None, L),
        "coords[0]",
        "[[0, 0], [0, 1], [1, 1]]",
        "a list of rings",
    ),
    (lambda: check_geometry("multipolyline", [], None, L), "coords", "none", "at least 1 part"),
    (lambda: check_geometry("collection", [5], None, L), "coords[0]", "5", "an object"),
    (
        lambda: check_geometry("collection", [{"type": "collection", "coords": []}], None, L),
        "coords[0] type",
        "'collection'",
        "one of marker",
    ),
    (
        lambda: check_geometry("collection", [{"type": "circle", "coords": [0, 0]}], None, L),
        "coords[0] type",
        "'circle'",
        "one of marker",
    ),
    (lambda: geometry.check("hexagon", [0, 0], 10), "geometry type", "'hexagon'", "one of marker"),
    (
        lambda: parse_op({"op": "update_feature", "id": "p", "type": "hexagon"}, L),
        "feature type",
        "'hexagon'",
        "one of marker",
    ),
    # files
    (lambda: files._decode("@@@@", "kmz"), "content", "'@@@@'", "base64 for a KMZ"),
    (lambda tc: files.import_file(tc), "give the file one way", "got none", "path (a file on this machine)"),
    (lambda tc: files.import_file(tc, upload=True, snap="car"), "snap", "'car'", "import without snap"),
    (lambda tc: files.import_file(tc, upload="h", layer="x"), "upload: <handle>", "got layer", "no file"),
    (lambda tc: redeemed_elsewhere(tc), "upload", "got map_id 'elsewhere'", "is for map"),
    (lambda tc: redeemed_expired(tc), "upload", "expired before a file came", "upload: true"),
    (lambda: files._decode("x" * (files.MAX_FILE + 1), "gpx"), "file", "16.0 MiB", "at most 16 MiB"),
    (
        lambda tc: files.import_file(tc, "a,b\n1,2\n", join="layer", layer="x"),
        "join 'layer'",
        "got no map_id",
        "map_id and",
    ),
    (
        lambda tc: files.import_file(tc, "a,b\n1,2\n", join="layer", map_id=MAP, layer="x", simplify=5.0),
        "join 'layer'",
        "got simplify",
        "leave them out",
    ),
    (
        lambda tc: files.import_file(tc, "country,n\nPT,1\n", key="country"),
        "key and country",
        "join",
        "leave them out",
    ),
    (
        lambda: check_properties({str(i): 0 for i in range(MAX_PROPERTIES + 1)}, L),
        "properties",
        str(MAX_PROPERTIES + 1),
        f"at most {MAX_PROPERTIES} keys (MAX_PROPERTIES",
    ),
    (lambda: check_properties({"a\nb": 0}, L), "properties key", "'a\\nb'", "printable characters"),
    (lambda: check_properties({"x": DEEP}, L), "properties.x", "deeper", f"at most {MAX_DEPTH} deep"),
    (
        lambda: check_properties({"x": {"y": "z" * 3000, "w": "z" * 3000}}, L),
        "properties.x",
        "more",
        "as JSON",
    ),
    (lambda: check_properties({"x": {1: "a"}}, L), "properties.x keys", "1", "must be strings"),
    (lambda: check_properties({"x": {1, 2}}, L), "properties.x", "set", "a string, number"),
    (lambda: check_members(["id"], L), "members", "['id']", "must be an object"),
    (
        lambda: check_series("year", "polygon", (("year", 2007),)),
        "series",
        "'year'",
        "holding a list of times",
    ),
    (
        lambda: check_layer_style(
            {"by": "pop", "time": {"property": "when", "from": 1}},
            [
                Feature(
                    "s", "marker", (1.0, 2.0), properties=(("year", (1, 2)), ("pop", (3, 4))), series="year"
                )
            ],
        ),
        "time property",
        "'when'",
        "must be 'year'",
    ),
    (
        lambda: check_series("year", "polyline", (("year", (2007,)),)),
        "series",
        "polyline",
        "areas and points",
    ),
    (lambda: check_properties({"x": float("inf")}, L), "properties.x", "inf", "a finite number"),
    (lambda: check_properties({"x": "y" * 4001}, L), "properties.x", "4001", "at most 4000 characters"),
    # core geojson
    (gj({"type": "Point", "coordinates": [1]}), "coordinates", "[1]", "a [lon, lat] position"),
    (
        gj({"type": "Point", "coordinates": [45, 123]}),
        "coordinates",
        "[45, 123]",
        "[lon, lat] (GeoJSON order)",
    ),
    (gj({"type": "LineString", "coordinates": "x"}), "coordinates", "'x'", "a list of [lon, lat] positions"),
    (gj("x"), "geometry", "'x'", "an object"),
    (gj({"type": "Polygon", "coordinates": "x"}), "coordinates", "'x'", "a list of rings or lines"),
    (gj({"type": "MultiPolygon", "coordinates": "x"}), "coordinates", "'x'", "a list of polygons"),
    (
        lambda: features_from_geojson(
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0]] * 3}},
            Limits(max_points=2),
        ),
        "geojson feature 0",
        "at least 3",
        "at most 2 points",
    ),
    (gj(nested_collections(40)), "geometry", "deeper", "at most 32 deep"),
    (
        gj({"type": "GeometryCollection", "geometries": []}),
        "geometry",
        "an empty GeometryCollection",
        "at least 1 geometry",
    ),
    (gj({"type": "GeometryCollection", "geometries": "x"}), "geometries", "'x'", "a list of geometries"),
    (gj({"type": "Circle", "coordinates": [0, 0]}), "geometry type", "'Circle'", "Point, LineString"),
    (gj({"type": "LineString", "coordinates": [[0, 0]]}), "coords", "got 1", "at least 2 points"),
    (gj({"type": "Point", "coordinates": [0, 0]}, properties=5), "properties", "5", "an object"),
    (lambda: features_from_geojson(5, L), "geojson", "int", "a GeoJSON object"),
    (
        lambda: features_from_geojson({"type": "FeatureCollection", "features": "x"}, L),
        "features",
        "'x'",
        "a list",
    ),
    (
        lambda: features_from_geojson({"type": "Blob"}, L),
        "geojson",
        "'Blob'",
        "a FeatureCollection or Feature",
    ),
    (
        lambda: features_from_geojson({"type": "FeatureCollection", "features": [5]}, L),
        "feature 0",
        "5",
        "Feature",
    ),
    (
        lambda: features_from_geojson(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}}] * 2,
            },
            Limits(max_features=1),
        ),
        "geojson features",
        "2",
        "at most 1",
    ),
    # core parse (the ops endpoint)
    (lambda: parse_ops(5, L), "body", "int", "a JSON object"),
    (
        lambda: parse_ops({"ops": [{"op": "clear"}], "expected_version": "x"}, L),
        "expected_version",
        "'x'",
        "an integer",
    ),
    (
        lambda: parse_ops({"ops": [{"op": "clear"}], "foo": 1}, L),
        "body field",
        "'foo'",
        "ops or expected_version",
    ),
    (lambda: parse_ops({"ops": []}, L), "ops", "[]", "a non-empty list"),
    (lambda: parse_ops({"ops": [{"op": "clear"}] * 1001}, L), "ops", "1001", "at most 1000"),
    (lambda: parse_op(5, L), "op", "5", "a JSON object"),
    (lambda: parse_op({"op": "explode"}, L), "op", "'explode'", "one of set_title"),
    (
        lambda: parse_op({"op": "set_title", "title": "x", "colour": 1}, L),
        "set_title",
        "'colour'",
        "its fields are title",
    ),
    (lambda: parse_op({"op": "set_view", "zoom": 3}, L), "set_view", "'center'", "needs the field"),
    (
        lambda: parse_op({"op": "add_layer", "id": "x", "visible": "yes"}, L),
        "visible",
        "'yes'",
        "true or false",
    ),
    (lambda: parse_op({"op": "remove_features", "ids": "f1"}, L), "ids", "'f1'", "a list of ids"),
    # core measure
    (lambda: distance([PARIS, LONDON], "furlongs"), "length unit", "'furlongs'", "one of m, km, mi"),
    (lambda: distance("Paris"), "points", "'Paris'", "a list of [lat, lon] points"),
    (lambda: distance([PARIS]), "points", "got 1", "at least 2 points"),
    (lambda: area([PARIS, PARIS, LONDON]), "points", "got 2", "at least 3 distinct points"),
    (lambda: bearing(PARIS, PARIS), "end", "48.8566", "differ from start"),
    (lambda: bbox([]), "items", "got 0", "at least 1 point or feature"),
    # places
    (lambda: search("Paris", country=""), "country", "''", "an ISO code (FR, FRA) or a name"),
    (
        lambda: search("Paris", country="Narnia"),
        "country",
        "'Narnia'",
        "an ISO code (FR, FRA) or an English name",
    ),
    (lambda: search(""), "query", "''", "a place name"),
    (lambda: search("x" * 201), "query", "201", "at most 200 characters"),
    (lambda: search("Paris", limit=2.5), "limit", "2.5", "a whole number"),
    (lambda: resolve_places("Paris"), "places", "str", "a list of place names"),
    (lambda: resolve_places([]), "places", "got 0", "1 to 100 names"),
    (lambda: resolve_places(["Paris", ""]), "places[1]", "''", "a place name"),
    (lambda: resolve_places(["Pariss"]), "places[0]", "'Pariss'", "closest names"),
    # tools: arguments
    (sdk("draw", items=[], name="x"), "draw", "'name'", "use one of: items, map_id"),
    (sdk("set_view", map_id="x", zoom="far"), "zoom", "'far'", "a number"),
    # tools: draw items
    (items(5), "items[0]", "5", "an object"),
    (items({"at": [1, 2], "name": "x"}), "items[0]", "'name'", "use one of: at, avoid, bounds"),
    (items({"label": "x"}), "items[0]", "none", "at, points, bounds"),
    (items({"type": "hexagon", "at": [1, 2]}), "items[0].type", "'hexagon'", "one of marker, line"),
    (items({"at": [1, 2], "dash": 5}), "items[0].dash", "5", "true, false or a pattern"),
    (items({"points": [[0, 0], [1, 1]], "dash": "x"}), "dash", "'x'", "numbers separated by spaces"),
    (items({"at": [1, 2], "symbol": "four"}), "items[0].symbol", "'four'", "1-3 letters or digits"),
    (items({"at": [1, 2], "color": "blurple"}), "items[0].color", "'blurple'", "#rgb, #rrggbb"),
    (items({"at": [123, 45]}), "items[0].at latitude", "123", "between -90 and 90"),
    (items({"type": "line", "at": [1, 2]}), "items[0].points", "none", "required for a line"),
    (items({"type": "polygon", "points": [[0, 0], [1, 1]]}), "items[0].points", "got 2", "at least 3 points"),
    (items({"bounds": "Paris"}), "items[0].bounds", "'Paris'", "[[south, west], [north, east]] or a country"),
    (items({"type": "circle", "at": [1, 2]}), "items[0].radius_m", "none", "a number of metres"),
    (
        items({"type": "route", "points": "Lisbon"}),
        "items[0].points",
        "'Lisbon'",
        "a list of [lat, lon] points",
    ),
    (items({"at": " ,. "}), "items[0].at", "' ,. '", "a place name"),
    (items({"at": "Pariss"}), "items[0].at", "'Pariss'", "closest names"),
    (items({"at": [1, 2], "id": "a"}, {"at": [1, 2], "id": "a"}), "id", "'a'", "unique in a drawing"),
    (items(), "items", "[]", "at least one item"),
    (items({"at": [1, 2], "geometry": POINT}), "items[0]", "at and geometry", "one geometry"),
    (items({"geometry": SQUARE, "radius_m": 500}), "items[0].radius_m", "500", "only for a circle"),
    (items({"type": "line", "geometry": SQUARE}), "items[0].type", "'line'", "its geometry's kind, polygon"),
    # tools: the others
    (lambda tc: edit(tc, MAP, [{"label": "x"}]), "changes[0].id", "none", "required"),
    (reshaped_by_points, "changes[0].points", "'pair'", "a multipoint of several parts"),
    (lambda tc: remove(tc, MAP), "remove", "none", "exactly one of ids, layer, everything"),
    (
        lambda tc: set_view(tc, MAP, at=[1, 2], bounds=[[0, 0], [1, 1]]),
        "set_view",
        "at, bounds",
        "at most one of",
    ),
    (lambda tc: measure(tc), "measure", "neither", "points or ids"),
    (lambda tc: measure(tc, points=["Paris"]), "points", "got 1", "at least 2 points"),
    (lambda tc: measure(tc, ids=["a"]), "map_id", "none", "required with ids"),
    (lambda tc: measure(tc, map_id=MAP, ids=["zz"]), "ids", "'zz'", "features on this map"),
    # spatial questions (issue 46)
    (lambda tc: select(tc, MAP), "select", "none", "exactly one of within, intersects, near"),
    (lambda tc: select(tc, MAP, within="r", km=3), "near", "within", "go with near"),
    (lambda tc: select(tc, MAP, near=[1, 1], km=1, layer="zz"), "layer", "'zz'", "a layer of this map"),
    (lambda tc: select(tc, MAP, intersects="zz"), "intersects", "'zz'", "a feature on this map"),
    (drawn(select, within="p"), "within", "marker 'p'", "an area (polygon, multipolygon, rectangle, circle)"),
    # a city only (Lisbon is also its district, Lisboa, taken as the area since issue 59)
    (lambda tc: select(tc, MAP, within="Toulouse"), "within", "'Toulouse'", "a country or state"),
    (lambda tc: select(tc, MAP, near=[1, 1]), "near", "neither", "km or nearest"),
    (
        lambda tc: select(tc, MAP, near=[1, 1], km=1, cursor="%%"),
        "cursor",
        "'%%'",
        "one a previous answer gave",
    ),
    (
        lambda tc: select(tc, MAP, near=[1, 1], km=1, cursor=cursor_for(5, ["other"])),
        "cursor",
        "another search",
        "repeat this one without cursor",
    ),
    (lambda tc: select(tc, MAP, near=[1, 1], km=0), "km", "got 0", "more than 0 and at most 20004"),
    (lambda tc: select(tc, MAP, near=[1, 1], nearest=500), "nearest", "500", "between 1 and 200"),
    (lambda tc: derive(tc, MAP, "hull", ["zz"]), "ids[0]", "'zz'", "a feature on this map"),
    (lambda: derive_shapes("spin", [POINT]), "op", "'spin'", "one of buffer, union"),
    (lambda: derive_shapes("hull", []), "ids", "none", "at least 1 feature"),
    (lambda: derive_shapes("buffer", [POINT], 0), "km", "got 0", "more than 0 and at most 2000"),
    (lambda: derive_shapes("hull", [POINT], 3), "km", "km=3", "buffer only"),
    (lambda: derive_shapes("difference", [AREA]), "ids", "got 1", "at least 2 areas"),
    (lambda: derive_shapes("union", [AREA, POINT]), "ids", "marker 'p'", "areas (polygon, multipolygon"),
    (
        lambda: derive_shapes("hull", [POINT, Feature("q", "marker", (2.0, 2.0))]),
        "ids",
        "one line",
        "span an area",
    ),
    (
        lambda: derive_shapes("buffer", [Feature("n", "marker", (90.0, 0.0))], 5),
        "pole",
        "north pole",
        "must not contain",
    ),
    (lambda: geos_fails(), "ids", "side location conflict", "failed in GEOS"),
    (
        lambda: outline_of({}, "items[0].bounds", "Tampere"),
        "items[0].bounds",
        "'Tampere'",
        "an area for a polygon",
    ),
    (lambda tc: nearest_place(tc, 0, 0, min_population=10**10), "min_population", "10000000000", "at most"),
    (lambda tc: find_places(tc, "Xyzzyqw"), "query", "'Xyzzyqw'", "no place matches"),
    (lambda tc: find_places(tc, " "), "query", "' '", "a name, address or kind of place"),
    (
        lambda tc: find_places(tc, "cafe", category="cafe"),
        "near is required",
        "none",
        "a place or [lat, lon]",
    ),
    (
        lambda tc: find_places(tc, "cafe", category="cafe", near=[38.7, -9.1]),
        "category",
        "'cafe'",
        "mapsrv places import",
    ),
    (
        lambda tc: find_places(indexed(tc), category="zoo", near=[38.7, -9.1]),
        "category",
        "'zoo'",
        "a kind of place the imported regions have",
    ),
    (lambda tc: read(tc, MAP, cursor="x"), "cursor", "'x'", "a 'next' value"),
    (lambda tc: list_maps(tc, limit=0), "limit", "0", "between 1 and 200"),
    # tools: routing (a router that is never asked: every one of these fails before it would be)
    (items({"at": [1, 2], "by": "car"}), "items[0].by", "marker", "only for a route"),
    (
        items({"type": "route", "points": [[1, 2], [1, 3]], "by": "boat"}),
        "items[0].by",
        "'boat'",
        "car, bike",
    ),
    (
        lambda tc: draw(routed(tc), [{"type": "route", "points": [[1, 2 + i / 100] for i in range(21)]}]),
        "items[0].points",
        "21",
        "20 a route may have",
    ),
    (
        items({"type": "route", "points": [[1, 2], [1, 3]], "avoid": ["hills"]}),
        "items[0].avoid",
        "['hills']",
        "tolls, highways, ferries",
    ),
    (
        items({"type": "route", "points": [[1, 2], [1, 3]], "avoid": [{"tolls": 1}]}),
        "items[0].avoid",
        "[{'tolls': 1}]",
        "tolls, highways, ferries",
    ),
    (
        items({"type": "route", "points": [[1, 2], [1, 3]], "order": "fast"}),
        "items[0].order",
        "'fast'",
        '"best"',
    ),
    (
        items({"type": "route", "points": [[1, 2], [1, 3]], "avoid": ["tolls"]}),
        "items[0].avoid",
        "['tolls']",
        "a routing",
    ),
    (items({"at": [1, 2], "order": "best"}), "items[0].order", "marker", "only for a route"),
    (
        lambda tc: draw(
            routed(tc), [{"type": "route", "points": [[1, 2 + i / 100] for i in range(13)], "order": "best"}]
        ),
        "items[0].points",
        "13",
        'more than the 12 "order": "best" puts in order',
    ),
    (lambda tc: files.import_file(tc, GPX_TRACKS(1, 2), snap="car"), "snap", "'car'", "a routing engine"),
    (
        lambda tc: files.import_file(routed(tc), GPX_TRACKS(0, 2), snap="car"),
        "snap",
        "0 tracks",
        "on the roads",
    ),
    (
        lambda tc: files.import_file(routed(tc), GPX_TRACKS(21, 2), snap="car"),
        "snap",
        "21",
        "at most 20 tracks",
    ),
    (
        lambda tc: files.import_file(routed(tc), GPX_TRACKS(1, 16_001), snap="car"),
        "snap",
        "16001",
        "at most 16000 points",
    ),
    (lambda tc: reachable(tc, [1, 2], [10]), "reachable", "none", "a routing engine"),
    (lambda tc: reachable(routed(tc), [1, 2], []), "minutes", "[]", "1 to 4 numbers"),
    (lambda tc: reachable(routed(tc), [1, 2], [10, 500]), "minutes[1]", "500", "from 1 to 120"),
    (lambda tc: travel_times(routed(tc), [], ["Paris"]), "origins", "[]", "1 to 25 points or place names"),
    (
        lambda: along(
            Feature("", "polyline", ((0.0, 0.0), (0.0, 1.0))),
            Route(tuple((0.001 * (i % 2), 0.001 * i) for i in range(12)), "car", 1.0, 1.0, ()),
            Limits(max_points=10),
            "items[0]",
        ),
        "items[0]",
        "12",
        "more than the 10 a line may have",
    ),
    # styles by value (core.layer_style, core.classify) and the page's op for them
    (  # the tool's own arguments, not the page's style keys (radius, weight)
        lambda tc: style_layer(tc, MAP, "default", kind="heatmap", classes=5),
        "style key",
        "'classes'",
        "heatmap style (by, kind, label, filter, time, over)",
    ),
    (lambda: style({"by": "pop", "time": {"from": "soon"}}), "time from", "'soon'", "an ISO 8601 time"),
    (lambda: style({"by": 5}), "by", "5", "a property name"),
    (lambda: style({"by": "pop", "heat": "yes"}), "heat", "'yes'", "true or false"),
    (lambda: style({"by": "pop", "classes": 2.5}), "classes", "2.5", "a whole number from 3 to 9"),
    (lambda: style({"by": "pop", "classes": 12}), "classes", "12", "from 3 to 9"),
    (lambda: style({"by": "pop", "filter": "x"}), "filter", "'x'", '{"property", "op", "value"}'),
    (lambda: style({"by": "pop", "filter": {"property": "pop", "op": "~"}}), "filter op", "'~'", "one of =="),
    (
        lambda: style({"by": "pop", "filter": {"property": "p", "op": "in", "value": 3}}),
        "filter value",
        "3",
        "a list",
    ),
    (
        lambda: style({"by": "pop", "filter": {"property": "p", "op": "in", "value": [[1]]}}),
        "filter value",
        "[[1]]",
        "list strings or numbers",
    ),
    (
        lambda: style({"by": "pop", "filter": {"property": "p", "value": {"a": 1}}}),
        "filter value",
        "{'a': 1}",
        "a string or number",
    ),
    (lambda: style({"by": "pop", "time": "x"}), "time", "'x'", '{"property", "from", "to"}'),
    (lambda: style({"by": "pop", "over": "visible"}), "over", "'visible'", "one of shown, all"),
    (
        lambda: style({"by": "pop", "kind": "proportional", "colors": ["red", "blue"]}),
        "colors",
        "['red', 'blue']",
        "one colour for proportional circles",
    ),
    (
        lambda: style({"by": "pop", "time": {"property": "pop", "from": 1000}}),
        "time window",
        "'towns'",
        "pass over 'all'",
    ),
    (
        lambda: style({"by": "pop", "time": {"from": "2024-06-01", "to": "2024-05-01"}}),
        "time from",
        "2024-06-01",
        "at most time to",
    ),
    (lambda: style({"by": "kind", "kind": "graduated"}), "by", "'kind'", "a numeric property"),
    (lambda: style("pop"), "style", "str", "an object"),
    (lambda: style({"by": "pop", "kind": "pie"}), "kind", "'pie'", "one of graduated"),
    (lambda: style({"by": "pop", "radius": 3}), "style key", "'radius'", "apply to a graduated style"),
    (lambda: style({"kind": "graduated"}), "by", "none", "the property a graduated style reads"),
    (lambda: style({"by": "pop", "label": 5}), "label", "5", "a template of 1-200 characters"),
    (lambda: style({"by": "pop", "ramp": "Set2"}), "ramp", "'Set2'", "sequential or diverging"),
    (lambda: style({"by": "pop", "breaks": "x"}), "breaks", "'x'", "2 to 10 ascending numbers"),
    (lambda: style({"by": "pop", "breaks": [5, 1]}), "breaks", "[5.0, 1.0]", "ascending"),
    (
        lambda: style({"by": "pop", "classes": 4, "colors": ["red"]}),
        "colors",
        "['red']",
        "one colour per class",
    ),
    (lambda: style({"by": "kind", "categories": "x"}), "categories", "'x'", "map 1-50 values to colours"),
    (
        lambda: style({"by": "gone", "kind": "categorical"}),
        "by",
        "'gone'",
        "a property the features of layer 'towns' have",
    ),
    (
        lambda: style({"by": "pop", "kind": "proportional", "min_size": 50, "max_size": 10}),
        "min_size",
        "50",
        "at most max_size",
    ),
    (lambda: palette("Rainbow", 5), "ramp", "'Rainbow'", "one of YlOrRd"),
    (lambda: palette("Set2", 9), "ramp Set2", "9", "3 to 8 classes"),
    (lambda: breaks([], "equal", 3), "values", "none", "at least one number"),
    (lambda: breaks([1], "equal", 12), "classes", "12", "from 3 to 9"),
    (lambda: breaks([1], "median", 3), "method", "'median'", "one of quantiles"),
    (lambda: breaks([1, 2], "manual", 3), "method manual", "no breaks", "takes the breaks you give"),
    (lambda: style({"by": "pop", "method": "median"}), "method", "'median'", "one of quantiles"),
    (lambda: style({"by": "pop", "label": "{pop:,.0z}"}), "label field", "',.0z'", "format spec"),
    (
        lambda: style({"by": "pop", "method": "jenks", "breaks": [0, 50]}),
        "breaks",
        "'jenks'",
        "method manual",
    ),
    (lambda: style({"by": "pop", "method": "std_mean", "classes": 5}), "classes", "5", "left out for"),
    (
        lambda: style({"by": "pop", "breaks": [0, 50], "colors": ["red"]}),
        "breaks",
        "50",
        "reach the largest value",
    ),
    (lambda: style({"by": "pop", "breaks": list(range(10))}), "breaks", "10", "at most 9 classes"),
    (
        lambda: style({"by": "pop", "kind": "proportional", "legend_values": "x"}),
        "legend_values",
        "'x'",
        "list 1-5 numbers",
    ),
    (lambda: check_layer_style({"by": "pop"}, [], "empty"), "by", "'pop'", "has no features yet"),
    (
        lambda: check_layer_style({"by": "pop"}, [Feature("t3", "marker", (1.0, 2.0))], "bare"),
        "by",
        "'pop'",
        "have no properties",
    ),
    (lambda: format_number(1, "x"), "format spec", "'x'", "[+][,][.N][f|d|%]"),
    (
        lambda: parse_op({"op": "set_layer_style", "layer": "a", "style": "red"}, L),
        "style",
        "str",
        "an object or null",
    ),
    # layers from elsewhere (core.layer_source, the add_layer tool)
    (lambda: source(url=7), "url", "7", "http(s) URL"),
    (lambda: source(url="https://t.example/" + "a" * 2000), "url", "2018", "at most 2000"),
    (lambda: source(url="http://[::1/{z}/{x}/{y}"), "url", "'http://[::1", "http(s) URL"),
    (lambda: source(url="ftp://t.example/{z}/{x}/{y}"), "url", "'ftp'", "http or https"),
    (lambda: source(url="http:///{z}/{x}/{y}"), "url", "'http:///", "name a host"),
    (lambda: source(url="http://me:pw@t.example/{z}/{x}/{y}"), "url", "'me'", "not carry a user name"),
    (lambda: source(attribution=["x"]), "attribution", "['x']", "text of at most 200"),
    (lambda: check_layer_source("xyz"), "source", "str", "an object"),  # type: ignore[arg-type]
    (lambda: check_layer_source({"type": "mbtiles"}), "type", "'mbtiles'", "one of xyz, wms, pmtiles"),
    (lambda: archive(format="mlt"), "format and tiles", "'mlt'", "one of mvt/vector"),
    (lambda: archive(format="png", tiles="vector"), "format and tiles", "'png'/'vector'", "png/raster"),
    (lambda: archive(minzoom=5, maxzoom=2), "minzoom and maxzoom", "5 and 2", "0 <= minzoom <= maxzoom"),
    (lambda: archive(maxzoom=True), "minzoom and maxzoom", "True", "whole numbers"),
    (lambda: archive(bounds=[0, 10, 5, -10]), "bounds", "[0, 10, 5, -10]", "[west, south, east, north]"),
    (lambda: source(layers="a"), "source", "'layers'", "give only"),
    (lambda: source(url="https://t.example/tiles"), "url", "'https://t.example/tiles'", "{z}, {x} and {y}"),
    (lambda: source(opacity=2), "opacity", "2", "between 0 and 1"),
    (
        lambda: check_layer_source({"type": "wms", "url": "https://w.example/wms"}),
        "layers",
        "''",
        "must be given",
    ),
    (
        lambda: check_layer_source(
            {"type": "wms", "url": "https://w/", "layers": "a", "format": "image/gif"}
        ),
        "format",
        "'image/gif'",
        "one of image/png",
    ),
    (
        lambda: check_layer_source({"type": "wms", "url": "https://w/", "layers": "a", "transparent": "yes"}),
        "transparent",
        "'yes'",
        "true or false",
    ),
    (
        lambda tc: add_layer(allowing_local(tc), MAP, "g", "geojson", html_page()),
        "url",
        "'text/html'",
        "not geojson",
    ),
]


def GPX_TRACKS(tracks: int, points: int) -> str:
    """A GPX file of ``tracks`` tracks of ``points`` points each, and one waypoint."""
    segment = "".join(f'<trkpt lat="1" lon="{2 + i / 1e5:.5f}"/>' for i in range(points))
    body = f"<trk><trkseg>{segment}</trkseg></trk>" * tracks
    return f'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><wpt lat="1" lon="2"/>{body}</gpx>'


def routed(tc: ToolContext) -> ToolContext:
    """``tc`` with a router that nothing here reaches (port 9, discard, is never listened on)."""
    return dataclasses.replace(tc, router=ValhallaRouter("http://127.0.0.1:9"))


def raise_sites() -> set[tuple[str, int]]:
    sites = set()
    for module in MODULES:
        source = (ROOT / module).read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) in ERRORS:
                    sites.add((module, node.lineno))
    return sites


def sites_of(exc: BaseException) -> set[tuple[str, int]]:
    """Where ``exc`` and the errors it replaced were raised."""
    found = set()
    seen: BaseException | None = exc
    while seen is not None:
        last = traceback.extract_tb(seen.__traceback__)[-1]
        path = Path(last.filename).resolve()
        if path.is_relative_to(ROOT):
            found.add((str(path.relative_to(ROOT)), last.lineno or 0))
        seen = seen.__context__
    return found


def geos_fails() -> None:
    """GEOS's own error, as it came from the real countries before they were made valid (a unit
    test of its wording: no valid input is known to raise it)."""
    conflict = shapely.errors.GEOSException("TopologyException: side location conflict")
    with mock.patch("shapely.union_all", side_effect=conflict):
        derive_shapes("union", [AREA, AREA])


async def run_case(case: Callable[..., Any], tc: ToolContext) -> MapsrvError:
    with pytest.raises((InvalidInput, NotFound)) as caught:
        result = case(tc) if case.__code__.co_argcount else case()
        if isinstance(result, Awaitable):
            await result
    return caught.value


async def redeemed_elsewhere(tc: ToolContext) -> None:
    handle = (await files.import_file(tc, upload=True, map_id=MAP)).structured_content["handle"]  # type: ignore[index]
    await files.import_file(tc, upload=handle, map_id="elsewhere")


async def redeemed_expired(tc: ToolContext) -> None:
    slots = upload_slots(tc.hub)
    slots.expiry = 0.0  # the link expires as it is made: no file can come
    handle = (await files.import_file(tc, upload=True, map_id=MAP)).structured_content["handle"]  # type: ignore[index]
    await files.import_file(tc, upload=handle)


async def new_context() -> ToolContext:
    global MAP
    tc = ToolContext(MapHub(), "http://x/")
    MAP = (await tc.hub.create_map()).id
    return tc


@pytest.mark.parametrize(
    ("case", "field", "value", "form"), CASES, ids=lambda v: v if isinstance(v, str) else ""
)
async def test_the_error_names_field_value_and_form_and_says_what_to_do(
    case: Callable[..., Any], field: str, value: str, form: str
) -> None:
    message = (await run_case(case, await new_context())).message
    assert field in message, ("field", message)
    assert value in message, ("value", message)
    assert form in message, ("form", message)
    after = message[message.index(value) + len(value) :]
    assert "; " in after or ": " in after, ("what to do", message)


async def test_every_raise_is_a_case() -> None:
    reached: set[tuple[str, int]] = set()
    for case, *_ in CASES:
        reached |= sites_of(await run_case(case, await new_context()))
    missing = sorted(raise_sites() - reached)
    assert not missing, f"error paths without a case in CASES: {missing}"


async def test_a_swapped_pair_and_a_geojson_position_in_lat_lon_order_are_explained() -> None:
    swapped = (await run_case(items({"at": [123, 45]}), await new_context())).message
    assert swapped.endswith("this looks like [lon, lat]: swap them to [45, 123]")
    geojson = (await run_case(gj({"type": "Point", "coordinates": [45, 123]}), await new_context())).message
    assert geojson.endswith("that looks like [lat, lon]; write [123, 45]")
    colour = (await run_case(items({"at": [1, 2], "color": "blurple"}), await new_context())).message
    assert "#rgb, #rrggbb or a CSS colour name" in colour and colour.endswith("did you mean 'purple'?")
