"""A big file is read in a worker process (``mapsrv.formats.apart``, issue 60): what comes back
is what the same file read in a thread gives, feature for feature, for files written by GDAL and
gpxpy; a broken one is refused with the same words; a caller that leaves kills the read; a small
file stays in a thread."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gpxpy
import pyarrow as pa
import pytest
import shapely
import trio
from support import Browser, start_server, wait_until
from support.big_work import polygons_geojson
from support.gis_files import countries, write_gdal

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput
from mapsrv.formats import read_file
from mapsrv.formats.apart import APART_BYTES
from mapsrv.hub.imports import read_upload
from mapsrv.workers import workers


def natural_earth_by_gdal() -> bytes:
    """Natural Earth's 1:50m countries (holes, islands, 4 MB), written by GDAL's GeoJSON driver."""
    names, outlines = countries("50m")
    table = pa.table({"name": names, "rank": list(range(len(names))), "geometry": shapely.to_wkb(outlines)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "countries.geojson"
        return write_gdal(table, path, "GeoJSON", crs="EPSG:4326", geometry_type="Unknown").read_bytes()


def long_ride_by_gpxpy(points: int = 30_000) -> bytes:
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="Across the Alentejo")
    gpx.tracks.append(track)
    segment = gpxpy.gpx.GPXTrackSegment()
    track.segments.append(segment)
    for n in range(points):
        point = gpxpy.gpx.GPXTrackPoint(38.5 - n * 1e-5, -8.0 - n * 1e-4, elevation=100 + n % 50)
        segment.points.append(point)
    gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(38.5, -8.0, name="Évora", comment="start"))
    return gpx.to_xml(version="1.1").encode()


def read_done() -> int:
    return workers().pools["read"].stats.done


@pytest.mark.parametrize("made", [natural_earth_by_gdal, long_ride_by_gpxpy], ids=["gdal", "gpxpy"])
async def test_a_big_file_read_in_a_process_is_the_file_read_in_a_thread(made: object) -> None:
    data = made()  # type: ignore[operator]
    assert len(data) >= APART_BYTES
    before = read_done()
    imported = await read_upload(data, None, Limits(), layer="big")
    assert read_done() == before + 1, "a big file was not read in a worker process"
    assert imported == read_file(data, None, Limits(), layer="big")  # every feature, note and member
    assert len(imported.features) > 1


async def test_a_small_file_stays_in_a_thread() -> None:
    before = read_done()
    imported = await read_upload(long_ride_by_gpxpy(200), None, Limits())
    assert read_done() == before and len(imported.features) == 2


async def test_a_broken_big_file_is_refused_with_the_words_a_thread_would_say() -> None:
    broken = json.dumps(polygons_geojson(1000, 40, 5000)).encode()[: APART_BYTES + 1000]  # cut short
    with pytest.raises(InvalidInput) as in_thread:
        read_file(broken, "geojson", Limits())
    before = workers().pools["read"].stats
    done, broken_workers = before.done, before.broken
    with pytest.raises(InvalidInput) as apart:
        await read_upload(broken, "geojson", Limits())
    assert apart.value.message == in_thread.value.message
    assert "not valid JSON at line 1" in apart.value.message
    stats = workers().pools["read"].stats
    assert stats.done == done + 1 and stats.broken == broken_workers  # the worker answered; it lives on


async def test_a_caller_that_leaves_stops_the_read_and_the_pool_goes_on() -> None:
    data = json.dumps(polygons_geojson(3000, 40, 20000)).encode()  # ~0.8 s of reading
    stats = workers().pools["read"].stats
    cancelled = stats.cancelled
    with trio.move_on_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_upload, data, "geojson", Limits())
            await wait_until(lambda: stats.running == 1, timeout=30)
            nursery.cancel_scope.cancel()  # the client left
    assert stats.cancelled == cancelled + 1 and stats.running == 0
    again = await read_upload(natural_earth_by_gdal(), None, Limits())  # a new worker takes it
    assert len(again.features) == len(countries("50m")[0])


async def test_the_server_starts_the_reader_before_the_first_big_file(nursery: trio.Nursery) -> None:
    before = read_done()
    await start_server(nursery)
    await wait_until(lambda: read_done() > before, timeout=30)  # apart.settle, in the read pool


async def test_a_big_file_dropped_on_the_page_is_read_in_a_process_from_its_spooled_copy(
    nursery: trio.Nursery,
) -> None:
    started = read_done()
    server = await start_server(nursery)
    await wait_until(lambda: read_done() > started, timeout=30)  # its reader's start, counted first
    owner = Browser(server.url)
    data = natural_earth_by_gdal()
    try:
        map_id = await owner.new_map()
        before = read_done()
        added = await owner.client.post(
            f"/m/{map_id}/import?filename=countries.geojson", content=data, timeout=60
        )
        assert added.status_code == 200, added.text
        assert read_done() == before + 1, "the page's big file was not read in a worker process"
        state = (await server.hub.get(map_id)).state
        expected = read_file(data, None, Limits())
        assert added.json()["added"] == len(expected.features) == len(state.features)
        assert sorted(f.label for f in state.features.values()) == sorted(f.label for f in expected.features)
    finally:
        await owner.aclose()
