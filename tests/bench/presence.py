"""What presence costs and how fast it travels (issue 27): two ``mapsrv serve`` processes on a
private redis-server. The owner's stream is open on process A; a person opens the map's view
link on process B and closes it again, N times. Reported: from opening the stream on B until
A's stream lists them (a join), and from closing it until A's stream no longer does (a leave), as
percentiles; the size of a presence frame with 10 people on the map, and what A's stream
received of presence over 10 s while those 10 people stayed (the heartbeats go to Redis, not to
the pages: a frame is sent only when who is here changes); then what it receives per second while
10 people move their pointers, each sending an update twice a second as the page does (the SSE
data lines, before gzip: the page's stream is gzipped on the wire, so this is an upper bound).

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
POINTER_S = 10.0


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

            # The same 10 people (9 on B through the edit link, the owner on A) move their
            # pointers, each sending twice a second as the page does.
            edit = httpx.URL(state["edit_url"]).path
            movers = [Browser(b.url) for _ in range(9)]
            for mover in movers:
                await mover.client.get(edit)
                await open_stream(nursery, mover.client, f"{edit}/events")
            await until(mine, 19)
            before = mine.presence_bytes + mine.pointer_bytes
            frames_before = len(mine.pointers)

            async def move(client: httpx.AsyncClient, path: str, seed: int) -> None:
                for step in range(int(POINTER_S * 2)):
                    lat, lon = 38.7 + seed / 100 + step / 1e4, -9.1 - step / 1e4
                    pan = step // 5 / 100  # the view moves every 2.5 s (a drag), the pointer always
                    view = [[38.6 + pan, -9.3], [38.8 + pan, -9.0]]
                    await client.post(f"{path}/pointer", json={"at": [lat, lon], "view": view})
                    await trio.sleep(0.5)

            async with trio.open_nursery() as moving:
                moving.start_soon(move, owner.client, f"/m/{map_id}", 0)
                for seed, mover in enumerate(movers, 1):
                    moving.start_soon(move, mover.client, edit, seed)
            moving_bytes = (mine.presence_bytes + mine.pointer_bytes - before) / POINTER_S
            moving_frames = (len(mine.pointers) - frames_before) / POINTER_S
            for person in people + movers:
                await person.aclose()
            await owner.aclose()
            nursery.cancel_scope.cancel()
    return {
        "what": "a person opens / closes the map on process B -> listed / gone on process A's stream",
        "join_ms": percentiles(joins),
        "leave_ms": percentiles(leaves),
        "frame_bytes_10_people": frame,
        "idle_presence_bytes_per_s_10_people": round(idle, 1),
        "pointers_10_people_moving": {
            "what": "what one page's stream receives while 10 people each move their pointer (2 updates/s)",
            "data_bytes_per_s": round(moving_bytes, 1),
            "frames_per_s": round(moving_frames, 2),
        },
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(trio.run(measure, rounds), indent=2))


if __name__ == "__main__":
    main()
