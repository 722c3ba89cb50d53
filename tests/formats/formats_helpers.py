"""Shared by the file-format tests: the fixture files, and maps made from what a file read."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from mapsrv.core.apply import apply_all
from mapsrv.core.model import Limits, MapState, build_feature
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerVisibility
from mapsrv.formats import Imported

FIXTURES = Path(__file__).parent / "fixtures"


def read_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def map_of(imported: Imported, *, hidden: tuple[str, ...] = ()) -> MapState:
    """The map an import makes: its layers first, then its features (ids given by core)."""
    ops = [AddLayer(layer.id, layer.name) for layer in imported.layers]
    ops += [ImportFeatures(imported.features)]
    ops += [SetLayerVisibility(layer, False) for layer in hidden]
    state, _ = apply_all(MapState("m1", title=imported.title, members=imported.members), ops)
    return state


def map_with(*shapes: dict[str, Any]) -> MapState:
    """A map holding features given as ``build_feature`` arguments."""
    features = tuple(build_feature(id="", limits=Limits(), **shape) for shape in shapes)
    state, _ = apply_all(MapState("m1"), [ImportFeatures(features)])
    return state


def ride(points: int, *, start: tuple[float, float] = (45.0, 6.0)) -> bytes:
    """A watch's GPX: one point a second, with elevation, time and heart rate extensions."""
    t0 = dt.datetime(2024, 5, 1, 7, tzinfo=dt.UTC)
    rows = []
    for i in range(points):
        lat = start[0] + i * 1e-5 + 2e-6 * math.sin(i / 7)
        lon = start[1] + (i % 2000) * 1e-5
        stamp = (t0 + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{1000 + i * 0.01:.2f}</ele><time>{stamp}</time>'
            f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{120 + i % 40}</gpxtpx:hr>"
            "</gpxtpx:TrackPointExtension></extensions></trkpt>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="Garmin Edge 830"'
        ' xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        "<trk><name>Ride</name><trkseg>" + "\n".join(rows) + "</trkseg></trk></gpx>"
    ).encode()
