"""Change notifications on ``map://<id>`` with the SDK's clients over real sockets, in both
protocol eras: a person's edit (a write through the hub, as the page makes it) and another
agent's both reach a subscribed agent, one notification per write; the watch ends with the
session or the listen stream, leaving no viewer and no task behind."""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import httpx2
import pytest
import trio
from httpx_sse import aconnect_sse
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation
from support import Browser, RedisServer, open_server, start_server, wait_until
from support.mcp import INITIALIZE, MCP_ACCEPT
from trio.testing import wait_all_tasks_blocked

from mapsrv.core.changes import person_actor
from mapsrv.core.ops import SetTitle, SetView
from mapsrv.hub import MapHub
from mapsrv.mcp import subscriptions as mcp_subscriptions
from mapsrv.mcp.sdk import live_http_sessions, standalone_stream_open
from mapsrv.mcp.subscriptions import MAX_MAPS_PER_SESSION, MapWatchers
from mapsrv.server import Server

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
UPDATED = "notifications/resources/updated"


class Inbox:
    """The resource-updated notifications a client got, and a wait for the next ones."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._changed = trio.Event()

    async def __call__(self, message: Any) -> None:
        if getattr(message, "method", None) == UPDATED:
            self.uris.append(str(message.params.uri))
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for_index(self, index: int) -> list[str]:
        return await self.wait_for(index + 1)

    async def wait_for(self, count: int) -> list[str]:
        with trio.fail_after(5):
            while len(self.uris) < count:
                await self._changed.wait()
        return self.uris


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():  # deprecated in the SDK for 2026-07-28; the 2025-11-25 way
        warnings.simplefilter("ignore")
        await client.subscribe_resource(uri)


async def unsubscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await client.unsubscribe_resource(uri)


def get_stream_open(server: Server) -> bool:
    """Whether a Streamable HTTP session's client has its GET stream open (where the standalone
    notifications go), through the SDK seam that mapsrv itself uses."""
    manager = server.mcp.sessions
    return any(standalone_stream_open(manager, session_id) for session_id in live_http_sessions(manager))


async def person_renames(server: Server, map_id: str, title: str) -> None:
    await server.hub.apply(map_id, [SetTitle(title)], actor=person_actor(CHROME, "alice-cookie"))


async def no_watch_left(server: Server, map_id: str) -> None:
    entry = await server.hub.get(map_id)
    await wait_until(lambda: server.mcp.watchers.statistics().watching == 0 and not entry.subscribers)
    assert server.mcp.watchers.statistics().listen_streams == 0


async def test_subscribe_in_a_2025_session_notifies_each_write(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    inbox = Inbox()
    info = Implementation(name="watcher", version="1")
    async with (
        Client(server.url + "mcp", mode="legacy", message_handler=inbox, client_info=info) as a,
        Client(server.url + "mcp", mode="legacy") as b,
    ):
        assert a.server_capabilities.resources is not None and a.server_capabilities.resources.subscribe
        map_id = (await a.call_tool("create_map", {})).structured_content["map_id"]
        uri = f"map://{map_id}"
        await subscribe(a, uri)
        await subscribe(a, uri)  # twice is once
        await wait_until(lambda: get_stream_open(server))
        await person_renames(server, map_id, "from the page")
        assert await inbox.wait_for(1) == [uri]
        # another agent's drawing: a title, three markers and the camera, one write, one notification
        items = [{"at": [1, i]} for i in range(3)]
        assert not (await b.call_tool("draw", {"map_id": map_id, "items": items, "title": "t"})).is_error
        await inbox.wait_for(2)
        await person_renames(server, map_id, "again")
        assert await inbox.wait_for(3) == [uri] * 3, "one notification per write"
        assert (await a.read_resource(uri)).contents[0].text.count('"title":"again"') == 1
        changes = (await a.call_tool("changes", {"map_id": map_id, "since": 0})).structured_content
        assert [c["by"]["name"] for c in changes["changes"]] == ["Chrome on Linux", "mcp", "Chrome on Linux"]

        await unsubscribe(a, uri)
        await no_watch_left(server, map_id)
        await subscribe(a, uri)
        assert server.mcp.watchers.statistics().watching == 1
    await no_watch_left(server, map_id)  # the session ended: its watch with it


async def test_a_change_before_the_clients_get_stream_opens_is_still_notified(nursery: trio.Nursery) -> None:
    """A 2025-11-25 client opens its GET stream, the only way a notification reaches it, only
    after initialize; a map it subscribed to may change before that. The notification waits for
    the stream instead of being dropped by the SDK."""
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        headers = {**MCP_ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
        headers["mcp-protocol-version"] = "2025-11-25"

        async def rpc(method: str, params: dict[str, Any], id: int | None = None) -> dict[str, Any]:
            body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
            if id is not None:
                body["id"] = id
            answer = await http.post("/mcp", json=body, headers=headers)
            assert answer.status_code in (200, 202), answer.text
            return dict(answer.json()) if id is not None else {}

        await rpc("notifications/initialized", {})
        made = await rpc("tools/call", {"name": "create_map", "arguments": {}}, id=2)
        map_id = made["result"]["structuredContent"]["map_id"]
        uri = f"map://{map_id}"
        assert "error" not in await rpc("resources/subscribe", {"uri": uri}, id=3)
        await person_renames(server, map_id, "before the stream opened")
        assert not get_stream_open(server)
        told: list[str] = []
        async with aconnect_sse(
            http, "GET", "/mcp", headers={**headers, "accept": "text/event-stream"}
        ) as sse:
            with trio.move_on_after(5):
                async for event in sse.aiter_sse():
                    message = json.loads(event.data)
                    if message.get("method") == "notifications/resources/updated":
                        told.append(message["params"]["uri"])
                        break
    assert told == [uri], "the change made before the client's GET stream opened was not notified"


async def test_legacy_sse_session_is_notified_and_capped(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    inbox = Inbox()
    maps = [(await server.hub.create_map()).id for _ in range(MAX_MAPS_PER_SESSION + 1)]
    async with Client(sse_client(server.url + "sse"), mode="legacy", message_handler=inbox) as client:
        for map_id in maps[:-1]:
            await subscribe(client, f"map://{map_id}")
        with pytest.raises(MCPError) as refused:
            await subscribe(client, f"map://{maps[-1]}")
        assert f"watches {MAX_MAPS_PER_SESSION} maps, its most" in refused.value.error.message
        with pytest.raises(MCPError) as unknown:
            await subscribe(client, "map://no-such-map")
        assert "not found" in unknown.value.error.message
        await person_renames(server, maps[3], "x")
        assert await inbox.wait_for(1) == [f"map://{maps[3]}"]
        assert server.mcp.watchers.statistics().watching == MAX_MAPS_PER_SESSION
    await wait_until(lambda: server.mcp.watchers.statistics().watching == 0)


async def test_listen_in_the_2026_era_notifies_until_the_stream_ends(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as a, Client(server.url + "mcp") as b:
        assert a.protocol_version == "2026-07-28"
        map_id = (await a.call_tool("create_map", {})).structured_content["map_id"]
        uri = f"map://{map_id}"
        async with a.listen(resource_subscriptions=[uri, "map://unknown-map"]) as sub:
            assert sub.honored.resource_subscriptions == [uri, "map://unknown-map"]
            events = aiter(sub)
            await person_renames(server, map_id, "from the page")
            with trio.fail_after(5):
                assert (await anext(events)).uri == uri
            items = [{"at": [1, i]} for i in range(3)]
            assert not (await b.call_tool("draw", {"map_id": map_id, "items": items})).is_error
            with trio.fail_after(5):
                assert (await anext(events)).uri == uri
            assert server.mcp.watchers.statistics().listen_streams == 1
        await no_watch_left(server, map_id)


async def test_a_write_of_many_events_is_one_notification() -> None:
    """The watch itself, on a hub in memory: a write's frames arrive together and are owed once;
    a viewer dropped for being slow is watched again, and the change it may have missed is owed."""
    hub = MapHub()
    entry = await hub.create_map()
    watchers = MapWatchers(hub, lambda ctx, map_id: hub.get(map_id))
    owed: list[str] = []
    async with trio.open_nursery() as nursery:
        scope = await nursery.start(watchers._watch, entry, "map://m", owed.append)
        await hub.apply(entry.id, [SetTitle("a"), SetTitle("b"), SetView((1.0, 2.0), 5)])
        await wait_all_tasks_blocked()
        assert owed == ["map://m"]
        await hub.apply(entry.id, [SetTitle("c")])
        await wait_all_tasks_blocked()
        assert owed == ["map://m"] * 2
        (viewer,) = entry.subscribers
        hub.fanout.remove(entry, viewer)  # as when a viewer falls behind
        await wait_all_tasks_blocked()
        assert owed == ["map://m"] * 3 and len(entry.subscribers) == 1
        assert watchers.statistics().watching == 1
        scope.cancel()
    assert watchers.statistics().watching == 0 and not entry.subscribers


async def test_an_edit_on_another_process_notifies_the_agent(redis_server: RedisServer) -> None:
    """Two processes on one Redis: the agent listens on one; a person's edit and another agent's
    drawing go through the other, and each is notified and attributed where the agent is."""
    store = ("--store", redis_server.url)
    async with open_server(*store) as one, open_server(*store) as two:
        person = Browser(one.url)
        map_id = await person.new_map()
        there = Browser(two.url, person.client.cookies)
        # 2026-07-28 has no sessions: two agents from one address are told apart by their names
        agent = Client(one.url + "mcp", client_info=Implementation(name="here", version="1"))
        async with (
            agent,
            Client(two.url + "mcp", client_info=Implementation(name="there", version="1")) as other,
        ):
            async with agent.listen(resource_subscriptions=[f"map://{map_id}"]) as sub:
                events = aiter(sub)
                response = await there.ops(map_id, {"op": "set_title", "title": "from the other process"})
                assert response.status_code == 200, response.text
                with trio.fail_after(5):
                    assert (await anext(events)).uri == f"map://{map_id}"
                drawn = await other.call_tool(
                    "draw", {"map_id": map_id, "items": [{"at": [1, 2], "id": "x"}]}
                )
                assert not drawn.is_error, drawn.content
                with trio.fail_after(5):
                    assert (await anext(events)).uri == f"map://{map_id}"
            # resources/updated says the map may have changed, not which change (a notification
            # may come twice for one): the agent reads on until it has the drawing
            seen: list[dict[str, Any]] = []

            async def has_the_drawing() -> bool:
                answer = await agent.call_tool("changes", {"map_id": map_id})
                assert answer.structured_content is not None, answer.content
                seen[:] = answer.structured_content["changes"]
                return bool(seen) and seen[-1].get("added") == ["x"]

            await wait_until(has_the_drawing, timeout=5)
            assert seen[-1]["by"]["name"] == "there" and "mine" not in seen[-1]
        await person.aclose()
        await there.aclose()


def _next_of(events: AsyncIterator[Any]) -> Callable[[int], Awaitable[object]]:
    async def next_event(_: int) -> object:
        return await anext(events)

    return next_event


async def notification_latency(changes: int = 200) -> dict[str, dict[str, float]]:
    """Milliseconds from a person's edit (the page's POST /m/<id>/ops, timed from before the
    request) to the subscribed agent's notification, per era, one process, sequential edits."""
    out: dict[str, dict[str, float]] = {}
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, rate_writes=0, rate_mcp=0)  # as the benchmarks run
        person = Browser(server.url)
        for era in ("2025-11-25", "2026-07-28"):
            map_id = await person.new_map()
            uri = f"map://{map_id}"
            times: list[float] = []
            posts: list[float] = []  # the POST's own round trip, for scale
            inbox = Inbox()

            async def edits(
                map_id: str,
                times: list[float],
                posts: list[float],
                next_notification: Callable[[int], Awaitable[object]],
            ) -> None:
                for i in range(changes):
                    started = time.perf_counter()
                    response = await person.ops(map_id, {"op": "set_title", "title": f"t{i}"})
                    assert response.status_code == 200, response.text
                    posts.append((time.perf_counter() - started) * 1000)
                    await next_notification(i)
                    times.append((time.perf_counter() - started) * 1000)

            if era == "2025-11-25":
                async with Client(server.url + "mcp", mode="legacy", message_handler=inbox) as client:
                    await subscribe(client, uri)
                    await wait_until(lambda: get_stream_open(server))
                    await edits(map_id, times, posts, inbox.wait_for_index)
            else:
                async with (
                    Client(server.url + "mcp") as client,
                    client.listen(resource_subscriptions=[uri]) as sub,
                ):
                    await edits(map_id, times, posts, _next_of(aiter(sub)))
            out[era] = {**_percentiles(times), "post_p50_ms": round(statistics.median(posts), 2)}
        await person.aclose()
        nursery.cancel_scope.cancel()
    return out


def _percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
        "max_ms": round(times[-1], 2),
    }


async def cross_process_latency(changes: int = 200) -> dict[str, float]:
    """As ``notification_latency`` (2026-07-28 listen), with the person's edit made through another
    process on the same Redis."""
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(directory)
        await redis.start()
        try:
            limits = ("--rate-writes", "0", "--rate-mcp", "0")
            store = ("--store", redis.url, *limits)
            async with open_server(*store) as one, open_server(*store) as two:
                person = Browser(one.url)
                map_id = await person.new_map()
                there = Browser(two.url, person.client.cookies)
                times: list[float] = []
                posts: list[float] = []
                agent = Client(one.url + "mcp")
                async with agent, agent.listen(resource_subscriptions=[f"map://{map_id}"]) as sub:
                    events = aiter(sub)
                    for i in range(changes):
                        started = time.perf_counter()
                        response = await there.ops(map_id, {"op": "set_title", "title": f"t{i}"})
                        assert response.status_code == 200, response.text
                        posts.append((time.perf_counter() - started) * 1000)
                        await anext(events)
                        times.append((time.perf_counter() - started) * 1000)
                await person.aclose()
                await there.aclose()
        finally:
            await redis.stop()
    return {**_percentiles(times), "post_p50_ms": round(statistics.median(posts), 2)}


async def main() -> None:
    numbers: dict[str, Any] = dict(await notification_latency())
    numbers["2026-07-28, two processes on Redis"] = await cross_process_latency()
    print(json.dumps(numbers, indent=1))


if __name__ == "__main__":  # PYTHONPATH=$PWD:$PWD/tests python tests/mcp/test_agent_subscriptions.py
    logging.disable(logging.INFO)
    trio.run(main)


async def test_stdio_notifies_in_both_eras() -> None:
    """``mapsrv stdio``: the one agent of the process is notified of its map's changes, by
    listen (2026-07-28, what the SDK's client picks) and by subscribe (2025-11-25)."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mapsrv", "stdio", "--port", "0"], env={**os.environ}
    )
    async with Client(params) as client:
        assert client.protocol_version == "2026-07-28"
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        async with client.listen(resource_subscriptions=[f"map://{map_id}"]) as sub:
            events = aiter(sub)
            await client.call_tool("set_title", {"map_id": map_id, "title": "x"})
            with trio.fail_after(5):
                assert (await anext(events)).uri == f"map://{map_id}"
        mine = (await client.call_tool("changes", {"map_id": map_id})).structured_content["changes"]
        assert [c.get("mine") for c in mine] == [True]
    inbox = Inbox()
    async with Client(params, mode="legacy", message_handler=inbox) as client:
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        await subscribe(client, f"map://{map_id}")
        await client.call_tool("set_title", {"map_id": map_id, "title": "x"})
        assert await inbox.wait_for(1) == [f"map://{map_id}"]


async def test_a_map_of_another_api_key_cannot_be_watched(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=("alice:alice-secret-1", "bob:bob-secret-2"))

    def client_with(key: str, mode: str = "auto") -> Client:
        http = httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"})
        return Client(streamable_http_client(server.url + "mcp", http_client=http), mode=mode)  # type: ignore[arg-type]

    async with client_with("alice-secret-1") as alice:
        map_id = (await alice.call_tool("create_map", {})).structured_content["map_id"]
    async with client_with("bob-secret-2", mode="legacy") as bob:
        with pytest.raises(MCPError) as refused:
            await subscribe(bob, f"map://{map_id}")
        assert refused.value.error.code == -32002 and "not found" in refused.value.error.message
    async with (
        client_with("bob-secret-2") as bob,
        bob.listen(resource_subscriptions=[f"map://{map_id}"]) as sub,
    ):
        # honored (the answer does not tell whether the map exists) but nothing is watched
        assert sub.honored.resource_subscriptions == [f"map://{map_id}"]
        assert server.mcp.watchers.statistics().watching == 0


async def test_listen_streams_are_capped_per_client(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_subscriptions, "MAX_LISTEN_STREAMS_PER_CLIENT", 1)
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as client:
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        uri = f"map://{map_id}"
        async with client.listen(resource_subscriptions=[uri]):
            with pytest.raises(MCPError) as refused:
                async with client.listen(resource_subscriptions=[uri]):
                    pass
            assert "this client holds 1 listen streams, its most" in refused.value.error.message
        await wait_until(lambda: server.mcp.watchers.statistics().listen_streams == 0)
        async with client.listen(resource_subscriptions=[uri]):  # its place is free again
            assert server.mcp.watchers.statistics().listen_streams == 1
