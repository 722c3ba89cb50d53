"""What context ranking costs a call's names (issue 43: at most 1 ms added to a draw of 20 names).

    python -m tests.bench.place_context [--rounds N] [--features N]   # prints tables, then JSON

Twenty names that each name several places (Paris, Cambridge, Salamanca, Springfield, ...: up
to 8 candidates each, the most work ``choose`` ever gets from the built-in list), ranked together
(each name near the places chosen for the others, and the map's points) against each ranked alone:

- ``choose``: the 20 names' candidates chosen together, against ``choose`` of each name alone;
- ``resolve``: ``PlaceService.resolve`` of the 20 names, against 20 ``resolve`` calls of one name;
- ``draw``: the ``draw`` tool with 20 markers at those names, against the same draw with
  ``choose`` swapped for one that ranks each name alone (no other names, no map).

Each first in a new map (no map points), then in a map of ``--features`` markers over Europe,
whose view and 200 of whose points are the context. The two sides of each take turns, a round at
a time, so that the machine's load weighs on both alike; the added time is the difference of
the medians.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import trio

import mapsrv.places.service
from mapsrv.hub import MapHub
from mapsrv.mcp.tools import ToolContext
from mapsrv.mcp.tools.drawing import draw
from mapsrv.mcp.tools.places import map_anchors
from mapsrv.places import gazetteer
from mapsrv.places.context import Candidate, Choice, Context, choose
from mapsrv.places.service import PlaceService

from .harness import percentiles

NAMES = [
    "Paris", "London", "Cambridge", "Salamanca", "Córdoba", "Valencia", "Santiago", "San José",
    "Portland", "Springfield", "Birmingham", "Perth", "Victoria", "Alexandria", "Toledo", "Mérida",
    "Granada", "León", "Richmond", "Hamilton",
]  # fmt: skip
BASE = "https://maps.example/"


def each_alone(named: Mapping[str, Sequence[Candidate]], context: Context = Context()) -> dict[str, Choice]:
    """``choose`` without context: every name ranked by itself, as if it came in a call of its own."""
    return {name: choice for n in named for name, choice in choose({n: named[n]}).items()}


@contextmanager
def without_context() -> Iterator[None]:
    """The resolver with ``each_alone`` in place of ``choose``."""
    original = mapsrv.places.service.choose
    mapsrv.places.service.choose = each_alone
    try:
        yield
    finally:
        mapsrv.places.service.choose = original


async def _sync(call: Callable[[], Any]) -> None:
    call()


async def _pair(
    rounds: int, together: Callable[[], Awaitable[Any]], alone: Callable[[], Awaitable[Any]]
) -> dict[str, Any]:
    """Both sides' latencies, taking turns, and the median the context adds."""
    timed: dict[str, list[float]] = {"together": [], "alone": []}
    for _ in range(rounds):
        for side, call in (("together", together), ("alone", alone)):
            started = time.perf_counter()
            await call()
            timed[side].append(time.perf_counter() - started)
    out: dict[str, Any] = {side: percentiles(samples) for side, samples in timed.items()}
    added = statistics.median(timed["together"]) - statistics.median(timed["alone"])
    out["added_ms"] = round(added * 1000, 3)
    return out


async def _big_map(tc: ToolContext, features: int) -> str:
    rng = random.Random(43)
    points = [[rng.uniform(36, 60), rng.uniform(-10, 30)] for _ in range(features)]
    result = await draw(tc, [{"at": p} for p in points[:1000]])
    map_id = str(result.structured_content["map_id"])
    for start in range(1000, features, 1000):
        await draw(tc, [{"at": p} for p in points[start : start + 1000]], map_id=map_id, fit=False)
    return map_id


def _markers() -> list[dict[str, Any]]:
    return [{"at": name, "label": name} for name in NAMES]


async def measure(rounds: int, features: int) -> dict[str, Any]:
    service = PlaceService()
    await service.ready()
    tc = ToolContext(MapHub(), BASE, places=service)
    named = {name: await service._candidates(gazetteer(), name, None, None) for name in NAMES}
    big = await _big_map(tc, features)
    contexts = {
        "new map": Context(),
        f"map of {features} features": map_anchors((await tc.hub.get(big)).state),
    }
    out: dict[str, Any] = {
        "names": len(NAMES),
        "candidates": sum(len(c) for c in named.values()),
        "anchors": len(contexts[f"map of {features} features"].anchors),
    }
    for where, context in contexts.items():
        map_id = None if where == "new map" else big

        async def drawn(map_id: str | None = map_id) -> None:
            result = await draw(tc, _markers(), map_id=map_id, fit=map_id is None)
            if result.is_error:
                raise RuntimeError(f"the draw failed: {result.content}")

        async def drawn_alone() -> None:
            with without_context():
                await drawn()

        async def resolved_alone() -> None:
            for name in NAMES:
                await service.resolve([name])

        out[where] = {
            "choose": await _pair(
                rounds * 5,
                lambda context=context: _sync(lambda: choose(named, context)),
                lambda: _sync(lambda: each_alone(named)),
            ),
            "resolve": await _pair(
                rounds, lambda context=context: service.resolve(NAMES, context), resolved_alone
            ),
            "draw": await _pair(rounds, drawn, drawn_alone),
        }
    return out


def _print(out: dict[str, Any]) -> None:
    print(
        f"{out['names']} names, {out['candidates']} candidates;"
        f" the big map gives {out['anchors']} points of context"
    )
    print(f"{'':<26}{'':<9}{'together p50':>13}{'p90':>8}{'alone p50':>11}{'p90':>8}{'added ms':>10}")
    for where, entry in out.items():
        if not isinstance(entry, dict):
            continue
        for what, t in entry.items():
            print(
                f"{where:<26}{what:<9}{t['together']['p50']:>13.3f}{t['together']['p90']:>8.3f}"
                f"{t['alone']['p50']:>11.3f}{t['alone']['p90']:>8.3f}{t['added_ms']:>10.3f}"
            )
    print("target: added <= 1 ms for a draw of 20 names")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200, help="turns of each pair (choose: 5x as many)")
    parser.add_argument("--features", type=int, default=1000, help="markers on the map of the second run")
    args = parser.parse_args()
    _print(trio.run(measure, args.rounds, args.features))
