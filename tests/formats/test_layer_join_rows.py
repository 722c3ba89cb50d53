"""What a table's rows match on a layer's features (``mapsrv.formats.layer_join``), pure: the key
column and the features' field found by their values, keys compared as a person reads them, the
row's cells typed, and what did not match said."""

from __future__ import annotations

import pytest

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import Collector
from mapsrv.formats.layer_join import Target, join_to_layer
from mapsrv.formats.table import read_rows

STATIONS = [
    Target("s1", "Gare du Nord", (("code", 87271007), ("zone", "1"))),
    Target("s2", "Gare de Lyon", (("code", 87686006), ("zone", "1"))),
    Target("s3", "Versailles", (("code", 87393009), ("zone", "4"))),
]


def table(text: str):  # type: ignore[no-untyped-def]
    return read_rows(text.encode(), Collector("csv", Limits()))


def test_the_key_and_the_field_are_found_by_their_values() -> None:
    joined = join_to_layer(table("riders,uic\n700,87271007.0\n110,87686006\n"), STATIONS)
    assert (joined.key, joined.by) == ("uic", "code")  # a whole number matches its digits
    assert joined.changed["s1"] == (("code", 87271007), ("zone", "1"), ("riders", 700))
    assert joined.changed["s2"][-1] == ("riders", 110)
    assert joined.unnamed == 1 and joined.unmatched == [] and joined.duplicates == []


def test_labels_match_case_and_spaces_aside_and_the_nearest_is_offered() -> None:
    joined = join_to_layer(
        table("station,works\n  gare du nord ,yes\nGare de Lyonn,no\nGARE DU NORD,again\n"), STATIONS
    )
    assert (joined.key, joined.by) == ("station", "label")
    assert dict(joined.changed["s1"])["works"] == "yes", "the first row of a key is the one joined"
    assert joined.unmatched == [(3, "Gare de Lyonn", "Gare de Lyon")]
    assert joined.duplicates == [("gare du nord", [4])]


def test_a_column_named_by_key_and_what_it_replaces() -> None:
    joined = join_to_layer(table("zone,code\n9,87393009\n"), STATIONS, key="code")
    assert (joined.key, joined.by) == ("code", "code")
    assert dict(joined.changed["s3"])["zone"] == 9 and joined.replaced == ["zone"]
    report = joined.report()
    assert report["replaced"] == ["zone"] and report["features"] == 1 and report["matched"] == 1


@pytest.mark.parametrize(
    ("text", "key", "said"),
    [
        ("a,b\nx,y\n", None, "no column's values match the layer's features"),
        ("a,b\nx,y\n", "b", "column 'b''s values match"),
        ("a,b\nx,y\n", "c", "key must name a column of the table, got 'c'"),
    ],
)
def test_a_table_that_matches_nothing_is_refused(text: str, key: str | None, said: str) -> None:
    with pytest.raises(InvalidInput) as err:
        join_to_layer(table(text), STATIONS, key)
    assert said in err.value.message


def test_an_empty_layer_is_refused() -> None:
    with pytest.raises(InvalidInput, match="the layer has no features"):
        join_to_layer(table("a\n1\n"), [])
