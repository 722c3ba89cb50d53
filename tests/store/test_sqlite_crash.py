"""Maps on disk survive the worst: ``mapsrv serve`` on its SQLite file is killed with SIGKILL in
the middle of 1,000 writes from an agent (the SDK's client over Streamable HTTP) and a page (its
JSON writes), then started again on the same file. Every acknowledged write is there at the version
it was acknowledged at, with its change in the history; nothing else is (a write in flight at the
kill may or may not be, whole); the map's links and owner are back."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio
from mcp import Client
from support import Browser
from support.processes import open_server

WRITES = 1000  # planned, between the two writers; the kill comes after KILL_AFTER acknowledgements
KILL_AFTER = 300
# The writers go as fast as the server answers: no rate limit in the way.
UNLIMITED = ("--rate-writes", "10000", "--rate-writes-person", "10000", "--rate-mcp", "10000")


def path_of(url: str) -> str:
    return urlsplit(url).path


def marker(label: str, i: int) -> dict[str, Any]:
    return {"op": "add_feature", "type": "marker", "coords": [38 + i / 1000, -9 - i / 1000], "label": label}


async def test_a_kill_9_in_the_middle_of_writes_loses_no_acknowledged_one(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/maps.db"
    acked: dict[str, int] = {}  # label -> the version its write was acknowledged at
    in_flight: set[str] = set()  # sent, never answered (at most one per writer)
    killed, enough = trio.Event(), trio.Event()

    def acknowledged(label: str, version: int) -> None:
        acked[label] = version
        in_flight.discard(label)
        if len(acked) >= KILL_AFTER:
            enough.set()

    async with open_server("--store", store, *UNLIMITED) as first:
        person = Browser(first.url)
        map_id = await person.new_map()
        state = (await person.client.get(f"/m/{map_id}/state")).json()
        links = (path_of(state["view_url"]), path_of(state["edit_url"]))

        async def page_writes() -> None:
            for i in range(WRITES // 2):
                label = f"page {i}"
                in_flight.add(label)
                try:
                    response = await person.ops(map_id, marker(label, i))
                except httpx.TransportError:
                    return  # the server died under this one: never acknowledged
                assert response.status_code == 200, response.text
                acknowledged(label, response.json()["version"])

        async def agent_writes() -> None:
            try:
                async with Client(first.url + "mcp") as agent:
                    for i in range(WRITES // 2):
                        label = f"agent {i}"
                        in_flight.add(label)
                        item = {"type": "marker", "at": [40 + i / 1000, -8 - i / 1000], "label": label}
                        result = await agent.call_tool("draw", {"map_id": map_id, "items": [item]})
                        assert not result.is_error, result.content
                        assert result.structured_content is not None
                        acknowledged(label, result.structured_content["version"])
            except Exception:
                if not killed.is_set():
                    raise  # a failure before the kill is the test's to report

        async def kill() -> None:
            with trio.fail_after(120):
                await enough.wait()
            os.kill(first.pid, signal.SIGKILL)
            killed.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(page_writes)
            nursery.start_soon(agent_writes)
            nursery.start_soon(kill)
        await person.client.aclose()

    assert len(acked) >= KILL_AFTER and len(in_flight) <= 2

    async with open_server("--store", store, *UNLIMITED) as second:
        person = Browser(second.url, cookies=person.client.cookies)  # the same browser
        response = await person.client.get(f"/m/{map_id}/state")
        assert response.status_code == 200, "the owner's link works after the restart"
        state = response.json()
        assert (path_of(state["view_url"]), path_of(state["edit_url"])) == links, "the links are back"
        labels = {f["label"] for f in state["features"]}
        assert set(acked) <= labels, f"lost: {sorted(set(acked) - labels)[:5]}"
        assert labels <= set(acked) | in_flight, f"never written: {sorted(labels - set(acked) - in_flight)}"
        assert state["version"] >= max(acked.values())

        async with Client(second.url + "mcp") as agent:
            seen: dict[int, str] = {}
            since = 0
            while since < state["version"]:
                result = await agent.call_tool("changes", {"map_id": map_id, "since": since})
                found = result.structured_content
                assert found is not None and found["changes"], found
                for change in found["changes"]:
                    seen[change["version"]] = change["summary"]
                since = max(seen)
        for label, version in acked.items():
            assert label in seen[version], (
                f"{label!r} acknowledged at {version}, history says {seen[version]!r}"
            )

        view = await person.client.get(links[0])
        assert view.status_code == 200, "the view link opens the map"
        await person.client.aclose()
