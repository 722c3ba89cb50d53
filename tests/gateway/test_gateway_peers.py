"""Three gateway processes behind nginx with plain round-robin (no affinity of any kind): each
request for a session that lands on a process that does not own it is forwarded to the owner,
so sessions over both HTTP transports and stateless clients see no error at all. When one
process is killed, only the sessions it owned end (404: initialise again); nothing is left."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from gateway_support import MISBEHAVE, text_of
from mcp import Client
from mcp.client.sse import sse_client
from support import free_port, require, wait_for_port, wait_until
from support.procfs import descendants_of
from test_gateway_limits import HEADERS, INIT, call
from test_gateway_process import gone_and_reaped

KEY = "peer-key-for-tests-0123456789"

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream gateways {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 32m;
        location / {{
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 3600s;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@asynccontextmanager
async def gateway(port: int, *flags: str) -> AsyncIterator[trio.Process]:
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MAPSRV_GATEWAY_PEER_KEY": KEY}
    command = [sys.executable, "-m", "mapsrv", "gateway", "--port", str(port), "--log-level", "warning"]
    command += [
        "--warm",
        "2",
        "--kill-grace",
        "1",
        "--peer-url",
        f"http://127.0.0.1:{port}",
        *flags,
        "--",
        *MISBEHAVE,
    ]
    process = await trio.lowlevel.open_process(command, env=env, stderr=subprocess.DEVNULL)
    try:
        await wait_for_port(port)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGCONT)  # a test may have stopped it
            process.terminate()
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                await process.wait()
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


@asynccontextmanager
async def nginx(ports: list[int], tmp: Path) -> AsyncIterator[str]:
    binary = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    require(binary is not None, "nginx (Debian nginx-light)")
    assert binary is not None
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    await trio.Path(tmp / "nginx.conf").write_text(NGINX_CONF.format(dir=tmp, servers=servers, port=port))
    command = [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"]
    process = await trio.lowlevel.open_process(command, stderr=subprocess.DEVNULL)
    try:
        await wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()


def owner_port(session_id: str) -> int:
    owner = base64.urlsafe_b64decode(session_id.split(".")[1] + "==").decode()
    return int(owner.rsplit(":", 1)[1])


@pytest.mark.usefixtures("adopted")
async def test_round_robin_over_three_gateways_sessions_see_no_error(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    async with AsyncExitStack() as stack:
        processes = [await stack.enter_async_context(gateway(port)) for port in ports]
        url = await stack.enter_async_context(nginx(ports, tmp_path))
        seen: dict[str, list[str]] = {}

        async def agent(name: str, transport: object, mode: str) -> None:
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                seen[name] = [
                    text_of(await client.call_tool("echo", {"text": f"{name}/{i}"})) for i in range(8)
                ]

        with trio.fail_after(60):
            async with trio.open_nursery() as agents:
                for n in range(6):
                    agents.start_soon(agent, f"session{n}", url + "/mcp", "legacy")
                for n in range(3):
                    agents.start_soon(agent, f"sse{n}", sse_client(url + "/sse"), "legacy")
                    agents.start_soon(agent, f"stateless{n}", url + "/mcp", "2026-07-28")
        assert seen == {name: [f"{name}/{i}" for i in range(8)] for name in seen} and len(seen) == 12
        async with httpx.AsyncClient(timeout=10) as http:
            statuses = [(await http.get(f"http://127.0.0.1:{p}/status")).json() for p in ports]
            assert (
                sum(s["forwarded"] for s in statuses) > 0
                and sum(s["owner_unreachable"] for s in statuses) == 0
            )

            opened = [
                (await http.post(url + "/mcp", json=INIT, headers=HEADERS)).headers["mcp-session-id"]
                for _ in range(9)
            ]
            trees = [pid for process in processes for pid in descendants_of(process.pid)]
            victim = processes[2]
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            for i, sid in enumerate(opened):
                for _ in range(3):  # whichever process the proxy picks
                    answer = await http.post(
                        url + "/mcp",
                        json=call(i, "echo", text="x"),
                        headers={**HEADERS, "mcp-session-id": sid},
                    )
                    expected = 404 if owner_port(sid) == ports[2] else 200
                    assert answer.status_code == expected, (owner_port(sid), ports, answer.text)
    await wait_until(lambda: gone_and_reaped(trees), timeout=10)  # the victim's too, by its watchdog


async def next_data(lines: AsyncIterator[str]) -> str:
    async for line in lines:
        if line.startswith("data: "):
            return line
    raise EOFError("the stream ended")


@pytest.mark.usefixtures("adopted")
async def test_a_legacy_sse_session_works_when_its_posts_land_on_another_process() -> None:
    """The stream (GET /sse) is where the session is: it opens one there, so there is nothing to
    forward; each POST /messages for it that lands elsewhere is forwarded to it, and the
    answers come back on the stream."""
    ports = [free_port() for _ in range(2)]
    async with AsyncExitStack() as stack:
        processes = [await stack.enter_async_context(gateway(port)) for port in ports]
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        with trio.fail_after(30):
            async with http.stream("GET", f"http://127.0.0.1:{ports[0]}/sse") as stream:
                lines = stream.aiter_lines()
                endpoint = await next_data(lines)
                assert owner_port(endpoint.split("session_id=")[1]) == ports[0]
                other = f"http://127.0.0.1:{ports[1]}{endpoint[6:]}"
                for message in (INIT, call(1, "echo", text="via the other process")):
                    posted = await http.post(other, json=message, headers=HEADERS)
                    assert posted.status_code == 202, posted.text
                    data = await next_data(lines)
                    assert json.loads(data[6:])["id"] == message["id"]
                assert "via the other process" in data
            status = (await http.get(f"http://127.0.0.1:{ports[1]}/status")).json()
            assert status["forwarded"] == 2
        trees = [pid for process in processes for pid in descendants_of(process.pid)]
    await wait_until(lambda: gone_and_reaped(trees), timeout=10)  # orphans come to us: reap them


@pytest.mark.usefixtures("adopted")
async def test_a_hung_owner_fails_forwarded_requests_fast() -> None:
    """SIGSTOP of the process that holds a session: its socket still accepts, so a forwarded
    request would wait forever; instead it gets 502 and a JSON-RPC error within about two peer
    timeouts (the request, then the owner's /health)."""
    ports = [free_port() for _ in range(2)]
    async with AsyncExitStack() as stack:
        processes = [await stack.enter_async_context(gateway(port, "--peer-timeout", "1s")) for port in ports]
        owner = processes[0]
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        sid = (await http.post(f"http://127.0.0.1:{ports[0]}/mcp", json=INIT, headers=HEADERS)).headers[
            "mcp-session-id"
        ]
        owner.send_signal(signal.SIGSTOP)
        try:
            with trio.fail_after(10):
                answer = await http.post(
                    f"http://127.0.0.1:{ports[1]}/mcp",
                    json=call(7, "echo", text="x"),
                    headers={**HEADERS, "mcp-session-id": sid},
                )
        finally:
            owner.send_signal(signal.SIGCONT)
        assert answer.status_code == 502
        error = answer.json()
        assert error["id"] == 7 and "does not answer" in error["error"]["message"], error
        status = (await http.get(f"http://127.0.0.1:{ports[1]}/status")).json()
        assert status["owner_unresponsive"] == 1
        trees = [pid for process in processes for pid in descendants_of(process.pid)]
    await wait_until(lambda: gone_and_reaped(trees), timeout=10)
