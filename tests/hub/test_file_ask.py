"""What a door asks of a file (``FileAsk``): read back from a URL's query as it was given, and
checked by one set of rules; the doors' own tests (tests/routing/test_one_door.py) hold that every
door uses them."""

from __future__ import annotations

import pytest

from mapsrv.errors import InvalidInput
from mapsrv.hub.file_door import FileAsk

ASKS = [
    FileAsk(),
    FileAsk(format="csv", layer="fixes", simplify=2.5, snap="bike", fit=False),
    FileAsk(join="regions", key="state", country="US", filename="votes.csv"),
    FileAsk(join="layer", layer="districts", key="district_id"),
    FileAsk(file_layer="roads", crs="EPSG:27700", format="gpkg"),
]


@pytest.mark.parametrize("ask", ASKS)
def test_an_ask_reads_back_from_its_query(ask: FileAsk) -> None:
    assert FileAsk.from_query(ask.as_query()) == ask


def test_a_query_overrides_what_a_link_was_given_and_keeps_the_rest() -> None:
    given = FileAsk(layer="rides", snap="car", crs="EPSG:3067")
    merged = given.merged({"layer": "mine", "crs": "", "filename": "a.gpx"})
    assert merged == FileAsk(layer="mine", snap="car", crs="EPSG:3067", filename="a.gpx")


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"simplify": "five"}, "simplify must be a number of metres, got 'five'"),
        ({"simplify": "0"}, "simplify must be between 0.01 and 10000"),
        ({"fit": "maybe"}, "fit must be 1 or 0"),
        ({"snap": "boat"}, "snap must be one of car, bike, foot"),
        ({"layer": "no spaces"}, "layer id must be"),
        ({"country": "FR"}, "key and country go with join"),
        ({"join": "rivers"}, "join must be one of countries, regions, layer"),
        ({"join": "regions", "snap": "foot"}, "leave one of them out"),
        ({"join": "layer", "key": "id"}, "got no layer"),
        ({"join": "layer", "layer": "d", "crs": "EPSG:4326"}, "got crs; leave them out"),
    ],
)
def test_a_wrong_ask_is_refused_naming_what_is_wrong(query: dict[str, str], said: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        FileAsk.from_query(query)
    assert said in refused.value.message


def test_an_empty_value_is_no_value_and_fit_reads_both_ways() -> None:
    assert FileAsk.from_query({"layer": "", "snap": "", "fit": ""}) == FileAsk()
    assert FileAsk.from_query({"fit": "0"}).fit is False and FileAsk.from_query({"fit": "true"}).fit is True
