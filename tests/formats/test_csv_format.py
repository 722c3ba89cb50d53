"""CSV in and out: spreadsheets as people save them (units in headers, semicolons and decimal
commas from a German Excel, tabs and x/y, QGIS's WKT, GeoJSON cells, place names), and what
mapsrv writes read back by the csv module and by mapsrv itself."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from formats_helpers import map_of, map_with, read_fixture

from mapsrv.core.model import MAX_PROPERTIES, Feature, LatLon, Layer, Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file, write_file
from mapsrv.formats.table import MAX_COLUMNS

LIMITS = Limits()
PLACES = {
    "Lisbon, Portugal": (38.72, -9.14),
    "Porto": (41.15, -8.61),
    "Paris, France": (48.85, 2.35),
    "Sevilla, Spain": (37.39, -5.98),
}


def props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def test_latitude_and_longitude_headers_with_units() -> None:
    imported = read_file(read_fixture("stations.csv"), None, LIMITS)
    assert imported.format == "csv"
    top, gornergrat, pilatus = imported.features
    assert (top.type, top.coords, top.label) == ("marker", (46.5475, 7.9853), "Jungfraujoch")
    assert top.popup == 'Highest station in Europe, "Top of Europe"'
    # every column is kept, those read for the position and the label too; a column of numbers
    # is numbers, and a code with a leading zero makes its whole column codes
    assert props(top) == {
        "Station": "Jungfraujoch",
        "Latitude (deg)": 46.5475,
        "Longitude (deg)": 7.9853,
        "Elevation m": 3571,
        "Operator": "Jungfraubahnen",
        "Code": "007",
        "Notes": 'Highest station in Europe, "Top of Europe"',
    }
    assert props(gornergrat)["Code"] == "0" and props(pilatus)["Code"] == "42"
    assert pilatus.popup == "steepest cogwheel, 48%"
    assert imported.notes == ("skipped rows whose latitude or longitude is missing or not a number: line 5",)


def test_a_german_excel_file_semicolons_decimal_commas_and_windows_1252() -> None:
    imported = read_file(read_fixture("staedte_excel.csv"), None, LIMITS)
    berlin, munich, cologne = imported.features
    assert (berlin.label, berlin.coords) == ("Berlin", (52.52, 13.405))
    assert munich.label == "München" and cologne.label == "Köln"
    assert props(berlin) == {
        "Stadt": "Berlin",
        "Breite": 52.52,
        "Länge": 13.405,
        "Einwohner": 3645000,
        "Fläche km2": 891.8,
    }
    assert imported.notes == ("read as Windows-1252 text, not UTF-8: check accented letters",)


def test_tabs_with_x_and_y() -> None:
    london, paris, madrid = read_file(read_fixture("capitals.tsv"), None, LIMITS).features
    assert (london.coords, london.label) == ((51.5072, -0.1276), "London")
    assert props(paris) == {"id": "B2", "X": 2.3522, "Y": 48.8566, "label": "Paris", "kind": "capital"}
    assert madrid.coords == (40.4168, -3.7038)


def test_a_qgis_wkt_export() -> None:
    imported = read_file(read_fixture("qgis_wkt.csv"), None, LIMITS)
    kinds = [(f.type, f.label) for f in imported.features]
    assert kinds == [
        ("marker", "San Francisco"),
        ("polyline", "Golden Gate Bridge"),
        ("polygon", "Golden Gate Park"),
        ("multipoint", "Piers"),  # one row, one feature
        ("marker", "Strawberry Hill"),
    ]
    bridge, park = imported.features[1:3]
    assert bridge.coords[0] == (37.8199, -122.4783)  # WKT is lon lat
    assert props(bridge) == {
        "WKT": "LINESTRING (-122.4783 37.8199, -122.4781 37.8080, -122.4777 37.8001)",
        "name": "Golden Gate Bridge",
        "kind": "bridge",
        "length_km": 2.7,
    }
    assert len(park.coords) == 4  # the closing point is implied
    assert imported.features[3].coords == ((37.808, -122.409), (37.81, -122.41))
    assert imported.notes == (
        "skipped rows whose geometry cannot be read: line 7 (the first: is not WKT, got 'NOT WKT';"
        " write e.g. POINT (2.35 48.85) (longitude first))",
    )


def test_a_geojson_geometry_column() -> None:
    tower, walk = read_file(read_fixture("geojson_column.csv"), None, LIMITS).features
    assert (tower.type, tower.coords) == ("marker", (48.8584, 2.2945))
    assert (walk.type, walk.coords) == ("polyline", ((48.8584, 2.2945), (48.8606, 2.3376)))


def test_place_names_resolve_through_the_lookup_and_the_rest_are_reported() -> None:
    asked: list[str] = []

    def lookup(name: str) -> LatLon | None:
        asked.append(name)
        return PLACES.get(name)

    imported = read_file(read_fixture("places.csv"), None, LIMITS, lookup=lookup)
    assert asked == ["Lisbon, Portugal", "Porto", "Paris, France", "Atlantis", "Sevilla, Spain"]
    assert [(f.label, f.coords) for f in imported.features] == [
        ("Lisbon", (38.72, -9.14)),
        ("Porto", (41.15, -8.61)),
        ("Paris", (48.85, 2.35)),
        ("Sevilla", (37.39, -5.98)),
    ]
    # thousands separators are text, and so is the column they are in: each as it was written
    assert props(imported.features[0]) == {"City": "Lisbon", "Country": "Portugal", "Visitors": "4500000"}
    assert props(imported.features[2]) == {"City": "Paris", "Country": "France", "Visitors": "19,100,000"}
    assert imported.features[1].popup == "second city"
    assert imported.unresolved == ((5, "Atlantis"),)


def test_place_names_through_the_offline_gazetteer() -> None:
    from mapsrv.places import point_of

    body = b"city\nLisbon\nPorto\nNowhere-on-earth\n"
    imported = read_file(body, "csv", LIMITS, lookup=point_of)
    lisbon, porto = imported.features
    assert lisbon.coords == pytest.approx((38.72, -9.13), abs=0.05)
    assert porto.coords == pytest.approx((41.15, -8.61), abs=0.05)
    assert imported.unresolved == ((4, "Nowhere-on-earth"),)


def test_place_names_without_a_lookup_are_refused() -> None:
    with pytest.raises(InvalidInput, match="place names in column 'City'"):
        read_file(read_fixture("places.csv"), None, LIMITS)


def test_a_table_without_positions_says_what_it_saw_and_what_it_looks_for() -> None:
    with pytest.raises(InvalidInput) as err:
        read_file(b"Product,Price,Stock\nTea,3.5,12\n", "csv", LIMITS)
    assert err.value.message == (
        "csv has no position columns: saw 'Product', 'Price', 'Stock'; name them lat and lon (or latitude"
        " and longitude, y and x), or give a WKT or GeoJSON geometry column (wkt, geometry), or a place"
        " column (place, city, address, location) to look up"
    )


@pytest.mark.parametrize(
    ("header", "lat", "lon"),
    [
        ("id,centroid_lat,centroid_lon,name", "centroid_lat", "centroid_lon"),  # carshare.csv's
        (
            "pickupLatitude,pickupLongitude,dropoffLatitude,dropoffLongitude",
            "pickupLatitude",
            "pickupLongitude",
        ),
        ("id,start lat,start lng,end lat,end lng", "start lat", "start lng"),
        ("Station LAT (deg),Station LON (deg),name", "Station LAT (deg)", "Station LON (deg)"),
    ],
)
def test_a_position_is_found_by_its_pair_of_names(header: str, lat: str, lon: str) -> None:
    """Columns that differ only in a latitude and longitude word are a position, the first such
    pair when there are several; the answer says which columns it took, and keeps them all."""
    names = header.split(",")
    row = {lat: "45.5", lon: "-73.6"}
    body = f"{header}\n{','.join(row.get(n, '1') for n in names)}\n".encode()
    imported = read_file(body, "csv", LIMITS)
    (feature,) = imported.features
    assert feature.coords == (45.5, -73.6)
    assert imported.notes == (f"csv positions from columns {lat!r} and {lon!r}",)
    assert [k for k, _ in feature.properties] == names  # every column kept, in its order


def test_coordinates_that_cannot_be_paired_are_named_in_the_refusal() -> None:
    """A latitude without its longitude (or two unlike names) is a position mapsrv cannot read:
    the refusal says so and names them, and says so in a field the page reads (no advice to join
    the rows to countries)."""
    from mapsrv.formats.columns import NoPosition

    with pytest.raises(NoPosition) as err:
        read_file(b"code,site_lat,east_lon_value\nA,45.5,-73.6\n", "csv", LIMITS)
    assert err.value.message == (
        "csv has no position mapsrv can pair: 'site_lat', 'east_lon_value' look like coordinates, but"
        " no latitude and longitude columns named alike (lat and lon, or centroid_lat and centroid_lon);"
        " rename them so, or give a WKT or GeoJSON geometry column (wkt, geometry)"
    )
    assert err.value.to_json()["coordinates"] == ["site_lat", "east_lon_value"]
    with pytest.raises(NoPosition) as plain:
        read_file(b"Product,Price\nTea,3.5\n", "csv", LIMITS)
    assert plain.value.to_json()["coordinates"] == []


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("48.85 N", "2.35 W", (48.85, -2.35)),
        ("33.87S", "151.21E", (-33.87, 151.21)),
        ("-1", "+2", (-1.0, 2.0)),
    ],
)
def test_hemisphere_letters(lat: str, lon: str, expected: tuple[float, float]) -> None:
    (feature,) = read_file(f"lat,lon\n{lat},{lon}\n".encode(), "csv", LIMITS).features
    assert feature.coords == expected


def test_a_decimal_comma_is_not_read_in_a_comma_separated_file() -> None:
    imported = read_file(b'lat,lon\n"48,85","2,35"\n1,2\n', "csv", LIMITS)
    assert [f.coords for f in imported.features] == [(1.0, 2.0)]
    assert imported.notes == ("skipped rows whose latitude or longitude is missing or not a number: line 2",)


def test_out_of_range_rows_are_skipped_and_listed() -> None:
    rows = "".join(f"{95 + i},10\n" for i in range(12))
    imported = read_file(f"lat,lon\n1,2\n{rows}".encode(), "csv", LIMITS)
    assert len(imported.features) == 1
    (note,) = imported.notes
    lines = ", ".join(f"line {n}" for n in range(3, 13))
    assert note.startswith(
        f"skipped rows that break a rule: {lines} and 2 more"
        " (the first: coords latitude must be between -90 and 90, got 95;"
    )


def test_a_layer_column_makes_layers() -> None:
    imported = read_file(
        b"name,lat,lon,layer\nA,1,1,Hotels\nB,2,2,Food\nC,3,3,Hotels\nD,4,4,\n", "csv", LIMITS
    )
    assert imported.layers == (Layer("hotels", "Hotels"), Layer("food", "Food"))
    assert [f.layer for f in imported.features] == ["hotels", "food", "hotels", "default"]


def test_a_table_as_wide_as_allowed_keeps_every_column() -> None:
    """1,000 columns (``MAX_COLUMNS``, all a feature may hold): every one kept, the coordinates'
    too; one more is refused as no table."""
    assert MAX_COLUMNS <= MAX_PROPERTIES
    header = "lat,lon," + ",".join(f"c{i}" for i in range(MAX_COLUMNS - 2))
    row = "1,2," + ",".join(str(i) for i in range(MAX_COLUMNS - 2))
    imported = read_file(f"{header}\n{row}\n".encode(), "csv", LIMITS)
    assert len(imported.features[0].properties) == MAX_COLUMNS
    assert dict(imported.features[0].properties)[f"c{MAX_COLUMNS - 3}"] == MAX_COLUMNS - 3
    assert imported.notes == ()
    with pytest.raises(PayloadTooLarge, match=f"at most {MAX_COLUMNS} columns, got {MAX_COLUMNS + 1}"):
        read_file(f"{header},one_more\n{row},0\n".encode(), "csv", LIMITS)


def test_csv_export_reads_back_with_the_csv_module() -> None:
    attributes = {"stars": 4, "open": True, "note": "-not a number", "ratio": 0.5}
    state = map_with(
        {"type": "marker", "coords": [48.85, 2.35], "label": '=HYPERLINK("http://x")', "layer": "stops"}
        | {"properties": attributes},
        {"type": "polyline", "coords": [[1, 2], [3, 4]], "popup": "a, b"}
        | {"properties": {"times": ["t1", "t2"]}},
        {"type": "rectangle", "coords": [[10, 20], [11, 22]]},
        {"type": "circle", "coords": [5, 6], "radius": 250.5},
    )
    body, media, extension = write_file(state, "csv")
    assert (media, extension) == ("text/csv; charset=utf-8", "csv")
    assert body.startswith(b"\xef\xbb\xbf")  # Excel needs the byte order mark to read UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    fixed = ["id", "type", "layer", "label", "popup", "lat", "lon", "radius", "wkt"]
    assert list(rows[0]) == [*fixed, "stars", "open", "note", "ratio"]  # the attributes' own order
    marker, line, rectangle, circle = rows
    assert marker["label"] == '\'=HYPERLINK("http://x")'  # a spreadsheet would run it as a formula
    assert (marker["lat"], marker["lon"], marker["wkt"], marker["layer"]) == ("48.85", "2.35", "", "stops")
    assert (marker["stars"], marker["open"], marker["note"], marker["ratio"]) == (
        "4",
        "true",
        "'-not a number",
        "0.5",
    )
    assert (line["wkt"], line["popup"], line["lat"]) == ("LINESTRING (2.0 1.0, 4.0 3.0)", "a, b", "")
    assert rectangle["wkt"] == "POLYGON ((20.0 10.0, 22.0 10.0, 22.0 11.0, 20.0 11.0, 20.0 10.0))"
    assert (circle["type"], circle["lat"], circle["lon"], circle["radius"]) == (
        "circle",
        "5.0",
        "6.0",
        "250.5",
    )


def test_csv_to_mapsrv_to_csv_keeps_every_feature() -> None:
    state = map_with(
        {
            "type": "marker",
            "coords": [48.85, 2.35],
            "label": "=1+1",
            "layer": "stops",
            "properties": {"type": "museum"},
        },
        {"type": "polyline", "coords": [[1, 2], [3, 4]], "popup": "-dash"},
        {"type": "polygon", "coords": [[0, 0], [0, 1], [1, 1]]},
        {"type": "rectangle", "coords": [[10, 20], [11, 22]]},
        {"type": "circle", "coords": [5, 6], "radius": 250.5},
    )
    again = read_file(write_file(state, "csv")[0], None, LIMITS)
    assert again.layers == (Layer("stops", "stops"),)
    assert [(f.type, f.coords, f.radius, f.layer, f.label, f.popup) for f in again.features] == [
        (f.type, f.coords, f.radius, f.layer, f.label, f.popup) for f in state.features.values()
    ]
    # in a CSV mapsrv wrote, its own columns are the feature, not properties, and a property
    # named like one of them is kept under its name
    assert [props(f) for f in again.features] == [{"type": "museum"}, {}, {}, {}, {}]


def test_a_gpx_track_as_csv_is_one_wkt_row() -> None:
    imported = read_file(read_fixture("garmin_ride.gpx"), None, LIMITS)
    rows = list(csv.reader(io.StringIO(write_file(map_of(imported), "csv")[0].decode("utf-8-sig"))))
    header, lines = rows[0], [r for r in rows[1:] if r[1] in ("polyline", "multipolyline")]
    assert "times" not in header and "elevations" not in header  # per-point lists stay out of cells
    assert [(line[1], line[header.index("label")]) for line in lines] == [
        ("polyline", "Planned loop"),
        ("multipolyline", "Morning Ride"),  # its two segments, one row
    ]
    assert lines[1][header.index("wkt")] == (  # its elevations its heights, nan where a point has none
        "MULTILINESTRING Z ((6.1294 45.8992 448.2, 6.13012 45.89871 448.6, 6.13103 45.8981 449.0,"
        " 6.13188 45.89744 449.8), (6.1767 45.8531 460.4, 6.17702 45.85261 nan, 6.17755 45.85199 463.1))"
    )


def test_row_and_field_caps_name_the_cap() -> None:
    with pytest.raises(
        PayloadTooLarge, match=r"^csv must have at most 5 rows \(max_features\), got more by line"
    ):
        read_file(b"lat,lon\n" + b"1,2\n" * 10_010, "csv", Limits(max_features=5))


def test_lookups_stop_at_their_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mapsrv.formats.table.MAX_LOOKUPS", 2)
    asked: list[str] = []

    def lookup(name: str) -> LatLon | None:
        asked.append(name)
        return (1.0, 2.0)

    imported = read_file(b"place\nA\nB\nA\nC\nD\n", "csv", LIMITS, lookup=lookup)
    assert asked == ["A", "B"]
    assert [f.label for f in imported.features] == ["A", "B", "A"]
    assert imported.unresolved == ((5, "C"), (6, "D"))
    assert imported.notes == ("place names not looked up (past the first 2 different ones): 2",)


def test_a_radius_or_type_column_of_another_table_is_a_property() -> None:
    well, pond = read_file(b"lat,lon,type,radius\n1,2,well,30\n3,4,circle,50\n", "csv", LIMITS).features
    assert (well.type, well.radius, props(well)) == (
        "marker",
        None,
        {"lat": 1, "lon": 2, "type": "well", "radius": 30},
    )
    assert (pond.type, pond.radius, props(pond)["type"]) == ("marker", None, "circle")


def test_an_excel_sep_line_names_the_delimiter() -> None:
    imported = read_file(b"sep=;\r\nname;lat;lon\r\nA, B;1,5;2,5\r\nC;north;2\r\n", "csv", LIMITS)
    assert [(f.label, f.coords) for f in imported.features] == [("A, B", (1.5, 2.5))]
    assert imported.notes == ("skipped rows whose latitude or longitude is missing or not a number: line 4",)


def test_a_geometry_too_long_for_a_property_is_drawn_and_not_kept_cut_short() -> None:
    line = ", ".join(f"{6 + i / 1000} {45 + i / 1000}" for i in range(400))
    imported = read_file(f'wkt,name\n"LINESTRING ({line})",ride\n'.encode(), "csv", LIMITS)
    (ride,) = imported.features
    assert len(ride.coords) == 400 and props(ride) == {"name": "ride"}
    assert imported.notes == (
        "geometry texts longer than 4000 characters not kept as a property (the shape is drawn): 1",
    )
