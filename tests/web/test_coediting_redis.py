"""Many people on one map across two ``mapsrv serve`` processes on a real redis-server: presence
made on one process shows on the other's streams and clears when a tab closes or a process is
killed with SIGKILL; the owner turning the edit link off on one process ends the editor's stream
on the other (telling it why) and its writes there are refused at once."""

from __future__ import annotations

import os
import signal

import httpx
import trio
from support import Browser, RedisServer, open_server, open_stream

from mapsrv.hub.presence import COALESCE, SWEEP, TTL

DELIVERY = 1.0  # seconds for A's loop and the wire, on a busy CI machine

MARKER = {"op": "add_feature", "id": "cafe", "type": "marker", "coords": [38.7, -9.1]}


async def test_presence_and_links_hold_across_processes(
    nursery: trio.Nursery, redis_server: RedisServer
) -> None:
    store = ("--store", redis_server.url)
    async with open_server(*store) as a:
        owner = Browser(a.url)
        map_id = await owner.new_map()
        state = await owner.owner_state(map_id)
        edit_path = httpx.URL(state["edit_url"]).path
        view_path = httpx.URL(state["view_url"]).path
        mine = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
        await mine.wait_for(lambda _: bool(mine.presence))

        async with open_server(*store) as b:
            bob = Browser(b.url)
            opened = await bob.client.get(edit_path)  # the edit link, on B
            assert opened.status_code == 200, opened.text
            assert (await bob.client.post("/name", json={"name": "Bob"})).status_code == 200
            bobs = await open_stream(nursery, bob.client, f"{edit_path}/events")
            await mine.wait_for(lambda _: ("Bob", "editor") in mine.present())  # heard on A
            [(me, _)] = [p for p in mine.present() if p[1] == "owner"]
            await bobs.wait_for(lambda _: (me, "owner") in bobs.present())  # loaded on B
            assert (await bob.client.post(f"{edit_path}/ops", json={"ops": [MARKER]})).status_code == 200
            await mine.wait_for(lambda events: any(e[0] == "change" for e in events))  # on A too

            carol = Browser(b.url)
            watching = await open_stream(nursery, carol.client, f"{view_path}/events")
            await mine.wait_for(lambda _: ("Viewer", "viewer") in mine.present())
            await carol.aclose()  # her tab closes on B: gone on A
            await mine.wait_for(lambda _: ("Viewer", "viewer") not in mine.present())
            assert watching.ended.is_set() or watching.error is None

            # The owner, on A, turns the edit link off: Bob's stream on B is told and ends, and
            # his writes on B are refused (the store's word, not B's copy).
            answer = await owner.client.post(f"/m/{map_id}/links", json={"edit": "off"})
            assert answer.status_code == 200 and answer.json()["edit_url"] is None
            refused = await bob.client.post(f"{edit_path}/ops", json={"ops": [MARKER]})
            assert refused.status_code == 403, refused.text
            with trio.fail_after(10):
                await bobs.ended.wait()
            assert bobs.access and bobs.access[-1]["role"] == "viewer"
            await mine.wait_for(lambda _: ("Bob", "editor") not in mine.present())

            # Bob opens the map read-only on B; then B is killed: he is gone from A's pages.
            await open_stream(nursery, bob.client, f"{view_path}/events")
            await mine.wait_for(lambda _: ("Bob", "viewer") in mine.present())
            # The bound: B's last share holds for TTL from when A heard it, A's sweep looks every
            # SWEEP, and the frame goes out within COALESCE; DELIVERY covers A's loop and the wire.
            bound = TTL + SWEEP + COALESCE + DELIVERY
            killed_at = trio.current_time()
            os.kill(b.pid, signal.SIGKILL)
            try:
                await mine.wait_for(lambda _: ("Bob", "viewer") not in mine.present(), timeout=bound)
            except trio.TooSlowError:
                raise AssertionError(
                    f"a killed process's people were still listed {bound:g} s later"
                ) from None
            assert trio.current_time() - killed_at <= bound
            await bob.aclose()
        await owner.aclose()
