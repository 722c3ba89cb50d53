"""An agent finds its maps again and deletes one, through the SDK's clients on real sockets:
``list_maps`` gives an API key's maps, an anonymous session's, or over a private ``mapsrv stdio``
every map of the person (across a restart: they are on disk); ``delete_map`` is the owner's
principal's alone, and a deleted map answers "gone" from then on."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import trio
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from support import start_server
from support.agents import agent, call, failing

KEYS = ("alice:alice-secret-1", "bob:bob-secret-2")
LISBON = {"type": "marker", "at": [38.72, -9.14], "label": "Lisbon"}


def keyed(url: str, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"})
    return Client(streamable_http_client(url + "mcp", http_client=http))  # type: ignore[arg-type]


def titles(listed: dict[str, Any]) -> list[str]:
    return [m["title"] for m in listed["maps"]]


async def test_a_key_that_belongs_to_a_person_shares_their_maps_with_their_other_keys(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    keys = ("laptop@ana-sub:ana-laptop-1", "phone@ana-sub:ana-phone-2", "bob:bob-secret-2")
    server = await start_server(nursery, api_keys=keys, store=f"sqlite://{tmp_path}/maps.db")
    async with (
        keyed(server.url, "ana-laptop-1") as laptop,
        keyed(server.url, "ana-phone-2") as phone,
        keyed(server.url, "bob-secret-2") as bob,
    ):
        trip = await call(laptop, "create_map", title="Lisbon trip")
        await call(laptop, "draw", map_id=trip["map_id"], items=[LISBON])
        assert titles(await call(phone, "list_maps")) == ["Lisbon trip"], "the person's maps, from any key"
        assert titles(await call(bob, "list_maps")) == []
        text, _ = await failing(bob, "read", map_id=trip["map_id"])
        assert text.startswith("not_found:")
        assert (await call(phone, "read", map_id=trip["map_id"]))["version"] >= 1
        assert (await call(phone, "delete_map", map_id=trip["map_id"]))["deleted"] is True
        assert titles(await call(laptop, "list_maps")) == []


async def test_each_key_lists_its_own_maps_and_only_its_owner_deletes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_server(nursery, api_keys=KEYS, store=f"sqlite://{tmp_path}/maps.db")
    async with keyed(server.url, "alice-secret-1") as alice, keyed(server.url, "bob-secret-2") as bob:
        trip = await call(alice, "create_map", title="Lisbon trip")
        await call(alice, "draw", map_id=trip["map_id"], items=[LISBON])
        await call(alice, "create_map", title="Porto weekend")
        await call(bob, "create_map", title="Bob's run")

        mine = await call(alice, "list_maps")
        assert titles(mine) == ["Porto weekend", "Lisbon trip"] and mine["count"] == 2, "newest first"
        lisbon = mine["maps"][1]
        assert lisbon["map_id"] == trip["map_id"] and lisbon["features"] == 1 and lisbon["version"] >= 1
        assert lisbon["url"] == f"{server.url}m/{trip['map_id']}" and lisbon["updated"].endswith("+00:00")
        assert lisbon["view_url"] == trip["view_url"], "the read-only link to share"
        shared = await httpx2.AsyncClient().get(lisbon["view_url"])
        assert shared.status_code == 200 and "Lisbon trip" in shared.text
        assert titles(await call(bob, "list_maps")) == ["Bob's run"], "never another key's maps"
        assert titles(await call(alice, "list_maps", search="LISBON")) == ["Lisbon trip"]
        assert (await call(alice, "list_maps", limit=1))["count"] == 2
        text, _ = await failing(alice, "list_maps", limit=0)
        assert "limit" in text

        text, _ = await failing(bob, "delete_map", map_id=trip["map_id"])
        assert text.startswith("not_found:"), "another key's map is not even found"
        assert await call(alice, "delete_map", map_id=trip["map_id"]) == {
            "map_id": trip["map_id"],
            "deleted": True,
        }
        assert titles(await call(alice, "list_maps")) == ["Porto weekend"]
        text, _ = await failing(alice, "read", map_id=trip["map_id"])
        assert text.startswith("gone:") and "deleted" in text
    page = await httpx2.AsyncClient().get(f"{server.url}m/{trip['map_id']}")
    assert page.status_code == 410


async def test_anonymous_sessions_list_the_maps_they_made(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with (
        Client(server.url + "mcp", mode="legacy") as one,
        Client(server.url + "mcp", mode="legacy") as two,
    ):
        made = await call(one, "draw", items=[LISBON], title="One's map")
        await call(two, "create_map", title="Two's map")
        assert titles(await call(one, "list_maps")) == ["One's map"]
        assert titles(await call(two, "list_maps")) == ["Two's map"]
        text, _ = await failing(two, "delete_map", map_id=made["map_id"])
        assert text.startswith("forbidden:") and "owner" in text
        await call(one, "delete_map", map_id=made["map_id"])
        assert (await call(one, "list_maps"))["count"] == 0


async def test_delete_map_is_marked_destructive(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    hints = tools["delete_map"].annotations
    assert hints is not None and hints.destructive_hint and not hints.read_only_hint
    listing = tools["list_maps"].annotations
    assert listing is not None and listing.read_only_hint


async def test_a_private_stdio_lists_the_persons_maps_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mapsrv", "stdio", "--port", "0"],
        env={**os.environ, "XDG_DATA_HOME": str(data)},
    )
    async with Client(params) as first:
        made = await call(first, "draw", items=[LISBON], title="Holiday")
    assert (data / "mapsrv" / "maps.db").exists(), "the default store: the user's data directory"
    async with Client(params) as second:  # the desktop client started it again
        listed = await call(second, "list_maps")
        assert [m["map_id"] for m in listed["maps"]] == [made["map_id"]]
        read = await call(second, "read", map_id=made["map_id"])
        assert "Lisbon" in str(read)
        await call(second, "delete_map", map_id=made["map_id"])
        assert (await call(second, "list_maps"))["count"] == 0


async def test_a_keyless_stateless_agent_is_nobody_in_particular(nursery: trio.Nursery) -> None:
    """Without a key or a session, the agent is named by its client and address, which everyone
    using one hosted assistant shares: it lists no maps and deletes none, rather than another
    person's."""
    server = await start_server(nursery)
    async with agent(server.url + "mcp", "claude-ai", mode="2026-07-28") as one:
        assert one.protocol_version == "2026-07-28"
        made = await call(one, "create_map", title="Mine?")
        listed = await call(one, "list_maps")
        assert listed["maps"] == [] and listed["count"] == 0 and "API key" in listed["note"]
        text, _ = await failing(one, "delete_map", map_id=made["map_id"])
        assert text.startswith("forbidden:")
        assert not (await one.call_tool("read", {"map_id": made["map_id"]})).is_error, "its link still works"
