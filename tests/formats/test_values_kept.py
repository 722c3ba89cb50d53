"""Values as they came, through every export: a column of codes (airport idents such as 00R,
0E0 and 1E2, which a reader of numbers takes for 0 and 100) stays text, "-99" written as text
comes back as text from a CSV (through its formula guard) and a KML (through its typed
Schema), and numbers and booleans come back as numbers and booleans."""

from __future__ import annotations

import csv
import io
from typing import Any

from formats_helpers import map_of, map_with

from mapsrv.core.model import Limits
from mapsrv.formats import read_file, write_file

LIMITS = Limits()
HEADER = ["ident", "type", "name", "elevation_ft", "city", "country", "iso_region", "lat", "lon"]
AIRPORTS = [  # as in OurAirports' airports.csv: idents that read like numbers, and aren't
    [
        "00R",
        "small_airport",
        "Livingston Municipal Airport",
        "151",
        "Livingston",
        "US",
        "US-TX",
        "30.6858",
        "-95.0179",
    ],
    [
        "0E0",
        "small_airport",
        "Moriarty Municipal Airport",
        "6199",
        "Moriarty",
        "US",
        "US-NM",
        "34.9782",
        "-106",
    ],
    ["1E2", "heliport", "Lee Gilmer Memorial Heliport", "-7", "Leesburg", "US", "-99", "29.3167", "-81.9"],
    ["007", "closed", "Capitola Farm Strip", "4.5", "Capitola", "US", "US-CA", "36.9846", "-121.9522"],
]


def airports_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(AIRPORTS)
    return out.getvalue().encode()


def kept(features: Any, *keys: str) -> list[list[tuple[Any, type]]]:
    return [[(dict(f.properties)[k], type(dict(f.properties)[k])) for k in keys] for f in features]


def test_every_column_is_kept_typed_as_a_column() -> None:
    imported = read_file(airports_csv(), None, LIMITS)
    # the columns read for the position, the label and the place are the data's as well
    assert [list(dict(f.properties)) for f in imported.features] == [HEADER] * 4  # in the file's order
    livingston = dict(imported.features[0].properties)
    assert livingston == {
        "ident": "00R",
        "type": "small_airport",  # a type column of another table is no feature type
        "name": "Livingston Municipal Airport",
        "elevation_ft": 151,
        "city": "Livingston",
        "country": "US",
        "iso_region": "US-TX",
        "lat": 30.6858,
        "lon": -95.0179,
    }
    assert [f.label for f in imported.features][:2] == [
        "Livingston Municipal Airport",
        "Moriarty Municipal Airport",
    ]
    assert [dict(f.properties)["lon"] for f in imported.features] == [-95.0179, -106, -81.9, -121.9522]


def test_codes_and_numbers_come_back_as_they_came_from_every_export() -> None:
    first = read_file(airports_csv(), None, LIMITS)
    expected = [
        [("00R", str), (151, int), ("US-TX", str)],
        [("0E0", str), (6199, int), ("US-NM", str)],
        [("1E2", str), (-7, int), ("-99", str)],  # "-99" is a code among codes
        [("007", str), (4.5, float), ("US-CA", str)],
    ]
    assert kept(first.features, "ident", "elevation_ft", "iso_region") == expected
    for fmt in ("csv", "kml", "geojson"):
        again = read_file(write_file(map_of(first), fmt)[0], fmt, LIMITS)
        assert kept(again.features, "ident", "elevation_ft", "iso_region") == expected, fmt


def test_a_csv_mapsrv_wrote_reads_back_with_the_datas_own_lat_and_lon() -> None:
    first = read_file(airports_csv(), None, LIMITS)
    body = write_file(map_of(first), "csv")[0]
    header = next(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert header[:9] == ["id", "type", "layer", "label", "popup", "lat", "lon", "radius", "wkt"]
    assert {"type (property)", "lat (property)", "lon (property)", "name", "city"} <= set(header)
    again = read_file(body, "csv", LIMITS)
    assert [f.properties for f in again.features] == [f.properties for f in first.features]
    assert [(f.type, f.coords, f.label) for f in again.features] == [
        (f.type, f.coords, f.label) for f in first.features
    ]


def test_text_of_digits_comes_back_as_text_and_numbers_as_numbers() -> None:
    values = [  # Natural Earth writes "-99" for a code it has not got, in every row of a field
        {"iso_a3": "-99", "pop": 5, "gdp": 0.00001, "big": 1e16, "island": True},
        {"iso_a3": "-99", "pop": -12, "gdp": 2.5, "big": 3.0, "island": False},
    ]
    state = map_with(*({"type": "marker", "coords": [i, i], "properties": p} for i, p in enumerate(values)))
    typed = [[(v, type(v)) for v in p.values()] for p in values]
    back = read_file(write_file(state, "kml")[0], "kml", LIMITS)
    assert kept(back.features, *values[0]) == typed
    back = read_file(write_file(state, "csv")[0], "csv", LIMITS)  # a CSV has no booleans: text
    assert kept(back.features, "iso_a3", "pop", "gdp", "big") == [row[:4] for row in typed]
    rows = list(csv.DictReader(io.StringIO(write_file(state, "csv")[0].decode("utf-8-sig"))))
    assert [(r["iso_a3"], r["gdp"], r["big"]) for r in rows] == [
        ("'-99", "0.00001", "10000000000000000.0"),  # guarded as a formula; plain decimals
        ("'-99", "2.5", "3.0"),
    ]
