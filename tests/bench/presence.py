"""What presence costs and how fast it travels (issue 27): two ``mapsrv serve`` processes on a
private redis-server. The owner's stream is open on process A; a person opens the map's view
link on process B and closes it again, N times. Reported: from opening the stream on B until
A's stream lists them (a join), and from closing it until A's stream no longer does (a leave), as
percentiles; the size of a presence frame with 10 people on the map, and what A's stream
received of presence over 10 s while those 10 people stayed (the heartbeats go to Redis, not to
the pages: a frame is sent only when who is here changes).

    python -m tests.bench.presence 200
"""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import trio
from support import Browser, EventStream, open_stream

from .harness import open_redis, open_server, percentiles

IDLE_S = 10.0


async def until(stream: EventStream, count: int) -> float:
    """Wait until the newest presence frame lists ``count`` members; when it arrived."""
    with trio.fail_after(10):
        while not (stream.presence and len(stream.presence[-1]["present"]) == count):
            await stream.changed.wait()
    return trio.current_time()


async def measure(rounds: int) -> dict[str, Any]:
    async with open_redis() as url, open_server("--store", url) as a, open_server("--store", url) as b:
        owner = Browser(a.url)
        map_id = await owner.new_map()
        state = await owner.owner_state(map_id)
        view = httpx.URL(state["view_url"]).path
        joins: list[float] = []
        leaves: list[float] = []
        async with trio.open_nursery() as nursery:
            mine = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
            await until(mine, 1)
            for _ in range(rounds):
                visitor = Browser(b.url)
                t0 = trio.current_time()
                await open_stream(nursery, visitor.client, f"{view}/events")
                joins.append(await until(mine, 2) - t0)
                t0 = trio.current_time()
                await visitor.aclose()
                leaves.append(await until(mine, 1) - t0)
            people = [Browser(b.url) for _ in range(9)]
            for person in people:
                await open_stream(nursery, person.client, f"{view}/events")
            await until(mine, 10)
            frame = len(json.dumps(mine.presence[-1], separators=(",", ":")))
            before = mine.presence_bytes
            await trio.sleep(IDLE_S)  # a benchmark's interval, not a test's wait
            idle = (mine.presence_bytes - before) / IDLE_S
            for person in people:
                await person.aclose()
            await owner.aclose()
            nursery.cancel_scope.cancel()
    return {
        "what": "a person opens / closes the map on process B -> listed / gone on process A's stream",
        "join_ms": percentiles(joins),
        "leave_ms": percentiles(leaves),
        "frame_bytes_10_people": frame,
        "idle_presence_bytes_per_s_10_people": round(idle, 1),
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(trio.run(measure, rounds), indent=2))


if __name__ == "__main__":
    main()
