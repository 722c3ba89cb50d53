"""The reference TypeScript stdio server, ``@modelcontextprotocol/server-everything``, on Node 22
through the gateway: sessions over both HTTP transports, progress on the GET stream, many
sessions at once, a stateless client told clearly that this server serves sessions only, and no
``node`` process left; and the TypeScript SDK's own client (Streamable HTTP and SSE transports)
through the gateway in front of a Python server. scripts/gateway-node.sh installs them (tox's
tests env runs it first)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio
from gateway_support import FIXTURES, TIME_SERVER, processes_in, start_gateway, text_of
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp_types import UNSUPPORTED_PROTOCOL_VERSION
from support import require, wait_until
from support.procfs import no_zombies

ROOT = Path(__file__).resolve().parents[2]
NODE_HOME = Path(os.environ.get("GATEWAY_NODE_HOME") or ROOT / ".tox" / "gateway-node")
NODE = NODE_HOME / "node_modules" / ".bin" / "node"
EVERYTHING = NODE_HOME / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
TS_SDK = NODE_HOME / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"


def everything() -> tuple[str, ...]:
    require(NODE.exists() and EVERYTHING.exists(), "Node 22 and server-everything (scripts/gateway-node.sh)")
    return (str(NODE), str(EVERYTHING), "stdio")


async def test_server_everything_in_sessions_over_both_transports(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, everything(), warm=2)
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with Client(gateway.url + "/mcp", mode="auto") as client:  # discover fails: a session
        assert client.protocol_version == "2025-11-25"
        assert {"echo", "get-sum"} <= {tool.name for tool in (await client.list_tools()).tools}
        assert text_of(await client.call_tool("echo", {"message": "hi"})) == "Echo: hi"
        with trio.fail_after(10):
            done = await client.call_tool(
                "trigger-long-running-operation", {"duration": 0.3, "steps": 3}, progress_callback=on_progress
            )
        assert "completed" in text_of(done) and progress == [1, 2, 3]  # notifications on the GET stream
        (session,) = gateway.sessions.open.values()
    async with Client(sse_client(gateway.url + "/sse"), mode="legacy") as legacy:
        assert "3" in text_of(await legacy.call_tool("get-sum", {"a": 1, "b": 2}))
    with trio.fail_after(10):
        await gateway.sessions.wait_empty()
    assert processes_in(session.child.pid) == []
    await no_zombies()


async def test_server_everything_sessions_never_cross(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, everything(), warm=4)
    seen: dict[int, list[str]] = {}

    async def agent(n: int) -> None:
        async with Client(gateway.url + "/mcp", mode="legacy") as client:
            seen[n] = [text_of(await client.call_tool("echo", {"message": f"{n}/{i}"})) for i in range(4)]

    with trio.fail_after(60):
        async with trio.open_nursery() as agents:
            for n in range(12):
                agents.start_soon(agent, n)
    assert seen == {n: [f"Echo: {n}/{i}" for i in range(4)] for n in range(12)}
    with trio.fail_after(10):
        await gateway.sessions.wait_empty()
    await no_zombies()


async def test_a_client_pinned_to_2026_gets_a_clear_error(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, everything())
    async with Client(gateway.url + "/mcp", mode="2026-07-28") as client:
        with pytest.raises(MCPError, match="serves sessions only") as refused:
            await client.list_tools()
    assert refused.value.error.code == UNSUPPORTED_PROTOCOL_VERSION
    await wait_until(lambda: gateway.sessions.shared["default"].live == [])  # the child asked is stopped


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_the_typescript_sdk_client_through_the_gateway(nursery: trio.Nursery, transport: str) -> None:
    require(
        NODE.exists() and TS_SDK.exists(), "Node 22 and @modelcontextprotocol/sdk (scripts/gateway-node.sh)"
    )
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    gateway = await start_gateway(nursery, (str(TIME_SERVER), "--local-timezone", "UTC"), warm=1)
    url = gateway.url + ("/sse" if transport == "sse" else "/mcp")
    command = [
        str(NODE),
        str(FIXTURES / "ts_client.cjs"),
        url,
        transport,
        "get_current_time",
        '{"timezone": "UTC"}',
    ]
    env = {**os.environ, "NODE_PATH": str(NODE_HOME / "node_modules")}
    with trio.fail_after(60):
        done = await trio.run_process(command, env=env, capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert {"get_current_time", "convert_time"} <= set(out["tools"])
    assert out["server"]["name"] == "mcp-time"
    content = out["result"]["content"][0]
    assert out["result"].get("isError") is not True and json.loads(content["text"])["timezone"] == "UTC"
    if transport == "streamable":
        assert out["sessionId"] and out["sessionId"] not in gateway.sessions.open  # DELETE ended it
    with trio.fail_after(10):
        await gateway.sessions.wait_empty()  # the SSE session ends with its stream
    await no_zombies()
