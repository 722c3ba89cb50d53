"""A table's rows by time joined as one place (issue 76), at the join itself: rows given out of
time order come out in it, a column the same in every row stays one value, a text over a list
item's 64 characters in one year is cut (and counted) rather than turning the whole column into
JSON text, and rows at a time the place already has make a second place on the outline."""

from __future__ import annotations

from dataclasses import dataclass

from mapsrv.core import Limits
from mapsrv.formats.collect import Collector
from mapsrv.formats.join import Outline, read_joined

SQUARE = (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)),)


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = (SQUARE,)


ATLANTIS = Place("ATL", "Atlantis")


def find(join: str, value: str, country: str) -> Outline | str:
    return ATLANTIS if value == "Atlantis" else "not a country"


def test_a_places_rows_are_one_series_in_time_order() -> None:
    long = "x" * 100
    table = (
        "country,year,motto,sea\n"
        f"Atlantis,2010,{long},deep\n"
        "Atlantis,2000,short,deep\n"
        "Atlantis,2005,middle,deep\n"
        "Atlantis,2005,again,deep\n"
    )
    out = Collector("csv", Limits())
    read_joined(table.encode(), out, "countries", find)
    imported = out.result()
    first, second = imported.features
    assert first.series == "year" and second.series == ""
    props = dict(first.properties)
    assert list(props["year"]) == [2000, 2005, 2010], "in time order, whatever the table's"
    assert list(props["motto"]) == ["short", "middle", "x" * 64], "one long text cut, the rest kept"
    assert props["sea"] == "deep", "the same in every row: one value"
    assert dict(second.properties)["motto"] == "again", "a second row at 2005: its own place"
    assert any("texts shortened to 64 characters: 1" in note for note in imported.notes), imported.notes
    assert any("4 rows joined as 2 outlines" in note for note in imported.notes), imported.notes
    assert [(s[0], s[1]) for s in imported.stacked] == [("Atlantis", (4, 5))]
