"""Helpers for the gateway's tests: the stdio servers they run, JSON-RPC messages, process
counting from /proc (the zombie count is ``support.procfs``'s)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import trio

from mapsrv.gateway.config import GatewayConfig, load_servers
from mapsrv.gateway.procs import group_members
from mapsrv.gateway.serve import Gateway, serve_gateway

FIXTURES = Path(__file__).parent / "fixtures"
MISBEHAVE = (sys.executable, "-I", str(FIXTURES / "misbehave.py"))
TIME_SERVER = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent)) or shutil.which(
    "mcp-server-time"
)


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


def text_of(result: object) -> str:
    return str(result.content[0].text)  # type: ignore[attr-defined]


async def start_gateway(
    nursery: trio.Nursery, command: tuple[str, ...] | None = None, **changes: object
) -> Gateway:
    """A gateway on port 0 in the test's nursery, serving ``command`` (default: the fixture)."""
    config = GatewayConfig(port=0, kill_grace=1.0, graceful_timeout=1.0, warm=1).replace(**changes)
    servers = load_servers(config, [] if config.config else list(command or MISBEHAVE))
    gateway: Gateway = await nursery.start(serve_gateway, config, servers)
    return gateway
