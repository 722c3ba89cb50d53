"""``import`` with ``snap`` on a track of several segments (a multiline, as a GPX trk of several
trksegs): each segment is matched on its own, one request each, and the track stays one feature
with its times carried segment by segment and the heights of every segment; a segment the router
refuses is named. The router is a stand-in that moves each point 0.0001 degrees north (the
engine itself is exercised in test_routes_over_mcp when Valhalla is installed)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

from mapsrv.core.model import Feature, LatLon, Limits
from mapsrv.core.routes import Mode
from mapsrv.errors import InvalidInput
from mapsrv.formats import Imported
from mapsrv.hub.snapping import MAX_TRACKS, check_snap, climbs, snap_tracks
from mapsrv.routing import RouteRefused
from mapsrv.routing.model import Matched
from mapsrv.routing.tracks import along_m

TIMES = ("2026-05-01T07:30:00Z", "2026-05-01T07:31:00Z", "2026-05-01T08:00:00Z", "2026-05-01T08:02:00Z")


class Roads:
    """Matches a track onto the same points 0.0001 degrees north; heights rise 1 m a point."""

    def __init__(self, refuse: int | None = None) -> None:
        self.asked: list[tuple[LatLon, ...]] = []
        self.refuse = refuse

    async def match(self, track: Sequence[LatLon], by: Mode) -> Matched:
        self.asked.append(tuple(track))
        if self.refuse == len(self.asked):
            raise RouteRefused("no road near [46.0, 7.0]")
        coords = tuple((round(lat + 0.0001, 6), lon) for lat, lon in track)
        return Matched(coords, tuple(along_m(coords)))

    async def heights(self, points: Sequence[LatLon]) -> tuple[float | None, ...]:
        return tuple(float(100 + 10 * i) for i in range(len(points)))


def two_segments() -> Imported:
    track = Feature(
        "",
        "multipolyline",
        (((46.0, 7.0), (46.0, 7.01)), ((46.1, 7.0), (46.1, 7.02))),
        label="ride",
        properties=(("times", TIMES),),
    )
    return Imported("gpx", (track,))


def test_each_segment_is_matched_and_the_track_stays_one_feature() -> None:
    roads = Roads()
    imported = two_segments()
    assert check_snap(roads, imported, "car") is roads  # type: ignore[arg-type]
    (snapped,) = trio.run(snap_tracks, roads, imported, "car", Limits()).features  # type: ignore[arg-type]
    assert roads.asked == list(imported.features[0].coords)  # one request a segment
    assert snapped.type == "multipolyline" and snapped.label == "ride"
    assert snapped.coords == (((46.0001, 7.0), (46.0001, 7.01)), ((46.1001, 7.0), (46.1001, 7.02)))
    props = dict(snapped.properties)
    assert props["times"] == TIMES and props["snapped"] == "car"
    assert props["elevations"] == (100.0, 110.0, 100.0, 110.0)  # each segment's heights in turn
    assert climbs(Imported("gpx", (snapped,)), ["t1"])[0]["id"] == "t1"


def test_a_refused_segment_is_named_and_segments_count_towards_the_limit() -> None:
    with pytest.raises(RouteRefused, match=r"track 1 \(ride, segment 2 of 2\): no road near"):
        trio.run(snap_tracks, Roads(refuse=2), two_segments(), "car", Limits())  # type: ignore[arg-type]
    many = tuple(((46.0, 7.0 + i), (46.0, 7.01 + i)) for i in range(MAX_TRACKS + 1))
    imported = Imported("gpx", (Feature("", "multipolyline", many),))
    with pytest.raises(InvalidInput, match=f"each segment of one counted\\), the file has {MAX_TRACKS + 1}"):
        check_snap(Roads(), imported, "car")  # type: ignore[arg-type]
