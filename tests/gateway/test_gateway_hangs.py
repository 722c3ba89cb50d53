"""Hung parts, which differ from dead ones: a child stopped with SIGSTOP (its pipes stay open, it
just never answers) and a peer gateway process stopped the same way (the kernel still accepts
connections for it and buffers what they send)."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
import trio
from gateway_support import MISBEHAVE, processes_in, start_gateway
from support import wait_until
from support.procfs import no_zombies
from test_gateway_limits import HEADERS, call, open_session


@pytest.mark.parametrize("flags", [(), ("--ignore-term",)], ids=["term", "ignores-term"])
async def test_a_stopped_child_times_out_its_calls_and_its_group_is_killed(
    nursery: trio.Nursery, flags: tuple[str, ...]
) -> None:
    gateway = await start_gateway(nursery, (*MISBEHAVE, *flags), call_timeout=1.0, kill_grace=0.5)
    url = gateway.url + "/mcp"
    async with httpx.AsyncClient(timeout=30) as http:
        sid = await open_session(http, url)
        headers = {**HEADERS, "mcp-session-id": sid}
        assert (await http.post(url, json=call(1, "echo", text="a"), headers=headers)).status_code == 200
        (session,) = gateway.sessions.open.values()
        pgid = session.child.pid
        os.killpg(pgid, signal.SIGSTOP)
        with trio.fail_after(10):  # 1 s of silence, then the error at once: not the grace, not forever
            answer = await http.post(url, json=call(2, "echo", text="b"), headers=headers)
        assert answer.status_code == 200
        error = answer.json()
        assert error["id"] == 2 and "sent nothing for 1 s" in error["error"]["message"], error
        # the session is over (404: initialise again) and its whole group is gone, stopped or not
        await wait_until(lambda: not gateway.sessions.open, timeout=10)
        gone = await http.post(url, json=call(3, "echo", text="c"), headers=headers)
        assert gone.status_code == 404
    await wait_until(lambda: processes_in(pgid) == [], timeout=10)
    # counted once the child is reaped (the reaper's interval, 1 s), after its group is gone
    ended = gateway.sessions.ended_by_reason
    await wait_until(lambda: sum(ended.values()) >= 1, timeout=10)
    assert ended == {"unresponsive": 1}, ended
    await no_zombies()


async def test_silence_is_counted_per_wait_not_per_session(nursery: trio.Nursery) -> None:
    """The clock starts when a request goes down (or at the child's last line, if later) and
    stops at its answer: calls in a row that together outlast the timeout all pass."""
    gateway = await start_gateway(nursery, call_timeout=1.0)
    async with httpx.AsyncClient(timeout=30) as http:
        url = gateway.url + "/mcp"
        sid = await open_session(http, url)
        headers = {**HEADERS, "mcp-session-id": sid}
        slow = call(1, "slow", seconds=0.4, text="done")
        for i in range(4):  # 1.6 s of calls in all, each well inside the timeout
            slow["id"] = i
            answer = await http.post(url, json=slow, headers=headers)
            assert answer.json()["result"]["content"][0]["text"] == "done"
        assert len(gateway.sessions.open) == 1
