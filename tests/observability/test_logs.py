"""Map ids and view keys are capabilities: they never reach the logs, at any level. The server
runs as an operator runs it (``mapsrv serve --log-level debug``, the CLI's own logging set-up),
and everything it writes is searched after a session that touches every kind of route, the
failures included."""

from __future__ import annotations

import httpx
import pytest
import trio
from mcp import Client, MCPError
from support import Browser, ServerProcess, open_server, open_stream

UNKNOWN = "no-such-map-id-0123456789"


def check_log(server: ServerProcess, secrets: set[str]) -> None:
    log = server.log.decode(errors="replace")
    assert " DEBUG " in log, "the server did not log at debug level: this test would see nothing"
    for secret in sorted(secrets):
        assert secret not in log, f"a capability ({secret[:4]}...) reached the logs"


async def test_no_capability_reaches_the_logs_at_debug_level(nursery: trio.Nursery) -> None:
    async with open_server("--log-level", "debug") as server:
        owner = Browser(server.url)
        map_id = await owner.new_map()
        page = (await owner.client.get(f"/m/{map_id}")).text
        view_key = page.split('data-view-url="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]
        secrets = {map_id, view_key, UNKNOWN}
        stream = await open_stream(nursery, owner.client, f"/m/{map_id}/events")
        viewer = await open_stream(nursery, owner.client, f"/v/{view_key}/events")
        assert (await owner.ops(map_id, {"op": "set_title", "title": "t"})).status_code == 200
        assert (await owner.ops(map_id, {"op": "no_such_op"})).status_code == 400
        paths = (f"/m/{map_id}/state", f"/v/{view_key}", f"/v/{view_key}/state", f"/v/{view_key}/geojson")
        for path in paths:
            assert (await owner.client.get(path)).status_code == 200, path
        async with httpx.AsyncClient(base_url=server.url) as stranger:
            assert (await stranger.get(f"/m/{map_id}/state")).status_code == 404
            assert (await stranger.get(f"/m/{UNKNOWN}/events")).status_code == 404
            foreign = await stranger.get(f"/m/{map_id}", headers={"host": "attacker.example"})
            assert foreign.status_code == 421
        await stream.wait_for(lambda events: len(events) >= 2)
        await viewer.wait_for(lambda events: len(events) >= 2)

        async with Client(server.url + "mcp") as agent:
            created = (await agent.call_tool("create_map", {"title": "agent's"})).structured_content
            assert created is not None
            secrets |= {created["map_id"], created["view_url"].rsplit("/", 1)[1]}
            args = {"map_id": created["map_id"], "items": [{"at": [1, 2], "label": "here"}]}
            assert not (await agent.call_tool("draw", args)).is_error
            assert not (await agent.call_tool("read", {"map_id": created["map_id"]})).is_error
            assert (await agent.call_tool("read", {"map_id": UNKNOWN})).is_error
            # a map of the browser's, by the code its page shows
            assert not (await agent.call_tool("read", {"map_id": map_id})).is_error
        await owner.aclose()
        with trio.fail_after(10):
            await stream.ended.wait()
            await viewer.ended.wait()
    check_log(server, secrets)


async def test_reading_map_resources_logs_no_map_id_at_debug_level() -> None:
    async with open_server("--log-level", "debug") as server, Client(server.url + "mcp") as agent:
        created = (await agent.call_tool("create_map", {})).structured_content
        assert created is not None
        assert (await agent.read_resource(f"map://{created['map_id']}")).contents
        with pytest.raises(MCPError):
            await agent.read_resource(f"map://{UNKNOWN}")
    check_log(server, {created["map_id"], UNKNOWN})
