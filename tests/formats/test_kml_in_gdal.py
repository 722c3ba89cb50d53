"""KML and KMZ that GDAL and QGIS read with every attribute (issue 75): mapsrv's exports read back
by GDAL (pyogrio, its LIBKML driver, QGIS's reader of KML) layer by layer, each attribute with
its value and type, columns named like the placemark's own fields (``id``, ``ID``, ``Name``)
included under the names the export's note gives, and by mapsrv again as the same map."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from formats_helpers import map_with

from mapsrv.core.model import Limits
from mapsrv.formats import export_file, read_file

LIMITS = Limits()
LIBKML_OWN = {"id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate",
              "extrude", "visibility", "drawOrder", "icon"}  # fmt: skip


def trip() -> Any:
    return map_with(
        {"type": "marker", "coords": [46.52, 6.63], "label": "Gare", "layer": "stops",
         "properties": {"ID": 7, "id": "A1", "visits": 12, "rating": 4.5, "open": True, "note": "café"}},
        {"type": "marker", "coords": [46.2, 6.14], "label": "Port", "layer": "stops",
         "properties": {"ID": 8, "id": "A2", "visits": 3, "rating": 2.0, "open": False, "note": "-99"}},
        {"type": "polyline", "coords": [[46.5, 6.6], [46.2, 6.1]], "label": "Lakeside", "layer": "routes",
         "properties": {"km": 62.5, "Name": "Lake route"}},
    )  # fmt: skip


def read_by_gdal(body: bytes, suffix: str) -> dict[str, list[dict[str, Any]]]:
    """Each layer's rows as GDAL reads them, the placemark's own fields aside."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"map.{suffix}"
        path.write_bytes(body)
        out = {}
        for name, _ in pyogrio.list_layers(path):
            meta, table = pyogrio.read_arrow(path, layer=name)
            rows = table.drop_columns([meta["geometry_name"] or "wkb_geometry"]).to_pylist()
            out[str(name)] = [{k: v for k, v in row.items() if k not in LIBKML_OWN} for row in rows]
        return out


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_gdal_reads_every_attribute_of_mapsrvs_kml(fmt: str) -> None:
    exported = export_file(trip(), fmt)
    assert exported.notes == (
        "property ID renamed ID_2; property id renamed id_3; property Name renamed Name_2: GDAL and QGIS"
        " read a KML placemark's ID, id, Name as its own field",
    )
    body = exported.body
    if fmt == "kmz":
        with zipfile.ZipFile(io.BytesIO(body)) as kmz:
            assert kmz.namelist() == ["doc.kml"]
    read = read_by_gdal(body, fmt)
    assert read == {
        "stops": [
            {"ID_2": 7, "id_3": "A1", "visits": 12, "rating": 4.5, "open": True, "note": "café"},
            {"ID_2": 8, "id_3": "A2", "visits": 3, "rating": 2.0, "open": False, "note": "-99"},
        ],
        "routes": [{"km": 62.5, "Name_2": "Lake route"}],  # each layer its own columns
    }


def test_mapsrv_reads_its_kml_back_as_the_same_layers_and_values() -> None:
    state = trip()
    back = read_file(export_file(state, "kmz").body, None, LIMITS)
    assert [layer.name for layer in back.layers] == ["stops", "routes"]
    gare = next(f for f in back.features if f.label == "Gare")
    assert dict(gare.properties) == {  # a placemark's <name> is its label and a name (read_kml)
        "name": "Gare", "ID_2": 7, "id_3": "A1", "visits": 12, "rating": 4.5, "open": True, "note": "café",
    }  # fmt: skip
