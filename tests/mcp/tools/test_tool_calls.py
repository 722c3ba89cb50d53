"""Every tool called as a plain function against a real MapHub, its effect checked in the hub's
state and, after each write, through read (so a stale read would be caught)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mapsrv.errors import InvalidInput, NotFound, VersionConflict
from mapsrv.hub import MapHub
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.drawing import draw, edit, remove
from mapsrv.mcp.tools.maps import create_map, set_layer, set_title, set_view
from mapsrv.mcp.tools.measuring import measure
from mapsrv.mcp.tools.places import find_places, nearest_place
from mapsrv.mcp.tools.reading import read, read_map
from mapsrv.mcp.tools.schema import MAX_ITEMS
from mapsrv.workers import BIG_MAP, workers

BASE = "https://maps.example/"


@pytest.fixture
def tc() -> ToolContext:
    return ToolContext(MapHub(), BASE)


def content(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content, "the text is the same JSON"
    return dict(result.structured_content)


async def written(tc: ToolContext, result: Any) -> dict[str, Any]:
    """A write's answer, checked against a fresh read: the map is at the version it reports."""
    out = content(result)
    summary = content(await read(tc, out["map_id"]))
    assert summary["version"] == out["version"] == (await tc.hub.get(out["map_id"])).state.version
    return out


async def state(tc: ToolContext, map_id: str) -> Any:
    return (await tc.hub.get(map_id)).state


async def new_map(tc: ToolContext, title: str = "") -> str:
    return str(content(await create_map(tc, title))["map_id"])


async def test_create_map_gives_links_and_an_empty_map(tc: ToolContext) -> None:
    ref = content(await create_map(tc, "Trip"))
    entry = await tc.hub.get(ref["map_id"])
    assert ref == {
        "map_id": entry.id,
        "url": f"https://maps.example/m/{entry.id}",
        "view_url": f"https://maps.example/v/{entry.view_key}",
        "edit_url": f"https://maps.example/e/{entry.edit_key}",
        "version": 0,
    }
    summary = content(await read(tc, entry.id))
    assert (summary["title"], summary["count"], summary["url"]) == ("Trip", 0, ref["url"])


async def test_one_draw_call_puts_every_kind_on_the_map_as_one_batch(tc: ToolContext) -> None:
    map_id = await new_map(tc)
    items = [
        {"at": [1, 2], "label": "m", "popup": "p", "color": "red", "symbol": "1"},
        {"points": [[0, 0], [1, 1]], "weight": 3, "dash": True, "id": "l"},
        {"type": "polygon", "points": [[0, 0], [0, 1], [1, 1]], "fill_color": "#0f0", "fill_opacity": 0.5},
        {"at": [5, 6], "radius_m": 500, "color": "#123456", "layer": "zones"},
        {"bounds": [[-1, -2], [1, 2]], "label": "box"},
    ]
    out = await written(tc, await draw(tc, items, map_id=map_id, fit=False))
    assert out["ids"] == ["f1", "l", "f2", "f3", "f4"]
    drawn = (await state(tc, map_id)).features
    assert {i: (f.type, f.layer) for i, f in drawn.items()} == {
        "f1": ("marker", "default"),
        "l": ("polyline", "default"),
        "f2": ("polygon", "default"),
        "f3": ("circle", "zones"),
        "f4": ("rectangle", "default"),
    }
    assert dict(drawn["f1"].style) == {"color": "red", "symbol": "1"}
    assert dict(drawn["l"].style) == {"weight": 3, "dash": "6 6"}
    assert drawn["f3"].radius == 500 and drawn["f4"].label == "box"
    # one layer created, then one upsert of all five: the answer's version is the last
    assert out["version"] == 2


async def test_draw_without_a_map_makes_one_and_answers_its_url(tc: ToolContext) -> None:
    out = content(await draw(tc, [{"at": [38.72, -9.14], "label": "Lisbon"}], title="Trip"))
    assert out["url"] == f"{BASE}m/{out['map_id']}"
    drawn = await state(tc, out["map_id"])
    assert drawn.title == "Trip" and drawn.view.center == (38.72, -9.14), "a lone point: city zoom"


async def test_places_by_name_and_a_route_of_numbered_stops(tc: ToolContext) -> None:
    stops = ["Lisbon", "Madrid", "Paris", "München", "Wien"]
    out = content(await draw(tc, [{"type": "route", "points": stops, "color": "crimson", "id": "trip"}]))
    assert out["ids"] == ["trip", "trip.1", "trip.2", "trip.3", "trip.4", "trip.5"]
    assert out["places"]["München"][2] == "Munich, DE" and out["places"]["Wien"][2] == "Vienna, AT"
    drawn = (await state(tc, out["map_id"])).features
    assert [drawn[f"trip.{i}"].label for i in range(1, 6)] == [
        "Lisbon",
        "Madrid",
        "Paris",
        "Munich",
        "Vienna",
    ]
    assert [dict(drawn[f"trip.{i}"].style)["symbol"] for i in range(1, 6)] == ["1", "2", "3", "4", "5"]
    assert drawn["trip"].coords[0] == pytest.approx((38.72, -9.13), abs=0.05)
    assert len(json.dumps(out)) < 800, "ids, places and the view link, never the state"


async def test_edit_changes_several_features_and_leaves_the_rest(tc: ToolContext) -> None:
    map_id = await new_map(tc)
    items = [{"at": [1, 2], "id": "m", "label": "old"}, {"points": [[0, 0], [1, 1]], "id": "l", "dash": True}]
    await written(tc, await draw(tc, items, map_id=map_id))
    changes = [
        {"id": "m", "label": "new", "color": "blue", "at": [5, 6]},
        {"id": "l", "points": [[2, 2], [3, 3], [4, 4]], "layer": "other", "dash": False},
    ]
    await set_layer(tc, map_id, "other")
    out = await written(tc, await edit(tc, map_id, changes))
    assert out["ids"] == ["m", "l"]
    drawn = (await state(tc, map_id)).features
    assert (drawn["m"].label, drawn["m"].coords, dict(drawn["m"].style)) == ("new", (5, 6), {"color": "blue"})
    assert (drawn["l"].layer, len(drawn["l"].coords), dict(drawn["l"].style)) == ("other", 3, {})
    with pytest.raises(NotFound, match="feature 'ghost' not found"):
        await edit(tc, map_id, [{"id": "m", "label": "x"}, {"id": "ghost", "label": "y"}])
    assert (await state(tc, map_id)).features["m"].label == "new", "all or none"


async def test_remove_features_a_layer_or_everything(tc: ToolContext) -> None:
    map_id = await new_map(tc)
    items = [{"at": [1, 1], "id": "a", "layer": "x"}, {"at": [2, 2], "id": "b"}, {"at": [3, 3], "id": "c"}]
    await written(tc, await draw(tc, items, map_id=map_id))
    await written(tc, await remove(tc, map_id, ids=["b"]))
    await written(tc, await remove(tc, map_id, layer="x"))
    assert list((await state(tc, map_id)).features) == ["c"] and "x" not in (await state(tc, map_id)).layers
    await written(tc, await remove(tc, map_id, everything=True))
    assert not (await state(tc, map_id)).features
    with pytest.raises(InvalidInput, match="exactly one of ids, layer, everything, got none"):
        await remove(tc, map_id)


async def test_camera_title_and_layers(tc: ToolContext) -> None:
    map_id = await new_map(tc)
    await written(tc, await set_title(tc, map_id, "Lisbon"))
    await written(tc, await set_view(tc, map_id, at=[38.7, -9.1], zoom=12, animate=False))
    assert (await state(tc, map_id)).view.to_json() == {"center": [38.7, -9.1], "zoom": 12, "animate": False}
    france = content(await set_view(tc, map_id, bounds="France"))
    assert france["places"]["France"][2] == "France" and (await state(tc, map_id)).view.bounds is not None
    await written(tc, await set_view(tc, map_id, at="Tokyo"))
    assert (await state(tc, map_id)).view.zoom == 11
    await draw(tc, [{"at": [1, 2], "id": "a"}, {"at": [3, 5], "id": "b"}], map_id=map_id, fit=False)
    await written(tc, await set_view(tc, map_id))
    assert (await state(tc, map_id)).view.bounds == ((1, 2), (3, 5))
    for visible in (False, True, False):  # created hidden, then shown and hidden again
        await written(tc, await set_layer(tc, map_id, "trips", visible=visible, name="My trips"))
        layer = (await state(tc, map_id)).layers["trips"]
        assert (layer.name, layer.visible) == ("My trips", visible)
    await written(tc, await set_layer(tc, map_id, "trips", name="Renamed?"))
    layer = (await state(tc, map_id)).layers["trips"]
    assert (layer.name, layer.visible) == ("My trips", True), "an existing layer keeps its name"


async def test_a_read_of_a_thousand_features_is_a_bounded_summary_with_pages(tc: ToolContext) -> None:
    map_id = await new_map(tc, "big")
    items = [{"at": [i / 20, i / 10], "label": f"stop {i}" if i % 3 == 0 else ""} for i in range(900)]
    items += [{"points": [[0, i / 10], [1, i / 10]], "layer": "roads"} for i in range(100)]
    await draw(tc, items, map_id=map_id)
    result = await read(tc, map_id)
    summary = content(result)
    assert len(result.model_dump_json(by_alias=True, exclude_none=True)) <= 6_000
    assert summary["count"] == 1000 and summary["layers"]["default"]["marker"] == 900
    assert summary["layers"]["roads"]["line"] == 100 and summary["next"] == "0"
    assert summary["named"] and all(row["label"] for row in summary["named"])
    seen: list[str] = []
    cursor: str | None = "0"
    while cursor is not None:
        page = content(await read(tc, map_id, cursor=cursor, limit=200))
        seen += [row["id"] for row in page["features"]]
        cursor = page.get("next")
    assert len(seen) == len(set(seen)) == 1000
    roads = content(await read(tc, map_id, layer="roads", limit=5))
    assert roads["count"] == 100 and len(roads["features"]) == 5 and roads["features"][0]["type"] == "line"
    named = content(await read(tc, map_id, text="STOP 99"))
    assert [row["label"] for row in named["features"]] == ["stop 99"]
    boxed = content(await read(tc, map_id, bbox=[[0, 0], [0.2, 0.3]], kind="marker"))
    assert boxed["count"] == 4
    exported = content(await read(tc, map_id, format="geojson"))  # past 64 KB: its counts and a link
    assert exported["inline"] is False and exported["features"] == 1000 and exported["bytes"] > 64 * 1024
    assert exported["download"].endswith("/export.geojson")
    assert content(await read(tc, map_id, geojson=True)) == exported, "geojson: true says the same"
    roads_only = content(await read(tc, map_id, layer="roads", geojson=True))
    assert roads_only["type"] == "FeatureCollection" and len(roads_only["features"]) == 100
    assert '"count":1000' in await read_map(tc, map_id)


async def test_a_big_maps_features_are_filtered_and_counted_in_the_pools(tc: ToolContext) -> None:
    map_id = await new_map(tc, "bigger")
    for start in range(0, BIG_MAP + 1_000, MAX_ITEMS):  # a box tests every point: off the loop
        items = [{"at": [i / 1000, 0.0], "label": f"stop {i}"} for i in range(start, start + MAX_ITEMS)]
        await draw(tc, items, map_id=map_id)
    encode = workers().pools["encode"].stats
    before = encode.done
    boxed = content(await read(tc, map_id, bbox=[[0, -1], [0.4995, 1]], limit=1))
    assert boxed["count"] == 500 and boxed["features"][0]["label"] == "stop 0"
    named = content(await read(tc, map_id, text="STOP 5999"))
    assert [row["label"] for row in named["features"]] == ["stop 5999"]
    assert encode.done == before + 2, "a big map's filters ran on the event loop"
    assert content(await read(tc, map_id))["count"] == BIG_MAP + 1_000  # its summary, counted
    assert encode.done == before + 3, "a big map's summary was counted outside the pools"


async def test_geojson_round_trip_through_draw(tc: ToolContext) -> None:
    source = await new_map(tc)
    items = [{"at": [1, 2], "id": "m", "label": "here"}, {"at": [3, 4], "radius_m": 50, "id": "c"}]
    await draw(tc, [*items, {"bounds": [[0, 0], [1, 1]], "id": "r"}], map_id=source)
    exported = content(await read(tc, source, format="geojson"))
    target = await new_map(tc)
    imported = await written(tc, await draw(tc, [], map_id=target, geojson=exported, layer="copy"))
    assert imported["ids"] == ["m", "c", "r"]
    copied = (await state(tc, target)).features
    assert {f.type for f in copied.values()} == {"marker", "circle", "rectangle"}
    assert {f.layer for f in copied.values()} == {"copy"}


async def test_places_and_measurements(tc: ToolContext) -> None:
    found = content(await find_places(tc, "Cologne"))["places"]
    assert found[0]["name"] == "Köln" and found[0]["country"] == "DE"
    near = content(await nearest_place(tc, 48.8566, 2.3522))["place"]
    assert near["name"] == "Paris"
    route = content(await measure(tc, points=["Paris", "London"], unit="mi"))
    assert 200 < route["distance"] < 220 and route["bearing"]["compass"] in ("NW", "NNW")
    square = content(await measure(tc, points=[[0, 0], [0, 1], [1, 1], [1, 0]], closed=True))
    assert square["area_unit"] == "km2" and 12_000 < square["area"] < 12_500
    map_id = await new_map(tc)
    await draw(tc, [{"at": [0, 0], "radius_m": 1000, "id": "c"}], map_id=map_id)
    measured = content(await measure(tc, map_id=map_id, ids=["c"], unit="m"))["features"][0]
    assert measured["area"] == pytest.approx(314.16, rel=1e-3) and measured["length"] == pytest.approx(
        6283, rel=1e-3
    )


async def test_errors_are_mapsrv_errors_and_a_failed_call_changes_nothing(tc: ToolContext) -> None:
    map_id = await new_map(tc)
    with pytest.raises(NotFound, match="map 'nope' not found: check the map_id"):
        await read(tc, "nope")
    with pytest.raises(VersionConflict, match="map is at version 0, not 5"):
        await set_title(tc, map_id, "x", expected_version=5)
    with pytest.raises(InvalidInput, match=r"items\[1\]\.at latitude must be between -90 and 90, got 123"):
        await draw(tc, [{"at": [1, 1]}, {"at": [123, 45]}], map_id=map_id)
    with pytest.raises(NotFound, match=r"items\[0\]\.points\[1\]: no place matches 'Pariss'"):
        await draw(tc, [{"type": "route", "points": ["Lisbon", "Pariss"]}], map_id=map_id)
    assert (await state(tc, map_id)).version == 0, "a failed call changed the map"


async def test_a_map_made_with_a_key_is_that_keys_alone(tc: ToolContext) -> None:
    alice = ToolContext(tc.hub, BASE, principal="alice")
    bob = ToolContext(tc.hub, BASE, principal="bob")
    map_id = content(await create_map(alice, "alice's"))["map_id"]
    for call in (lambda: read(bob, map_id), lambda: set_title(bob, map_id, "mine"), lambda: read(tc, map_id)):
        with pytest.raises(NotFound, match=f"map '{map_id}' not found"):
            await call()
    await written(alice, await set_title(alice, map_id, "still alice's"))
