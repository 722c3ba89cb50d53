"""Real geometry for tests: Natural Earth's countries (public domain) as GeoJSON, from the
TopoJSON that mapsrv ships for its offline basemap (``mapsrv/places/world``, fetched and checked by
scripts/natural-earth.sh). Unlike ``places.world.countries`` nothing is cut at the 180th meridian:
each country is one Feature as Natural Earth draws it, a Polygon (South Africa, with Lesotho as
its hole) or a MultiPolygon (Canada), its rings closed as RFC 7946 wants.

``countries_table``: a real table of the same countries, Natural Earth's 1:110m with their
population and GDP estimates (``pop_est``, ``gdp_md_est`` in millions of dollars), as the file
pyogrio's wheel ships for its own tests (``naturalearth_lowres``, 177 countries, read with GDAL),
each a GeoJSON Feature with a ``gdp_per_head``, its coordinates rounded to 1e-9 degrees."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from mapsrv.places.world import DIRECTORY, FILES, Scale, decode_arcs, ring

__all__ = ["countries_geojson", "countries_table"]


def _closed(points: Any) -> list[list[float]]:
    out = [[x, y] for x, y in points]
    if out[0] != out[-1]:
        out.append(out[0])
    return out


@functools.cache
def _text(scale: Scale) -> str:
    with open(DIRECTORY / FILES[scale], encoding="utf-8") as f:
        topology = json.load(f)
    arcs = decode_arcs(topology)
    features = []
    seen: set[str] = set()
    for geometry in topology["objects"]["countries"]["geometries"]:
        kind = geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            continue  # a country without a shape at this scale
        polygons = [geometry["arcs"]] if kind == "Polygon" else geometry["arcs"]
        coordinates = [[_closed(ring(arcs, indexes)) for indexes in polygon] for polygon in polygons]
        name = str((geometry.get("properties") or {}).get("name", ""))
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        # ISO 3166-1 numeric where it has one ("710"), else its name (Kosovo, N. Cyprus); the
        # name too where two share a code (1:50m)
        fid = str(geometry.get("id") or slug)
        fid = f"{fid}-{slug}" if fid in seen else fid
        seen.add(fid)
        features.append(
            {
                "type": "Feature",
                "id": fid,
                "geometry": {
                    "type": kind,
                    "coordinates": coordinates[0] if kind == "Polygon" else coordinates,
                },
                "properties": {"name": name},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features})


def countries_geojson(scale: Scale = "110m") -> dict[str, Any]:
    """Every country of that scale (1:110m: 177; 1:50m: 241) as one GeoJSON Feature; a fresh
    copy each call, so a test may change it."""
    loaded: dict[str, Any] = json.loads(_text(scale))
    return loaded


@functools.cache
def _table() -> str:
    from pathlib import Path

    import pyogrio
    import shapely

    path = Path(pyogrio.__file__).parent / "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
    meta, _, geometries, fields = pyogrio.raw.read(path)
    columns = dict(zip(meta["fields"], fields, strict=True))
    features = []
    for index, wkb in enumerate(geometries):
        row = {name: values[index].item() if hasattr(values[index], "item") else values[index]
               for name, values in columns.items()}  # fmt: skip
        row["gdp_per_head"] = row["gdp_md_est"] * 1e6 / row["pop_est"]
        # rounded to 1e-9 degrees: GDAL writes Fiji's and Russia's 180th meridian as 180.00000000000006
        geometry = json.loads(shapely.to_geojson(shapely.set_precision(shapely.from_wkb(wkb), 1e-9)))
        features.append({"type": "Feature", "id": f"ne{index}", "geometry": geometry, "properties": row})
    return json.dumps({"type": "FeatureCollection", "features": features})


def countries_table() -> dict[str, Any]:
    """Natural Earth's 177 countries with ``name``, ``iso_a3``, ``continent``, ``pop_est``,
    ``gdp_md_est`` and ``gdp_per_head`` (dollars), one Polygon or MultiPolygon Feature each; a
    fresh copy each call."""
    loaded: dict[str, Any] = json.loads(_table())
    return loaded
