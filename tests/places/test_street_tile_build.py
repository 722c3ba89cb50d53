"""The street basemap built from an extract (issue 79): support/street_extract.py's Helsinki,
written with pyosmium, cut into vector tiles by ``mapsrv.places.street_tiles``, read back with
``mapbox_vector_tile``'s decoder and mapsrv's own PMTiles reader, positions checked against
pyproj's Web Mercator and areas against shapely."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, shape
from support.street_extract import StreetFacts, write_street_extract

from mapsrv.http.pmtiles import open_local_archive
from mapsrv.places.street_tiles import EXTENT, MAX_ZOOM, MIN_ZOOM, build_basemap, earth_and_sea, tile_bounds

TO_MERCATOR = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[StreetFacts, Path]:
    folder = tmp_path_factory.mktemp("streets")
    facts = write_street_extract(folder / "helsinki.osm.pbf")
    lines: list[str] = []
    result = build_basemap(folder / "helsinki.osm.pbf", folder / "helsinki.basemap.pmtiles", lines.append)
    assert result.zooms == (MIN_ZOOM, MAX_ZOOM)
    assert result.tiles > 0 and result.path.stat().st_size == result.size
    return facts, result.path


def _tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    x, y = TO_MERCATOR.transform(lon, lat)
    size = 2 * 20037508.342789244 / 2**z
    return int((x + 20037508.342789244) // size), int((20037508.342789244 - y) // size)


def _in_tile(lat: float, lon: float, z: int, x: int, y: int) -> tuple[float, float]:
    """A point in a tile's units (y down), by pyproj, not by the code under test."""
    mx, my = TO_MERCATOR.transform(lon, lat)
    x0, _, x1, y1 = tile_bounds(z, x, y)
    k = EXTENT / (x1 - x0)
    return (mx - x0) * k, (y1 - my) * k


async def _decoded(path: Path, z: int, x: int, y: int) -> dict[str, Any]:
    archive = await open_local_archive(path)
    data = await archive.tile(z, x, y)
    assert data is not None, (z, x, y)
    return dict(mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}))


def _features(tile: dict[str, Any], layer: str, **props: str) -> list[dict[str, Any]]:
    found = tile.get(layer, {"features": []})["features"]
    return [f for f in found if all(f["properties"].get(k) == v for k, v in props.items())]


async def test_a_street_tile_holds_the_extracts_roads_buildings_water_and_names(
    built: tuple[StreetFacts, Path],
) -> None:
    facts, path = built
    lat, lon = facts.cross["Bulevardi"], facts.main_lon + 0.0012
    z = 16
    x, y = _tile_of(lat, lon, z)
    tile = await _decoded(path, z, x, y)
    assert {"earth", "roads", "buildings"} <= set(tile)
    street = _features(tile, "roads", name="Bulevardi", kind="minor_road", kind_detail="residential")
    assert street, tile["roads"]
    # the street where pyproj puts it: its line passes within a unit or two of the point
    at = Point(_in_tile(lat, lon, z, x, y))
    assert min(shape(f["geometry"]).distance(at) for f in street) < 2
    # each building in the tile is one of the extract's, its area as shapely measures it there
    rings = [Polygon([_in_tile(la, lo, z, x, y) for la, lo in ring]) for ring in facts.buildings]
    drawn = [shape(f["geometry"]) for f in _features(tile, "buildings", kind="building")]
    assert drawn
    box = shapely.box(0, 0, EXTENT, EXTENT)
    for polygon in drawn:
        twin = max(rings, key=lambda r: r.intersection(polygon).area)
        expected = twin.intersection(box.buffer(EXTENT * 8 / 256)).area
        assert polygon.area == pytest.approx(expected, rel=0.03)
    numbers = {f["properties"]["addr_housenumber"] for f in _features(tile, "buildings", kind="address")}
    assert numbers & set(facts.numbered)


async def test_each_zoom_keeps_what_shows_at_it(built: tuple[StreetFacts, Path]) -> None:
    facts, path = built
    lat, lon = facts.cross["Bulevardi"], facts.main_lon + 0.0012
    low = await _decoded(path, 12, *_tile_of(lat, lon, 12))
    assert _features(low, "roads", name=facts.main), "a primary road shows from zoom 10"
    assert not _features(low, "roads", kind="minor_road"), "residential streets from 13"
    assert not _features(low, "buildings"), "buildings from 14"
    assert _features(low, "places", name="Helsinki") and not _features(low, "places", name="Kallio")
    mid = await _decoded(path, 14, *_tile_of(lat, lon, 14))
    assert _features(mid, "buildings", kind="building") and not _features(mid, "buildings", kind="address")


async def test_the_sea_is_south_of_the_coastline_and_the_land_north(built: tuple[StreetFacts, Path]) -> None:
    facts, path = built
    z, lon = 14, 24.945
    for lat, wet in ((facts.coast - 0.0015, True), (facts.coast + 0.0015, False)):
        x, y = _tile_of(lat, lon, z)
        tile = await _decoded(path, z, x, y)
        at = Point(_in_tile(lat, lon, z, x, y))
        sea = [shape(f["geometry"]) for f in _features(tile, "water", kind="ocean")]
        land = [shape(f["geometry"]) for f in _features(tile, "earth")]
        assert any(p.contains(at) for p in sea) is wet, (lat, wet)
        assert any(p.contains(at) for p in land) is not wet, (lat, wet)
    lake = await _decoded(path, 16, *_tile_of(60.171, 24.953, 16))
    assert _features(lake, "water", kind="water") and _features(lake, "landuse", kind="park") == []


async def test_the_archive_says_its_area_and_zooms_and_has_no_tile_outside(
    built: tuple[StreetFacts, Path],
) -> None:
    facts, path = built
    archive = await open_local_archive(path)
    facts_box = facts.box
    h = archive.header
    assert (h["min_zoom"], h["max_zoom"]) == (MIN_ZOOM, MAX_ZOOM)
    assert [
        h["min_lon_e7"] / 1e7,
        h["min_lat_e7"] / 1e7,
        h["max_lon_e7"] / 1e7,
        h["max_lat_e7"] / 1e7,
    ] == pytest.approx(list(facts_box))
    assert archive.gzipped
    stored = await archive.stored_tile(16, *_tile_of(facts.cross["Bulevardi"], facts.main_lon, 16))
    assert stored is not None and gzip.decompress(stored)
    assert await archive.tile(16, *_tile_of(60.3, 24.9, 16)) is None


def test_the_coastline_cuts_land_from_sea_with_the_land_on_its_left() -> None:
    box = shapely.box(0, 0, 10, 10)
    east = LineString([(-1, 5), (11, 5)])  # eastward: land north (left), sea south
    land, sea = earth_and_sea([east], box)
    assert len(land) == len(sea) == 1
    assert land[0].contains(Point(5, 8)) and sea[0].contains(Point(5, 2))
    west = LineString([(11, 5), (-1, 5)])  # the other way round: the sea north
    land, sea = earth_and_sea([west], box)
    assert sea[0].contains(Point(5, 8)) and land[0].contains(Point(5, 2))
    island = LineString([(3, 1), (6, 1), (6, 3), (3, 3), (3, 1)])  # counter-clockwise: land inside
    land, sea = earth_and_sea([east, island], box)
    assert any(p.contains(Point(4.5, 2)) for p in land), "the island is land"
    assert any(p.contains(Point(1, 1)) for p in sea), "around it, the sea"
    assert earth_and_sea([], box) == ([box], [])


async def test_a_real_extract_gives_the_roads_and_buildings_gdal_reads_from_it(tmp_path: Path) -> None:
    """pyogrio's own test extract (real OpenStreetMap data of Welwyn Garden City, written by
    osmconvert, shipped in its wheel): every named road GDAL's OSM driver reads from it is in the
    zoom 16 tiles over the extract's box, under its name, where GDAL puts it."""
    import os

    import pyogrio
    from pyogrio import raw

    source = Path(pyogrio.__file__).parent / "tests" / "fixtures" / "sample.osm.pbf"
    assert source.is_file(), "pyogrio's wheel ships its sample extract"
    result = build_basemap(_sorted(source, tmp_path / "sorted.osm.pbf"), tmp_path / "sample.basemap.pmtiles")
    archive = await open_local_archive(result.path)
    h = archive.header
    box = (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7)
    os.environ.setdefault("OSM_USE_CUSTOM_INDEXING", "NO")  # GDAL's OSM driver, on this file's node order
    meta, _, geoms, fields = raw.read(source, layer="lines")
    column = {name: i for i, name in enumerate(meta["fields"])}
    area = shapely.box(*box)
    roads = [
        (str(name), shapely.from_wkb(wkb).intersection(area))
        for name, kind, wkb in zip(fields[column["name"]], fields[column["highway"]], geoms, strict=True)
        if name and kind
    ]
    roads = [(name, line) for name, line in roads if line.length > 0]
    assert len(roads) >= 5, "the sample's box holds named streets"
    checked = 0
    for name, line in roads:
        lon, lat = line.interpolate(0.5, normalized=True).coords[0]
        x, y = _tile_of(lat, lon, 16)
        tile = await _decoded(result.path, 16, x, y)
        ours = [shape(f["geometry"]) for f in _features(tile, "roads", name=name)]
        assert ours, f"{name} is in its tile"
        at = Point(_in_tile(lat, lon, 16, x, y))
        assert min(g.distance(at) for g in ours) < 6, f"{name} lies where GDAL puts it"  # 6 units ~ 1 m
        checked += 1
    assert checked == len(roads)


def _sorted(source: Path, target: Path) -> Path:
    """``source``'s objects in the order a Geofabrik or ``osmium extract`` file has them (nodes,
    ways, relations, each by id; osmconvert wrote the sample otherwise), and its header's box."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    found: dict[str, list[Any]] = {"n": [], "w": [], "r": []}
    for o in osmium.FileProcessor(str(source)):
        tags = {t.k: t.v for t in o.tags}
        if o.is_node():
            found["n"].append(Node(id=o.id, location=(o.location.lon, o.location.lat), tags=tags, version=1))
        elif o.is_way():
            found["w"].append(Way(id=o.id, nodes=[n.ref for n in o.nodes], tags=tags, version=1))
        else:
            members = [(m.type, m.ref, m.role) for m in o.members]
            found["r"].append(Relation(id=o.id, members=members, tags=tags, version=1))
    reader = osmium.io.Reader(str(source), osmium.osm.osm_entity_bits.NOTHING)
    header = osmium.io.Header()
    header.add_box(reader.header().box())
    reader.close()
    writer = osmium.SimpleWriter(str(target), header=header, overwrite=True)
    try:
        for kind, add in (("n", writer.add_node), ("w", writer.add_way), ("r", writer.add_relation)):
            for item in sorted(found[kind], key=lambda item: item.id):
                add(item)
    finally:
        writer.close()
    return target
