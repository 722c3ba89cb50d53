"""Which format a file is: its content first, its name next, text as CSV last; a format the
caller names is checked against the content."""

from __future__ import annotations

import io
import zipfile

import pytest
from formats_helpers import read_fixture

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import FORMATS, detect_format, read_file


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("doc.kml", read_fixture("my_maps.kml"))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("garmin_ride.gpx", "gpx"),
        ("gpx10_hike.gpx", "gpx"),
        ("my_maps.kml", "kml"),
        ("earth.kml", "kml"),
        ("stations.csv", "csv"),
        ("capitals.tsv", "csv"),
    ],
)
def test_by_content_whatever_the_name(name: str, expected: str) -> None:
    assert detect_format(read_fixture(name)) == expected
    assert detect_format(read_fixture(name), "upload.bin") == expected


def test_zip_json_and_utf16() -> None:
    assert detect_format(a_zip()) == "kmz"
    assert detect_format(b' \n{"type": "FeatureCollection", "features": []}') == "geojson"
    utf16 = read_fixture("garmin_ride.gpx").decode().encode("utf-16")
    assert detect_format(utf16) == "gpx"
    assert len(read_file(utf16, None, Limits()).features) == 5  # 3 waypoints, a route, a track


def test_the_name_decides_what_the_content_does_not() -> None:
    assert detect_format(b"not xml at all", "ride.gpx") == "gpx"
    assert detect_format(b"[1, 2]", "shapes.geojson") == "geojson"
    assert detect_format(b"a;b\n1;2\n", "table.txt") == "csv"
    assert detect_format(b"a;b\n1;2\n") == "csv"


def test_a_named_format_is_checked_against_the_content() -> None:
    assert detect_format(read_fixture("my_maps.kml"), given="KML") == "kml"
    assert detect_format(b'{"type": "Feature"}', given="json") == "geojson"
    with pytest.raises(InvalidInput) as err:
        detect_format(a_zip(), given="gpx")
    assert err.value.message == "file is not gpx: its content is kmz; give format 'kmz', or leave format out"
    every = "geojson, gpx, kml, kmz, csv, shp, gpkg, fgb, parquet"
    with pytest.raises(InvalidInput, match=rf"^format must be one of {every}, got 'dxf'"):
        detect_format(b"", given="dxf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "file is a PNG image, not one of geojson, gpx, kml, kmz, csv, shp"),
        (
            b"\x1f\x8b\x08\x00",
            "file is gzip-compressed, not one of geojson, gpx, kml, kmz, csv, shp, gpkg, fgb, parquet;"
            " decompress it first",
        ),
        (b"", "file is empty: give one of geojson, gpx, kml, kmz, csv, shp"),
        (
            b'<?xml version="1.0"?><html><body/></html>',
            "file is XML but neither GPX nor KML (it starts with <html...)",
        ),
    ],
)
def test_what_it_cannot_be_is_said(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        detect_format(data)
    assert err.value.message.startswith(message)


def test_every_format_is_named_once() -> None:
    assert sorted(FORMATS) == ["csv", "fgb", "geojson", "gpkg", "gpx", "kml", "kmz", "parquet", "shp"]


def test_geojson_reads_through_core_with_its_title() -> None:
    body = (
        b'{"type": "FeatureCollection", "name": "Trip", "features": [{"type": "Feature", "id": "f9",'
        b' "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},'
        b' "properties": {"name": "Paris", "pop": 2}}]}'
    )
    imported = read_file(body, None, Limits())
    assert (imported.format, imported.title) == ("geojson", "Trip")
    (paris,) = imported.features
    assert (paris.id, paris.label, paris.coords, dict(paris.properties)) == (
        "",
        "Paris",
        (48.85, 2.35),
        {"name": "Paris", "pop": 2},  # the label read from name, and name kept
    )
    with pytest.raises(InvalidInput, match=r"^geojson is not valid JSON at line 1, column 2: Expecting"):
        read_file(b"{,}", "geojson", Limits())
