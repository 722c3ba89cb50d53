"""Helpers for the gateway's tests: the misbehaving fixture, process counting from /proc."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from mapsrv.gateway.config import GatewayConfig, load_servers
from mapsrv.gateway.procs import group_members
from mapsrv.gateway.serve import Gateway, serve_gateway

FIXTURES = Path(__file__).parent / "fixtures"
MISBEHAVE = (sys.executable, "-I", str(FIXTURES / "misbehave.py"))


def request(request_id: int | str, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def tool_call(request_id: int | str, name: str, **arguments: Any) -> bytes:
    return request(request_id, "tools/call", {"name": name, "arguments": arguments})


def processes_in(pgid: int) -> list[tuple[int, str]]:
    """Every process in the group, zombies included: a clean end leaves none."""
    return group_members(pgid)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def zombies_of(pid: int = 0) -> list[int]:
    """Zombie children of ``pid`` (default: this process)."""
    parent = pid or os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == parent:
            found.append(int(name))
    return found


async def wait_until(predicate: Callable[[], object], timeout: float = 5) -> None:  # noqa: ASYNC109
    """Poll a condition only /proc knows (no event says when another process is gone)."""
    with trio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.02)


async def start_gateway(
    nursery: trio.Nursery, command: tuple[str, ...] | None = None, **changes: object
) -> Gateway:
    """A gateway on port 0 in the test's nursery, serving ``command`` (default: the fixture)."""
    config = GatewayConfig(port=0, kill_grace=1.0, graceful_timeout=1.0, warm=1).replace(**changes)
    servers = load_servers(config, [] if config.config else list(command or MISBEHAVE))
    gateway: Gateway = await nursery.start(serve_gateway, config, servers)
    return gateway
