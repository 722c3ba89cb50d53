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
AIRPORTS = [  # ident, name, elevation (ft), region: as in OurAirports' airports.csv
    ("00R", "Livingston Municipal Airport", "151", "US-TX", "30.6858", "-95.0179"),
    ("0E0", "Moriarty Municipal Airport", "6199", "US-NM", "34.9782", "-106.0000"),
    ("1E2", "Lee Gilmer Memorial Airport", "-7", "-99", "29.3167", "-81.9000"),
    ("007", "Capitola Farm Strip", "4.5", "US-CA", "36.9846", "-121.9522"),
]


def airports_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ident", "name", "elevation_ft", "iso_region", "latitude_deg", "longitude_deg"])
    writer.writerows(AIRPORTS)
    return out.getvalue().encode()


def kept(features: Any, *keys: str) -> list[list[tuple[Any, type]]]:
    return [[(dict(f.properties)[k], type(dict(f.properties)[k])) for k in keys] for f in features]


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
