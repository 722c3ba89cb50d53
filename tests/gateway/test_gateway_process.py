"""The gateway as a real ``python -m mapsrv gateway`` process: killed with SIGKILL while 50
sessions are live, its children and their wrappers' children must all die with it; stopped with
SIGTERM, calls in flight finish first and nothing is left either."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio
from gateway_support import MISBEHAVE, alive, text_of
from mcp import Client
from mcp.client.sse import sse_client
from support import wait_until
from support.procfs import descendants_of

from mapsrv.gateway.procs import set_child_subreaper

WRAPPER = f"sleep 1000 & exec {shlex.join(MISBEHAVE)}"  # as npx/uvx/sh -c wrappers do


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return False


@asynccontextmanager
async def gateway_process(*flags: str) -> AsyncIterator[tuple[trio.Process, str]]:
    """``python -m mapsrv gateway --port 0 FLAGS -- WRAPPER``, its URL read from its banner;
    killed by its PID at the end if it is still running."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MAPSRV_GATEWAY_KILL_GRACE": "1"}
    command = [sys.executable, "-m", "mapsrv", "gateway", "--port", "0", "--log-level", "warning"]
    process = await trio.lowlevel.open_process(
        [*command, *flags, "--shell", "--", WRAPPER], env=env, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        banner = b""
        with trio.fail_after(20):
            while (match := re.search(rb"gateway on (http://\S+)", banner)) is None:
                chunk = await process.stderr.receive_some()
                assert chunk, f"the gateway exited: {banner.decode(errors='replace')}"
                banner += chunk
        yield process, match.group(1).decode()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
        await process.stderr.aclose()


def gone_and_reaped(tree: list[int]) -> bool:
    """The orphans came to this test process (a subreaper), which reaps them: none may stay."""
    for pid in tree:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return not any(alive(pid) or zombie(pid) for pid in tree)


async def test_kill_9_of_the_gateway_with_50_sessions_leaves_no_process(nursery: trio.Nursery) -> None:
    set_child_subreaper()
    sessions = 50
    async with gateway_process("--warm", "4") as (gateway, url), trio.open_nursery() as clients:
        opened = trio.Semaphore(0)
        hold = trio.Event()

        async def live_session(i: int) -> None:
            async with Client(url + "/mcp", mode="legacy") as client:
                assert text_of(await client.call_tool("echo", {"text": str(i)})) == str(i)
                opened.release()
                await hold.wait()

        for i in range(sessions):
            clients.start_soon(live_session, i)
        with trio.fail_after(60):
            for _ in range(sessions):
                await opened.acquire()
        tree = descendants_of(gateway.pid)
        assert len(tree) >= 2 * sessions + 1  # each session's wrapper and its sleep, plus the watchdog
        gateway.send_signal(signal.SIGKILL)
        await gateway.wait()
        await wait_until(lambda: not [pid for pid in tree if alive(pid)], timeout=15)
        clients.cancel_scope.cancel()
    await wait_until(lambda: gone_and_reaped(tree), timeout=5)


async def test_sigterm_drains_calls_in_flight_then_leaves_no_process(nursery: trio.Nursery) -> None:
    set_child_subreaper()
    flags = ("--warm", "2", "--drain-delay", "0.3", "--graceful-timeout", "10")
    async with gateway_process(*flags) as (gateway, url), httpx.AsyncClient(timeout=10) as http:
        answers: dict[str, str] = {}
        in_flight = trio.Semaphore(0)

        async def slow_call(name: str, transport: object, mode: str) -> None:
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                await client.list_tools()  # the client checks results against it; not during the drain
                in_flight.release()
                result = await client.call_tool("slow", {"seconds": 1.5, "text": name})
                answers[name] = text_of(result)

        async with trio.open_nursery() as clients:
            clients.start_soon(slow_call, "session", url + "/mcp", "legacy")
            clients.start_soon(slow_call, "sse", sse_client(url + "/sse"), "legacy")
            clients.start_soon(slow_call, "stateless", url + "/mcp", "2026-07-28")
            with trio.fail_after(20):
                for _ in range(3):
                    await in_flight.acquire()
                await wait_until(_in_flight(http, url, 3), timeout=10)
            tree = descendants_of(gateway.pid)
            gateway.send_signal(signal.SIGTERM)
            await wait_until(_not_ready(http, url), timeout=5)
        assert answers == {"session": "session", "sse": "sse", "stateless": "stateless"}
        with trio.fail_after(20):
            assert await gateway.wait() == 0
    await wait_until(lambda: gone_and_reaped(tree), timeout=5)


def _in_flight(http: httpx.AsyncClient, url: str, calls: int) -> object:
    async def check() -> bool:
        status = (await http.get(url + "/status")).json()
        stateless = sum(server["stateless_in_flight"] for server in status["servers"].values())
        return stateless + sum(s["in_flight"] for s in status["sessions"]) == calls

    return check


def _not_ready(http: httpx.AsyncClient, url: str) -> object:
    async def check() -> bool:
        return (await http.get(url + "/ready")).status_code == 503

    return check
