"""The gateway as a real ``python -m mapsrv gateway`` process: killed with SIGKILL while 50
sessions are live, its children and their wrappers' children must all die with it; stopped with
SIGTERM, calls in flight finish first and nothing is left either."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import httpx
import pytest
import trio
from gateway_support import MISBEHAVE, alive, processes_in, text_of
from mcp import Client
from mcp.client.sse import sse_client
from support import wait_until
from support.procfs import descendants_of

WRAPPER = f"sleep 1000 & exec {shlex.join(MISBEHAVE)}"  # as npx/uvx/sh -c wrappers do
KILL_GRACE = 1.0  # MAPSRV_GATEWAY_KILL_GRACE: seconds from a group's TERM to its KILL
LOOK_EVERY = 0.05  # seconds between the group watcher's looks at /proc (it samples; it waits for nothing)


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
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MAPSRV_GATEWAY_KILL_GRACE": str(KILL_GRACE)}
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


def live_members(pgid: int) -> list[int]:
    return [pid for pid, state in processes_in(pgid) if state not in ("Z", "X")]


def groups_of(tree: list[int]) -> set[int]:
    """The process groups of ``tree``: each child's (its leader is the wrapper the gateway
    spawned, in a session of its own) and the watchdog's."""
    groups = set()
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    return groups


def kill_live(groups: Iterable[int]) -> dict[int, list[int]]:
    """SIGKILL each of ``groups`` that still has a live member, so that a failing test leaves no
    process behind; those groups and their live members, as found."""
    live = {pgid: members for pgid in sorted(groups) if (members := live_members(pgid))}
    for pgid in live:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return live


def still_live(live: dict[int, list[int]], after: str) -> str:
    return "; ".join(
        f"process group {pgid} still has live members {after}: pids {pids}" for pgid, pids in live.items()
    )


class GroupsEndWhole:
    """Watches the process groups of the gateway's children (those it has and those it starts
    meanwhile) while their sessions end: once a group's leader has exited (its session ended), the
    gateway TERMs the whole group and KILLs what is left after its grace, so no member may outlive
    its leader by more than that grace (and a margin). Fails at once then, rather than when the
    gateway gives up waiting on the group and exits."""

    def __init__(self, gateway: trio.Process) -> None:
        self.gateway = gateway
        self.groups: set[int] = set()
        self.leader_gone: dict[int, float] = {}

    async def run(self) -> None:
        while True:
            if self.gateway.returncode is None:
                self.groups |= groups_of(descendants_of(self.gateway.pid))
            now = trio.current_time()
            late = []
            for pgid in sorted(self.groups):
                if alive(pgid) or not (members := live_members(pgid)):
                    continue
                since = self.leader_gone.setdefault(pgid, now)
                if now - since > KILL_GRACE + 1.5:
                    late.append(
                        f"process group {pgid} still has live members {now - since:.1f} s after its "
                        f"session ended (its leader exited): pids {members}"
                    )
            if late:
                kill_live(self.groups)
                raise AssertionError("; ".join(late))
            await trio.sleep(LOOK_EVERY)


def gone_and_reaped(tree: list[int]) -> bool:
    """The orphans came to this test process (a subreaper), which reaps them: none may stay."""
    for pid in tree:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return not any(alive(pid) or zombie(pid) for pid in tree)


@pytest.mark.usefixtures("adopted")
async def test_kill_9_of_the_gateway_with_50_sessions_leaves_no_process(nursery: trio.Nursery) -> None:
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
        groups = groups_of(tree)
        gateway.send_signal(signal.SIGKILL)
        await gateway.wait()
        try:
            await wait_until(lambda: not [pid for pid in tree if alive(pid)], timeout=15)
        except trio.TooSlowError:
            left = [pid for pid in tree if alive(pid)]
            live = kill_live(groups)
            after = "15 s after the gateway was killed (its watchdog kills them)"
            raise AssertionError(
                still_live(live, after) or f"processes outlived the gateway: {left}"
            ) from None
        clients.cancel_scope.cancel()
    await wait_until(lambda: gone_and_reaped(tree), timeout=5)


@pytest.mark.usefixtures("adopted")
async def test_sigterm_drains_calls_in_flight_then_leaves_no_process(nursery: trio.Nursery) -> None:
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

        async with trio.open_nursery() as watching:
            async with trio.open_nursery() as clients:
                clients.start_soon(slow_call, "session", url + "/mcp", "legacy")
                clients.start_soon(slow_call, "sse", sse_client(url + "/sse"), "legacy")
                clients.start_soon(slow_call, "stateless", url + "/mcp", "2026-07-28")
                with trio.fail_after(20):
                    for _ in range(3):
                        await in_flight.acquire()
                    await wait_until(_in_flight(http, url, 3), timeout=10)
                tree = descendants_of(gateway.pid)
                groups = GroupsEndWhole(gateway)
                watching.start_soon(groups.run)  # each group as its session ends
                gateway.send_signal(signal.SIGTERM)
                await wait_until(_not_ready(http, url), timeout=5)
            assert answers == {"session": "session", "sse": "sse", "stateless": "stateless"}
            with trio.fail_after(20):
                assert await gateway.wait() == 0
            watching.cancel_scope.cancel()
        live = kill_live(groups.groups)
        assert not live, still_live(live, "after the gateway stopped")
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
