"""A desktop client's ``mapsrv stdio`` relaying to a running ``mapsrv serve`` carries the server's
notifications back: subscribed to the person's map through the relay (the SDK's own stdio client,
each era), the agent hears of the person's edits (``POST /m/<id>/ops`` with the person's cookie)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client
from support import Browser, start_server, wait_until
from support.agents import Notified, agent, call, get_stream_open, subscribe

from mapsrv.server import Server


@pytest.fixture
async def live(nursery: trio.Nursery) -> Server:
    return await start_server(nursery)


def relay(server: Server) -> StdioServerParameters:
    command = ["-m", "mapsrv", "stdio", "--server", server.url, "--log-level", "info"]
    return StdioServerParameters(command=sys.executable, args=command, env={**os.environ})


async def test_a_subscription_through_the_relay_hears_the_persons_edits(live: Server, tmp_path: Path) -> None:
    person = Browser(live.url)
    map_id = await person.new_map()
    uri = f"map://{map_id}"
    heard = Notified()
    with (tmp_path / "stdio.log").open("w") as errlog:
        transport = stdio_client(relay(live), errlog=errlog)
        async with agent(transport, "claude-desktop", message_handler=heard) as desktop:  # type: ignore[arg-type]
            assert desktop.protocol_version == "2025-11-25"
            await subscribe(desktop, uri)
            await wait_until(lambda: get_stream_open(live))  # the relay's session listens
            response = await person.ops(
                map_id, {"op": "add_feature", "id": "p", "type": "marker", "coords": [1, 2]}
            )
            assert response.status_code == 200, response.text
            assert await heard.wait_for(1) == [uri]
            response = await person.ops(map_id, {"op": "set_title", "title": "Trip"})
            assert response.status_code == 200, response.text
            assert await heard.wait_for(2) == [uri, uri]
            seen = (await call(desktop, "changes", map_id=map_id))["changes"]
            assert [c["by"]["id"].split(":")[0] for c in seen] == ["person", "person"], seen
    await person.aclose()


async def test_a_listen_stream_through_the_relay_hears_the_persons_edits(
    live: Server, tmp_path: Path
) -> None:
    person = Browser(live.url)
    map_id = await person.new_map()
    heard = Notified()
    with (tmp_path / "stdio.log").open("w") as errlog:
        transport = stdio_client(relay(live), errlog=errlog)
        async with (
            agent(transport, "claude-desktop", mode="2026-07-28") as desktop,  # type: ignore[arg-type]
            trio.open_nursery() as nursery,
        ):
            await nursery.start(heard.serve_listen, desktop, f"map://{map_id}")
            response = await person.ops(map_id, {"op": "set_title", "title": "Trip"})
            assert response.status_code == 200, response.text
            assert await heard.wait_for(1) == [f"map://{map_id}"]
            nursery.cancel_scope.cancel()
    await person.aclose()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_desktop_agent_undoes_its_own_change_through_the_relay(
    live: Server, tmp_path: Path, mode: str
) -> None:
    person = Browser(live.url)
    map_id = await person.new_map()
    with (tmp_path / "stdio.log").open("w") as errlog:
        transport = stdio_client(relay(live), errlog=errlog)
        async with agent(transport, "claude-desktop", mode=mode) as desktop:  # type: ignore[arg-type]
            await call(desktop, "draw", map_id=map_id, items=[{"at": [1, 1], "id": "a"}])
            response = await person.ops(
                map_id, {"op": "add_feature", "id": "p", "type": "marker", "coords": [2, 2]}
            )
            assert response.status_code == 200, response.text
            seen = (await call(desktop, "changes", map_id=map_id))["changes"]
            mine = [(c["by"]["id"].split(":")[0], c.get("mine", False)) for c in seen]
            assert mine == [("agent", True), ("person", False)], seen
            await call(desktop, "undo", map_id=map_id)
            assert [f["id"] for f in (await person.state(map_id))["features"]] == ["p"]
    await person.aclose()


async def test_the_map_app_through_the_relay_follows_the_server(live: Server) -> None:
    """A host rendering MCP Apps behind ``mapsrv stdio``: the ``ui://`` page it reads through the
    relay lets the map's event stream come from the running server, where the maps are."""
    async with agent(stdio_client(relay(live)), "claude-desktop", mode="auto") as desktop:  # type: ignore[arg-type]
        tools = {tool.name: tool for tool in (await desktop.list_tools()).tools}
        assert tools["draw"].meta == {"ui": {"resourceUri": "ui://mapsrv/map"}}
        (content,) = (await desktop.read_resource("ui://mapsrv/map")).contents
        assert content.mime_type == "text/html;profile=mcp-app"
        assert (content.meta or {})["ui"]["csp"]["connectDomains"] == [live.url.rstrip("/")]
