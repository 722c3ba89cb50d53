"""What a format cannot hold of a map, said in its export's notes (``export_notes``), so that
nothing is changed or left out without a word. GeoJSON holds everything but a circle (a point
with its radius in mapsrv's member); the others hold properties as flat values, and no file ids
or foreign members (a GeoJSON Feature's own members, kept for a GeoJSON export)."""

from __future__ import annotations

from mapsrv.core.model import MapState
from mapsrv.core.pace import paced

__all__ = ["held_notes"]

# why each format writes a nested value as JSON text
_FLAT = {
    "csv": "CSV cells hold text",
    "kml": "KML ExtendedData holds text",
    "kmz": "KML ExtendedData holds text",
    "shp": "a Shapefile's fields hold flat values",
    "gpkg": "a GeoPackage's columns hold flat values",
    "fgb": "a FlatGeobuf's columns hold flat values",
}
# the properties a GPX file writes (``mapsrv.formats.gpx``): in its elements, not as data
_GPX = frozenset({"ele", "time", "elevations", "times", "names", "cmt", "sym", "type", "route"})
_NAMES = {"csv": "CSV", "kml": "KML", "kmz": "KML", "gpx": "GPX", "shp": "a Shapefile"}
_NAMES |= {"gpkg": "a GeoPackage", "fgb": "a FlatGeobuf", "parquet": "a GeoParquet"}


def held_notes(state: MapState, fmt: str) -> list[str]:
    """Nested values written as JSON text, file ids and foreign members not kept, circles and
    styles a format has no place for: counted, each with the reason."""
    if fmt == "geojson":
        circles = sum(f.type == "circle" for f in paced(state.features.values()))
        if not circles:  # GeoJSON holds everything else: no pass over the properties
            return []
        return [
            f"{circles} circle{_s(circles)} written as a point with its radius in the mapsrv member:"
            " GeoJSON has no circles"
        ]
    nested = ids = foreign = styled = unwritten = 0
    gpx = fmt == "gpx"
    for feature in paced(state.features.values()):
        properties, members = feature.properties, feature.members
        if properties:
            if gpx and any(k not in _GPX for k, _ in properties):
                unwritten += 1
            for _, value in properties:
                if isinstance(value, (dict, list)):
                    nested += 1
        if members:
            ids += any(k == "id" for k, _ in members)
            foreign += sum(k != "id" for k, _ in members)
        if feature.style:
            styled += 1
    notes = []
    name = _NAMES.get(fmt, fmt)
    if unwritten:
        notes.append(
            f"{unwritten} feature{_s(unwritten)}' properties not written (but times, elevations, cmt,"
            " sym and type): GPX has no place for them"
        )
    if nested and fmt in _FLAT:
        notes.append(f"{nested} nested value{_s(nested)} written as JSON text: {_FLAT[fmt]}")
    if ids:
        notes.append(
            f"{ids} file id{_s(ids)} not kept (mapsrv's ids written instead): {name} has no place for them"
        )
    if foreign:
        notes.append(
            f"{foreign} foreign member{_s(foreign)} of GeoJSON Features not kept:"
            f" {name} has no place for them"
        )
    if styled and fmt in ("csv", "gpx"):
        notes.append(f"{styled} feature style{_s(styled)} not written: {name} has no styles")
    return notes


def _s(n: int) -> str:
    return "s" * (n != 1)
