"""A layer's source from elsewhere as part of the map's state: set by ``SetLayerSource`` (the
layer made first when missing), carried by the ``layer`` event (replayed, encoded and decoded
alike), undone by the inverse every change records, and checked for its shape."""

from __future__ import annotations

import pytest

from mapsrv.core import MapState
from mapsrv.core.apply import apply_all, apply_events
from mapsrv.core.codec import event_from_json, event_to_json
from mapsrv.core.history import inverse_ops
from mapsrv.core.layer_source import check_layer_source, tile_url
from mapsrv.core.ops import AddLayer, SetLayerSource
from mapsrv.core.summary import inverse_of
from mapsrv.errors import InvalidInput

XYZ = {"type": "xyz", "url": "https://tiles.example.org/{z}/{x}/{y}.png", "attribution": "Tiles"}
WMS = {"type": "wms", "url": "https://wms.example.org/ows?map=a", "layers": "roads,rivers", "opacity": 0.5}


def test_a_source_is_set_on_a_new_layer_and_replayed_and_decoded_alike() -> None:
    state, events = apply_all(MapState("m"), [SetLayerSource("ortho", XYZ)])
    layer = state.layers["ortho"]
    assert layer.source == {**XYZ, "opacity": 1.0} and layer.name == "ortho"
    assert apply_events(MapState("m"), events) == state
    decoded = [event_from_json(event_to_json(e)) for e in events]
    assert apply_events(MapState("m"), decoded).layers == state.layers
    assert event_to_json(events[-1])["layer"]["source"]["url"] == XYZ["url"]


def test_undo_puts_the_previous_source_back() -> None:
    state, _ = apply_all(MapState("m"), [AddLayer("roads", "Roads"), SetLayerSource("roads", XYZ)])
    changed, events = apply_all(state, [SetLayerSource("roads", WMS)])
    assert changed.layers["roads"].source["type"] == "wms"  # type: ignore[index]
    undone, _ = apply_all(changed, inverse_ops(changed, inverse_of(state, events)))
    assert undone.layers["roads"] == state.layers["roads"]
    removed, _ = apply_all(undone, [SetLayerSource("roads", None)])
    assert removed.layers["roads"].source is None and "source" not in removed.layers["roads"].to_json()


def test_the_shape_is_checked_and_defaults_spelt_out() -> None:
    assert check_layer_source(WMS) == {
        **WMS,
        "attribution": "",
        "styles": "",
        "format": "image/png",
        "transparent": True,
    }
    assert check_layer_source({"type": "csv", "url": "http://data.example.org/a.csv"})["type"] == "csv"
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "ftp://x.org/{z}/{x}/{y}"):
        with pytest.raises(InvalidInput, match="url must be http or https"):
            apply_all(MapState("m"), [SetLayerSource("x", {"type": "xyz", "url": bad})])
    with pytest.raises(InvalidInput, match="opacity must be between 0 and 1"):
        check_layer_source({**XYZ, "opacity": float("nan")})


def test_a_wms_tile_is_a_getmap_in_web_mercator() -> None:
    url = tile_url(check_layer_source(WMS), 1, 0, 0)
    assert url.startswith("https://wms.example.org/ows?map=a&SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1")
    assert "LAYERS=roads%2Crivers" in url and "SRS=EPSG%3A3857" in url and "TRANSPARENT=TRUE" in url
    assert "BBOX=-20037508.342789%2C0.000000%2C0.000000%2C20037508.342789" in url
    assert tile_url(check_layer_source(XYZ), 3, 4, 5) == "https://tiles.example.org/3/4/5.png"


PMTILES = {
    "type": "pmtiles",
    "url": "https://data.example.org/roads.pmtiles",
    "tiles": "vector",
    "format": "mvt",
    "minzoom": 0,
    "maxzoom": 14,
    "bounds": [-10, 35, 5, 44],
}


def test_an_archive_keeps_what_its_header_said_and_is_replayed_alike() -> None:
    state, events = apply_all(MapState("m"), [SetLayerSource("roads", PMTILES)])
    kept = state.layers["roads"].source
    assert kept == {**PMTILES, "attribution": "", "opacity": 1.0, "bounds": [-10.0, 35.0, 5.0, 44.0]}
    decoded = [event_from_json(event_to_json(e)) for e in events]
    assert apply_events(MapState("m"), decoded).layers == state.layers


@pytest.mark.parametrize(
    "wrong",
    [
        {"tiles": "raster"},  # mvt tiles are vector
        {"format": "avif", "tiles": "raster"},
        {"minzoom": 15},
        {"maxzoom": 31},
        {"minzoom": 1.5},
        {"bounds": [-10, 35, 5]},
        {"bounds": [-10, 35, 5, 95]},
        {"bounds": [-10, 35, 5, float("nan")]},
        {"bounds": None},
        {"layers": "roads"},
    ],
)
def test_an_archive_without_its_header_facts_is_refused(wrong: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        check_layer_source({**PMTILES, **wrong})
