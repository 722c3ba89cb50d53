"""Sessions through the gateway with the SDK's own clients over real HTTP: a real stdio server
nobody here wrote (mcp-server-time) and our misbehaving fixture."""

from __future__ import annotations

import pytest
import trio
from gateway_support import TIME_SERVER, processes_in, start_gateway, text_of
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from support import require
from support.procfs import no_zombies


async def test_mcp_server_time_over_streamable_http(nursery: trio.Nursery) -> None:
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    gateway = await start_gateway(nursery, (str(TIME_SERVER), "--local-timezone", "UTC"))
    async with Client(gateway.url + "/mcp", mode="legacy") as client:  # auto: test_gateway_stateless
        assert client.protocol_version == "2025-11-25"
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert "get_current_time" in tools
        result = await client.call_tool("get_current_time", {"timezone": "Europe/Lisbon"})
        assert not result.is_error and "Europe/Lisbon" in text_of(result)
        converted = await client.call_tool(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        assert "21:00" in text_of(converted)
        (session,) = gateway.sessions.open.values()
        pid = session.child.pid
    with trio.fail_after(5):  # the client's DELETE ended the session and its child
        await session.child.gone.wait()
    assert processes_in(pid) == []


async def test_mcp_server_time_over_legacy_sse(nursery: trio.Nursery) -> None:
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    gateway = await start_gateway(nursery, (str(TIME_SERVER),))
    async with Client(sse_client(gateway.url + "/sse"), mode="legacy") as client:
        result = await client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
        assert "Asia/Tokyo" in text_of(result)
        (session,) = gateway.sessions.open.values()
    with trio.fail_after(5):  # the stream closed: the session and its child end
        await session.child.gone.wait()
    assert processes_in(session.child.pid) == []
    await no_zombies()


async def test_many_concurrent_sessions_never_see_each_others_answers(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, warm=4)
    seen: dict[str, list[str]] = {}

    async def agent(name: str, legacy_sse: bool) -> None:
        transport = sse_client(gateway.url + "/sse") if legacy_sse else gateway.url + "/mcp"
        async with Client(transport, mode="legacy") as client:
            answers = []
            for i in range(5):
                answers.append(text_of(await client.call_tool("echo", {"text": f"{name}/{i}"})))
            seen[name] = answers

    with trio.fail_after(30):
        async with trio.open_nursery() as agents:
            for n in range(24):
                agents.start_soon(agent, f"agent{n}", n % 3 == 0)
    assert seen == {f"agent{n}": [f"agent{n}/{i}" for i in range(5)] for n in range(24)}
    with trio.fail_after(10):
        await gateway.sessions.wait_empty()
    await no_zombies()


async def test_a_crash_fails_the_pending_call_at_once_and_ends_only_that_session(
    nursery: trio.Nursery,
) -> None:
    gateway = await start_gateway(nursery)
    async with Client(gateway.url + "/mcp", mode="legacy") as bystander:
        async with Client(gateway.url + "/mcp", mode="legacy") as victim:
            victim_session = list(gateway.sessions.open.values())[-1]
            with (
                trio.fail_after(5),
                pytest.raises(MCPError, match="server process of this session has exited"),
            ):
                await victim.call_tool("crash", {})
            with pytest.raises(MCPError, match="session not found"):  # 404: the session is gone
                await victim.call_tool("echo", {"text": "again"})
        assert text_of(await bystander.call_tool("echo", {"text": "fine"})) == "fine"
    assert (victim_session.end_reason, victim_session.child.returncode) == ("crashed", 3)
