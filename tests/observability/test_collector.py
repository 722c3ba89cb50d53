"""The garbage collector kept from stalling the server: a full pass freezes its survivors, so the
next pass visits only what was made since; its pauses are measured; and a closed connection
leaves no cyclic garbage behind (hypercorn's per-connection cycle is broken), which is what makes
freezing safe."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import trio
from support import Browser, start_server

from mapsrv.observability.collector import GC_THRESHOLDS, Collector


@pytest.fixture
def collector() -> Iterator[Collector]:
    before = gc.get_threshold()
    installed = Collector()
    installed.install()
    try:
        yield installed
    finally:
        installed.uninstall()
        gc.set_threshold(*before)


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_a_pass_freezes_what_survives_it_and_is_measured(collector: Collector) -> None:
    assert gc.get_threshold() == GC_THRESHOLDS
    collector.settle()
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]  # live: made after the settle
    garbage = [Node() for _ in range(1000)]
    del garbage
    assert gc.collect() >= 1000, "the unreachable cycles are collected, not frozen"
    stats = collector.statistics()
    assert stats.passes[2] >= 2 and stats.longest[2] > 0 and stats.seconds[2] >= stats.longest[2]
    assert stats.frozen >= frozen + 1000, "the survivors of the pass were frozen"
    assert all(not gc.is_tracked(node) or node not in gc.get_objects(generation=2) for node in kept[:10])
    assert gc.collect() == 0


def test_while_a_build_is_kept_every_young_pass_freezes_what_it_leaves(collector: Collector) -> None:
    """What the gazetteer and the outlines build lives as long as the process: frozen by each
    young pass, no middle pass visits it again (25-70 ms each) while the build goes on."""
    collector.settle()

    def young_pass_freezes() -> bool:
        kept = [Node() for _ in range(100)]
        gc.collect(0)
        moved_on = {id(o) for o in gc.get_objects(generation=1)}
        return not any(id(node) in moved_on for node in kept)

    gc.disable()  # only the passes this test makes: an automatic middle pass would freeze too
    try:
        assert not young_pass_freezes(), "outside a build, a young pass moves its survivors on"
        with collector.keeping():
            with collector.keeping():  # builds may overlap
                pass
            assert young_pass_freezes(), "within a build, a young pass freezes what it leaves"
            garbage = [Node() for _ in range(100)]
            del garbage
            assert gc.collect(0) >= 100, "the young cycles are collected, not frozen"
        assert not young_pass_freezes(), "after the build, young passes are as before"
    finally:
        gc.enable()


async def test_the_places_and_outlines_loaded_at_start_are_kept_as_they_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start-up loads (the places file's gazetteer, the borders; the join outlines wait for
    a join, issue 78) and a first question's own opening of the gazetteer run while the process's
    collector keeps."""
    from mapsrv import server
    from mapsrv.observability.collector import PROCESS
    from mapsrv.places import service

    seen: dict[str, int] = {}

    def load(name: str) -> object:
        return lambda *args: seen.__setitem__(name, PROCESS._keeping)

    monkeypatch.setattr(service, "gazetteer", load("gazetteer"))
    monkeypatch.setattr(server, "warm_outlines", load("borders"))
    await server.warm_places(service.PlaceService())
    await service.PlaceService().ready()  # a question before the warm-up: the same build, kept
    assert seen == {"gazetteer": 1, "borders": 1}
    assert PROCESS._keeping == 0, "kept only while they load"


async def test_a_closed_connection_leaves_no_cyclic_garbage(nursery: trio.Nursery) -> None:
    """Each connection's server, protocol and timer referred to each other: 23 objects of
    cyclic garbage per closed connection, which freezing would have kept forever."""
    server = await start_server(nursery)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(5):
            browser = Browser(server.url)
            map_id = await browser.new_map()
            assert (await browser.state(map_id))["version"] == 0
            await browser.aclose()
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        left = sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    # the server side only: the test's own HTTP client (httpcore, h11) is in this process too
    hypercorn = [name for name in left if name.startswith(("hypercorn.", "mapsrv."))]
    assert hypercorn == [], f"closed connections left cyclic garbage: {hypercorn}"


async def test_mapsrv_serve_installs_the_collector_and_reports_it() -> None:
    """The real command: start-up objects frozen once it is up, every pass counted in /metrics."""
    import httpx
    from support import open_server

    async with open_server() as process, httpx.AsyncClient(base_url=process.url) as http:
        await http.get("/")  # some work, so that young passes happen
        text = (await http.get("/metrics")).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mapsrv_gc_"))
    assert float(lines["mapsrv_gc_frozen_objects"]) > 10_000, "start-up objects frozen"
    assert float(lines['mapsrv_gc_passes_total{generation="2"}']) >= 1, "the settle's full pass"
    assert float(lines['mapsrv_gc_longest_pause_seconds{generation="2"}']) > 0


def test_a_middle_pass_freezes_its_survivors_too(collector: Collector) -> None:
    """Objects that outlive a generation-1 pass are frozen then, so they never pile up in the
    oldest generation for one long full pass to find."""
    collector.settle()
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    gc.collect(1)
    assert gc.get_freeze_count() >= frozen + 1000, "the survivors of the middle pass were frozen"
    assert collector.statistics().passes[1] >= 1
    del kept
