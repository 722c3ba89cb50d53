"""Bytes of the SSE frames viewers get for two writes (docs/benchmarks.md, issue 14): a one-marker
``draw``-like write, and a ``clear`` of a map of 1,000 markers; and the bytes the store's log
keeps for the same events. In process, memory store:

    PYTHONPATH=$PWD python -m tests.bench.frame_sizes
"""

from __future__ import annotations

import trio

from mapsrv.core import Feature
from mapsrv.core.codec import wire
from mapsrv.core.history import Actor
from mapsrv.core.ops import AddFeature, Clear, ImportFeatures
from mapsrv.hub import MapHub

AGENT = Actor("agent:0123abcd", "claude-ai")
MARKERS = 1_000


def marker(i: int) -> Feature:
    return Feature(f"f{i}", "marker", (38.7 + i * 1e-4, -9.14), label=f"Stop {i}")


async def frame_sizes() -> dict[str, tuple[int, int]]:
    hub = MapHub()
    entry = await hub.create_map(title="sizes")
    await hub.apply(entry.id, [ImportFeatures(tuple(marker(i) for i in range(MARKERS - 1)))], actor=AGENT)
    sizes = {}
    async with hub.subscribe(entry, str(entry.state.version)) as sub:
        writes = [("one marker", AddFeature(marker(MARKERS))), (f"clear of {MARKERS:,} markers", Clear())]
        for name, op in writes:
            events = await hub.apply(entry.id, [op], actor=AGENT)
            frame = sub.receive.receive_nowait()
            sizes[name] = (len(frame), len(wire(events[-1]).encode()))
    return sizes


if __name__ == "__main__":
    for name, (frame, stored) in trio.run(frame_sizes).items():
        print(f"{name}: SSE frame {frame} bytes, store's log {stored} bytes")
