"""Hostile files are refused with a clear message, quickly, and without doing what they ask:
XML entity bombs and external entities (in any encoding), zips that are not zips or that
unzip to far more than they weigh, a CSV of a million empty columns or a giant field,
binary garbage, and nesting deep enough to break a recursive reader."""

from __future__ import annotations

import io
import itertools
import math
import random
import struct
import zipfile

import pytest

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import read_file
from mapsrv.formats.kmz import MAX_KML, MAX_MEMBERS
from mapsrv.formats.simplify import simplify
from mapsrv.formats.table import MAX_COLUMNS

LIMITS = Limits()
DOCTYPE = "must not have a DOCTYPE"

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
GPX_BOMB = LAUGHS + '<gpx version="1.1"><wpt lat="1" lon="2"><name>&lol9;</name></wpt></gpx>'
KML_BOMB = (
    LAUGHS
    + "<kml><Placemark><name>&lol9;</name><Point><coordinates>2,1</coordinates></Point></Placemark></kml>"
)
XXE_GPX = """<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx version="1.1"><wpt lat="1" lon="2"><name>&secret;</name></wpt></gpx>"""
XXE_KML = """<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<kml><Placemark><name>x</name><Point><coordinates>2,1</coordinates></Point></Placemark></kml>"""
UTF7_BOMB = KML_BOMB.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-7"?>').replace(
    "<!DOCTYPE", "+ADwAIQ-DOCTYPE"
)
QUADRATIC = (
    f'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "{"x" * 50_000}">]>'
    f"<kml><Placemark><name>{'&a;' * 20_000}</name></Placemark></kml>"
)


def refused(data: bytes, fmt: str | None = None, **kwargs: object) -> str:
    """The message of the error ``data`` gets (what a refusal costs is the benchmark's to say)."""
    with pytest.raises(InvalidInput) as err:
        read_file(data, fmt, LIMITS, **kwargs)  # type: ignore[arg-type]
    return err.value.message


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (GPX_BOMB, "utf-8"),
        (KML_BOMB, "utf-8"),
        (GPX_BOMB, "utf-16"),  # a byte order mark: the check reads what the parser would
        (UTF7_BOMB, "ascii"),  # <!DOCTYPE spelled in UTF-7's base64, as the file declares
        (QUADRATIC, "utf-8"),
    ],
)
def test_entity_bombs_are_refused_before_parsing(text: str, encoding: str) -> None:
    message = refused(text.encode(encoding))
    assert DOCTYPE in message and "lol" not in message


@pytest.mark.parametrize("text", [XXE_GPX, XXE_KML])
def test_external_entities_are_never_read(text: str) -> None:
    message = refused(text.encode())
    assert DOCTYPE in message
    assert "root:" not in message


def test_a_doctype_in_a_kmz_is_refused_too() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("doc.kml", XXE_KML)
    assert refused(out.getvalue()).startswith("kmz doc.kml: kml must not have a DOCTYPE")


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"<kml><Placemark/></kml>", "kmz"),
        (b"PK\x03\x04" + bytes(200), None),
        (b"PK\x03\x04 this is not really a zip", "kmz"),
    ],
)
def test_a_kmz_that_is_not_a_zip(data: bytes, fmt: str | None) -> None:
    message = refused(data, fmt)
    assert message.startswith(("kmz is not a zip archive", "file is not kmz"))


def test_a_zip_that_unzips_past_the_cap_is_refused_without_unzipping_it() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("doc.kml", "w") as member:
            member.write(b"<kml>")
            chunk = b" " * (1 << 20)
            for _ in range((MAX_KML >> 20) + 8):
                member.write(chunk)
            member.write(b"</kml>")
    bomb = out.getvalue()
    assert len(bomb) < 100_000  # 40 MiB of KML in under 100 kB
    with pytest.raises(PayloadTooLarge, match=r"^kmz doc.kml must unzip to at most 32 MiB, got 40 MiB"):
        read_file(bomb, None, LIMITS)
    # the same bomb with a header that lies about its size: the read stops at the cap all the same
    lying = bytearray(bomb)
    directory = lying.rfind(b"PK\x01\x02")
    struct.pack_into("<I", lying, directory + 24, 100)  # uncompressed size in the central directory
    message = refused(bytes(lying))
    assert message.startswith("kmz is not a readable zip archive")


def test_a_zip_with_too_many_members_is_refused_before_it_is_opened() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(MAX_MEMBERS + 1):
            archive.writestr(f"{i}.png", b"")
        archive.writestr("doc.kml", b"<kml/>")
    with pytest.raises(PayloadTooLarge, match=r"^kmz must have at most 1000 members"):
        read_file(out.getvalue(), None, LIMITS)


def test_a_csv_of_a_million_empty_columns() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        read_file(b"," * 1_000_000 + b"\n1,2\n", "csv", LIMITS)
    assert err.value.message == (
        f"csv must have at most {MAX_COLUMNS} columns, got 1000001 in its header; is this a table?"
    )
    with pytest.raises(PayloadTooLarge, match=r"^csv must have at most 1000 columns, got 1000002 on line 2"):
        read_file(b"lat,lon\n1,2" + b"," * 1_000_000 + b"\n", "csv", LIMITS)


def test_a_csv_field_past_the_field_cap() -> None:
    body = b'lat,lon,notes\n1,2,"' + b"x" * (9 << 20) + b'"\n'
    message = refused(body, "csv")
    assert message == "csv line 2 cannot be read: field larger than field limit (8388608)"


def test_a_long_cell_is_shortened_not_refused() -> None:
    imported = read_file(b"lat,lon,review\n1,2," + b"x" * 10_000 + b"\n", "csv", LIMITS)
    assert len(dict(imported.features[0].properties)["review"]) == LIMITS.max_popup
    assert imported.notes == (f"attribute values shortened to {LIMITS.max_popup} characters: 1",)


def test_binary_garbage() -> None:
    garbage = random.Random(28).randbytes(64 << 10)
    for fmt in (None, "csv", "gpx", "kml", "geojson"):
        assert refused(garbage, fmt).startswith("file is binary, not text: it must be one of")
    assert (
        refused(b"<gpx>caf\xe9</gpx>")
        == "gpx is not valid utf-8 at byte 8: invalid continuation byte; save the file as UTF-8"
    )
    assert refused(b"PK\x03\x04" + garbage, "kmz").startswith("kmz is not a")


def test_deep_nesting_is_refused_or_read_without_recursion() -> None:
    assert (
        refused(b"[" * 200_000, "geojson")
        == "geojson is nested too deeply to read; no GeoJSON nests that far"
    )
    folders = (
        b"<Folder><name>f</name>" * 50_000
        + b"<Placemark><Point><coordinates>2,1</coordinates></Point></Placemark>"
    )
    imported = read_file(b"<kml>" + folders + b"</Folder>" * 50_000 + b"</kml>", "kml", LIMITS)
    assert len(imported.features) == 1 and len(imported.layers) == 1  # deep folders join their parent's layer
    multi = b"<MultiGeometry>" * 100
    assert "nests MultiGeometry more than 8 deep" in refused(
        b"<kml><Placemark>" + multi + b"</MultiGeometry>" * 100 + b"</Placemark></kml>", "kml"
    )
    wkt = "GEOMETRYCOLLECTION (" * 1_000 + "POINT (1 2)" + ")" * 1_000
    imported = read_file(f'wkt\n"{wkt}"\n'.encode(), "csv", LIMITS)
    assert imported.features == ()
    assert "WKT is nested more than 4 deep" in imported.notes[0]


def test_malformed_xml_names_the_line_and_column() -> None:
    assert refused(b'<gpx version="1.1">\n<wpt lat="1" lon="2">\n<name>x</nam>\n</wpt></gpx>') == (
        "gpx is not well-formed XML at line 3, column 9: mismatched tag"
    )
    assert refused(b"", "gpx") == "gpx is not well-formed XML at line 1, column 0: no element found"
    assert refused(b"<kml><Placemark>", None).startswith("kml is not well-formed XML at line 1, column 16")


def test_simplify_on_its_budget_still_keeps_every_point_within_the_tolerance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its budget of distance computations Douglas-Peucker gives way to radial thinning;
    the promise (every point dropped lies within the tolerance of the line kept) holds."""
    rng = random.Random(7)
    points = [(45 + i * 1e-5 + rng.uniform(-3e-5, 3e-5), 6 + rng.uniform(-3e-5, 3e-5)) for i in range(3_000)]
    kept = simplify(points, 2.0)
    assert kept[0] == 0 and kept[-1] == len(points) - 1 and 2 < len(kept) < len(points)
    monkeypatch.setattr("mapsrv.formats.simplify._BUDGET_PER_POINT", 0)  # every stretch thinned radially
    radial = simplify(points, 2.0)
    assert radial != kept and len(radial) > len(kept)
    for indexes in (kept, radial):
        assert _worst_deviation(points, indexes) <= 2.0 + 1e-6


def _worst_deviation(points: list[tuple[float, float]], kept: list[int]) -> float:
    """The largest distance (metres, on the local plane) of a point from the kept line."""
    scale = 6_371_008.8 * math.pi / 180
    xs = [(lon - points[0][1]) * scale * math.cos(math.radians(points[0][0])) for _, lon in points]
    ys = [(lat - points[0][0]) * scale for lat, _ in points]
    worst = 0.0
    for a, b in itertools.pairwise(kept):
        dx, dy = xs[b] - xs[a], ys[b] - ys[a]
        length2 = dx * dx + dy * dy or 1e-12
        for i in range(a + 1, b):
            t = max(0.0, min(1.0, ((xs[i] - xs[a]) * dx + (ys[i] - ys[a]) * dy) / length2))
            worst = max(worst, ((xs[i] - xs[a] - t * dx) ** 2 + (ys[i] - ys[a] - t * dy) ** 2) ** 0.5)
    return worst
