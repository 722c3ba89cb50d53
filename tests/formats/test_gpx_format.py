"""GPX in and out: a Garmin export's waypoints, route and two-segment track become markers and
lines with their times and elevations; what mapsrv writes, gpxpy (what other tools read GPX
with) reads back with every waypoint and track point exactly."""

from __future__ import annotations

import math
from typing import Any

import gpxpy
import pytest
from formats_helpers import map_of, map_with, read_fixture, ride
from gpxpy.gpx import GPX

from mapsrv.core.model import Feature, Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import export_notes, read_file, write_file

LIMITS = Limits()


def props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def points_of(gpx: GPX) -> dict[str, list[tuple[Any, ...]]]:
    """Everything gpxpy reads that mapsrv keeps, point by point."""

    def point(p: Any) -> tuple[Any, ...]:
        return (p.latitude, p.longitude, p.elevation, p.time, p.name)

    return {
        "waypoints": [(*point(w), w.description or w.comment, w.symbol, w.type) for w in gpx.waypoints],
        "routes": [(r.name, r.description, [point(p) for p in r.points]) for r in gpx.routes],
        "tracks": [(t.name, t.type, [[point(p) for p in s.points] for s in t.segments]) for t in gpx.tracks],
    }


def test_a_garmin_export_reads_into_markers_and_lines() -> None:
    imported = read_file(read_fixture("garmin_ride.gpx"), None, LIMITS)
    assert imported.format == "gpx"
    assert imported.title == "Col de la Croix & lakes"
    assert imported.layers == ()
    assert imported.notes == ()
    start, forclaz, water, route, track = imported.features
    assert (start.type, start.coords, start.label) == ("marker", (45.8992, 6.1294), "Annecy start")
    assert start.popup == "Start <here>: café on the quay"
    assert props(start) == {
        "cmt": "Meet at the fountain",
        "ele": 448.2,
        "sym": "Flag, Blue",
        "time": "2024-06-15T07:00:00Z",
        "type": "user",
    }
    assert props(forclaz) == {"ele": 1477.0, "sym": "Summit"}  # its extensions are not read
    assert water.popup == "Fountain next to the church"  # a comment is the popup when there is no desc
    assert route.type == "polyline" and route.label == "Planned loop"
    assert props(route) == {
        "route": 1,
        "names": ("Start", "Sevrier", None, "Finish"),
        "elevations": (None, 460.0, 1477.0, None),
    }
    # one track, one feature: its two segments are the two lines of a multi-line
    assert (track.type, track.label) == ("multipolyline", "Morning Ride")
    first, second = track.coords
    assert first == ((45.8992, 6.1294), (45.89871, 6.13012), (45.8981, 6.13103), (45.89744, 6.13188))
    assert len(second) == 3
    # per-point values run across the segments, in order; a point without a time or an
    # elevation keeps its place in the lists
    assert props(track)["times"] == (
        *(f"2024-06-15T07:00:{s:02d}.000Z" for s in (0, 5, 10, 15)),
        *("2024-06-15T07:41:02.000Z", "2024-06-15T07:41:07.000Z", None),
    )
    assert props(track)["elevations"] == (448.2, 448.6, 449.0, 449.8, 460.4, None, 463.1)
    assert (props(track)["track"], props(track)["type"]) == (1, "cycling")
    assert "segment" not in props(track)


def test_gpx_1_0_in_its_declared_encoding() -> None:
    imported = read_file(read_fixture("gpx10_hike.gpx"), None, LIMITS)
    assert imported.title == "Randonnée"
    marker, line = imported.features
    assert marker.popup == "Départ à la gare"  # ISO-8859-1 bytes, as the file declares
    assert props(line)["elevations"] == (495.0, 510.0, 532.0)
    assert props(line)["times"][2] == "2019-09-01T10:10:00Z"


def test_gpx_to_mapsrv_to_gpx_keeps_every_point_as_gpxpy_reads_it() -> None:
    original = read_fixture("garmin_ride.gpx")
    state = map_of(read_file(original, None, LIMITS))
    body, media, extension = write_file(state, "gpx")
    assert (media, extension) == ("application/gpx+xml", "gpx")
    exported = gpxpy.parse(body.decode())
    assert exported.version == "1.1"
    assert exported.name == "Col de la Croix & lakes"
    assert points_of(exported) == points_of(gpxpy.parse(original.decode()))
    assert len(exported.tracks) == 1 and len(exported.tracks[0].segments) == 2  # one track, 2 segments
    # and mapsrv reads its own file back to the same features
    again = read_file(body, None, LIMITS)
    assert [(f.type, f.coords, f.label, f.popup, f.properties) for f in again.features] == [
        (f.type, f.coords, f.label, f.popup, f.properties) for f in state.features.values()
    ]


def test_two_tracks_with_one_name_stay_two_tracks() -> None:
    segment = '<trkseg><trkpt lat="1" lon="1"/><trkpt lat="2" lon="2"/></trkseg>'
    body = (
        f'<gpx version="1.1"><trk><name>Ride</name>{segment}</trk><trk><name>Ride</name>{segment}</trk></gpx>'
    )
    state = map_of(read_file(body.encode(), "gpx", LIMITS))
    exported = gpxpy.parse(write_file(state, "gpx")[0].decode())
    assert [len(t.segments) for t in exported.tracks] == [1, 1]


def test_shapes_are_written_as_closed_tracks() -> None:
    state = map_with(
        {"type": "polygon", "coords": [[0, 0], [0, 1], [1, 1]], "label": "Area"},
        {"type": "rectangle", "coords": [[10, 20], [11, 22]]},
        {"type": "circle", "coords": [48.0, 2.0], "radius": 1000},
    )
    exported = gpxpy.parse(write_file(state, "gpx")[0].decode())
    polygon, rectangle, circle = (
        [(p.latitude, p.longitude) for p in t.segments[0].points] for t in exported.tracks
    )
    assert polygon == [(0, 0), (0, 1), (1, 1), (0, 0)]
    assert rectangle == [(10, 20), (10, 22), (11, 22), (11, 20), (10, 20)]
    assert len(circle) == 65 and circle[0] == circle[-1]
    for lat, lon in circle:  # every point 1 km from the centre (on the sphere, within 0.5 %)
        metres = math.dist((lat, (lon - 2.0) * math.cos(math.radians(48))), (48.0, 0.0)) * 111_195
        assert metres == pytest.approx(1000, rel=0.005)
    assert exported.tracks[0].name == "Area"


def test_holes_parts_and_members_are_written_whole() -> None:
    outer, hole = [[0, 0], [0, 10], [10, 10], [10, 0]], [[2, 2], [2, 4], [4, 4]]
    times = [f"2024-06-15T07:00:0{s}Z" for s in range(5)]
    state = map_with(
        {"type": "polygon", "coords": [outer, hole], "label": "Holed"},
        {"type": "multipolygon", "coords": [[outer, hole], [[[20, 20], [20, 21], [21, 21]]]], "label": "Two"},
        {"type": "multipolyline", "coords": [[[0, 0], [1, 1]], [[2, 2], [3, 3], [4, 4]]], "label": "Ride",
         "properties": {"times": times, "elevations": [1.0, 2.0, 3.0, 4.0, 5.0]}},
        {"type": "multipoint", "coords": [[1, 1], [2, 2]], "label": "Stops",
         "properties": {"times": times[:2]}},
        {"type": "collection", "label": "Mixed",
         "coords": [{"type": "marker", "coords": [5, 5]}, {"type": "polyline", "coords": [[6, 6], [7, 7]]}]},
    )  # fmt: skip
    exported = gpxpy.parse(write_file(state, "gpx")[0].decode())

    def segments(track: Any) -> list[list[tuple[float, float]]]:
        return [[(p.latitude, p.longitude) for p in s.points] for s in track.segments]

    holed, two, ride, mixed = exported.tracks
    assert segments(holed) == [
        [(0, 0), (0, 10), (10, 10), (10, 0), (0, 0)],  # its outline, then its hole, each closed
        [(2, 2), (2, 4), (4, 4), (2, 2)],
    ]
    assert [len(s) for s in segments(two)] == [5, 4, 4]  # every ring of every part
    assert ride.name == "Ride" and segments(ride) == [[(0, 0), (1, 1)], [(2, 2), (3, 3), (4, 4)]]
    ride_points = [p for s in ride.segments for p in s.points]
    assert [p.time.isoformat() for p in ride_points] == [t.replace("Z", "+00:00") for t in times]
    assert [p.elevation for p in ride_points] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert (mixed.name, segments(mixed)) == ("Mixed", [[(6, 6), (7, 7)]])
    assert [(w.name, w.latitude, w.longitude) for w in exported.waypoints] == [
        ("Stops", 1, 1),
        ("Stops", 2, 2),
        ("Mixed", 5, 5),
    ]
    assert exported.waypoints[1].time.isoformat() == "2024-06-15T07:00:01+00:00"
    assert export_notes(state, "gpx") == [
        "2 areas written as tracks, each ring a closed segment: GPX has no areas",
        "1 multipoints written as waypoints, one per point: GPX has no groups",
        "1 collections written as waypoints and a track: GPX has no collections",
    ]
    assert export_notes(state, "kml") == []
    # and mapsrv reads the multi-line back whole, with its times
    again = read_file(write_file(state, "gpx")[0], "gpx", LIMITS).features
    (ride_again,) = [f for f in again if f.label == "Ride"]
    assert (ride_again.type, props(ride_again)["times"]) == ("multipolyline", tuple(times))


def test_a_point_without_a_position_is_named() -> None:
    points = b'<trkpt lat="1" lon="1"/><trkpt lat="north" lon="2"/>'
    body = b"<gpx><trk><name>Ride</name><trkseg>" + points + b"</trkseg></trk></gpx>"
    with pytest.raises(InvalidInput) as err:
        read_file(body, "gpx", LIMITS)
    assert err.value.message == (
        "gpx track 1 ('Ride') segment 1 point 2 lat and lon must be numbers, got lat='north' lon='2'"
    )
    with pytest.raises(InvalidInput, match="gpx waypoint 1 must have lat and lon attributes"):
        read_file(b'<gpx><wpt lon="3"/></gpx>', "gpx", LIMITS)


def test_a_position_out_of_range_is_named() -> None:
    body = b'<gpx><wpt lat="91" lon="2"><name>Pole</name></wpt></gpx>'
    with pytest.raises(
        InvalidInput, match=r"^gpx waypoint 1 \('Pole'\): coords latitude must be between -90"
    ):
        read_file(body, "gpx", LIMITS)


def test_unreadable_times_and_elevations_are_left_out_with_a_note() -> None:
    body = (
        b'<gpx><trk><trkseg><trkpt lat="1" lon="1"><ele>high</ele><time>yesterday</time></trkpt>'
        b'<trkpt lat="2" lon="2"><ele>12</ele><time>2024-01-01T10:00:00+01:00</time></trkpt>'
        b'<trkpt lat="3" lon="3"/></trkseg>'
        b'<trkseg><trkpt lat="4" lon="4"/></trkseg></trk></gpx>'
    )
    imported = read_file(body, "gpx", LIMITS)
    (line,) = imported.features
    assert props(line)["times"] == (None, "2024-01-01T10:00:00+01:00", None)
    assert props(line)["elevations"] == (None, 12.0, None)
    assert set(imported.notes) == {
        "point times left out (not ISO 8601 dates): 1",
        "point elevations left out (not numbers): 1",
        "skipped track segments with a single point: gpx track 1 segment 2",
    }


def test_a_50000_point_track_is_one_line() -> None:
    """Every point, time and elevation of a day's ride in one line. What it costs (the goal is
    1 s of CPU) is measured by tests/formats/formats_benchmark.py, not here."""
    body = ride(50_000)
    imported = read_file(body, None, LIMITS)
    (line,) = imported.features
    assert len(line.coords) == 50_000 and len(props(line)["times"]) == 50_000
    assert len(props(line)["elevations"]) == 50_000
    assert props(line)["times"][-1] == "2024-05-01T20:53:19Z"


def test_simplify_keeps_times_and_elevations_with_their_points() -> None:
    body = ride(20_000)
    full = read_file(body, None, LIMITS).features[0]
    imported = read_file(body, None, LIMITS, simplify=5)
    (line,) = imported.features
    assert 2 < len(line.coords) < 2_000
    assert line.coords[0] == full.coords[0] and line.coords[-1] == full.coords[-1]
    where = {p: i for i, p in enumerate(full.coords)}
    for k, point in enumerate(line.coords):
        i = where[point]
        assert props(line)["times"][k] == props(full)["times"][i]
        assert props(line)["elevations"][k] == props(full)["elevations"][i]
    assert imported.notes == (
        f"simplified 1 line or shape from 20000 to {len(line.coords)} points (tolerance 5 m)",
    )


def test_simplify_thins_each_segment_and_keeps_the_times_with_their_points() -> None:
    rows = ride(4_000).decode().split("\n")  # the head and the first point, then a point a line
    rows[2_001] = "</trkseg><trkseg>" + rows[2_001]
    body = "\n".join(rows).encode()
    full = read_file(body, None, LIMITS).features[0]
    (track,) = read_file(body, None, LIMITS, simplify=5).features
    assert track.type == full.type == "multipolyline"
    assert [len(line) for line in full.coords] == [2_000, 2_000]
    assert all(2 <= len(line) < 200 for line in track.coords)
    where = {p: i for i, p in enumerate(p for line in full.coords for p in line)}
    kept = [where[p] for line in track.coords for p in line]
    assert props(track)["times"] == tuple(props(full)["times"][i] for i in kept)
    assert props(track)["elevations"] == tuple(props(full)["elevations"][i] for i in kept)


def test_a_track_over_the_point_cap_is_refused_naming_the_cap_unless_simplified() -> None:
    limits = Limits(max_points=1_000)
    body = ride(3_000)
    with pytest.raises(PayloadTooLarge) as err:
        read_file(body, None, limits)
    assert err.value.message == (
        "gpx track 1 ('Ride') must have at most 1000 points (max_points), got 3000;"
        " pass simplify (metres, e.g. 5) to thin it, or split it"
    )
    (line,) = read_file(body, None, limits, simplify=10).features
    assert len(line.coords) <= 1_000


def test_the_total_point_and_feature_caps_stop_a_file() -> None:
    with pytest.raises(PayloadTooLarge, match=r"at most 2500 points in all \(max_total_points\)"):
        read_file(ride(3_000), None, Limits(max_total_points=2_500))
    waypoints = "".join(f'<wpt lat="1" lon="{i / 100}"/>' for i in range(20))
    with pytest.raises(PayloadTooLarge, match=r"gpx must hold at most 10 features \(max_features\)"):
        read_file(f"<gpx>{waypoints}</gpx>".encode(), "gpx", Limits(max_features=10))
