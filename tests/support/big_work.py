"""Every tool called on big inputs, for the stall test and the stall benchmark: a map of generated
polygons and points, the world's countries at 1:50m, a CSV joined to countries, the first place
search, an image, a union, natural breaks, exports. Each call is named, so a stall can be pinned
on the call that made it (``tests/system/test_loop_stalls.py``, ``tests/bench/loop_stalls.py``)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mcp import Client

from support.natural_earth import countries_geojson

__all__ = ["BigInputs", "ToolCall", "calls", "polygons_geojson"]

Call = Callable[[Client], Awaitable[Any]]


@dataclass(frozen=True)
class BigInputs:
    polygons: int  # generated polygons of ``vertices`` points each, with a numeric property
    vertices: int
    markers: int  # generated points
    rows: int  # CSV rows joined to the countries


@dataclass(frozen=True)
class ToolCall:
    name: str  # what it does, in the report: "read geojson", "map_image", ...
    tool: str
    arguments: dict[str, Any]


def polygons_geojson(count: int, vertices: int, markers: int, seed: int = 60) -> dict[str, Any]:
    """``count`` small star-free polygons scattered over Europe (each a regular ``vertices``-gon
    jittered), with ``value`` and ``name`` properties, and ``markers`` points."""
    rng = random.Random(seed)
    features: list[dict[str, Any]] = []
    for i in range(count):
        lon, lat, r = rng.uniform(-10, 30), rng.uniform(36, 60), rng.uniform(0.05, 0.3)
        ring = [
            [
                round(lon + r * math.cos(2 * math.pi * k / vertices), 6),
                round(lat + r * math.sin(2 * math.pi * k / vertices), 6),
            ]
            for k in range(vertices)
        ]
        ring.append(ring[0])
        properties = {"name": f"zone {i}", "value": round(rng.lognormvariate(3, 1), 3)}
        features.append(
            {
                "type": "Feature",
                "id": f"p{i}",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": properties,
            }
        )
    for i in range(markers):
        point = [round(rng.uniform(-10, 30), 6), round(rng.uniform(36, 60), 6)]
        features.append(
            {
                "type": "Feature",
                "id": f"m{i}",
                "geometry": {"type": "Point", "coordinates": point},
                "properties": {"name": f"shop {i}"},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _table(rows: int) -> str:
    names = [f["properties"]["name"] for f in countries_geojson("110m")["features"]]
    return "country,value\n" + "".join(f'"{names[i % len(names)]}",{i}\n' for i in range(rows))


def calls(inputs: BigInputs) -> Iterator[ToolCall | tuple[str, Callable[[dict[str, Any]], ToolCall]]]:
    """The calls in order. The first imports the big map; the ones after it that need its id are
    given as functions of the import's answer."""
    big = json.dumps(polygons_geojson(inputs.polygons, inputs.vertices, inputs.markers))
    world = json.dumps(countries_geojson("50m"))
    yield ToolCall("find_places (cold gazetteer)", "find_places", {"query": "Coimbra"})
    yield ToolCall("import big geojson", "import", {"content": big, "format": "geojson", "layer": "zones"})

    def on_big(name: str, tool: str, **arguments: Any) -> tuple[str, Callable[[dict[str, Any]], ToolCall]]:
        def made(answer: dict[str, Any]) -> ToolCall:
            ids = [f["id"] for f in answer.get("features", [])]
            given = {
                k: ids[: len(v)] if isinstance(v, list) and v and v[0] is None else v
                for k, v in arguments.items()
            }
            return ToolCall(name, tool, {"map_id": answer["map_id"], **given})

        return "big", made

    ids: list[None] = [None] * 200  # the first 200 polygons' ids, read from the map
    yield on_big("read a page", "read", layer="zones", kind="polygon", limit=200)

    yield on_big("read geojson", "read", format="geojson")
    yield on_big("read kml", "read", format="kml")
    yield on_big("read csv", "read", format="csv")
    yield on_big("map_image", "map_image", width=1024, height=768)
    yield on_big("select within a country", "select", within="Germany")
    yield on_big("select near", "select", near=[48.85, 2.35], nearest=20)
    yield on_big("derive union of 200", "derive", op="union", ids=ids, layer="unions")
    yield on_big("derive buffer", "derive", op="buffer", ids=ids[:50], km=5, layer="buffers")
    yield on_big("style natural breaks", "style_layer", layer="zones", by="value", method="jenks", classes=7)
    yield on_big("measure", "measure", ids=ids[:50])
    yield ToolCall("import world 1:50m", "import", {"content": world, "format": "geojson"})
    yield ToolCall("import join countries", "import", {"content": _table(inputs.rows), "join": "countries"})
