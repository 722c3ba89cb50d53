"""A big map's snapshot, state and GeoJSON are encoded in a worker thread, so a viewer joining a
100,000-feature map does not stop every other stream of the process while 13 MB of JSON is
written; what comes out is what the loop would have built."""

from __future__ import annotations

import json

import trio

from mapsrv.core import Feature, Limits, MapState, apply_all
from mapsrv.core.codec import dumps
from mapsrv.core.history import Actor
from mapsrv.core.ops import ImportFeatures, SetLayerStyle
from mapsrv.hub import MapHub
from mapsrv.hub.edits import HEAVY_BATCH, is_heavy
from mapsrv.hub.fanout import SNAPSHOT_THREAD, FrameLog

AGENT = Actor("agent:0123abcd", "test")
SIZE = SNAPSHOT_THREAD + 500


async def big_map(hub: MapHub) -> str:
    entry = await hub.create_map(title="big")
    features = tuple(Feature("", "marker", (40 + i / 1000, i / 1000), label=f"p{i}") for i in range(SIZE))
    await hub.apply(entry.id, [ImportFeatures(features)], actor=AGENT)
    return entry.id


async def test_a_big_snapshot_is_built_off_the_loop_and_equals_the_loops() -> None:
    hub = MapHub(limits=Limits(max_features=SIZE))
    entry = await hub.get(await big_map(hub))
    expected = FrameLog(8, entry.history).snapshot_frame(entry.state)  # built on the loop
    ran_meanwhile = trio.Event()

    async def other_stream() -> None:
        ran_meanwhile.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_stream)
        async with hub.subscribe(entry) as sub:  # the snapshot is built while the loop turns
            assert ran_meanwhile.is_set(), "the loop ran another task while the snapshot was built"
            assert sub.initial == [expected]
    data = json.loads(expected.split(b"data: ", 1)[1])
    assert len(data["features"]) == SIZE and data["version"] == entry.state.version


async def test_a_big_state_body_equals_the_small_path() -> None:
    hub = MapHub(limits=Limits(max_features=SIZE))
    entry = await hub.get(await big_map(hub))
    assert await entry.state_body() == dumps(entry.state_json())


async def test_a_resuming_viewer_of_a_big_map_gets_only_what_it_missed() -> None:
    hub = MapHub(limits=Limits(max_features=SIZE + 1))
    entry = await hub.get(await big_map(hub))
    seen = entry.state.version
    await hub.apply(entry.id, [ImportFeatures((Feature("one", "marker", (1.0, 2.0)),))], actor=AGENT)
    async with hub.subscribe(entry, str(seen)) as sub:
        assert len(sub.initial) == 1 and b"\nevent: change\n" in sub.initial[0]
        assert b"event: snapshot" not in sub.initial[0]


async def test_a_heavy_batch_is_applied_off_the_loop_and_lands_as_a_light_one_would() -> None:
    """The same import through the worker thread (``is_heavy``) and on the loop:
    the same state, and the viewers get the same frame."""
    features = tuple(Feature(f"p{i}", "marker", (40 + i / 1000, i / 1000)) for i in range(HEAVY_BATCH))
    assert is_heavy([ImportFeatures(features)]) and not is_heavy([ImportFeatures(features[:-2])])
    hub = MapHub(limits=Limits(max_features=HEAVY_BATCH))
    heavy, light = await hub.create_map(title="t"), await hub.create_map(title="t")
    ran_meanwhile = trio.Event()

    async def other_stream() -> None:
        ran_meanwhile.set()

    async with hub.subscribe(heavy) as heavy_viewer, hub.subscribe(light) as light_viewer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_stream)
            written = await hub.apply(heavy.id, [ImportFeatures(features)], actor=AGENT)
            assert ran_meanwhile.is_set(), "the loop ran another task while the batch was applied"
        await hub.apply(light.id, [ImportFeatures(features[:-2])], actor=AGENT)
        await hub.apply(light.id, [ImportFeatures(features[-2:])], actor=AGENT)
        heavy_frame = heavy_viewer.receive.receive_nowait()
        light_viewer.receive.receive_nowait()
        assert b'"id":"p0"' in heavy_frame and heavy_frame.count(b'"type":"marker"') == HEAVY_BATCH
    assert written[-1].version == heavy.state.version == 1
    assert heavy.state.features == light.state.features
    assert heavy.frames.recent[-1] == (1, heavy_frame)


def test_a_style_on_a_big_map_is_heavy_it_reads_every_feature() -> None:
    points = tuple(Feature(f"f{i}", "marker", (1.0, 2.0), layer="pts") for i in range(HEAVY_BATCH))
    small = MapState(id="m")
    big, _ = apply_all(small, [ImportFeatures(points)], Limits(max_features=10_000))
    style = [SetLayerStyle("pts", {"by": "v"})]
    assert is_heavy(style, big) and not is_heavy(style, small)
    assert not is_heavy([SetLayerStyle("pts", None)], big), "taking a style off reads nothing"
