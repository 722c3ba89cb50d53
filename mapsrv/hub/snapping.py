"""``import`` with ``snap``: a file's GPS tracks put on the roads they followed (the router's map
matching), keeping their times, with the ground's heights along them when the router has
elevation data. A file of timed points and no line (a CSV of fixes) is one track through them.
A track of several segments (a multiline: a GPX ``trk`` with a ``trkseg`` per pause) is matched
segment by segment, one request each, and stays one feature.

Each track's line becomes the road's line. Its ``times`` are carried onto it: each road point
gets the time of constant speed between the two recorded points matched before and after it
(``mapsrv.routing.tracks.retime``). Other per-point lists (the recorded elevations, names) no
longer fit the new points and are left out; the router's heights take the elevations' place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mapsrv.core.model import Feature, Limits, build_feature
from mapsrv.core.pace import paced
from mapsrv.core.routes import Mode, climb
from mapsrv.errors import InvalidInput
from mapsrv.formats import Imported
from mapsrv.routing import Router, RouteRefused
from mapsrv.routing.lines import elevations, redrawn
from mapsrv.routing.model import Matched
from mapsrv.routing.tracks import retime, seconds

__all__ = ["MAX_TRACK", "MAX_TRACKS", "TIMES_SAID", "check_snap", "climbs", "points_as_track", "snap_tracks"]

MAX_TRACK = 16_000  # points of one track: Valhalla's default limit for map matching
MAX_TRACKS = 20  # tracks put on the roads per import: each is one request to the router
TIMES_SAID = "each road point's time: constant speed between the recorded points matched around it"


def _lines(imported: Imported) -> list[int]:
    return [
        i
        for i, f in enumerate(imported.features)
        if f.type in ("polyline", "multipolyline") and all(len(line) >= 2 for line in _segments(f))
    ]


def _segments(track: Feature) -> tuple[tuple[tuple[float, float], ...], ...]:
    """A track's lines: a polyline's one, a multiline's each."""
    return (track.coords,) if track.type == "polyline" else tuple(track.coords)


def _timed(feature: Feature) -> str | None:
    when = dict(feature.properties).get("time")
    return when if feature.type == "marker" and isinstance(when, str) and seconds(when) is not None else None


def points_as_track(imported: Imported, limits: Limits) -> Imported:
    """A file of points with times and no line (a CSV of fixes: lat, lon, time) as one track
    through them in time order, which snap puts on the roads; any other file as it is."""
    timed = [f for f in imported.features if _timed(f) is not None]
    if _lines(imported) or len(timed) < 2:
        return imported
    timed.sort(key=lambda f: seconds(_timed(f)) or 0.0)
    track = build_feature(
        id="",
        type="polyline",
        coords=[f.coords for f in timed],
        layer=timed[0].layer,
        label="track",
        properties={"times": [_timed(f) for f in timed]},
        limits=limits,
    )
    rest = tuple(f for f in imported.features if _timed(f) is None)
    return replace(imported, features=(*rest, track))


def check_snap(router: Router | None, imported: Imported, snap: str) -> Router:
    if router is None:
        raise InvalidInput(
            f"snap {snap!r:.20} needs a routing engine and this server has none; import without snap"
            " (its operator starts mapsrv with --router valhalla+http://HOST:PORT)"
        )
    lines = _lines(imported)
    segments = [line for i in lines for line in _segments(imported.features[i])]
    if not lines:
        raise InvalidInput(
            f"snap puts tracks on the roads, and the {imported.format} file has {len(lines)} tracks"
            " (lines); import it without snap"
        )
    if len(segments) > MAX_TRACKS:
        raise InvalidInput(
            f"snap takes at most {MAX_TRACKS} tracks (each segment of one counted), the file has"
            f" {len(segments)}; split the file"
        )
    for line in segments:
        points = len(line)
        if points > MAX_TRACK:
            raise InvalidInput(
                f"snap takes tracks of at most {MAX_TRACK} points, got {points}; pass simplify"
                " (e.g. 5 metres) or split the track"
            )
    return router


async def snap_tracks(router: Router, imported: Imported, by: Mode, limits: Limits) -> Imported:
    """``imported`` with each of its tracks on the roads, segment by segment (RouteRefused names
    the track and the segment)."""
    features = list(imported.features)
    for number, i in enumerate(_lines(imported), start=1):
        track = features[i]
        segments = _segments(track)
        matched = []
        for k, line in enumerate(segments, start=1):
            try:
                matched.append(await router.match(line, by))
            except RouteRefused as refused:
                where = f", segment {k} of {len(segments)}" if len(segments) > 1 else ""
                raise RouteRefused(
                    f"track {number} ({track.label or 'unnamed'}{where}): {refused.message}"
                ) from None
        features[i] = await _snapped(router, track, matched, by, limits)
    return replace(imported, features=tuple(features))


async def _snapped(
    router: Router, track: Feature, matched: Sequence[Matched], by: Mode, limits: Limits
) -> Feature:
    given = dict(track.properties)
    properties: dict[str, Any] = {k: v for k, v in given.items() if not isinstance(v, tuple)}
    times = given.get("times")
    if isinstance(times, tuple):  # one per point, segment after segment
        retimed, start = [], 0
        for line, found in zip(_segments(track), matched, strict=True):
            retimed.append(retime(times[start : start + len(line)], found.at_m, found.coords))
            start += len(line)
        if all(part is not None for part in retimed):
            properties["times"] = [t for part in retimed for t in part or ()]
    properties["snapped"] = by
    heights = [await elevations(router, found.coords) for found in matched]
    known = [h for part in heights for h in part] if all(heights) else []
    if track.type == "polyline":
        return redrawn(track, matched[0].coords, properties, known, limits)
    return redrawn(track, [found.coords for found in matched], properties, known, limits, "multipolyline")


def climbs(imported: Imported, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The climb of each line with heights, for the answer."""
    out = []
    for fid, feature in paced(zip(ids, imported.features, strict=False)):
        if feature.type not in ("polyline", "multipolyline"):  # first: 100,000 points cost nothing
            continue
        heights = dict(feature.properties).get("elevations")
        if not isinstance(heights, tuple):
            continue
        climbed = climb([h if isinstance(h, (int, float)) else None for h in heights])
        if climbed is not None:
            out.append({"id": fid, **climbed.properties()})
    return out
