"""A map's anchors (where a call's names are ranked near, and what decides a ``within``'s
country) are sampled once per map version: a 100,000-feature map takes ~6 ms to list, on the
event loop, at every ``within`` and every name otherwise."""

from __future__ import annotations

import dataclasses

from mapsrv.core.model import Feature, MapState
from mapsrv.mcp.tools.outlines import map_country
from mapsrv.mcp.tools.places import map_anchors


def _state(version: int, lat: float) -> MapState:
    features = {f"m{i}": Feature(f"m{i}", "marker", (lat + i * 0.5, -100.0)) for i in range(5)}
    return MapState("anchors", version=version, features=features)


def test_anchors_are_kept_per_map_version() -> None:
    first = _state(1, 35.0)
    anchors = map_anchors(first)
    assert anchors is map_anchors(first)
    assert (35.0, -100.0) in anchors.anchors
    moved = _state(2, 50.0)  # a later version: sampled again
    assert (50.0, -100.0) in map_anchors(moved).anchors
    again = dataclasses.replace(first, features=moved.features)  # another state at that version
    assert map_anchors(again) is not anchors and (50.0, -100.0) in map_anchors(again).anchors


def test_the_country_of_anchors_is_the_same_asked_again() -> None:
    points = map_anchors(_state(1, 35.0)).anchors
    assert map_country(points) == map_country(list(points)) == "US"
    assert map_country(map_anchors(_state(2, 50.0)).anchors) == "CA"
    assert map_country(()) == ""
