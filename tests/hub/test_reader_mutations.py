"""Random mutations of real small GIS files, as GDAL, pyarrow and the formats' own writers make
them, fed to the sandboxed reader (issue 72): whatever a flipped byte, a cut, a repeated or
inserted run does to a file, the reader answers features or a refusal (a 4xx with a message),
never an internal error and never a hang. Each read is a real reader process, so a file that
crashes GDAL costs only that process (and is a 400 here)."""

from __future__ import annotations

import functools
import io
import json
import zipfile

import pyarrow as pa
import shapely
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.gis_files import flatgeobuf, geopackage, geoparquet, shapefile_zip

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.hub.imports import read_upload
from mapsrv.hub.reader import ReadLimits, reader

LIMITS = ReadLimits(memory=256 << 20, cpu=20, wall=30)


def _table() -> pa.Table:
    lines = [shapely.LineString([(2, 48), (2.1, 48.1), (2.2, 48.05)]), shapely.Point(2.3, 48.2)]
    return pa.table(
        {"name": ["a road", "a stop"], "n": pa.array([1, 2], pa.int64()), "geometry": shapely.to_wkb(lines)}
    )


@functools.cache
def originals() -> dict[str, bytes]:
    """One small file of each format mapsrv reads, written by the tools that write them."""
    table = _table()
    points = pa.table({"name": ["x", "y"], "geometry": shapely.to_wkb(shapely.points([(2, 48), (3, 49)]))})
    kml = (
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>f</name><Placemark>'
        "<name>p</name><Point><coordinates>2,48</coordinates></Point></Placemark></Folder></Document></kml>"
    )
    kmz = io.BytesIO()
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml)
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2, 48]}, "properties": {"a": 1}}
        ],
    }
    gpx = (
        '<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="48" lon="2"><ele>1</ele></trkpt><trkpt lat="48.1" lon="2.1"><ele>2</ele></trkpt>'
        "</trkseg></trk></gpx>"
    )
    return {
        "gpkg": geopackage({"things": (table, "EPSG:4326", None)}),
        "shp": shapefile_zip({"stops": (points, "EPSG:4326", "Point")}),
        "fgb": flatgeobuf(points, "EPSG:4326", "Point"),
        "parquet": geoparquet(table, None),
        "kmz": kmz.getvalue(),
        "kml": kml.encode(),
        "geojson": json.dumps(geojson).encode(),
        "gpx": gpx.encode(),
        "csv": b"name,lat,lon\na,48,2\nb,48.5,2.5\n",
    }


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(originals())))
    data = bytearray(originals()[fmt])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "zero"]))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 4096))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif how == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 512))] * draw(st.integers(2, 200))
        else:
            data[at : at + 8] = bytes(8)
    return fmt, bytes(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
async def test_a_mutated_file_is_read_or_refused_never_an_internal_error(
    case: tuple[str, bytes], named: bool
) -> None:
    fmt, data = case
    await reader().retire_spare(0)  # each example runs in a trio run of its own: no process from another
    try:
        with trio.fail_after(60):  # a hang fails here, by this assertion, not by a timeout plugin
            imported = await read_upload(data, fmt if named else None, Limits(), read_limits=LIMITS)
        assert imported.features
    except InvalidInput as refused:  # a 4xx, with a message in the user's terms
        assert 400 <= refused.status < 500 and refused.message
        assert "Traceback" not in refused.message
    finally:
        await reader().retire_spare(0)
