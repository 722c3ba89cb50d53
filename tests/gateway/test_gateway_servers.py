"""Several servers by name from ``--config FILE`` (our fixture, mcp-server-time and ``mapsrv
stdio`` itself), each under its own path, and a server's request to its client carried on the
session's GET stream."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import trio
from gateway_support import MISBEHAVE, TIME_SERVER, processes_in, start_gateway, text_of
from mcp import Client
from mcp.client.sse import sse_client
from mcp_types import ListRootsResult, Root
from support import require
from support.procfs import no_zombies

MAPSRV_STDIO = [
    "-m", "mapsrv", "stdio", "--port", "0", "--log-level", "warning", "--store", "memory://",
]  # fmt: skip


def write_config(path: Path) -> str:
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    servers = {
        "echo": {"command": MISBEHAVE[0], "args": list(MISBEHAVE[1:])},
        "time": {"command": str(TIME_SERVER), "args": ["--local-timezone", "UTC"]},
        "map": {"command": sys.executable, "args": MAPSRV_STDIO, "env": {"PYTHONPATH": os.getcwd()}},
    }
    path.write_text(json.dumps({"mcpServers": servers}))
    return str(path)


async def test_a_config_file_serves_each_server_under_its_own_name(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    gateway = await start_gateway(nursery, config=write_config(tmp_path / "servers.json"))
    url = gateway.url
    async with Client(sse_client(url + "/echo/sse"), mode="legacy") as echo:
        assert text_of(await echo.call_tool("echo", {"text": "from echo"})) == "from echo"
        assert {s.server for s in gateway.sessions.open.values()} == {"echo"}
    async with Client(url + "/time/mcp", mode="2026-07-28") as time:
        assert "Asia/Tokyo" in text_of(await time.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}))
    async with Client(url + "/map/mcp", mode="legacy") as session_client:  # a session: a child of its own
        created = await session_client.call_tool("create_map", {"title": "through the gateway"})
        map_id = created.structured_content["map_id"]  # type: ignore[index]
        marker = {"map_id": map_id, "items": [{"at": [38.72, -9.14], "label": "Lisbon"}]}
        assert not (await session_client.call_tool("draw", marker)).is_error
    async with Client(url + "/map/mcp", mode="2026-07-28") as stateless:  # the shared child keeps maps
        created = await stateless.call_tool("create_map", {"title": "stateless"})
        marker["map_id"] = created.structured_content["map_id"]  # type: ignore[index]
        assert not (await stateless.call_tool("draw", marker)).is_error
    assert gateway.sessions.shared["map"].live and not gateway.sessions.shared["echo"].live
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(url + "/mcp", json={})).status_code == 404  # no server at the root
        status = (await http.get(url + "/status")).json()
        assert set(status["servers"]) == {"echo", "time", "map"}
    pids = [s.child.pid for shared in gateway.sessions.shared.values() for s in shared.live]
    gateway.shutdown()
    with trio.fail_after(15):
        await gateway.sessions.wait_empty()
    assert all(processes_in(pid) == [] for pid in pids)


async def test_a_servers_request_to_its_client_rides_the_get_stream(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery)
    asked = 0

    async def list_roots(context: object) -> ListRootsResult:
        nonlocal asked
        asked += 1
        return ListRootsResult(roots=[Root(uri="file:///srv/a"), Root(uri="file:///srv/b")])

    async with Client(gateway.url + "/mcp", mode="legacy", list_roots_callback=list_roots) as client:
        with trio.fail_after(10):
            answer = text_of(await client.call_tool("roots", {}))
        assert answer == "file:///srv/a file:///srv/b" and asked == 1
        (session,) = gateway.sessions.open.values()
        assert session.stats.messages_in >= 4  # initialize, initialized, the call, the client's answer
    with trio.fail_after(5):
        await session.child.gone.wait()
    await no_zombies()
