"""One imported feature cannot break a map's GIS downloads (issue 72, item 4): a GeoJSON whose
properties are named as the columns GIS files keep for themselves (a text ``fid``, ``OGC_FID``,
``Geometry``, names alike but for case) is imported through the page, and every GIS download
answers 200, for the owner and the view link, saying in its notes what it renamed."""

from __future__ import annotations

import json

import httpx
import pyogrio
import trio
from support import Browser, start_server

FEATURES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [6.63, 46.52]},
            "properties": {"fid": "north-1", "OGC_FID": "x", "Geometry": 2, "NAME": "Gare", "name": "gare"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [6.14, 46.2]},
            "properties": {"fid": 7, "OGC_FID": None, "Geometry": "text", "NAME": "Lac", "name": None},
        },
    ],
}


async def test_gis_downloads_of_a_map_with_odd_property_names_answer_with_notes(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    viewer = httpx.AsyncClient(base_url=server.url.rstrip("/"), timeout=10)
    try:
        map_id = await owner.new_map()
        imported = await owner.client.post(
            f"/m/{map_id}/import?filename=odd.geojson", content=json.dumps(FEATURES).encode()
        )
        assert imported.is_success, imported.text
        view_key = (await server.hub.get(map_id)).view_key
        for prefix, client in ((f"/m/{map_id}", owner.client), (f"/v/{view_key}", viewer)):
            for extension in ("gpkg", "shp.zip", "fgb", "parquet"):
                answer = await client.get(f"{prefix}/export.{extension}")
                assert answer.status_code == 200, (prefix, extension, answer.text[:300])
                notes = json.loads(answer.headers["x-mapsrv-notes"])
                assert (
                    "property OGC_FID renamed OGC_FID_2: GDAL takes an OGC_FID column for its feature ids"
                    in notes
                )
                assert any(note.startswith("property Geometry renamed Geometry_2") for note in notes), notes
                if extension != "parquet":  # GDAL reads it as QGIS would
                    layers = pyogrio.list_layers(answer.content)
                    rows = sum(pyogrio.read_info(answer.content, layer=str(n))["features"] for n, _ in layers)
                    assert rows == 2, (prefix, extension)
            gpkg = await client.get(f"{prefix}/export.gpkg")
            assert "property fid renamed fid_2: a GeoPackage keeps its own fid column" in json.loads(
                gpkg.headers["x-mapsrv-notes"]
            )
            fields = pyogrio.read_info(gpkg.content)["fields"].tolist()
            assert {"fid_2", "OGC_FID_2", "Geometry_2", "NAME", "name_2"} <= set(fields), fields
    finally:
        await viewer.aclose()
        await owner.aclose()
