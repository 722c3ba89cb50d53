"""The gateway as a real ``python -m mapsrv gateway`` process: killed with SIGKILL while
sessions are live, its children and their wrappers' children must all die with it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

import httpx
import trio
from gateway_support import MISBEHAVE, alive
from mcp import Client
from support import wait_until

from mapsrv.gateway.procs import set_child_subreaper


def descendants_of(root: int) -> list[int]:
    """Processes whose ancestry reaches ``root`` (read once from /proc)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    parents[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


async def test_kill_9_of_the_gateway_leaves_no_process(nursery: trio.Nursery) -> None:
    set_child_subreaper()  # orphans come to this test process, which reaps them and can count them
    wrapper = f"sleep 1000 & exec {shlex.join(MISBEHAVE)}"  # as npx/uvx/sh -c wrappers do
    with socket_port() as port:
        pass
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MAPSRV_GATEWAY_KILL_GRACE": "1"}
    gateway = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "mapsrv",
            "gateway",
            "--port",
            str(port),
            "--warm",
            "2",
            "--shell",
            "--",
            wrapper,
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with trio.fail_after(15):
            while True:
                try:
                    async with httpx.AsyncClient() as http:
                        if (await http.get(url + "/health")).status_code == 200:
                            break
                except httpx.TransportError:
                    await trio.sleep(0.05)
        async with trio.open_nursery() as clients:
            opened = trio.Semaphore(0)
            hold = trio.Event()

            async def live_session(i: int) -> None:
                async with Client(url + "/mcp", mode="legacy") as client:
                    assert (await client.call_tool("echo", {"text": str(i)})).content[0].text == str(i)
                    opened.release()
                    await hold.wait()

            for i in range(10):
                clients.start_soon(live_session, i)
            with trio.fail_after(30):
                for _ in range(10):
                    await opened.acquire()
            tree = descendants_of(gateway.pid)
            assert len(tree) >= 2 * 10 + 1  # each session's wrapper and its sleep, plus the watchdog
            gateway.send_signal(signal.SIGKILL)
            await gateway.wait()
            await wait_until(lambda: not [pid for pid in tree if alive(pid)], timeout=10)
            clients.cancel_scope.cancel()
    finally:
        if gateway.returncode is None:
            gateway.kill()
            await gateway.wait()

    def reaped() -> bool:  # the orphans were ours to reap (subreaper): no zombie stays
        for pid in tree:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        return not any(alive(pid) or zombie(pid) for pid in tree)

    await wait_until(reaped, timeout=5)


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return False


class socket_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        pass
