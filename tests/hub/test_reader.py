"""Every file is read by a sandboxed process of its own (``mapsrv.hub.reader``, issue 72): each
limit it runs under ends a read that breaks it with a refusal naming that limit, a reader that
dies or is cancelled costs only itself, and what it sends back is checked before it is believed."""

from __future__ import annotations

import functools
import json
import os
import pickle
import signal

import pytest
import trio
import trio.testing
from support.procfs import zombies_of
from support.waiting import wait_until

from mapsrv.core.model import Limits
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.sandbox import MAX_FRAME, frame, safe_loads
from mapsrv.hub import reader as reader_module
from mapsrv.hub.imports import read_upload
from mapsrv.hub.reader import ReadLimits, reader

# A map roomy enough that the reader's own limits, not the map's caps, are what a big file meets
ROOMY = Limits(max_features=2_000_000, max_total_points=20_000_000)


@functools.cache
def points_geojson(n: int) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [i % 360 - 180 + 0.5, (i // 360) % 170 - 85 + 0.5]},
            "properties": {"name": f"point {i}", "n": i},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def test_a_small_file_is_read_in_a_process_and_the_next_waits_in_a_spare() -> None:
    data = points_geojson(3)
    imported = await read_upload(data, None, Limits())
    assert [f.label for f in imported.features] == ["point 0", "point 1", "point 2"]
    spare = reader().spare
    assert spare is not None and spare.process.returncode is None  # started ahead for the next file
    pid = spare.process.pid
    again = await read_upload(data, None, Limits())
    assert len(again.features) == 3
    assert reader().spare is None or reader().spare.process.pid != pid  # the spare read it, and is gone
    assert pid != os.getpid()


async def test_a_spare_let_go_is_reaped_not_left_a_zombie() -> None:
    """After 5 idle minutes (and at shutdown) the spare is killed; a process killed and never
    waited for would stay in the process table for as long as the server runs."""
    await read_upload(points_geojson(1), None, Limits())
    spare = reader().spare
    assert spare is not None
    pid = spare.process.pid
    await reader().retire_spare(0)
    assert reader().spare is None
    assert spare.process.returncode is not None  # reaped: its exit status was collected
    assert pid not in zombies_of()


async def test_a_file_past_the_readers_memory_is_refused_naming_the_limit() -> None:
    data = points_geojson(100_000)  # ~10 MB of text: hundreds of MB parsed
    with pytest.raises(PayloadTooLarge, match=r"more than 64 MiB of memory.*--import-memory"):
        await read_upload(data, None, ROOMY, read_limits=ReadLimits(memory=64 << 20))
    # the same file under the default limit is read whole
    imported = await read_upload(data, None, ROOMY)
    assert len(imported.features) == 100_000


async def test_a_file_past_the_readers_cpu_is_refused_naming_the_limit() -> None:
    data = points_geojson(200_000)  # seconds of CPU to parse and build
    with pytest.raises(PayloadTooLarge, match=r"more than 1 s of CPU.*--import-cpu"):
        await read_upload(data, None, ROOMY, read_limits=ReadLimits(cpu=1, wall=60))


async def test_a_file_past_the_readers_time_is_refused_and_its_process_killed() -> None:
    data = points_geojson(200_000)
    with pytest.raises(PayloadTooLarge, match=r"more than 0.5 s to read.*--import-timeout"):
        await read_upload(data, None, ROOMY, read_limits=ReadLimits(wall=0.5))
    assert not reader().running  # killed and waited for


async def test_a_reader_that_dies_is_a_refusal_and_the_next_file_is_read() -> None:
    data = points_geojson(200_000)
    died: list[BaseException] = []

    async def read() -> None:
        try:
            await read_upload(data, None, ROOMY)
        except InvalidInput as exc:
            died.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await wait_until(lambda: reader().running, timeout=30)
        (child,) = reader().running
        os.kill(child.process.pid, signal.SIGSEGV)  # as a reader crashing on a malformed file would
    assert len(died) == 1 and "its reader stopped (SIGSEGV)" in str(died[0])
    assert len((await read_upload(points_geojson(2), None, Limits())).features) == 2


async def test_a_cancelled_read_kills_its_process() -> None:
    data = points_geojson(200_000)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_upload, data, None, ROOMY)
        await wait_until(lambda: reader().running, timeout=30)
        (child,) = reader().running
        nursery.cancel_scope.cancel()
    assert child.process.returncode is not None  # the client left: its reader is gone, not finishing
    assert child.process.returncode == -signal.SIGKILL


async def test_the_reader_refuses_a_file_that_breaks_a_format_rule_with_its_own_message() -> None:
    with pytest.raises(InvalidInput, match="geojson is not valid JSON at line 1"):
        await read_upload(b"{nope", None, Limits())


def test_only_mapsrvs_own_classes_are_unpickled() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system, which is not allowed"):
        safe_loads(pickle.dumps(Evil()))
    assert safe_loads(pickle.dumps([1, "a", (2.0, None)])) == [1, "a", (2.0, None)]


async def test_a_frame_longer_than_the_cap_ends_the_read() -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    await send.send_all(frame(b"P", bytes(16)) + frame(b"F", b"")[:1] + (MAX_FRAME + 1).to_bytes(4, "big"))
    await send.aclose()
    got = []
    with pytest.raises(PayloadTooLarge, match="more than 64 MiB"):
        async for kind, _ in reader_module._frames(receive):
            got.append(kind)
    assert got == [b"P"]


async def test_a_table_of_many_pieces_comes_back_whole_in_its_order() -> None:
    rows = "\n".join(f"stop {i},{i % 80},{i % 170},{'x' * 40}" for i in range(40_000))
    data = f"name,lat,lon,note\n{rows}\n".encode()
    assert len(data) > 2 << 20  # a table's rows come back ~1 MiB a piece: several here
    imported = await read_upload(data, None, Limits())
    assert [f.label for f in imported.features[:3]] == ["stop 0", "stop 1", "stop 2"]
    assert len(imported.features) == 40_000 and imported.features[-1].label == "stop 39999"
