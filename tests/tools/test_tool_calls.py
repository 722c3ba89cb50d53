"""Every tool called as a plain function against a real MapHub, its effect checked in the hub's
state and, after each write, through get_map (so a stale read would be caught)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mapsrv.errors import InvalidInput, MapsrvError, NotFound, VersionConflict
from mapsrv.hub import MapHub
from mapsrv.tools import ToolContext
from mapsrv.tools.drawing import (
    add_circle,
    add_line,
    add_marker,
    add_polygon,
    add_rectangle,
    import_geojson,
    remove_features,
    update_feature,
)
from mapsrv.tools.layers import add_layer, clear_map, remove_layer, set_layer_visibility
from mapsrv.tools.maps import create_map, fit_bounds, set_title, set_view
from mapsrv.tools.reading import export_geojson, get_map, read_map

BASE = "https://maps.example/"


@pytest.fixture
def tc() -> ToolContext:
    return ToolContext(MapHub(), BASE)


def content(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.content[0].text
    return dict(result.structured_content)


async def written(tc: ToolContext, result: Any) -> dict[str, Any]:
    """A write's result, checked against a fresh get_map: the map is at the version it reports."""
    out = content(result)
    summary = content(await get_map(tc, out["map_id"]))
    assert summary["version"] == out["version"] == (await tc.hub.get(out["map_id"])).state.version
    return out


async def features(tc: ToolContext, map_id: str) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in content(await get_map(tc, map_id))["features"]}


async def test_create_map_gives_links_and_an_empty_map(tc: ToolContext) -> None:
    ref = content(await create_map(tc, "Trip"))
    entry = await tc.hub.get(ref["map_id"])
    assert ref == {
        "map_id": entry.id,
        "url": f"https://maps.example/m/{entry.id}",
        "view_url": f"https://maps.example/v/{entry.view_key}",
        "title": "Trip",
        "version": 0,
    }
    summary = content(await get_map(tc, entry.id))
    assert (summary["title"], summary["feature_count"], summary["url"]) == ("Trip", 0, ref["url"])


async def test_title_and_camera(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    assert (await written(tc, await set_title(tc, map_id, "Lisbon")))["version"] == 1
    assert content(await get_map(tc, map_id))["title"] == "Lisbon"
    await written(tc, await set_view(tc, map_id, 38.7, -9.1, 12, animate=False))
    view = {"center": [38.7, -9.1], "zoom": 12, "animate": False}
    assert content(await get_map(tc, map_id))["view"] == view
    await written(tc, await add_marker(tc, map_id, 1, 2, id="a"))
    await written(tc, await add_marker(tc, map_id, 3, 5, id="b"))
    await written(tc, await fit_bounds(tc, map_id))
    assert content(await get_map(tc, map_id))["view"]["bounds"] == [[1, 2], [3, 5]]
    await written(tc, await fit_bounds(tc, map_id, feature_ids=["a"]))
    assert content(await get_map(tc, map_id))["view"]["bounds"] == [[1, 2], [1, 2]]
    await written(tc, await fit_bounds(tc, map_id, south=-1, west=-2, north=1, east=2))
    assert content(await get_map(tc, map_id))["view"]["bounds"] == [[-1, -2], [1, 2]]
    with pytest.raises(InvalidInput, match="give all of south, west, north and east"):
        await fit_bounds(tc, map_id, south=1)


async def test_each_kind_of_feature(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    marker = await written(tc, await add_marker(tc, map_id, 1, 2, label="m", popup="p", color="red"))
    assert marker["feature_ids"] == ["f1"]
    line = await written(tc, await add_line(tc, map_id, [[0, 0], [1, 1]], weight=3, dash="6 4", id="l"))
    polygon = await written(
        tc, await add_polygon(tc, map_id, [[0, 0], [0, 1], [1, 1]], fill_color="#0f0", fill_opacity=0.5)
    )
    circle = await written(tc, await add_circle(tc, map_id, 5, 6, 500, color="#123456"))
    box = await written(tc, await add_rectangle(tc, map_id, -1, -2, 1, 2, label="box"))
    assert [r["feature_ids"] for r in (line, polygon, circle, box)] == [["l"], ["f2"], ["f3"], ["f4"]]
    drawn = await features(tc, map_id)
    assert {i: (f["type"], f["coords"]) for i, f in drawn.items()} == {
        "f1": ("marker", [1, 2]),
        "l": ("polyline", [[0, 0], [1, 1]]),
        "f2": ("polygon", [[0, 0], [0, 1], [1, 1]]),
        "f3": ("circle", [5, 6]),
        "f4": ("rectangle", [[-1, -2], [1, 2]]),
    }
    assert drawn["f3"]["radius"] == 500 and drawn["f4"]["label"] == "box"
    styles = {i: dict(f.style) for i, f in (await tc.hub.get(map_id)).state.features.items()}
    assert styles["f1"] == {"color": "red"} and styles["f3"] == {"color": "#123456"}
    assert styles["l"] == {"weight": 3, "dash": "6 4"}
    assert styles["f2"] == {"fill_color": "#0f0", "fill_opacity": 0.5}


async def test_drawing_on_a_missing_layer_creates_it(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    await written(tc, await add_marker(tc, map_id, 1, 2, layer="stops"))
    await written(tc, await add_marker(tc, map_id, 3, 4, layer="stops"))
    summary = content(await get_map(tc, map_id))
    assert [layer["id"] for layer in summary["layers"]] == ["default", "stops"]
    assert [f["layer"] for f in summary["features"]] == ["stops", "stops"]


async def test_update_and_remove_features(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    await written(tc, await add_marker(tc, map_id, 1, 2, id="m", label="old"))
    await written(tc, await add_line(tc, map_id, [[0, 0], [1, 1]], id="l"))
    await written(tc, await add_circle(tc, map_id, 0, 0, 10, id="c"))
    await written(tc, await add_layer(tc, map_id, "other"))
    moved = await written(tc, await update_feature(tc, map_id, "m", label="new", color="blue", lat=5, lon=6))
    assert moved["feature_ids"] == ["m"]
    drawn = await features(tc, map_id)
    assert (drawn["m"]["label"], drawn["m"]["coords"]) == ("new", [5, 6])
    assert dict((await tc.hub.get(map_id)).state.features["m"].style) == {"color": "blue"}
    await written(tc, await update_feature(tc, map_id, "l", points=[[2, 2], [3, 3], [4, 4]], layer="other"))
    await written(tc, await update_feature(tc, map_id, "c", radius_m=99, popup="here"))
    drawn = await features(tc, map_id)
    assert (drawn["l"]["coords"], drawn["l"]["layer"]) == ([[2, 2], [3, 3], [4, 4]], "other")
    assert drawn["c"]["radius"] == 99 and (await tc.hub.get(map_id)).state.features["c"].popup == "here"
    with pytest.raises(InvalidInput, match="give both lat and lon"):
        await update_feature(tc, map_id, "m", lat=1)
    removed = await written(tc, await remove_features(tc, map_id, ["m", "c"]))
    assert removed["feature_ids"] == ["m", "c"]
    assert list(await features(tc, map_id)) == ["l"]


async def test_layers(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    await written(tc, await add_layer(tc, map_id, "trips", name="My trips", visible=False))
    await written(tc, await add_layer(tc, map_id, "bare"))
    layers = {layer["id"]: layer for layer in content(await get_map(tc, map_id))["layers"]}
    assert layers["trips"] == {"id": "trips", "name": "My trips", "visible": False}
    assert layers["bare"]["name"] == "bare"
    await written(tc, await set_layer_visibility(tc, map_id, "trips", True))
    layers = {layer["id"]: layer for layer in content(await get_map(tc, map_id))["layers"]}
    assert layers["trips"]["visible"] is True
    await written(tc, await set_layer_visibility(tc, map_id, "trips", False))
    layers = {layer["id"]: layer for layer in content(await get_map(tc, map_id))["layers"]}
    assert layers["trips"]["visible"] is False
    await written(tc, await add_marker(tc, map_id, 1, 1, id="t", layer="trips"))
    await written(tc, await add_marker(tc, map_id, 2, 2, id="d"))
    await written(tc, await remove_layer(tc, map_id, "trips"))
    summary = content(await get_map(tc, map_id))
    assert [layer["id"] for layer in summary["layers"]] == ["default", "bare"]
    assert [f["id"] for f in summary["features"]] == ["d"]


async def test_clear_one_layer_or_the_whole_map(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    await written(tc, await add_marker(tc, map_id, 1, 1, id="a", layer="x"))
    await written(tc, await add_marker(tc, map_id, 2, 2, id="b"))
    await written(tc, await set_view(tc, map_id, 1, 1, 3))
    await written(tc, await clear_map(tc, map_id, layer_id="x"))
    assert list(await features(tc, map_id)) == ["b"]
    await written(tc, await add_marker(tc, map_id, 1, 1, id="c", layer="x"))
    await written(tc, await clear_map(tc, map_id))
    summary = content(await get_map(tc, map_id))
    assert summary["feature_count"] == 0
    assert [layer["id"] for layer in summary["layers"]] == ["default", "x"] and summary["view"] is not None


async def test_geojson_round_trip(tc: ToolContext) -> None:
    source = content(await create_map(tc))["map_id"]
    await written(tc, await add_marker(tc, source, 1, 2, id="m", label="here"))
    await written(tc, await add_circle(tc, source, 3, 4, 50, id="c"))
    await written(tc, await add_rectangle(tc, source, 0, 0, 1, 1, id="r"))
    exported = content(await export_geojson(tc, source))
    assert exported["type"] == "FeatureCollection"
    assert [f["geometry"]["coordinates"] for f in exported["features"]][:2] == [[2, 1], [4, 3]]
    target = content(await create_map(tc))["map_id"]
    imported = await written(tc, await import_geojson(tc, target, exported, layer="copy"))
    assert imported["feature_ids"] == ["m", "c", "r"]
    copied = await features(tc, target)
    original = await features(tc, source)
    assert {i: (f["type"], f["coords"], f["layer"]) for i, f in copied.items()} == {
        i: (f["type"], f["coords"], "copy") for i, f in original.items()
    }
    assert copied["m"]["label"] == "here" and copied["c"]["radius"] == 50


async def test_the_resource_summarizes_every_feature(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    for i in range(3):
        await written(tc, await add_marker(tc, map_id, i, i))
    assert '"feature_count":3' in await read_map(tc, map_id)
    listed = content(await get_map(tc, map_id, max_features=2))
    assert (len(listed["features"]), listed["truncated"]) == (2, True)


async def test_errors_are_mapsrv_errors_with_clear_text(tc: ToolContext) -> None:
    map_id = content(await create_map(tc))["map_id"]
    cases: list[tuple[Callable[[], Awaitable[Any]], type[MapsrvError], str]] = [
        (lambda: get_map(tc, "nope"), NotFound, "map 'nope' not found: check the map_id"),
        (
            lambda: add_marker(tc, map_id, 123, 1),
            InvalidInput,
            "coords latitude must be between -90 and 90, got 123",
        ),
        (
            lambda: add_marker(tc, map_id, 1, 1, color="#12"),
            InvalidInput,
            "style color must be #rgb, #rrggbb",
        ),
        (lambda: update_feature(tc, map_id, "ghost", label="x"), NotFound, "feature 'ghost' not found"),
        (lambda: remove_features(tc, map_id, ["f9"]), NotFound, "feature 'f9' not found"),
        (lambda: set_layer_visibility(tc, map_id, "nolayer", True), NotFound, "layer 'nolayer' not found"),
        (lambda: remove_layer(tc, map_id, "default"), InvalidInput, "the default layer cannot be removed"),
        (lambda: set_view(tc, map_id, 1, 1, 40), InvalidInput, "zoom must be between 0 and 22, got 40"),
        (
            lambda: set_title(tc, map_id, "x", expected_version=5),
            VersionConflict,
            "map is at version 0, not 5",
        ),
        (lambda: add_layer(tc, map_id, "bad id!"), InvalidInput, "layer id must be 1-64 characters"),
    ]
    for call, error, text in cases:
        with pytest.raises(error) as caught:
            await call()
        assert text in caught.value.message
    assert (await tc.hub.get(map_id)).state.version == 0, "a failed call changed the map"


async def test_a_map_made_with_a_key_is_that_keys_alone(tc: ToolContext) -> None:
    alice = ToolContext(tc.hub, BASE, principal="alice")
    bob = ToolContext(tc.hub, BASE, principal="bob")
    map_id = content(await create_map(alice, "alice's"))["map_id"]
    calls = (
        lambda: get_map(bob, map_id),
        lambda: set_title(bob, map_id, "mine"),
        lambda: get_map(tc, map_id),
    )
    for call in calls:
        with pytest.raises(NotFound, match=f"map '{map_id}' not found"):
            await call()
    await written(alice, await set_title(alice, map_id, "still alice's"))
    assert (await tc.hub.get(map_id)).state.title == "still alice's"
