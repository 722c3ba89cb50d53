"""GeoPackages as GDAL writes them (issue 75): a raster's tile table beside the vector layers, its
triggers in any wording that only stops a write, read with a note naming the raster left out; and a
file with several problems refused once, naming them all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from support.gis_files import edited_geopackage, geopackage, write_gdal

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import read_file
from mapsrv.formats.gpkg import check_geopackage

LIMITS = Limits()


def places(n: int = 4) -> pa.Table:
    return pa.table(
        {
            "name": [f"place {i}" for i in range(n)],
            "people": list(range(n)),
            "geometry": shapely.to_wkb(shapely.points([(14.42 + i / 100, 50.08) for i in range(n)])),
        }
    )


def with_raster(path: Path, table: str = "orthophoto") -> Path:
    """A GeoPackage GDAL made: an RGB raster's tile pyramid (GDAL's GPKG raster driver, through
    rasterio), then a vector layer added to the same file (GDAL again, through pyogrio)."""
    band = np.arange(256 * 256, dtype=np.uint8).reshape(256, 256)
    with rasterio.open(
        path, "w", driver="GPKG", width=256, height=256, count=3, dtype="uint8", crs="EPSG:3857",
        transform=from_origin(1_605_000, 6_462_000, 5, 5), RASTER_TABLE=table,
    ) as raster:  # fmt: skip
        for b in (1, 2, 3):
            raster.write(band, b)
    write_gdal(places(), path, "GPKG", crs="EPSG:4326", geometry_type="Point", layer="places", append=True)
    return path


def test_a_geopackage_with_a_raster_gdal_wrote_is_read_with_a_note(tmp_path: Path) -> None:
    path = with_raster(tmp_path / "prague.gpkg")
    notes = check_geopackage(path)  # raises if any of GDAL's own triggers were refused
    assert notes == ["gpkg raster tables left out (a map takes vector layers): orthophoto"]
    for source in (path, path.read_bytes()):  # an upload on disk, or bytes in a tool call
        imported = read_file(source, None, LIMITS, filename="prague.gpkg")
        assert [f.properties for f in imported.features] == [
            (("name", f"place {i}"), ("people", i)) for i in range(4)
        ]
        assert imported.notes == ("gpkg raster tables left out (a map takes vector layers): orthophoto",)


def test_tile_checks_are_read_in_any_wording_that_only_stops_a_write(tmp_path: Path) -> None:
    """The tile triggers' wording changed between the specification's versions and GDAL's (a
    message, lower() or not, spacing): any body of RAISE-only SELECTs can stop a write and never
    make one, and is read; one that also writes is not."""
    data = with_raster(tmp_path / "a.gpkg").read_bytes()
    reworded = edited_geopackage(
        data,
        'DROP TRIGGER "orthophoto_zoom_insert"; CREATE TRIGGER "orthophoto_zoom_insert" BEFORE INSERT ON'
        " orthophoto BEGIN SELECT RAISE(ABORT, 'zoom_level not in gpkg_tile_matrix') WHERE NOT"
        " (NEW.zoom_level IN (SELECT zoom_level FROM gpkg_tile_matrix WHERE table_name = 'orthophoto'));"
        " SELECT RAISE(FAIL, 'no') WHERE NEW.tile_column < 0; END;",
    )
    assert len(read_file(reworded, None, LIMITS).features) == 4
    writes = edited_geopackage(
        data,
        'DROP TRIGGER "orthophoto_tile_row_insert"; CREATE TRIGGER "orthophoto_tile_row_insert" BEFORE'
        " INSERT ON orthophoto BEGIN SELECT RAISE(ABORT, 'no') WHERE NEW.tile_row < 0;"
        " UPDATE gpkg_contents SET identifier = 'x'; END;",
    )
    with pytest.raises(InvalidInput) as err:
        read_file(writes, None, LIMITS)
    assert "'orthophoto_tile_row_insert'" in err.value.message


def test_every_problem_is_named_in_one_refusal() -> None:
    """A forged or odd file's every problem at once: its owner fixes it in one go, not one
    trigger per attempt."""
    data = geopackage({"stops": (places(), "EPSG:4326", "Point")})
    forged = edited_geopackage(
        data,
        "CREATE TRIGGER one AFTER INSERT ON stops BEGIN DELETE FROM stops; END;"
        " CREATE TRIGGER two AFTER DELETE ON stops BEGIN INSERT INTO stops (name) VALUES ('x'); END;"
        " CREATE VIEW sights AS SELECT * FROM stops;"
        " INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)"
        " VALUES ('sights', 'features', 'sights', 4326);"
        " INSERT INTO gpkg_geometry_columns VALUES ('sights', 'geom', 'POINT', 4326, 0, 0);",
    )
    with pytest.raises(InvalidInput) as err:
        read_file(forged, None, LIMITS)
    assert err.value.message == (
        "gpkg cannot be read as it is, for 2 reasons: (1) layer 'sights' is a view: views run a query"
        " when read (one of them may never end); export it as a table (ogr2ogr or QGIS can); (2) has 2"
        " triggers that GeoPackages do not need, 'one', 'two': their bodies are not ones the GeoPackage"
        " specification writes, and a trigger runs code when a table changes; drop them"
        ' (DROP TRIGGER "one"; DROP TRIGGER "two";) and send the file again'
    )
