"""A routed line's facts and their words, read the same by the activity list, ``read`` and GPX."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mapsrv.core import Feature, MapState
from mapsrv.core.apply import apply
from mapsrv.core.changes import Inverse
from mapsrv.core.events import FeaturesUpserted
from mapsrv.core.model import Limits, build_feature
from mapsrv.core.ops import ImportFeatures, UpdateFeature
from mapsrv.core.routes import RouteFacts, describe, duration_words, length_words, route_facts
from mapsrv.core.summary import summarize
from mapsrv.formats.gpx import write_gpx

ROAD = ((38.70, -9.15), (38.70, -9.148), (38.702, -9.148))


def routed(fid: str = "r1", label: str = "", **props: object) -> Feature:
    facts = dict(RouteFacts("car", 313_412.4, 11_104.6).properties())
    return Feature(fid, "polyline", ROAD, label=label, properties=tuple({**facts, **props}.items()))


@pytest.mark.parametrize(
    ("metres", "words"),
    [
        (0, "0 m"),
        (849.6, "850 m"),
        (1000, "1.0 km"),
        (4_240, "4.2 km"),
        (99_940, "99.9 km"),
        (1_250, "1.3 km"),
        (2_250, "2.3 km"),
        (999.6, "1.0 km"),
        (99_960, "100 km"),
        (313_412, "313 km"),
        (2_741_000, "2,741 km"),
    ],
)
def test_lengths_read_as_on_a_road_sign(metres: float, words: str) -> None:
    assert length_words(metres) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (20, "under a minute"),
        (30, "1 min"),
        (719, "12 min"),
        (3600, "1 h"),
        (11_104.6, "3 h 5 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (2 * 86400, "2 d"),
    ],
)
def test_durations_read_in_hours_and_minutes(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


def test_a_routed_line_has_facts_and_nothing_else_does() -> None:
    assert route_facts(routed()) == RouteFacts("car", 313_412, 11_105)
    assert routed().properties[:3] == (("by", "car"), ("distance_m", 313_412), ("duration_s", 11_105))
    assert route_facts(Feature("m", "marker", (1.0, 2.0), properties=(("by", "car"),))) is None
    plain = Feature("l", "polyline", ROAD)
    assert route_facts(plain) is None
    for wrong in ({"by": "boat"}, {"distance_m": "far"}, {"duration_s": -1}, {"distance_m": True}):
        assert route_facts(routed(**wrong)) is None, wrong
    assert describe(313_412, 11_105, "car") == "313 km, 3 h 5 min by car"


def test_the_activity_list_says_how_long_a_route_is() -> None:
    line = routed(label="Lisbon to Porto")
    stops = [Feature(f"s{i}", "marker", point) for i, point in enumerate(ROAD[::2])]
    alone = summarize(MapState(id="m"), [FeaturesUpserted(1, (line,), 1)], Inverse((("r1", None),), ()))
    assert alone == "added 'Lisbon to Porto' (313 km, 3 h 5 min by car)"
    together = summarize(
        MapState(id="m"),
        [FeaturesUpserted(1, (routed(), *stops), 1)],
        Inverse((("r1", None), ("s0", None), ("s1", None)), ()),
    )
    assert together == "added a route and 2 markers (313 km, 3 h 5 min by car)"


def test_gpx_writes_a_routed_line_as_a_route_with_its_mode() -> None:
    state = MapState(
        id="m", features={"r1": routed(label="Lisbon to Porto"), "l": Feature("l", "polyline", ROAD)}
    )
    root = ET.fromstring(write_gpx(state))
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    [route] = root.findall("g:rte", ns)
    assert route.findtext("g:name", namespaces=ns) == "Lisbon to Porto"
    assert route.findtext("g:type", namespaces=ns) == "car"
    assert [(float(p.get("lat", "")), float(p.get("lon", ""))) for p in route.findall("g:rtept", ns)] == list(
        ROAD
    )
    assert len(root.findall("g:trk", ns)) == 1, "the plain line stays a track"


def test_an_edit_keeps_a_features_properties_and_a_reshaped_route_loses_its_facts() -> None:
    limits = Limits()
    track = build_feature(
        id="t",
        type="polyline",
        coords=ROAD,
        properties={"times": ["a", "b", "c"], "name": "ride"},
        limits=limits,
    )
    state, _ = apply(MapState(id="m"), ImportFeatures((routed(), track)), limits)
    relabelled, _ = apply(state, UpdateFeature(id="r1", label="Lisbon to Porto"), limits)
    assert route_facts(relabelled.features["r1"]) == route_facts(routed()), "a new label keeps the facts"
    restyled, _ = apply(state, UpdateFeature(id="t", style={"color": "#ff0000"}), limits)
    assert dict(restyled.features["t"].properties) == {"times": ("a", "b", "c"), "name": "ride"}
    moved = ((38.71, -9.15), (38.72, -9.14))
    reshaped, _ = apply(state, UpdateFeature(id="r1", coords=moved), limits)
    assert route_facts(reshaped.features["r1"]) is None, "a reshaped line no longer follows the road"
    same = [list(point) for point in ROAD]  # the same points, as a page's JSON sends them
    unmoved, _ = apply(state, UpdateFeature(id="t", coords=same, label="ride"), limits)
    assert dict(unmoved.features["t"].properties)["times"] == ("a", "b", "c"), "not moved: kept"
    retraced, _ = apply(state, UpdateFeature(id="t", coords=moved), limits)
    assert dict(retraced.features["t"].properties) == {"name": "ride"}, "per-point times fit the old points"
