"""The stateless 2026-07-28 era through the gateway: the SDK's client pinned to 2026-07-28 and in
``auto`` mode against mcp-server-time, answers under each client's own id when many clients
share a child, a client that goes away, a shared child that crashes, and the checks the SDK's
own servers make on a stateless request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from gateway_support import MISBEHAVE, TIME_SERVER, processes_in, start_gateway, text_of
from mcp import Client, MCPError
from mcp_types import HEADER_MISMATCH, UNSUPPORTED_PROTOCOL_VERSION
from support import require, wait_until
from support.procfs import no_zombies

MODERN = "2026-07-28"
HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": MODERN,
}


def stateless_call(request_id: int | str, name: str, **arguments: Any) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    }
    params = {"name": name, "arguments": arguments, "_meta": meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def call_headers(name: str) -> dict[str, str]:
    return {**HEADERS, "mcp-method": "tools/call", "mcp-name": name}


@pytest.mark.parametrize("mode", [MODERN, "auto"])
async def test_mcp_server_time_stateless(nursery: trio.Nursery, mode: str) -> None:
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    gateway = await start_gateway(nursery, (str(TIME_SERVER), "--local-timezone", "UTC"))
    async with Client(gateway.url + "/mcp", mode=mode) as client:
        assert client.protocol_version == MODERN
        assert {tool.name for tool in (await client.list_tools()).tools} >= {"get_current_time"}
        result = await client.call_tool("get_current_time", {"timezone": "Europe/Lisbon"})
        assert not result.is_error and "Europe/Lisbon" in text_of(result)
        converted = await client.call_tool(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        assert "21:00" in text_of(converted)
    assert gateway.sessions.open == {} and gateway.sessions.opened == 0  # no session, no child of its own
    (shared,) = gateway.sessions.shared["default"].live  # one child served every request
    assert shared.stats.messages_in >= 3


async def test_clients_that_share_a_child_and_reuse_ids_get_only_their_own_answers(
    nursery: trio.Nursery,
) -> None:
    gateway = await start_gateway(nursery, warm=2, stateless_children=2)
    seen: dict[str, list[str]] = {}

    async def agent(name: str) -> None:
        async with Client(gateway.url + "/mcp", mode=MODERN) as client:  # every client counts ids from 0
            answers = []
            for i in range(5):
                answers.append(text_of(await client.call_tool("echo", {"text": f"{name}/{i}"})))
            seen[name] = answers

    with trio.fail_after(30):
        async with trio.open_nursery() as agents:
            for n in range(24):
                agents.start_soon(agent, f"agent{n}")
    assert seen == {f"agent{n}": [f"agent{n}/{i}" for i in range(5)] for n in range(24)}
    shared = gateway.sessions.shared["default"]
    assert 1 <= len(shared.live) <= 2 and gateway.sessions.opened == 0
    answers = sum(s.stats.messages_out for s in shared.live)
    assert answers == 24 * (5 + 1) + 1  # calls, a tools/list each, and the gateway's server/discover


async def test_the_same_id_in_flight_from_two_clients(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, stateless_children=1)
    async with httpx.AsyncClient(timeout=10) as http:
        answers: dict[str, dict[str, Any]] = {}

        async def ask(text: str) -> None:
            body = stateless_call(7, "slow", seconds=0.1, text=text)
            response = await http.post(gateway.url + "/mcp", json=body, headers=call_headers("slow"))
            answers[text] = dict(response.json())

        async with trio.open_nursery() as clients:  # id 7 three times at once, on one child
            for text in ("first", "second", "third"):
                clients.start_soon(ask, text)
    assert len(gateway.sessions.shared["default"].live) == 1
    for text, answer in answers.items():
        assert answer["id"] == 7 and answer["result"]["content"][0]["text"] == text


async def test_a_client_gone_cancels_its_request_and_a_crash_fails_only_what_was_in_flight(
    nursery: trio.Nursery,
) -> None:
    gateway = await start_gateway(nursery, stateless_children=1)
    shared = gateway.sessions.shared["default"]
    url = gateway.url + "/mcp"
    async with httpx.AsyncClient(timeout=10) as http:
        echo = await http.post(url, json=stateless_call(1, "echo", text="up"), headers=call_headers("echo"))
        assert echo.json()["result"]["content"][0]["text"] == "up"
        (child_session,) = shared.live
        with trio.move_on_after(0.3):  # the client gives up on a slow call (the fixture ignores cancels)
            await http.post(url, json=stateless_call(2, "slow", seconds=1), headers=call_headers("slow"))
        await wait_until(lambda: not child_session.busy)  # the gateway owes nobody that answer
        async with Client(url, mode=MODERN) as client:
            with trio.fail_after(5), pytest.raises(MCPError, match="has exited"):
                await client.call_tool("crash", {})
            pid = child_session.child.pid
            with trio.fail_after(5):
                await child_session.child.gone.wait()
            assert processes_in(pid) == []
            assert text_of(await client.call_tool("echo", {"text": "again"})) == "again"  # a new child
    assert len(shared.live) == 1 and shared.live[0] is not child_session
    await no_zombies()


async def test_stateless_requests_are_checked_as_the_sdk_checks_them(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery)
    url = gateway.url + "/mcp"
    async with httpx.AsyncClient(timeout=10) as http:
        mismatch = await http.post(url, json=stateless_call(1, "echo"), headers=call_headers("other"))
        assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == HEADER_MISMATCH
        body = stateless_call(1, "echo")
        body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
        unsupported = await http.post(
            url, json=body, headers={**call_headers("echo"), "mcp-protocol-version": "2099-01-01"}
        )
        assert unsupported.status_code == 400
        assert unsupported.json()["error"]["code"] == UNSUPPORTED_PROTOCOL_VERSION
        listen = {**stateless_call(2, "x"), "method": "subscriptions/listen"}
        json_only = {**HEADERS, "accept": "application/json", "mcp-method": "subscriptions/listen"}
        assert (await http.post(url, json=listen, headers=json_only)).status_code == 406  # a stream, always
        initialize = {**stateless_call(4, "x"), "method": "initialize"}
        refused = await http.post(url, json=initialize, headers={**HEADERS, "mcp-method": "initialize"})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == -32601
        assert gateway.sessions.opened == 0
        notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(url, json=notification, headers=HEADERS)).status_code == 202
        unknown = {**stateless_call(3, "x"), "method": "no/such"}
        answer = await http.post(url, json=unknown, headers={**HEADERS, "mcp-method": "no/such"})
        assert answer.status_code == 404 and answer.json()["id"] == 3  # the child's own error
        plain = await http.post(url, content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        assert plain.status_code == 400 and "initialize first" in plain.json()["error"]["message"]


async def test_without_shared_children_auto_clients_open_a_session(nursery: trio.Nursery) -> None:
    require(TIME_SERVER is not None, "mcp-server-time (the test extras install it)")
    gateway = await start_gateway(nursery, (str(TIME_SERVER),), stateless_children=0)
    async with Client(gateway.url + "/mcp", mode="auto") as client:
        assert client.protocol_version == "2025-11-25"
        assert "Asia/Tokyo" in text_of(await client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"}))
        assert len(gateway.sessions.open) == 1
    async with Client(gateway.url + "/mcp", mode=MODERN) as client:
        with pytest.raises(MCPError, match="serves MCP sessions only"):
            await client.list_tools()


async def test_a_server_of_the_session_era_only_gets_auto_clients_a_session(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, (*MISBEHAVE, "--sessions-only"))
    shared = gateway.sessions.shared["default"]
    async with Client(gateway.url + "/mcp", mode=MODERN) as pinned:
        with pytest.raises(MCPError, match="serves sessions only") as refused:
            await pinned.call_tool("echo", {"text": "x"})
        assert refused.value.error.code == UNSUPPORTED_PROTOCOL_VERSION
        assert "2025-11-25" in refused.value.error.data["supported"]
        await wait_until(lambda: gateway.sessions.pools["default"].ready == 1)  # the pool refilled
        spawns = gateway.children.spawns
        with pytest.raises(MCPError, match="serves sessions only"):  # decided once: no child asked again
            await pinned.call_tool("echo", {"text": "x"})
    assert gateway.children.spawns == spawns
    await wait_until(lambda: shared.live == [])  # the child asked is stopped
    async with Client(gateway.url + "/mcp", mode="auto") as client:
        assert client.protocol_version == "2025-11-25"
        assert text_of(await client.call_tool("echo", {"text": "in a session"})) == "in a session"
    await no_zombies()


async def test_progress_reaches_only_the_client_that_asked_on_its_response_stream(
    nursery: trio.Nursery,
) -> None:
    gateway = await start_gateway(nursery, stateless_children=1)
    seen: dict[str, list[float]] = {}

    async def agent(name: str) -> None:  # each client's first call has the same id and token
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        async with Client(gateway.url + "/mcp", mode=MODERN) as client:
            steps = 2 + len(name) % 4
            result = await client.call_tool(
                "progress", {"steps": steps, "text": name}, progress_callback=on_progress
            )
            assert text_of(result) == name
            seen[name] = progress

    with trio.fail_after(20):
        async with trio.open_nursery() as agents:
            for n in range(8):
                agents.start_soon(agent, "a" * (n + 1))
    assert seen == {"a" * (n + 1): [float(i) for i in range(1, 2 + (n + 1) % 4 + 1)] for n in range(8)}


async def test_listen_streams_carry_each_clients_own_subscription_id(nursery: trio.Nursery) -> None:
    gateway = await start_gateway(nursery, stateless_children=1)
    shared = gateway.sessions.shared["default"]
    headers = {**HEADERS, "mcp-method": "subscriptions/listen"}
    events: dict[str, list[dict[str, Any]]] = {}

    async def listen(who: str) -> None:
        body = {**stateless_call(1, "x"), "method": "subscriptions/listen"}
        body["params"] = {"_meta": body["params"]["_meta"], "who": who, "filter": {"toolsListChanged": True}}
        async with httpx.AsyncClient(timeout=10) as http:
            async with http.stream("POST", gateway.url + "/mcp", json=body, headers=headers) as stream:
                assert stream.headers["content-type"] == "text/event-stream"
                events[who] = []
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        events[who].append(json.loads(line[len("data: ") :]))
                        if len(events[who]) == 2:
                            break  # the client goes away; the gateway cancels its listen

    with trio.fail_after(10):
        async with trio.open_nursery() as listeners:
            for who in ("ann", "bob", "cid"):
                listeners.start_soon(listen, who)
    for who, (ack, changed) in events.items():
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert changed["params"]["_meta"]["who"] == who  # never another listener's event
        for event in (ack, changed):
            assert event["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 1  # the client's id
    await wait_until(lambda: not any(s.busy for s in shared.live))  # nothing owed to anyone gone
