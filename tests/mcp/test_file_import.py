"""Files through MCP (issue 28), with the SDK's client on a real socket: the ``import`` tool takes a
GPX, a KMZ (base64), a CSV of place names and a GeoJSON, each as one batch; ``read`` gives the
map back as GPX, KML and CSV, which the libraries other tools use read back with every point,
name, time and elevation; a table's columns all come back from every export with their values
and types (issue 57); hostile files are refused with the server and the map intact."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import gpxpy
import httpx
import trio
from mcp import Client
from mcp.types import CallToolResult, EmbeddedResource, TextResourceContents
from support import start_server

START = datetime(2026, 5, 1, 7, 30, tzinfo=UTC)


def ride_gpx(points: int = 500) -> str:
    """A bike computer's GPX: two waypoints and one track of two segments, with times and
    elevations on every point."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "a bike computer"
    gpx.name = "Saturday ride"
    start = gpxpy.gpx.GPXWaypoint(38.7223, -9.1393, elevation=12.5, name="Start café", time=START)
    gpx.waypoints.append(start)
    gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(38.6979, -9.4215, elevation=3.0, name="Cascais"))
    track = gpxpy.gpx.GPXTrack(name="Morning ride")
    gpx.tracks.append(track)
    for part in range(2):
        segment = gpxpy.gpx.GPXTrackSegment()
        track.segments.append(segment)
        for i in range(points // 2):
            n = part * (points // 2) + i
            segment.points.append(
                gpxpy.gpx.GPXTrackPoint(
                    38.7223 - n * 0.00005,
                    -9.1393 - n * 0.0006,
                    elevation=round(12 + (n % 40) * 0.5, 1),
                    time=START + timedelta(seconds=n),
                )
            )
    return gpx.to_xml(version="1.1")


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def resource_text(result: CallToolResult) -> TextResourceContents:
    assert not result.is_error, result.content
    embedded = [c for c in result.content if isinstance(c, EmbeddedResource)]
    assert len(embedded) == 1, result.content
    resource = embedded[0].resource
    assert isinstance(resource, TextResourceContents)
    return resource


async def test_a_ride_goes_in_as_gpx_and_comes_back_with_every_point(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    source = gpxpy.parse(ride_gpx())
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": ride_gpx()}))
        assert answer["format"] == "gpx"
        assert answer["kinds"] == {"marker": 2, "multipolyline": 1}  # the track, its 2 segments whole
        assert answer["url"].endswith("/m/" + answer["map_id"])
        map_id = answer["map_id"]
        entry = await server.hub.get(map_id)
        assert entry.state.version == answer["version"] and entry.state.title == "Saturday ride"
        back = resource_text(await agent.call_tool("read", {"map_id": map_id, "format": "gpx"}))
        assert back.mime_type == "application/gpx+xml"
    again = gpxpy.parse(back.text)
    assert [(w.name, w.latitude, w.longitude, w.elevation) for w in again.waypoints] == [
        (w.name, w.latitude, w.longitude, w.elevation) for w in source.waypoints
    ]
    assert again.waypoints[0].time == START

    def track_points(gpx: Any) -> list[tuple[float, float, float | None, datetime | None]]:
        return [
            (p.latitude, p.longitude, p.elevation, p.time)
            for t in gpx.tracks
            for s in t.segments
            for p in s.points
        ]

    assert track_points(again) == track_points(source)
    assert [(t.name, len(t.segments)) for t in again.tracks] == [("Morning ride", 2)]


def kmz(kml: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", kml)
    return out.getvalue()


PLACES_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Trip</name>
<Style id="red"><IconStyle><color>ff0000ff</color></IconStyle>
  <LineStyle><color>ff0000ff</color><width>4</width></LineStyle></Style>
<Folder><name>Day 1</name>
  <Placemark><name>Belém Tower</name><description>&lt;b&gt;old&lt;/b&gt;</description>
    <styleUrl>#red</styleUrl>
    <Point><coordinates>-9.2160,38.6916,0</coordinates></Point></Placemark>
  <Placemark><name>Walk</name><styleUrl>#red</styleUrl>
    <LineString><coordinates>-9.2160,38.6916 -9.2056,38.6979 -9.1930,38.6960</coordinates>
    </LineString></Placemark>
</Folder>
<Folder><name>Day 2</name>
  <Placemark><name>Sintra</name><Point><coordinates>-9.3904,38.7979</coordinates></Point></Placemark>
</Folder>
</Document></kml>"""


async def test_a_kmz_brings_its_folders_as_layers(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        content = base64.b64encode(kmz(PLACES_KML)).decode()
        answer = structured(await agent.call_tool("import", {"content": content}))
        assert answer["format"] == "kmz" and answer["added"] == 3
        entry = await server.hub.get(answer["map_id"])
        names = {layer.name for layer in entry.state.layers.values()}
        assert {"Day 1", "Day 2"} <= names
        by_label = {f.label: f for f in entry.state.features.values()}
        assert by_label["Walk"].type == "polyline" and len(by_label["Walk"].coords) == 3
        assert by_label["Belém Tower"].layer != by_label["Sintra"].layer
        kml = resource_text(await agent.call_tool("read", {"map_id": answer["map_id"], "format": "kml"}))
    root = ElementTree.fromstring(kml.text)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert {e.text for e in root.iterfind(".//k:Placemark/k:name", ns)} == {"Belém Tower", "Walk", "Sintra"}
    assert {e.text for e in root.iterfind(".//k:Document/k:Document/k:name", ns)} >= {"Day 1", "Day 2"}


async def test_a_spreadsheet_of_place_names_lists_the_rows_it_could_not_place(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    sheet = "name,city,visitors\nOffice,Lisbon,120\nDepot,Porto,40\nMystery,Xqzzyville Nowhere,3\n"
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": sheet, "format": "csv"}))
        assert answer["format"] == "csv" and answer["added"] == 2
        assert answer["n_unresolved"] == 1
        assert answer["unresolved"] == [{"line": 4, "text": "Xqzzyville Nowhere"}]
        entry = await server.hub.get(answer["map_id"])
        office = next(f for f in entry.state.features.values() if f.label == "Office")
        assert abs(office.coords[0] - 38.72) < 0.2 and abs(office.coords[1] + 9.14) < 0.2
        assert dict(office.properties)["visitors"] == 120
        table = resource_text(await agent.call_tool("read", {"map_id": answer["map_id"], "format": "csv"}))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {row["label"] for row in rows} == {"Office", "Depot"}
    assert {row["visitors"] for row in rows} == {"120", "40"}


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<gpx version="1.1" creator="x"><wpt lat="1" lon="1"><name>&lol4;</name></wpt></gpx>"""
ENTITY = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" creator="x"><wpt lat="1" lon="1"><name>&secret;</name></wpt></gpx>"""


async def test_hostile_files_are_refused_and_the_map_is_intact(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        first = structured(await agent.call_tool("import", {"content": ride_gpx(20)}))
        map_id, version = first["map_id"], first["version"]
        cases = [
            ({"content": BOMB}, "gpx"),
            ({"content": ENTITY}, "gpx"),
            ({"content": base64.b64encode(b"PK\x03\x04 not a zip at all").decode()}, "kmz"),
            ({"content": "<gpx><wpt lat='1' lon='1'></gpx>"}, "line 1"),
            ({"content": "a" + "," * 1_000_000 + "\n1\n", "format": "csv"}, "columns"),
            ({"content": "%PDF-1.4 binary", "format": "kml"}, "kml"),
            ({"content": "QUJD", "format": "kmz"}, "zip"),
        ]
        for arguments, named in cases:
            refused = await agent.call_tool("import", {"map_id": map_id, **arguments})
            assert refused.is_error, arguments
            text = refused.content[0].text  # type: ignore[union-attr]
            assert named in text, (named, text)
            assert "root:" not in text, "an external entity was read"
        entry = await server.hub.get(map_id)
        assert entry.state.version == version, "a refused file changed the map"
        again = structured(await agent.call_tool("read", {"map_id": map_id}))
        assert again["count"] == len(entry.state.features) == 3


async def test_a_big_export_is_a_link_not_an_answer_full_of_points(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": ride_gpx(20_000)}))
        big = await agent.call_tool("read", {"map_id": answer["map_id"], "format": "gpx"})
        said = structured(big)
        assert said["inline"] is False and said["bytes"] > 512 * 1024
        assert not any(isinstance(c, EmbeddedResource) for c in big.content)
        assert sum(len(c.text) for c in big.content if hasattr(c, "text")) < 2_000
        view_key = (await server.hub.get(answer["map_id"])).view_key
        assert said["download"].endswith(f"/v/{view_key}/export.gpx")
        async with httpx.AsyncClient() as http:
            fetched = await http.get(said["download"])
        assert fetched.status_code == 200 and len(gpxpy.parse(fetched.text).tracks[0].segments) == 2


AIRPORTS = [  # as in OurAirports' airports.csv: idents that read like numbers, and are not
    ["ident", "type", "name", "elevation_ft", "city", "country", "iso_region", "lat", "lon"],
    ["00R", "small_airport", "Livingston Muni", "151", "Livingston", "US", "US-TX", "30.6858", "-95.0179"],
    ["0E0", "small_airport", "Moriarty Municipal", "6199", "Moriarty", "US", "US-NM", "34.9782", "-106.0"],
    ["1E2", "heliport", "Lee Gilmer Memorial", "-7", "Leesburg", "US", "-99", "29.3167", "-81.9"],
    ["007", "closed", "Capitola Farm Strip", "4.5", "Capitola", "US", "US-CA", "36.9846", "-121.9522"],
]  # fmt: skip


def typed(properties: Any) -> dict[str, tuple[Any, str]]:
    return {k: (v, type(v).__name__) for k, v in properties}


async def test_an_airports_table_keeps_every_column_through_every_export(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    sheet = io.StringIO()
    csv.writer(sheet).writerows(AIRPORTS)
    async with Client(server.url + "mcp") as agent:
        first = structured(await agent.call_tool("import", {"content": sheet.getvalue(), "format": "csv"}))
        entry = await server.hub.get(first["map_id"])
        kept = [typed(f.properties) for f in entry.state.features.values()]
        assert kept[0] == {
            "ident": ("00R", "str"),
            "type": ("small_airport", "str"),
            "name": ("Livingston Muni", "str"),
            "elevation_ft": (151, "int"),
            "city": ("Livingston", "str"),
            "country": ("US", "str"),
            "iso_region": ("US-TX", "str"),
            "lat": (30.6858, "float"),
            "lon": (-95.0179, "float"),
        }
        assert [k["ident"] for k in kept] == [("00R", "str"), ("0E0", "str"), ("1E2", "str"), ("007", "str")]
        assert kept[2]["iso_region"] == ("-99", "str") and kept[3]["elevation_ft"] == (4.5, "float")
        files = {}
        for fmt in ("csv", "kml", "geojson"):
            read = await agent.call_tool("read", {"map_id": first["map_id"], "format": fmt})
            files[fmt] = resource_text(read).text if fmt != "geojson" else read.content[0].text  # type: ignore[union-attr]
            again = structured(await agent.call_tool("import", {"content": files[fmt], "format": fmt}))
            back = await server.hub.get(again["map_id"])
            assert [typed(f.properties) for f in back.state.features.values()] == kept, fmt
            assert [f.label for f in back.state.features.values()] == [row[2] for row in AIRPORTS[1:]], fmt
    # and as other tools read the files: the text as it was, the formula guard aside
    rows = list(csv.DictReader(io.StringIO(files["csv"])))
    assert [(r["ident"], r["iso_region"], r["elevation_ft"]) for r in rows][2:] == [
        ("1E2", "'-99", "-7"),
        ("007", "US-CA", "4.5"),
    ]
    features = json.loads(files["geojson"])["features"]
    assert [(f["properties"]["ident"], f["properties"]["iso_region"]) for f in features][1:3] == [
        ("0E0", "US-NM"),
        ("1E2", "-99"),
    ]
    root = ElementTree.fromstring(files["kml"])
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    types = {f.get("name"): f.get("type") for f in root.iterfind(".//k:Schema/k:SimpleField", ns)}
    assert (types["ident"], types["iso_region"], types["elevation_ft"], types["lat"]) == (
        "string",
        "string",
        "double",
        "double",
    )
    regions = [e.text for e in root.iterfind(".//k:SimpleData[@name='iso_region']", ns)]
    assert regions == ["US-TX", "US-NM", "-99", "US-CA"]


RICH = {
    "type": "FeatureCollection",
    "name": "things",
    "crs_note": "WGS84, as RFC 7946 says",
    "features": [
        {
            "type": "Feature",
            "id": 17,
            "title": "foreign",
            "geometry": {"type": "Point", "coordinates": [6.63, 46.52]},
            "properties": {"name": "Lausanne", "tags": {"wiki": "Q807"}, "list": [1, "a", None], "n": None},
        },
        {
            "type": "Feature",
            "id": "s2",
            "geometry": {"type": "LineString", "coordinates": [[6, 46], [7, 47]]},
            "properties": {"name": "a line", "nested": {"a": [1, 2]}},
        },
        {"type": "Feature", "geometry": None, "properties": {"lost": True}},
    ],
}


async def test_a_geojson_comes_back_from_read_as_it_came_and_flat_formats_say_what_they_cannot_hold(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": json.dumps(RICH)}))
        assert answer["added"] == 2
        assert answer["notes"] == [
            "1 feature without a geometry (null) left out: feature 2; a map shows only what has a place"
        ]
        map_id = answer["map_id"]
        read = await agent.call_tool("read", {"map_id": map_id, "format": "geojson"})
        back = json.loads(read.content[0].text)  # type: ignore[union-attr]
        given = RICH["features"][:2]  # type: ignore[index]
        assert [f["id"] for f in back["features"]] == [17, "s2"]
        assert [f["properties"] for f in back["features"]] == [f["properties"] for f in given]
        assert back["features"][0]["title"] == "foreign"
        assert (back["name"], back["crs_note"]) == ("things", "WGS84, as RFC 7946 says")
        entry = await server.hub.get(map_id)
        async with httpx.AsyncClient(base_url=server.url.rstrip("/")) as web:
            download = await web.get(f"/v/{entry.view_key}/export.geojson")
        assert download.json() == back, "read gives what the download gives"
        table = structured(await agent.call_tool("read", {"map_id": map_id, "format": "csv"}))
        assert "3 nested values written as JSON text: CSV cells hold text" in table["notes"]
        assert "1 foreign member of GeoJSON Features not kept: CSV has no place for them" in table["notes"]
