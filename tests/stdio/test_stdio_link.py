"""``mapsrv stdio`` on the maps of a running ``mapsrv serve`` (issue 14): a desktop client's stdio
MCP relayed to the server's ``/mcp``, so the code a person copies from their page works from every
client. Real parts throughout: ``mapsrv serve`` and ``mapsrv stdio`` as child processes, the SDK's
own stdio client, a browser-like HTTP client with its cookie, and redis-server."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from support import Browser, RedisServer, free_port, open_server, require, wait_until
from support.mcp import INITIALIZE
from support.procfs import descendants_of

from mapsrv.config import Config, ConfigError
from mapsrv.stdio.discovery import local_url, probe, server_url, shared_server
from mapsrv.stdio.relay import wire_headers

LISBON = {"at": [38.72, -9.14], "label": "Lisbon"}
_logs = itertools.count()


@asynccontextmanager
async def stdio_agent(
    tmp_path: Path, *args: str, mode: str = "legacy", cwd: Path | None = None
) -> AsyncIterator[tuple[Client, Path]]:
    """``mapsrv stdio ARGS`` driven by the SDK's stdio client, as a desktop client drives it
    (started in ``cwd``, if given); its stderr goes to a file the test reads."""
    log = tmp_path / f"stdio-{next(_logs)}.log"
    command = ["-m", "mapsrv", "stdio", "--log-level", "info", *args]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }
    params = StdioServerParameters(
        command=sys.executable, args=command, env=env, cwd=str(cwd) if cwd else None
    )
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:  # type: ignore[arg-type]
            yield client, log


def every_log(tmp_path: Path) -> str:
    """What every ``mapsrv stdio`` of the test wrote on stderr."""
    return "".join(path.read_text() for path in sorted(tmp_path.glob("stdio-*.log")))


async def features(browser: Browser, map_id: str) -> list[dict[str, Any]]:
    return list((await browser.state(map_id))["features"])


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_persons_map_code_works_through_stdio(tmp_path: Path, mode: str) -> None:
    """The 2025-11-25 era (a session) and the 2026-07-28 one (stateless, headers from each
    request's envelope), both through the relay."""
    async with open_server() as server:
        person = Browser(server.url)
        map_id = await person.new_map()  # the code the person's page shows
        before = set(descendants_of(os.getpid()))
        async with stdio_agent(tmp_path, "--server", server.url, mode=mode) as (agent, log):
            assert agent.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            names = {tool.name for tool in (await agent.list_tools()).tools}
            assert {"draw", "read", "create_map"} <= names
            drawn = await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})
            assert not drawn.is_error, drawn
            assert [f["label"] for f in await features(person, map_id)] == ["Lisbon"]
            read = await agent.call_tool("read", {"map_id": map_id})
            assert read.structured_content is not None and read.structured_content["version"] >= 1
            # A map the agent makes is on the server too, with the server's links.
            made = (await agent.call_tool("create_map", {"title": "Trip"})).structured_content
            assert made is not None and made["url"].startswith(server.url)
        assert f"maps shared with the server at {server_url(server.url)}/" in log.read_text()
        await wait_until(lambda: set(descendants_of(os.getpid())) == before)
        await person.aclose()


async def test_without_a_flag_stdio_uses_the_mapsrv_at_its_address(tmp_path: Path) -> None:
    """No --server: stdio probes the address it would serve on (--host/--port, by default
    127.0.0.1:8000, where ``mapsrv serve`` listens by default) and relays when a mapsrv answers."""
    assert local_url(Config().host, Config().port) == "http://127.0.0.1:8000"
    async with open_server() as server:
        port = server.host_port[1]
        person = Browser(server.url)
        map_id = await person.new_map()
        async with stdio_agent(tmp_path, "--port", str(port)) as (agent, log):
            assert not (await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})).is_error
        assert f"maps shared with the server at http://127.0.0.1:{port}/" in log.read_text()
        assert len(await features(person, map_id)) == 1
        # --server none: maps of its own, whatever answers there; the person's code means nothing.
        # (The default file is the server's now: one process owns it, so a store of its own.)
        own = ("--server", "none", "--store", "memory://")
        async with stdio_agent(tmp_path, "--port", str(port), *own) as (agent, log):
            result = await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})
            assert result.is_error and "not found" in str(result.content[0])
        assert "maps in memory, gone when this process stops" in log.read_text()
        assert len(await features(person, map_id)) == 1
        await person.aclose()


async def test_two_desktop_clients_share_the_first_ones_maps(tmp_path: Path) -> None:
    """The first ``mapsrv stdio`` serves its pages on the port; the second finds it there and
    works on its maps (they last as long as the first client: the README says so)."""
    port = free_port()
    async with stdio_agent(tmp_path, "--port", str(port)) as (first, first_log):
        made = (await first.call_tool("create_map", {})).structured_content
        assert made is not None
        async with stdio_agent(tmp_path, "--port", str(port)) as (second, second_log):
            assert not (
                await second.call_tool("draw", {"map_id": made["map_id"], "items": [LISBON]})
            ).is_error
        read = (await first.call_tool("read", {"map_id": made["map_id"]})).structured_content
        assert read is not None and "Lisbon" in json.dumps(read)
    assert "maps kept in " in first_log.read_text() and "maps.db" in first_log.read_text()
    assert f"maps shared with the server at http://127.0.0.1:{port}/" in second_log.read_text()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_with_no_flags_at_all_stdio_finds_serve_on_its_default_port(tmp_path: Path) -> None:
    """The setup the README describes, flag for flag: ``mapsrv serve`` and a desktop client's
    ``mapsrv stdio``. Port 8000 may be in use on a shared machine: then the test above covers the
    same probe on another port. Not in CI, whose machine is the run's own: there a busy port
    8000 is something left running (a server a test did not stop), and this test must run."""
    default = Config().port
    require(port_is_free(default), f"a free port {default} (the default)")
    async with open_server("--port", str(default)) as server:
        person = Browser(server.url)
        map_id = await person.new_map()
        async with stdio_agent(tmp_path) as (agent, log):
            assert not (await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})).is_error
        assert f"maps shared with the server at http://127.0.0.1:{default}/" in log.read_text()
        assert len(await features(person, map_id)) == 1
        await person.aclose()


async def test_stdio_alone_keeps_its_maps_in_its_own_file(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: stdio serves its own pages on it
    async with stdio_agent(tmp_path, "--port", str(port)) as (agent, log):
        made = (await agent.call_tool("create_map", {})).structured_content
        assert made is not None and made["url"].startswith(f"http://127.0.0.1:{port}/")
    assert "maps kept in " in log.read_text() and "maps.db" in log.read_text()


async def serve_http(listener: trio.SocketListener, answer: bytes | None) -> None:
    """A plain HTTP server that is not mapsrv: it answers every request with ``answer``, or
    never answers (``None``: it accepts and hangs)."""

    async def one(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some()
            if answer is None:
                await trio.sleep_forever()
            await stream.send_all(answer)

    await trio.serve_listeners(one, [listener])


def http_answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return (head + "connection: close\r\n\r\n").encode() + body


async def test_the_probe_tells_a_mapsrv_from_anything_else(nursery: trio.Nursery) -> None:
    async with open_server() as server:
        assert await probe(server_url(server.url))
    with trio.fail_after(1):  # nothing listening: refused at once
        assert not await probe(f"http://127.0.0.1:{free_port()}")
    others = [
        http_answer("200 OK", b'{"status":"ok"}'),  # some other service's health answer
        http_answer("200 OK", b'{"ready":true}'),  # mapsrv gateway's /ready: not a map server
        http_answer("404 Not Found", b"{}"),
        b"not http at all\r\n\r\n",
        None,  # accepts and never answers: the probe gives up after PROBE_TIMEOUT
    ]
    for answer in others:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        nursery.start_soon(serve_http, listeners[0], answer)
        with trio.fail_after(1):
            assert not await probe(f"http://127.0.0.1:{port}"), answer


async def test_which_maps_stdio_works_on() -> None:
    nobody = free_port()
    assert await shared_server(Config(port=nobody)) is None  # nothing answers: maps of its own
    assert await shared_server(Config(port=0)) is None  # no address to look at
    explicit = Config(server=f"http://127.0.0.1:{nobody}/mcp")
    assert await shared_server(explicit) == (f"http://127.0.0.1:{nobody}", False)  # named: used anyway
    async with open_server() as server:
        port = server.host_port[1]
        assert await shared_server(Config(port=port)) == (f"http://127.0.0.1:{port}", True)
        assert await shared_server(Config(port=port, server="none")) is None
        assert await shared_server(Config(port=port, store="redis://127.0.0.1:1/0")) is None
    with pytest.raises(ConfigError, match="'server'"):
        Config(server="127.0.0.1:8000")
    assert "secret" not in repr(Config(server_key="secret"))
    assert "s3cr3t" not in repr(Config(oidc_issuer="https://id.example", oidc_client_secret="s3cr3t"))


def test_headers_come_from_the_messages() -> None:
    from mcp_types import JSONRPCNotification, JSONRPCRequest

    call = JSONRPCRequest(jsonrpc="2.0", id=3, method="tools/call", params={"name": "draw"})
    assert wire_headers(call, "2025-11-25") == {"mcp-protocol-version": "2025-11-25"}
    init = JSONRPCRequest(jsonrpc="2.0", id=1, method="initialize", params={})
    assert wire_headers(init, "2025-11-25") == {}
    modern = JSONRPCRequest(
        jsonrpc="2.0",
        id=4,
        method="tools/call",
        params={"name": "draw", "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    )
    assert wire_headers(modern, None) == {
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "draw",
    }
    note = JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")
    assert wire_headers(note, None) == {}
    assert server_url(" http://h:1/mcp/ ") == "http://h:1" and server_url("http://h:1/") == "http://h:1"
    assert local_url("0.0.0.0", 80) == "http://127.0.0.1:80" and local_url("::", 80) == "http://[::1]:80"


async def test_the_api_key_goes_to_the_server_and_nowhere_else(tmp_path: Path) -> None:
    secret = "k3y-" + "x" * 28
    async with open_server("--api-keys", f"desk:{secret}") as server:
        async with stdio_agent(tmp_path, "--server", server.url, "--server-key", secret) as (agent, _):
            assert not (await agent.call_tool("create_map", {})).is_error

        refused: list[BaseException] = []
        try:
            async with stdio_agent(tmp_path, "--server", server.url):
                pass
        except* MCPError as group:  # initialize itself is refused
            refused += leaves(group)
        assert len(refused) == 1 and "missing or wrong API key" in str(refused[0])
    written = every_log(tmp_path)
    assert "maps shared with the server" in written and secret not in written


async def open_sessions(browser: Browser) -> int:
    """The server's open Streamable HTTP sessions, from its metrics."""
    text = (await browser.client.get("/metrics")).text
    line = next(
        x for x in text.splitlines() if x.startswith('mapsrv_mcp_sessions{transport="streamable_http"}')
    )
    return int(float(line.split()[-1]))


async def test_stdio_ends_its_session_and_exits_when_the_client_closes_stdin() -> None:
    """No SDK client here: it would terminate the process 2 s after closing stdin, hiding a relay
    that never exits by itself."""
    async with open_server() as server:
        http = Browser(server.url)
        command = [sys.executable, "-m", "mapsrv", "stdio", "--server", server.url]
        relay = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert relay.stdin is not None and relay.stdout is not None
            await relay.stdin.send_all(json.dumps(INITIALIZE).encode() + b"\n")
            with trio.fail_after(30):
                answer = b""
                while not answer.endswith(b"\n"):
                    answer += await relay.stdout.receive_some()
            assert json.loads(answer)["result"]["serverInfo"]["name"] == "mapsrv"
            assert await open_sessions(http) == 1
            await relay.stdin.aclose()
            with trio.fail_after(10):
                assert await relay.wait() == 0
            assert await open_sessions(http) == 0  # the relay ended its session (DELETE)
        finally:
            relay.kill()
        await http.aclose()


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def queued_bytes(port: int) -> int:
    """Bytes waiting in the receive queues of connections to local ``port`` (/proc/net/tcp)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                    total += int(fields[4].split(":")[1], 16)
    return total


async def test_a_server_that_goes_away_fails_pending_calls_clearly(tmp_path: Path) -> None:
    async with open_server() as server:
        port = server.host_port[1]
        before = set(descendants_of(os.getpid())) - {server.pid}
        async with stdio_agent(tmp_path, "--server", server.url) as (agent, log):
            map_id = (await agent.call_tool("create_map", {})).structured_content["map_id"]  # type: ignore[index]
            os.kill(server.pid, signal.SIGSTOP)  # the next call queues in its socket ...
            failures: list[BaseException] = []

            async def call() -> None:
                try:
                    await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})
                except MCPError as exc:
                    failures.append(exc)

            async with trio.open_nursery() as calls:
                calls.start_soon(call)
                await wait_until(lambda: queued_bytes(port) > 0)
                os.kill(server.pid, signal.SIGKILL)  # ... and the server dies with it pending
            assert len(failures) == 1 and "mapsrv server at" in str(failures[0])
            with pytest.raises(MCPError, match="refused the connection"):
                await agent.call_tool("read", {"map_id": map_id})
            # A server back on the port: the relay opens a session there by itself (the maps of
            # the dead one are gone: they were in its memory).
            async with open_server("--port", str(port)):
                assert not (await agent.call_tool("create_map", {})).is_error
        text = log.read_text()
        assert "pending call(s) failed" in text and "Traceback" not in text
    await wait_until(lambda: set(descendants_of(os.getpid())) <= before)


async def test_a_restarted_server_gets_a_new_session_transparently(tmp_path: Path) -> None:
    """Maps in Redis outlive a server process; the relay's session does not. The next call after
    a restart gets 404 for its session: the relay initializes again and sends the call again."""
    redis = RedisServer(str(tmp_path))
    await redis.start()
    try:
        # An MCP session's open event stream holds a server's shutdown up to its graceful timeout.
        store = ("--store", redis.url, "--graceful-timeout", "1")
        async with open_server(*store) as server:
            port = server.host_port[1]
            person = Browser(server.url)
            map_id = await person.new_map()
            async with stdio_agent(tmp_path, "--server", server.url) as (agent, log):
                assert not (await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})).is_error
                server.process.terminate()
                with trio.fail_after(15):
                    await server.process.wait()
                async with open_server("--port", str(port), *store) as again:
                    assert again.url == server.url
                    paris = {"at": [48.86, 2.35], "label": "Paris"}
                    assert not (await agent.call_tool("draw", {"map_id": map_id, "items": [paris]})).is_error
                    labels = [f["label"] for f in await features(person, map_id)]
            assert labels == ["Lisbon", "Paris"]
            assert "opened a new MCP session" in log.read_text()
            await person.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await redis.stop()


async def test_stdio_with_the_store_shares_maps_with_serve(tmp_path: Path) -> None:
    """``mapsrv stdio --store redis://``: maps of its own process, in the store every serve
    process uses, so the person's code works there too (no relay)."""
    redis = RedisServer(str(tmp_path))
    await redis.start()
    try:
        async with open_server("--store", redis.url) as server:
            person = Browser(server.url)
            map_id = await person.new_map()
            async with stdio_agent(tmp_path, "--store", redis.url, "--port", "0") as (agent, log):
                assert not (await agent.call_tool("draw", {"map_id": map_id, "items": [LISBON]})).is_error
            assert "maps kept in Redis" in log.read_text()
            await wait_until(lambda: _has_features(person, map_id))
            await person.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await redis.stop()


async def _has_features(browser: Browser, map_id: str) -> bool:
    return bool(await features(browser, map_id))


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_relayed_import_by_path_reads_the_folder_stdio_started_in(tmp_path: Path, mode: str) -> None:
    """A desktop client's ``mapsrv stdio`` relaying to a ``mapsrv serve`` that reads no folder
    (issue 73): ``import`` by path reads the file where stdio was started and hands it to the
    server by an upload link, the call's arguments a few bytes; the map is the server's, and the
    owner's link comes back. A path outside that folder is refused, as the server refuses one."""
    work = tmp_path / "work"
    work.mkdir()
    points = [{"type": "Point", "coordinates": [2 + i / 100, 48]} for i in range(500)]
    rides = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": {"n": i}} for i, g in enumerate(points)
        ],
    }
    (work / "rides.geojson").write_text(json.dumps(rides))
    (tmp_path / "outside.geojson").write_text(json.dumps(rides))
    async with open_server() as server:
        async with stdio_agent(tmp_path, "--server", server.url, mode=mode, cwd=work) as (agent, _):
            arguments = {"path": "rides.geojson", "layer": "rides"}
            assert len(json.dumps(arguments)) < 60
            result = await agent.call_tool("import", arguments)
            assert not result.is_error, result.content
            answer = result.structured_content
            assert answer is not None and answer["added"] == 500 and answer["layers"] == ["rides"], answer
            assert answer["url"].startswith(server.url) and answer["view_url"].startswith(server.url)
            outside = await agent.call_tool("import", {"path": str(tmp_path / "outside.geojson")})
            assert outside.is_error and "outside the folders" in str(outside.content[0]), outside.content
            again = await agent.call_tool("import", {"path": "rides.geojson", "map_id": answer["map_id"]})
            added = again.structured_content or {}
            assert not again.is_error and added["added"] == 500 and added["map_id"] == answer["map_id"]
            assert "url" not in added, "no new map: no owner's link"
            read = await agent.call_tool("read", {"map_id": answer["map_id"], "limit": 1})
            assert (read.structured_content or {})["count"] == 1000, read.structured_content
            # every argument goes with the link (one door): a table joined to countries, by path
            (work / "gdp.csv").write_text("country,gdp\nFrance,44747\nJapan,33834\nAtlantis,1\n")
            joined = await agent.call_tool(
                "import", {"path": "gdp.csv", "join": "countries", "key": "country"}
            )
            table = joined.structured_content or {}
            assert not joined.is_error and table["joined"]["matched"] == 2, joined.content
            assert set(table["kinds"]) <= {"polygon", "multipolygon"} and table["added"] == 2, table
