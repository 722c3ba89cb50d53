"""What an OpenStreetMap extract's street basemap is drawn from (issue 79), read with pyosmium in
one pass: the features of Protomaps' basemap schema (v4) with the zoom each first shows at.

- ``roads``: ``highway`` ways by class (``kind``: highway, major_road, minor_road, other, path;
  ``kind_detail`` the OSM value) with their names;
- ``transit``: railways (``kind`` rail; ``kind_detail`` rail, tram, subway...);
- ``water``: lakes, rivers' areas, basins (polygons) and waterways (lines); the sea comes from the
  coastline (``street_tiles.earth_and_sea``);
- ``landuse``: parks, woods, grass, cemeteries, residential and industrial land...;
- ``buildings``: outlines, and house numbers (``kind`` address) on nodes and buildings;
- ``places``: cities, towns and villages (``locality``), suburbs and neighbourhoods.

Everything else is skipped in osmium's C++ filters. Geometries come as WKB (lon, lat), made by
osmium from its node-location cache; areas (closed ways and multipolygon relations) are
assembled by osmium too. Sans-IO below ``read_drawn``: ``kinds`` decides from tags alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapsrv.places.coverage import extract_box

__all__ = ["Drawn", "area_kind", "line_kind", "point_kind", "read_drawn"]

# highway value -> (kind, first zoom)
ROADS = {
    "motorway": ("highway", 10), "trunk": ("highway", 10),
    "motorway_link": ("highway", 12), "trunk_link": ("highway", 12),
    "primary": ("major_road", 10), "secondary": ("major_road", 11), "tertiary": ("major_road", 12),
    "primary_link": ("major_road", 13), "secondary_link": ("major_road", 13),
    "tertiary_link": ("major_road", 13), "residential": ("minor_road", 13),
    "unclassified": ("minor_road", 13), "living_street": ("minor_road", 13),
    "road": ("minor_road", 13), "service": ("other", 14), "track": ("path", 14),
    "pedestrian": ("path", 14), "footway": ("path", 14), "path": ("path", 14), "cycleway": ("path", 14),
    "steps": ("path", 15), "bridleway": ("path", 14), "corridor": ("path", 16),
}  # fmt: skip
RAILWAYS = {"rail": 11, "light_rail": 12, "subway": 12, "narrow_gauge": 12, "monorail": 12, "tram": 13}
WATERWAYS = {"river": 11, "canal": 12, "stream": 14, "ditch": 15, "drain": 15}
PLACES = {
    "city": ("locality", 10), "town": ("locality", 11), "village": ("locality", 12),
    "suburb": ("neighbourhood", 13), "borough": ("neighbourhood", 13), "quarter": ("neighbourhood", 14),
    "neighbourhood": ("neighbourhood", 15),
}  # fmt: skip
# an area's kind in the landuse layer, from the first of these keys that names one
LANDUSE_KEYS = ("leisure", "natural", "amenity", "landuse")
LANDUSE = {
    "park", "garden", "playground", "recreation_ground", "grass", "meadow", "village_green", "forest",
    "wood", "nature_reserve", "scrub", "cemetery", "pitch", "golf_course", "beach", "sand",
    "residential", "industrial", "railway", "commercial", "retail", "hospital", "school",
    "university", "college", "parking",
}  # fmt: skip
WATER_AREAS = {"water": "water", "reservoir": "reservoir", "basin": "basin", "riverbank": "river"}
AREA_KEYS = ("building", "landuse", "leisure", "natural", "amenity", "water", "waterway", "highway")
LINE_KEYS = ("highway", "railway", "waterway", "natural")
POINT_KEYS = ("place", "addr:housenumber")
BUILDINGS_FROM = 14
LANDUSE_FROM, WATER_FROM = 10, 10
ADDRESSES_FROM = 16  # house numbers: the highest zoom's tiles only


Kind = tuple[str, dict[str, str], int]  # layer, properties, the first zoom shown


@dataclass
class Drawn:
    """The extract's drawn features: each layer's WKB geometries, properties and first zooms, the
    coastline's ways apart, and the box the extract covers (west, south, east, north)."""

    layers: dict[str, list[tuple[bytes, dict[str, str], int]]] = field(default_factory=dict)
    coastline: list[bytes] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    def add(self, kind: Kind, wkb: bytes) -> None:
        layer, props, zoom = kind
        self.layers.setdefault(layer, []).append((wkb, props, zoom))

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.layers.values()) + len(self.coastline)


def line_kind(tags: Mapping[str, str]) -> Kind | None:
    """A way drawn as a line: a road, a railway or a waterway; None otherwise."""
    highway = tags.get("highway")
    if highway in ROADS and tags.get("area") != "yes":
        kind, zoom = ROADS[highway]
        props = {"kind": kind, "kind_detail": highway}
        if name := tags.get("name"):
            props["name"] = name
        return "roads", props, zoom
    railway = tags.get("railway")
    if railway in RAILWAYS and tags.get("service") not in ("yard", "siding", "spur"):
        return "transit", {"kind": "rail", "kind_detail": railway}, RAILWAYS[railway]
    waterway = tags.get("waterway")
    if waterway in WATERWAYS:
        props = {"kind": waterway}
        if name := tags.get("name"):
            props["name"] = name
        return "water", props, WATERWAYS[waterway]
    return None


def area_kind(tags: Mapping[str, str]) -> Kind | None:
    """An area drawn as a polygon: a building, water or land use; None otherwise."""
    if tags.get("building", "no") != "no":
        return "buildings", {"kind": "building"}, BUILDINGS_FROM
    water = tags.get("water")
    if tags.get("natural") == "water" or tags.get("waterway") == "riverbank":
        kind = (
            "river"
            if water == "river" or tags.get("waterway") == "riverbank"
            else "lake"
            if water
            else "water"
        )
        return "water", {"kind": kind}, WATER_FROM
    if tags.get("landuse") in WATER_AREAS:
        return "water", {"kind": WATER_AREAS[tags["landuse"]]}, WATER_FROM
    if tags.get("highway") == "pedestrian" and tags.get("area") == "yes":
        return "landuse", {"kind": "pedestrian"}, 14
    for key in LANDUSE_KEYS:
        value = tags.get(key)
        if value in LANDUSE:
            return "landuse", {"kind": value}, LANDUSE_FROM
    return None


def point_kind(tags: Mapping[str, str]) -> Kind | None:
    """A node drawn as a point: a place's name or a house number; None otherwise."""
    place, name = tags.get("place"), tags.get("name")
    if place in PLACES and name:
        kind, zoom = PLACES[place]
        return "places", {"kind": kind, "name": name}, zoom
    number = tags.get("addr:housenumber")
    if number:
        return "buildings", {"kind": "address", "addr_housenumber": number}, ADDRESSES_FROM
    return None


def read_drawn(file: Path) -> Drawn:
    """The extract's drawn features, in one read (osmium raises RuntimeError on a damaged file)."""
    import osmium  # here: only the import command needs it

    drawn = Drawn(box=extract_box(file))
    wkb = osmium.geom.WKBFactory()
    kinds = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
    reader = osmium.FileProcessor(osmium.io.File(str(file), "pbf"), kinds)
    areas_only = osmium.filter.KeyFilter(*AREA_KEYS)
    others = osmium.filter.KeyFilter(*LINE_KEYS, *POINT_KEYS, "building")
    reader = reader.with_locations().with_areas(osmium.filter.KeyFilter(*AREA_KEYS))
    areas_only.enable_for(osmium.osm.AREA)
    others.enable_for(kinds)
    reader = reader.with_filter(areas_only).with_filter(others)
    for obj in reader:
        try:
            _one(obj, drawn, wkb, osmium)
        except RuntimeError:  # osmium could not make its geometry (a ring that does not close...)
            continue
    return drawn


def _one(obj: Any, drawn: Drawn, wkb: Any, osmium: Any) -> None:
    tags = obj.tags
    if isinstance(obj, osmium.osm.Area):
        kind = area_kind(tags)
        if kind is not None:
            outline = bytes.fromhex(wkb.create_multipolygon(obj))
            drawn.add(kind, outline)
            if kind[0] == "buildings" and (number := tags.get("addr:housenumber")):
                # its number at a point inside it (``street_tiles`` finds the points, all at once)
                drawn.add(
                    ("buildings", {"kind": "address", "addr_housenumber": number}, ADDRESSES_FROM), outline
                )
        return
    if isinstance(obj, osmium.osm.Way):
        if tags.get("natural") == "coastline":
            drawn.coastline.append(bytes.fromhex(wkb.create_linestring(obj)))
            return
        kind = line_kind(tags)
        if kind is not None and len(obj.nodes) >= 2:
            drawn.add(kind, bytes.fromhex(wkb.create_linestring(obj)))
        return
    if isinstance(obj, osmium.osm.Node) and obj.location.valid():
        kind = point_kind(tags)
        if kind is not None:
            drawn.add(kind, bytes.fromhex(wkb.create_point(obj)))
