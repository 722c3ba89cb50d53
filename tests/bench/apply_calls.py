"""N ``MapHub.apply`` calls of one marker each on one map, in process with the memory store, for
counting the instructions one write costs the hub under callgrind
(tests/bench/apply_instructions.sh)."""

from __future__ import annotations

import sys

import trio

from mapsrv.core import Feature
from mapsrv.core.history import Actor
from mapsrv.core.ops import AddFeature
from mapsrv.hub import MapHub

AGENT = Actor("agent:0123abcd", "bench")


async def apply_calls(calls: int) -> None:
    hub = MapHub()
    entry = await hub.create_map(title="instructions")
    for i in range(calls):
        marker = Feature("", "marker", (1.0, 2.0 + i * 1e-4), label=f"m{i}")
        await hub.apply(entry.id, [AddFeature(marker)], actor=AGENT)
    assert entry.state.version == calls


if __name__ == "__main__":
    trio.run(apply_calls, int(sys.argv[1]))
