"""Cities, districts, parks and campuses as areas (issue 59, item 2): support/area_extract.py's
Helsinki, written with pyosmium, imported with ``mapsrv places import`` and asked over MCP by the
SDK's own client on a real mapsrv.

What is inside an area is decided here with shapely on the rings the extract was written with,
not with mapsrv's stored outline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import shapely
import trio
from mcp import Client
from support import start_server
from support.agents import followed
from support.area_extract import AreaFacts, Outline, box_ring, write_area_extract
from support.place_extract import _Objects

from mapsrv.cli import main
from mapsrv.places import offline_areas
from mapsrv.places.offline_files import SUFFIX
from mapsrv.server import Server


def shape(outline: Outline) -> Any:
    """The outline as shapely builds it from the rings written (lon, lat)."""
    holes = [[(lon, lat) for lat, lon in ring] for ring in outline.inners]
    parts = []
    for ring in outline.outers:
        polygon = shapely.Polygon([(lon, lat) for lat, lon in ring])
        inside = [h for h in holes if polygon.contains(shapely.Polygon(h))]
        parts.append(shapely.Polygon(polygon.exterior.coords, inside))
    return shapely.MultiPolygon(parts)


# points on the map: (label, lat, lon); which are in which area is shapely's to say
POINTS = (
    ("centre", 60.16952, 24.93545),
    ("kallio", 60.1830, 24.9500),
    ("park", 60.1750, 24.9470),
    ("campus-north", 60.2065, 25.0430),
    ("in-the-hole", 60.1875, 24.9750),
    ("just-outside", 60.1395, 24.9500),  # 55 m south of the city's southern edge
    ("east", 60.1700, 25.0100),
    ("espoo", 60.2050, 24.6550),
    ("uusimaa-box", 60.1550, 24.9250),
)


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AreaFacts]:
    path = tmp_path_factory.mktemp("extract") / "helsinki.osm.pbf"
    return path, write_area_extract(path)


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory, extract: tuple[Path, AreaFacts]) -> Path:
    directory = tmp_path_factory.mktemp("places")
    assert main(["places", "import", str(extract[0]), "--places-dir", str(directory)]) == 0
    return directory


@pytest.fixture
async def indexed(nursery: trio.Nursery, places_dir: Path) -> Server:
    return await start_server(nursery, places_dir=str(places_dir))


@asynccontextmanager
async def open_agent(server: Server) -> AsyncIterator[Client]:
    async with Client(server.url + "mcp") as client:
        yield client


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return await followed(dict(result.structured_content))  # a big GeoJSON comes by its link


async def error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)


async def map_of_points(agent: Client) -> str:
    """A map of ``POINTS``, labelled; its id."""
    items = [{"at": [lat, lon], "label": label} for label, lat, lon in POINTS]
    return str((await call(agent, "draw", {"items": items}))["map_id"])


def inside(outline: Outline) -> set[str]:
    area = shape(outline)
    return {label for label, lat, lon in POINTS if area.contains(shapely.Point(lon, lat))}


def stored(path: Path, name: str) -> tuple[Any, tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        row = db.execute(
            "SELECT a.outline, a.kind, a.admin_level, a.alt FROM areas a WHERE a.name = ?", (name,)
        ).fetchone()
    finally:
        db.close()
    return shapely.from_wkb(row[0]), row[1:]


def test_the_outlines_stored_are_the_ones_the_nodes_make(
    places_dir: Path, extract: tuple[Path, AreaFacts]
) -> None:
    facts = extract[1]
    path = places_dir / f"helsinki{SUFFIX}"
    for outline, kind, level in (
        (facts.city, "administrative", 8),
        (facts.district, "administrative", 10),
        (facts.park, "park", None),
        (facts.campus, "university", None),
    ):
        found, (stored_kind, stored_level, _) = stored(path, outline.name)
        expected = shape(outline)
        assert (stored_kind, stored_level) == (kind, level)
        assert abs(found.area - expected.area) < 1e-9, outline.name
        assert found.symmetric_difference(expected).area < 1e-9, outline.name
        assert [len(p.interiors) for p in found.geoms] == [len(p.interiors) for p in expected.geoms]
    city, (_, _, alternates) = stored(path, "Helsinki")
    assert sum(len(p.interiors) for p in city.geoms) == 1 and "Helsingfors" in alternates  # the hole
    campus, _ = stored(path, facts.campus.name)
    assert len(campus.geoms) == 2  # both parts, one MultiPolygon


async def test_within_a_city_is_its_boundary_without_its_hole(
    indexed: Server, extract: tuple[Path, AreaFacts]
) -> None:
    facts = extract[1]
    expected = inside(facts.city)
    assert "centre" in expected and not {"in-the-hole", "just-outside", "espoo"} & expected
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        for name in ("Helsinki", "Helsingfors"):
            found = await call(agent, "select", {"map_id": map_id, "within": name})
            assert {f["label"] for f in found["features"]} == expected, (name, found)
            area = found["area"]
            assert (area["name"], area["kind"], area["admin_level"], area["source"]) == (
                "Helsinki",
                "administrative",
                8,
                "index",
            )


async def test_within_a_district_a_park_and_a_campus(
    indexed: Server, extract: tuple[Path, AreaFacts]
) -> None:
    facts = extract[1]
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        for outline in (facts.district, facts.park, facts.campus):
            found = await call(agent, "select", {"map_id": map_id, "within": outline.name})
            labels = {f["label"] for f in found["features"]}
            assert labels == inside(outline) and labels, (outline.name, found)
            assert (found["area"]["name"], found["area"]["kind"]) == (outline.name, outline.kind)
        assert inside(facts.district) == {"kallio"} and inside(facts.campus) == {"campus-north"}


async def test_an_area_is_drawn_by_its_name_as_its_outline(
    indexed: Server, extract: tuple[Path, AreaFacts], places_dir: Path
) -> None:
    """A polygon item with ``bounds`` naming an area draws the area's outline (issue 77): the
    extract's district and two-part campus as stored, a country and a state as Natural Earth's;
    a city has none, and the refusal says so."""
    facts = extract[1]
    path = places_dir / f"helsinki{SUFFIX}"
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        said: dict[str, str] = {}
        for outline in (facts.district, facts.campus):
            item = {"type": "polygon", "bounds": outline.name, "id": outline.name.replace(" ", "-")}
            said |= (await call(agent, "draw", {"map_id": map_id, "items": [item]}))["outlined"]
        for name in ("Portugal", "New York State"):
            drawn = await call(
                agent, "draw", {"map_id": map_id, "items": [{"type": "polygon", "bounds": name}]}
            )
            said |= drawn["outlined"]
        refused = await error(
            agent, "draw", {"map_id": map_id, "items": [{"type": "polygon", "bounds": "Tampere"}]}
        )
        geojson = await call(agent, "read", {"map_id": map_id, "format": "geojson"})
    assert "items[0].bounds must name an area for a polygon" in refused, refused
    assert said == {  # what each name drew, said in the answer
        "Kallio": "Kallio: administrative (admin level 10) of the imported region helsinki",
        facts.campus.name: f"{facts.campus.name}: university of the imported region helsinki",
        "Portugal": "Portugal: country PT, Natural Earth's 1:50m outline",
        "New York State": "New York: region US-NY, Natural Earth's 1:10m, ~2 km outline",
    }, said
    by_label = {
        f["mapsrv"].get("label", ""): shapely.geometry.shape(f["geometry"]) for f in geojson["features"]
    }
    for outline in (facts.district, facts.campus):
        kept, _ = stored(path, outline.name)
        assert by_label[outline.name].symmetric_difference(kept).area < 1e-9, outline.name
    portugal, new_york = by_label["Portugal"], by_label["New York"]
    assert portugal.geom_type == "MultiPolygon" and portugal.contains(shapely.Point(-7.91, 38.57))  # Évora
    assert portugal.distance(shapely.Point(-16.95, 32.75)) < 0.1, "Madeira is Portugal's too"
    assert new_york.contains(shapely.Point(-73.75, 42.65)) and not new_york.contains(
        shapely.Point(-71.06, 42.36)
    )


async def test_a_state_name_still_means_the_state(indexed: Server, extract: tuple[Path, AreaFacts]) -> None:
    """The extract's own "Uusimaa" (a small box) does not take the name from Finland's region."""
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        found = await call(agent, "select", {"map_id": map_id, "within": "Uusimaa"})
    assert found["area"]["kind"] == "region" and found["area"]["code"] == "FI-18", found
    assert {f["label"] for f in found["features"]} == {label for label, _, _ in POINTS}  # all in the region
    assert inside(extract[1].uusimaa) == {"uusimaa-box"}


async def test_set_view_to_an_area_frames_its_box(indexed: Server, extract: tuple[Path, AreaFacts]) -> None:
    facts = extract[1]
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        for outline in (facts.district, facts.city):
            view = await call(agent, "set_view", {"map_id": map_id, "bounds": outline.name, "animate": False})
            w, s, e, n = shape(outline).bounds
            assert view["area"]["name"] == outline.name, view
            read = await call(agent, "read", {"map_id": map_id})
            (s2, w2), (n2, e2) = read["view"]["bounds"]
            # the box of the outline, rounded outwards by at most ~1 m (the R*Tree keeps float32)
            assert 0 <= s - s2 < 1e-5 and 0 <= w - w2 < 1e-5 and 0 <= n2 - n < 1e-5 and 0 <= e2 - e < 1e-5


def test_an_index_written_before_areas_still_opens(places_dir: Path, tmp_path: Path) -> None:
    """The same file without the area tables (as mapsrv wrote it before them) still lists and
    searches; a name is then no area (the resolver's, as before)."""
    from mapsrv.places.offline import OfflineIndex

    old = tmp_path / f"helsinki{SUFFIX}"
    old.write_bytes((places_dir / f"helsinki{SUFFIX}").read_bytes())
    db = sqlite3.connect(old)
    db.executescript("DROP TABLE areas; DROP TABLE area_names; DROP TABLE area_boxes;")
    db.close()
    index = OfflineIndex(tmp_path)

    async def ask() -> tuple[list[Any], list[Any]]:
        from mapsrv.places.sources import Query

        return await index.areas_named("Helsinki"), await index.search(Query("Helsinki"))

    areas, places = trio.run(ask)
    assert areas == [] and [p.name for p in places][:1] == ["Helsinki"]


def test_an_outline_past_the_vertex_limit_is_thinned_or_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A boundary of 4,000 vertices (a zigzag) with the limit at 1,000: thinned under it, its
    shape kept; past the raw limit, left out and said; a boundary whose ring crosses itself is
    left out and said too."""
    import math

    def jag(i: int) -> float:
        return 1 + 0.002 * (i % 2)

    turns = [i * 2 * math.pi / 4000 for i in range(4000)]
    ring = tuple(
        (60.0 + 0.1 * jag(i) * math.sin(t), 25.0 + 0.2 * jag(i) * math.cos(t)) for i, t in enumerate(turns)
    )
    objects = _Objects()
    objects.way(ring, {"boundary": "administrative", "admin_level": "8", "name": "Jaggedtown"}, closed=True)
    objects.way(box_ring(61.0, 25.0, 61.1, 25.1), {"leisure": "park", "name": "Small park"}, closed=True)
    bow = ((62.0, 25.0), (62.1, 25.1), (62.1, 25.0), (62.0, 25.1))  # a ring that crosses itself
    objects.way(bow, {"leisure": "park", "name": "Bow tie"}, closed=True)
    objects.write(tmp_path / "jagged.osm.pbf")
    monkeypatch.setattr(offline_areas, "MAX_VERTICES", 1_000)
    first = tmp_path / "a"
    assert main(["places", "import", str(tmp_path / "jagged.osm.pbf"), "--places-dir", str(first)]) == 0
    outline, _ = stored(first / f"jagged{SUFFIX}", "Jaggedtown")
    assert shapely.get_num_coordinates(outline) <= 1_000 and outline.is_valid
    written = shapely.Polygon([(lon, lat) for lat, lon in ring])
    assert outline.symmetric_difference(written).area < 0.01 * written.area
    said = capsys.readouterr().err
    assert "1 area(s) left out: 'Bow tie' (its rings cross or do not close)" in said, said
    monkeypatch.setattr(offline_areas, "MAX_RAW_VERTICES", 2_000)
    places = tmp_path / "b"
    assert main(["places", "import", str(tmp_path / "jagged.osm.pbf"), "--places-dir", str(places)]) == 0
    db = sqlite3.connect(places / f"jagged{SUFFIX}")
    names = [name for (name,) in db.execute("SELECT name FROM areas")]
    db.close()
    assert names == ["Small park"]
    said = capsys.readouterr().err
    assert "2 area(s) left out: 'Jaggedtown' (an outline of 4,001 vertices is past 2,000)" in said, said


async def test_the_search_lists_areas_with_their_kind(
    indexed: Server, extract: tuple[Path, AreaFacts]
) -> None:
    """find_places (and the page's search box, the same lookup) as a person types a district's
    name; a park by its whole name; a city by its other language's name."""
    facts = extract[1]
    async with open_agent(indexed) as agent:
        typed = await call(agent, "find_places", {"query": "Kall"})
        in_finland = await call(agent, "find_places", {"query": "Kall", "country": "FI"})
        elsewhere = await error(agent, "find_places", {"query": "Kall", "country": "SE"})
        park = await call(agent, "find_places", {"query": facts.park.name})
        swedish = await call(agent, "find_places", {"query": "Helsingfors"})
    areas = [p for p in typed["places"] if p["kind"] == "area"]
    assert typed["places"][0]["name"] == "Kallio", "the imported extract's district before far-away cities"
    assert [(p["name"], p["category"], p["source"], p["country"]) for p in areas] == [
        ("Kallio", "boundary=administrative", "index", "FI")  # the country its point is in
    ], typed
    assert [p["name"] for p in in_finland["places"] if p["kind"] == "area"] == ["Kallio"], in_finland
    assert "matches 'Kall' in SE" in elsewhere, elsewhere  # Helsinki's district is not Sweden's
    w, s, e, n = shape(facts.district).bounds
    (s2, w2), (n2, e2) = areas[0]["bounds"]
    assert max(abs(s - s2), abs(w - w2), abs(n - n2), abs(e - e2)) < 1e-4
    assert areas[0]["label"] == "Kallio, Helsinki, FI" and areas[0]["match"] == "name prefix"  # its city
    inside_it = shapely.Point(areas[0]["lon"], areas[0]["lat"])
    assert shape(facts.district).buffer(1e-5).contains(inside_it)  # its point is in it (5 decimals)
    found = [p for p in park["places"] if p["kind"] == "area"]
    assert [(p["name"], p["category"]) for p in found] == [(facts.park.name, "leisure=park")], park
    city = [p for p in swedish["places"] if p["kind"] == "area"]
    assert [(p["name"], p["match"]) for p in city] == [("Helsinki", "alternate name")], swedish


async def test_a_table_joined_by_regions_gets_the_extracts_areas(
    indexed: Server, extract: tuple[Path, AreaFacts]
) -> None:
    """A row naming a district or a park (no region has its name) becomes its outline, holes
    kept; a row naming a region is still the region."""
    facts = extract[1]
    table = f"area,people\nKallio,30000\n{facts.park.name},0\nHelsinki,664028\nUusimaa,1700000\nNowhere,1\n"
    async with open_agent(indexed) as agent:
        answer = await call(agent, "import", {"content": table, "join": "regions", "key": "area"})
        read = await call(agent, "read", {"map_id": answer["map_id"], "format": "geojson"})
    shapes = {f["properties"]["area"]: shapely.geometry.shape(f["geometry"]) for f in read["features"]}
    assert set(shapes) == {"Kallio", facts.park.name, "Helsinki", "Uusimaa"}, answer
    for outline in (facts.district, facts.park, facts.city):
        assert shapes[outline.name].symmetric_difference(shape(outline)).area < 1e-9, outline.name
    assert len(shapes["Helsinki"].interiors) == 1  # the enclave
    assert shapes["Uusimaa"].area > 100 * shape(facts.uusimaa).area  # Finland's region, not the box
    assert [u["line"] for u in answer["unresolved"]] == [6], answer  # "Nowhere"


def test_of_two_areas_of_one_name_the_one_on_the_map_is_taken(tmp_path: Path) -> None:
    """Two districts called "Kallio" far apart: the one whose box holds a point of the map; with
    no point, the bigger level first (8 before 10), as documented."""
    from mapsrv.places.service import place_service_for

    objects = _Objects()
    south = box_ring(60.00, 24.00, 60.10, 24.10)
    north = box_ring(61.00, 25.00, 61.01, 25.01)
    objects.way(south, {"boundary": "administrative", "admin_level": "10", "name": "Kallio"}, closed=True)
    objects.way(north, {"boundary": "administrative", "admin_level": "8", "name": "Kallio"}, closed=True)
    objects.write(tmp_path / "two.osm.pbf")
    assert main(["places", "import", str(tmp_path / "two.osm.pbf"), "--places-dir", str(tmp_path / "p")]) == 0
    service = place_service_for(tmp_path / "p")

    async def levels() -> list[int | None]:
        taken = [
            await service.area_named("Kallio", points)
            for points in ([(60.05, 24.05)], [(61.005, 25.005)], [])
        ]
        return [area.admin_level if area is not None else None for area in taken]

    assert trio.run(levels) == [10, 8, 8]


def test_an_outline_is_parsed_and_prepared_once_per_wkb() -> None:
    """``within`` a city asked again gets the same prepared shape (and so its kept grid); other
    bytes (another import) get their own; the kept bytes stay under their bound."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE areas(id INTEGER PRIMARY KEY, outline BLOB NOT NULL)")
    square, bigger = shapely.box(24.9, 60.1, 25.0, 60.2), shapely.box(24.9, 60.1, 25.1, 60.3)
    db.executemany(
        "INSERT INTO areas VALUES (?, ?)", [(1, shapely.to_wkb(square)), (2, shapely.to_wkb(bigger))]
    )
    first = offline_areas.read_outline(db, 1)
    assert shapely.is_prepared(first) and first.equals(square)
    assert offline_areas.read_outline(db, 1) is first
    other = offline_areas.read_outline(db, 2)
    assert other is not first and other.equals(bigger)
    assert sum(map(len, offline_areas._outlines)) <= offline_areas.KEPT_OUTLINE_BYTES


def test_a_boundary_not_whole_in_the_extract_is_named_as_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A district whose boundary relation has a way the extract does not hold (cut at its edge, as
    a city-centre extract cuts the districts around it): osmium makes no area of it, and the import
    names it as left out and why, where it said only how many areas it kept. A whole one beside it
    is kept."""
    objects = _Objects()
    tags = {"type": "boundary", "boundary": "administrative", "admin_level": "10"}
    whole = objects.way(box_ring(60.16, 24.93, 60.17, 24.95), {}, closed=True)
    objects.relation([(whole, "outer")], {**tags, "name": "Kaartinkaupunki"})
    half = objects.way(((60.18, 24.94), (60.19, 24.94), (60.19, 24.96)), {})
    objects.relation([(half, "outer"), (999_999, "outer")], {**tags, "name": "Kallio"})  # not in the file
    objects.write(tmp_path / "centre.osm.pbf")
    places = tmp_path / "places"
    assert main(["places", "import", str(tmp_path / "centre.osm.pbf"), "--places-dir", str(places)]) == 0
    said = capsys.readouterr().err
    why = "(not whole in the extract: its outline runs past the edge)"
    assert f"1 area(s) left out: 'Kallio' (admin level 10) {why}" in said, said
    db = sqlite3.connect(places / f"centre{SUFFIX}")
    assert [name for (name,) in db.execute("SELECT name FROM areas")] == ["Kaartinkaupunki"]
    db.close()


async def test_an_area_found_comes_with_the_item_that_draws_its_outline(
    indexed: Server, extract: tuple[Path, AreaFacts], places_dir: Path
) -> None:
    """find_places answers an area (a district, a country) with a ``draw`` item: passed to
    ``draw`` as it is, it draws the area's outline, not its box (issue 77: no second lookup)."""
    facts = extract[1]
    async with open_agent(indexed) as agent:
        map_id = await map_of_points(agent)
        district = await call(agent, "find_places", {"query": "Kall", "country": "FI"})
        country = await call(agent, "find_places", {"query": "Portugal"})
        cafe = await call(agent, "find_places", {"query": "Helsinki"})
        items = [p["draw"] for p in (*district["places"], *country["places"]) if "draw" in p]
        assert [item["bounds"] for item in items] == ["Kallio", "Portugal"], items
        await call(agent, "draw", {"map_id": map_id, "items": items})
        geojson = await call(agent, "read", {"map_id": map_id, "format": "geojson"})
    assert all("draw" not in p for p in cafe["places"] if p["kind"] not in ("area", "country", "state"))
    by_label = {
        f["mapsrv"].get("label", ""): shapely.geometry.shape(f["geometry"]) for f in geojson["features"]
    }
    kept, _ = stored(places_dir / f"helsinki{SUFFIX}", facts.district.name)
    assert by_label["Kallio"].symmetric_difference(kept).area < 1e-9
    assert by_label["Portugal"].geom_type == "MultiPolygon"


async def test_nearest_place_names_the_building_and_the_areas_a_point_stands_in(
    indexed: Server, places_dir: Path, extract: tuple[Path, AreaFacts]
) -> None:
    """Issue 77: a point in a named building is answered with the building, then the district and
    the city it is in, smallest first, beside the nearest place; a station's
    building is a station; an unnamed building is no area, and the city's hole is not the city."""
    facts = extract[1]

    def middle(outline: Outline) -> tuple[float, float]:
        point = shape(outline).centroid
        return point.y, point.x

    async with open_agent(indexed) as agent:
        asked = {}
        for outline in (facts.building, facts.station, facts.unnamed):
            lat, lon = middle(outline)
            asked[outline.name] = await call(agent, "nearest_place", {"lat": lat, "lon": lon})
        lat, lon = POINTS[4][1:]  # in the city's hole
        hole = await call(agent, "nearest_place", {"lat": lat, "lon": lon})
    city = {"name": "Helsinki", "kind": "administrative", "admin_level": 8}
    district = {"name": "Kallio", "kind": "administrative", "admin_level": 10}
    assert asked[facts.building.name]["inside"] == [{"name": "Sähkötalo", "kind": "building"}, district, city]
    assert asked[facts.station.name]["inside"] == [{"name": facts.station.name, "kind": "station"}, city]
    assert asked[""]["inside"] == [district, city], "an unnamed building is no area"
    assert all(a["name"] != "Helsinki" for a in hole.get("inside", [])), hole
    db = sqlite3.connect(places_dir / f"helsinki{SUFFIX}")
    try:
        kinds = dict(db.execute("SELECT name, kind FROM areas WHERE kind IN ('building', 'station')"))
    finally:
        db.close()
    assert kinds["Sähkötalo"] == "building" and kinds[facts.station.name] == "station", kinds
    assert "" not in kinds and len(kinds) == 3, kinds  # and the search extract's Stockmann


async def test_an_areas_label_and_name_mean_the_same_place_everywhere(
    indexed: Server, extract: tuple[Path, AreaFacts]
) -> None:
    """Found by the agent of issue 77's replay (tests/bench/place_tasks.py): the label an area is
    answered with reads back to it; its name as a point is the point find_places answers (not the
    built-in list's namesake 150 m away); a search that shows every answer gives no cursor, and a
    hint after the comma gives no distance nobody asked for."""
    facts = extract[1]
    async with open_agent(indexed) as agent:
        first = await call(agent, "find_places", {"query": "Kallio", "limit": 5})
        [area] = [p for p in first["places"] if p["kind"] == "area"]
        again = await call(agent, "find_places", {"query": area["label"]})
        hinted = await call(agent, "find_places", {"query": "Kallio, Helsinki"})
        drawn = await call(agent, "draw", {"items": [{"at": "Kallio", "label": "here"}]})
    assert area["label"] == "Kallio, Helsinki, FI"
    assert again["places"][0]["kind"] == "area" and again["places"][0]["name"] == "Kallio", again
    assert "cursor" not in first and len(first["places"]) == first.get("count", len(first["places"])), first
    assert all("distance_km" not in p and "distance_m" not in p for p in hinted["places"]), hinted
    lat, lon, label, *source = drawn["places"]["Kallio"]
    assert label == "Kallio, Helsinki, FI", drawn
    assert (lat, lon) == (area["lat"], area["lon"]), "a name means one point in every tool"
    assert shape(facts.district).contains(shapely.Point(lon, lat)) and source == ["index"], drawn
