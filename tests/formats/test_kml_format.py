"""KML and KMZ in and out: a Google My Maps export's folders become layers and its styles
mapsrv's colours and widths; Google Earth's nested folders, own styles, ExtendedData and
gx:Track come through; what mapsrv writes, ElementTree (an independent reader) finds as KML
2.2 with one Folder per layer and the colours in KML's aabbggrr order."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import pytest
from formats_helpers import map_of, map_with, read_fixture

from mapsrv.core.model import Feature, Layer, Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import read_file, write_file

LIMITS = Limits()
KML = "{http://www.opengis.net/kml/2.2}"


def props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_a_my_maps_export_reads_into_layers_with_its_styles() -> None:
    imported = read_file(read_fixture("my_maps.kml"), None, LIMITS)
    assert imported.format == "kml"
    assert imported.title == "Lisbon weekend"
    assert imported.layers == (Layer("day-1", "Day 1"), Layer("day-2", "Day 2"))
    tower, tram, park, ferries = imported.features
    assert (tower.type, tower.layer, tower.label) == ("marker", "day-1", "Torre de Belém")
    assert tower.coords == (38.6915837, -9.2159767)
    assert tower.popup == "Open 10:00-18:30<br>Tickets: 8 €"  # CDATA, as written
    assert dict(tower.style) == {"color": "#0288d1"}  # ffd18802 is aabbggrr, through the StyleMap
    assert props(tower) == {"name": "Torre de Belém", "rating": 4.6, "booked": "no"}  # the name is data too
    assert tram.type == "polyline" and len(tram.coords) == 4
    assert dict(tram.style) == {"color": "#e65100", "weight": 5.0}
    assert park.type == "polygon" and park.layer == "day-2"
    assert park.coords == (  # its outline, then its hole (the pond), kept
        ((38.7705, -9.0961), (38.7705, -9.0905), (38.7562, -9.0905), (38.7562, -9.0961)),
        ((38.765, -9.094), (38.765, -9.092), (38.763, -9.092)),
    )
    assert dict(park.style) == {
        "color": "#097138",
        "weight": 1.2,
        "fill_color": "#097138",
        "fill_opacity": 0.302,
    }
    # a MultiGeometry of lines and a point is one feature: a collection, its parts in order
    assert (ferries.type, ferries.label) == ("collection", "Ferry crossings")
    assert ferries.coords == (
        ("polyline", ((38.7071, -9.1366), (38.688, -9.125))),
        ("polyline", ((38.7071, -9.1366), (38.682, -9.149))),
        ("marker", (38.7071, -9.1366)),
    )
    assert dict(ferries.style) == {"color": "#e65100", "weight": 5.0}
    assert set(imported.notes) == {
        "skipped placemarks without a point, line or polygon: kml placemark 5 ('Ideas for next time')",
        "marker icons drawn as coloured dots (icon images are not imported): 1",
    }


def test_a_google_earth_file_with_nested_folders_tracks_and_overlays() -> None:
    imported = read_file(read_fixture("earth.kml"), None, LIMITS)
    assert imported.title == "Alps trip.kmz"
    assert imported.layers == (Layer("huts-booked", "Huts / Booked"),)
    hut, log, glacier = imported.features
    assert hut.layer == "huts-booked" and dict(hut.style) == {"color": "#ff0000"}
    assert props(hut) == {  # a phone number stays text
        "name": "Refuge du Goûter",
        "beds": 120,
        "phone": "0033450544093",
        "ele": 3835.0,
    }
    assert log.layer == "default" and log.coords == ((45.9237, 6.864), (45.9229, 6.8651), (45.922, 6.8662))
    assert props(log) == {
        "name": "GPS log",
        "times": ("2023-07-02T05:00:00Z", "2023-07-02T05:01:00Z", "2023-07-02T05:02:00Z"),
        "elevations": (1035.0, 1041.5, 1050.0),
    }
    assert dict(log.style) == {"color": "#ffff00", "opacity": 0.498, "weight": 4.0}
    assert dict(glacier.style) == {"fill_color": "#ffffff", "fill_opacity": 0.502, "weight": 0}  # outline 0
    assert set(imported.notes) >= {"image overlays left out: 1", "network links (not fetched) left out: 1"}


def test_a_given_layer_takes_every_feature_and_folders_make_none() -> None:
    imported = read_file(read_fixture("my_maps.kml"), "kml", LIMITS, layer="lisbon")
    assert imported.layers == ()
    assert {f.layer for f in imported.features} == {"lisbon"}


def test_folders_past_the_layer_cap_go_to_the_default_layer() -> None:
    point = "<Placemark><Point><coordinates>{},1</coordinates></Point></Placemark>"
    folders = "".join(f"<Folder><name>F{i}</name>{point.format(i / 10)}</Folder>" for i in range(6))
    imported = read_file(f"<kml><Document>{folders}</Document></kml>".encode(), "kml", Limits(max_layers=4))
    assert [layer.id for layer in imported.layers] == ["f0", "f1", "f2"]
    assert [f.layer for f in imported.features] == ["f0", "f1", "f2", "default", "default", "default"]
    assert imported.notes == ("folders put in the default layer (a map holds at most 4 layers): 3",)


def test_kml_export_is_kml_2_2_with_a_document_per_layer() -> None:
    state = map_of(read_file(read_fixture("my_maps.kml"), None, LIMITS), hidden=("day-2",))
    body, media, extension = write_file(state, "kml")
    assert (media, extension) == ("application/vnd.google-earth.kml+xml", "kml")
    root = ET.fromstring(body)
    assert root.tag == f"{KML}kml"
    document = root.find(f"{KML}Document")
    assert document is not None and document.findtext(f"{KML}name") == "Lisbon weekend"
    folders = document.findall(f"{KML}Document")  # a layer's schema is its own (GDAL reads it in a KMZ)
    assert [f.findtext(f"{KML}name") for f in folders] == ["Day 1", "Day 2"]
    assert [f.findtext(f"{KML}visibility") for f in folders] == [None, "0"]
    assert [len(f.findall(f"{KML}Placemark")) for f in folders] == [2, 2]
    tower = folders[0].find(f"{KML}Placemark")
    assert tower is not None
    assert tower.findtext(f"{KML}Point/{KML}coordinates") == "-9.2159767,38.6915837"  # lon,lat
    styles = {s.get("id"): s for s in document.findall(f"{KML}Style")}
    icon = styles[(tower.findtext(f"{KML}styleUrl") or "").lstrip("#")]
    assert icon.findtext(f"{KML}IconStyle/{KML}color") == "ffd18802"
    data = {d.get("name"): d.text for d in tower.iter(f"{KML}SimpleData")}
    assert data == {"booked": "no", "rating": "4.6"}
    (schema,) = folders[0].findall(f"{KML}Schema")  # the types, for GDAL, QGIS and a re-import
    (group,) = tower.iter(f"{KML}SchemaData")
    assert group.get("schemaUrl") == f"#{schema.get('id')}"
    assert {f.get("name"): f.get("type") for f in schema} == {"booked": "string", "rating": "double"}
    park = folders[1].find(f"{KML}Placemark")
    assert park is not None
    look = styles[(park.findtext(f"{KML}styleUrl") or "").lstrip("#")]
    assert look.findtext(f"{KML}PolyStyle/{KML}color") == "4d387109"
    assert look.findtext(f"{KML}LineStyle/{KML}width") == "1.2"
    ring = park.findtext(f"{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates") or ""
    assert ring.split()[0] == ring.split()[-1]  # closed, as KML wants
    hole = park.findtext(f"{KML}Polygon/{KML}innerBoundaryIs/{KML}LinearRing/{KML}coordinates") or ""
    assert hole.split() == ["-9.094,38.765", "-9.092,38.765", "-9.092,38.763", "-9.094,38.765"]
    multi = folders[1].findall(f"{KML}Placemark")[1].find(f"{KML}MultiGeometry")
    assert multi is not None
    assert [part.tag.removeprefix(KML) for part in multi] == [
        "LineString",
        "LineString",
        "Point",
    ]


def _placemark(geometry: str) -> bytes:
    return (
        f'<kml xmlns:gx="http://www.google.com/kml/ext/2.2"><Placemark>{geometry}</Placemark></kml>'.encode()
    )


_POINT = "<Point><coordinates>{}</coordinates></Point>"
_LINE = "<LineString><coordinates>{}</coordinates></LineString>"
_SQUARE = (
    "<Polygon><outerBoundaryIs><LinearRing><coordinates>{}</coordinates></LinearRing></outerBoundaryIs>"
    "</Polygon>"
)


@pytest.mark.parametrize(
    ("geometry", "kind", "coords"),
    [
        (f"<MultiGeometry>{_POINT.format('1,2')}{_POINT.format('3,4')}</MultiGeometry>",
         "multipoint", ((2.0, 1.0), (4.0, 3.0))),
        (f"<MultiGeometry>{_LINE.format('1,2 3,4')}{_LINE.format('5,6 7,8')}</MultiGeometry>",
         "multipolyline", (((2.0, 1.0), (4.0, 3.0)), ((6.0, 5.0), (8.0, 7.0)))),
        (f"<MultiGeometry>{_SQUARE.format('0,0 1,0 1,1 0,0')}"
         f"<MultiGeometry>{_SQUARE.format('5,5 6,5 6,6 5,5')}</MultiGeometry></MultiGeometry>",
         "multipolygon", ((((0.0, 0.0), (0.0, 1.0), (1.0, 1.0)),), (((5.0, 5.0), (5.0, 6.0), (6.0, 6.0)),))),
        (f"<MultiGeometry>{_LINE.format('1,2 3,4')}</MultiGeometry>", "polyline", ((2.0, 1.0), (4.0, 3.0))),
        (f"<MultiGeometry>{_POINT.format('1,2')}{_SQUARE.format('0,0 1,0 1,1 0,0')}</MultiGeometry>",
         "collection", (("marker", (2.0, 1.0)), ("polygon", ((0.0, 0.0), (0.0, 1.0), (1.0, 1.0))))),
    ],
)  # fmt: skip
def test_a_multigeometry_is_one_feature_of_the_kind_its_parts_make(
    geometry: str, kind: str, coords: Any
) -> None:
    imported = read_file(_placemark(geometry), "kml", LIMITS)
    assert [(f.type, f.coords) for f in imported.features] == [(kind, coords)]
    assert imported.notes == ()
    # and written back, the same
    again = read_file(write_file(map_of(imported), "kml")[0], "kml", LIMITS)
    assert [(f.type, f.coords) for f in again.features] == [(kind, coords)]


def test_a_multitrack_is_one_multi_line_with_its_times_across_its_tracks() -> None:
    track = "<gx:Track><when>2023-07-02T05:0{0}:00Z</when><gx:coord>6.8{0} 45.9 10{0}</gx:coord>"
    track += "<when>2023-07-02T05:0{1}:00Z</when><gx:coord>6.8{1} 45.9 10{1}</gx:coord></gx:Track>"
    body = _placemark(f"<gx:MultiTrack>{track.format(0, 1)}{track.format(2, 3)}</gx:MultiTrack>")
    (feature,) = read_file(body, "kml", LIMITS).features
    assert feature.type == "multipolyline" and len(feature.coords) == 2
    assert props(feature)["times"] == tuple(f"2023-07-02T05:0{m}:00Z" for m in range(4))
    assert props(feature)["elevations"] == (100.0, 101.0, 102.0, 103.0)
    # written back, each line's heights are its altitudes
    again = read_file(write_file(map_of(read_file(body, "kml", LIMITS)), "kml")[0], "kml", LIMITS)
    assert props(again.features[0])["elevations"] == (100.0, 101.0, 102.0, 103.0)


def test_kml_to_mapsrv_to_kml_keeps_features_layers_and_styles() -> None:
    first = read_file(read_fixture("my_maps.kml"), None, LIMITS)
    again = read_file(write_file(map_of(first), "kml")[0], None, LIMITS)
    assert again.layers == first.layers
    assert [(f.type, f.coords, f.layer, f.label, f.popup, f.style, f.properties) for f in again.features] == [
        (f.type, f.coords, f.layer, f.label, f.popup, f.style, f.properties) for f in first.features
    ]


def test_unstyled_shapes_get_the_pages_look_and_circles_a_ring() -> None:
    state = map_with(
        {"type": "polyline", "coords": [[1, 1], [2, 2]], "properties": {"elevations": [10.5, None]}},
        {
            "type": "circle",
            "coords": [48.0, 2.0],
            "radius": 500,
            "style": {"color": "navy", "fill_opacity": 0.5},
        },
        {"type": "marker", "coords": [3, 3]},
    )
    root = ET.fromstring(write_file(state, "kml")[0])
    placemarks = list(root.iter(f"{KML}Placemark"))
    assert placemarks[0].findtext(f"{KML}LineString/{KML}coordinates") == "1.0,1.0,10.5 2.0,2.0"
    styles = {f"#{s.get('id')}": s for s in root.iter(f"{KML}Style")}
    line = styles[placemarks[0].findtext(f"{KML}styleUrl") or ""]
    assert line.findtext(f"{KML}LineStyle/{KML}color") == "ffff8833"  # #3388ff, Leaflet's blue
    circle = styles[placemarks[1].findtext(f"{KML}styleUrl") or ""]
    assert circle.findtext(f"{KML}PolyStyle/{KML}color") == "80800000"  # navy at half opacity
    assert len((placemarks[1].findtext(f".//{KML}coordinates") or "").split()) == 65
    assert placemarks[2].find(f"{KML}styleUrl") is None  # a plain marker keeps KML's pin


def test_a_kmz_is_its_doc_kml() -> None:
    kml = read_fixture("my_maps.kml")
    kmz = zipped({"images/icon-1.png": b"\x89PNG not really", "doc.kml": kml, "other.kml": b"<kml/>"})
    imported = read_file(kmz, None, LIMITS, filename="Lisbon.kmz")
    assert imported.format == "kmz"
    assert imported.features == read_file(kml, None, LIMITS).features
    # without a doc.kml, the first .kml
    assert len(read_file(zipped({"Lisbon weekend.kml": kml}), "kmz", LIMITS).features) == 4


def test_kmz_export_is_a_zip_with_doc_kml() -> None:
    state = map_of(read_file(read_fixture("earth.kml"), None, LIMITS))
    body, media, extension = write_file(state, "kmz")
    assert (media, extension) == ("application/vnd.google-earth.kmz", "kmz")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["doc.kml"]
        assert archive.read("doc.kml") == write_file(state, "kml")[0]
    assert write_file(state, "kmz")[0] == body  # the same map, the same bytes


def test_malformed_kml_names_line_and_column() -> None:
    body = b'<?xml version="1.0"?>\n<kml>\n<Placemark><name>A & B</name></Placemark>\n</kml>'
    with pytest.raises(InvalidInput) as err:
        read_file(body, "kml", LIMITS)
    assert (
        err.value.message
        == "kml is not well-formed XML at line 3, column 20: not well-formed (invalid token)"
    )


def test_bad_coordinates_name_the_placemark() -> None:
    point = b"<Point><coordinates>6.8;45.8</coordinates></Point>"
    body = b"<kml><Placemark><name>Hut</name>" + point + b"</Placemark></kml>"
    with pytest.raises(InvalidInput) as err:
        read_file(body, "kml", LIMITS)
    assert err.value.message == (
        "kml placemark 1 ('Hut') coordinates must be lon,lat[,alt] tuples separated by spaces, got '6.8;45.8'"
    )


def test_a_kml_error_inside_a_kmz_names_the_member() -> None:
    with pytest.raises(InvalidInput, match=r"^kmz doc.kml: kml is not well-formed XML at line 1"):
        read_file(zipped({"doc.kml": b"<kml><Placemark></kml>"}), None, LIMITS)
