"""The Kubernetes topology on one machine, from ``deploy/local/run.sh`` itself (redis-server, two
mapsrv processes, nginx hashing each browser to one of them): a browser's live map survives a
``kill -9`` of the process its stream is on, and MCP clients without the browser's cookie work
through the proxy, legacy sessions included."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import trio
from httpx_sse import aconnect_sse
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from support import require, wait_until
from support.procfs import described, with_default_signals

RUN_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "run.sh"
COMPONENT = re.compile(r"(?P<name>\S+) pid=(?P<pid>\d+) url=(?P<url>\S+)")
DIRECTORY = re.compile(r"dir path=(?P<path>.+)")


@dataclass(frozen=True)
class Component:
    name: str
    pid: int
    url: str

    @property
    def address(self) -> str:
        """``host:port``, as nginx names the backend in ``X-Mapsrv-Upstream``."""
        return self.url.split("://", 1)[1].split("/", 1)[0]


@dataclass
class Topology:
    """What run.sh printed: its components, by name (a restarted one replaces its line)."""

    process: trio.Process
    components: dict[str, Component] = field(default_factory=dict)
    directory: str = ""
    ready: bool = False
    ended: bool = False  # run.sh closed its stdout
    changed: trio.Event = field(default_factory=trio.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    def read(self, line: str) -> None:
        if match := COMPONENT.fullmatch(line):
            self.components[match["name"]] = Component(match["name"], int(match["pid"]), match["url"])
        if match := DIRECTORY.fullmatch(line):
            self.directory = match["path"]
        self.ready = self.ready or line == "ready"
        self.changed.set()
        self.changed = trio.Event()

    @property
    def url(self) -> str:
        return self.components["nginx"].url

    @property
    def backends(self) -> list[Component]:
        return [self.components["mapsrv-a"], self.components["mapsrv-b"]]

    def backend_at(self, upstream: str) -> Component:
        """The backend that answered, from nginx's ``$upstream_addr``: when nginx tried one
        and moved on, it lists both ("A, B") and the last one answered."""
        address = upstream.split(",")[-1].strip()
        return next(b for b in self.backends if b.address == address)

    async def restart_dead(self, name: str) -> Component:
        """SIGHUP: run.sh restarts a dead mapsrv on its port, and prints its line again."""
        dead = self.components[name]
        os.kill(self.pid, signal.SIGHUP)
        with trio.move_on_after(30):
            while self.components[name] == dead:
                assert not self.ended, "run.sh exited"
                await self.changed.wait()
        assert self.components[name] != dead, f"no {name} restarted in 30 s: run.sh is {described(self.pid)}"
        return self.components[name]

    def processes(self) -> dict[int, str]:
        """Every live process of this topology, by what its command line names: this run's
        state directory (nginx) or its Redis address (redis-server, and each mapsrv's
        ``--store``). So a child run.sh started but never printed is found too, and an orphan
        still is once run.sh is gone."""
        redis = re.escape(self.components["redis"].url.split("://", 1)[1].split("/", 1)[0])
        mine = re.compile(rf"{redis}\b| {re.escape(self.directory)} ")
        found = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and running(int(name)):
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                        command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if mine.search(command):
                    found[int(name)] = command
        return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait for a PID 1 that never reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@asynccontextmanager
async def open_topology(directory: Path) -> AsyncIterator[Topology]:
    """``deploy/local/run.sh`` in a child process until its ``ready`` line; at the end it is
    stopped by its PID (unless the test stopped it) and must have stopped every component it
    started, printed or not."""
    require(shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK), "nginx")
    require(shutil.which("redis-server") is not None, "redis-server")
    env = {**os.environ, "MAPSRV_LOCAL_DIR": str(directory), "MAPSRV_LOCAL_PYTHON": sys.executable}
    process = await trio.lowlevel.open_process(
        with_default_signals(["bash", str(RUN_SH)]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env
    )
    topology = Topology(process)
    started: set[Component] = set()
    try:
        async with trio.open_nursery() as nursery:

            async def read_lines() -> None:
                assert process.stdout is not None
                buffer = b""
                while chunk := await process.stdout.receive_some():
                    *lines, buffer = (buffer + chunk).split(b"\n")
                    for line in lines:
                        topology.read(line.decode())
                        started.update(topology.components.values())
                topology.ended = True
                topology.changed.set()

            nursery.start_soon(read_lines)
            with trio.fail_after(60):
                while not topology.ready:
                    if topology.ended:
                        raise RuntimeError("run.sh exited before it was ready (its stderr tells why)")
                    await topology.changed.wait()
            assert set(topology.components) == {"redis", "mapsrv-a", "mapsrv-b", "nginx"}
            yield topology
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            process.terminate()
            with trio.move_on_after(30):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            left = {c.pid: c.name for c in started if running(c.pid)}
            if topology.ready:
                left |= topology.processes()
            for pid in left:
                os.kill(pid, signal.SIGKILL)
    assert not left, f"run.sh left these running: {left}"
    assert process.returncode == 128 + signal.SIGTERM, "run.sh stopped before it was told to"


class Watcher:
    """A browser tab's event stream through the proxy, reconnecting like EventSource: when the
    stream ends or breaks, it connects again with ``Last-Event-ID`` (at once: a browser first
    waits the server's ``retry:`` hint, 2 s by default)."""

    def __init__(self, client: httpx.AsyncClient, path: str) -> None:
        self.client = client
        self.path = path
        self.events: list[tuple[str, int, dict[str, Any]]] = []  # (event, version, data)
        self.arrived: dict[int, float] = {}  # version -> when it first arrived
        self.upstreams: list[str] = []  # the backend(s) nginx used, per connection
        self.connected_at: list[float] = []
        self.ended_at: list[float] = []
        self.refused: list[str] = []
        self.changed = trio.Event()

    @property
    def last_version(self) -> int:
        return self.events[-1][1] if self.events else -1

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self.changed.wait()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        backoff = 0.0
        while True:
            headers = {"Accept": "text/event-stream"}
            if self.events:
                headers["Last-Event-ID"] = str(self.last_version)
            try:
                async with aconnect_sse(
                    self.client, "GET", self.path, headers=headers, timeout=httpx.Timeout(10, read=None)
                ) as source:
                    response = source.response
                    if response.status_code != 200:
                        self.refused.append(f"{response.status_code} {(await response.aread())[:200]!r}")
                    else:
                        backoff = 0.0
                        self.upstreams.append(response.headers.get("x-mapsrv-upstream", ""))
                        self.connected_at.append(trio.current_time())
                        self._notify()
                        if not started:
                            task_status.started()
                            started = True
                        async for sse in source.aiter_sse():
                            if sse.event in ("snapshot", "change"):
                                version = int(sse.id)
                                self.events.append((sse.event, version, json.loads(sse.data)))
                                self.arrived.setdefault(version, trio.current_time())
                                self._notify()
            except httpx.TransportError:
                pass  # the process behind the proxy died: the proxy cut the stream
            self.ended_at.append(trio.current_time())
            self._notify()
            # A client's backoff between failed attempts, not a wait for anything in the test.
            await trio.sleep(backoff)
            backoff = min(max(2 * backoff, 0.05), 1.0)


@dataclass
class Attempt:
    """One write an agent tried: acknowledged with ``version``, or failed with ``error`` (and
    then it may or may not have been applied)."""

    writer: str
    feature_id: str
    started: float
    version: int | None = None
    error: str | None = None


@dataclass
class Writer:
    name: str
    attempts: list[Attempt] = field(default_factory=list)

    def new_attempt(self) -> Attempt:
        attempt = Attempt(self.name, f"{self.name}-{len(self.attempts)}", trio.current_time())
        self.attempts.append(attempt)
        return attempt

    def done(self, attempt: Attempt, *, version: int | None = None, error: str | None = None) -> None:
        attempt.version, attempt.error = version, error

    def acked(self, after: float = float("-inf")) -> list[Attempt]:
        return [a for a in self.attempts if a.version is not None and a.started > after]


def marker(feature_id: str, i: int) -> dict[str, Any]:
    return {"op": "add_feature", "type": "marker", "id": feature_id, "coords": [i % 80, i % 170]}


async def write_over_http(writer: Writer, client: httpx.AsyncClient, map_id: str, stop: trio.Event) -> None:
    """An agent posting ops with the browser's cookie: the proxy sends it where the stream is."""
    while not stop.is_set():
        attempt = writer.new_attempt()
        try:
            response = await client.post(
                f"/m/{map_id}/ops", json={"ops": [marker(attempt.feature_id, len(writer.attempts))]}
            )
        except httpx.TransportError as exc:
            writer.done(attempt, error=repr(exc))
            continue
        if response.status_code == 200:
            writer.done(attempt, version=response.json()["version"])
        else:
            writer.done(attempt, error=f"{response.status_code} {response.text[:200]}")


async def write_over_mcp(
    writer: Writer, url: str, map_id: str, stop: trio.Event, upstreams: list[str]
) -> None:
    """An agent calling draw with the SDK's client (stateless era) and no cookies, so its
    calls land on either process; after a failed call it starts a new client, as an agent's
    host would."""
    while not stop.is_set():
        http = recording_client(upstreams, keep_cookies=False)
        try:
            async with Client(streamable_http_client(url + "mcp", http_client=http)) as agent:
                while not stop.is_set():
                    attempt = writer.new_attempt()
                    item = {"at": [1.5, 2.5], "id": attempt.feature_id}
                    arguments = {"map_id": map_id, "items": [item], "fit": False}
                    try:
                        result = await agent.call_tool("draw", arguments)
                    except Exception as exc:
                        writer.done(attempt, error=repr(exc))
                        raise
                    if result.is_error:
                        writer.done(attempt, error=str(result.content))
                    else:
                        writer.done(attempt, version=result.structured_content["version"])
        except Exception:  # the call (or the client's first request) failed: try a new client
            continue
        finally:
            await http.aclose()


def feature_ids(data: dict[str, Any]) -> list[str]:
    return [f["id"] for f in data.get("features", [])]


async def test_a_browser_stream_survives_kill_9_of_its_process(tmp_path: Path) -> None:
    async with open_topology(tmp_path / "local") as topology:
        browser = httpx.AsyncClient(base_url=topology.url, timeout=10, follow_redirects=True)
        page = await browser.get("/")
        assert page.status_code == 200 and "mapsrv_user" in browser.cookies
        map_id = page.url.path.rsplit("/", 1)[1]
        # An agent that holds the browser's cookie: the proxy sends it where the stream is.
        agent_http = httpx.AsyncClient(base_url=topology.url, cookies=browser.cookies, timeout=10)
        async with trio.open_nursery() as streams:
            watcher = Watcher(browser, f"/m/{map_id}/events")
            with trio.fail_after(10):
                await streams.start(watcher.serve)
            doomed = topology.backend_at(watcher.upstreams[0])
            survivor = next(b for b in topology.backends if b is not doomed)

            writers = [Writer("http"), Writer("mcp")]
            mcp_upstreams: list[str] = []
            stop = trio.Event()

            def acked_and_seen(at_least: int, after: float = float("-inf")) -> bool:
                """Every agent has ``at_least`` acks for writes started after ``after``, and the
                tab has every version acknowledged so far."""
                if any(len(w.acked(after)) < at_least for w in writers):
                    return False
                return all(a.version in watcher.arrived for w in writers for a in w.acked())

            async with trio.open_nursery() as writing:
                writing.start_soon(write_over_http, writers[0], agent_http, map_id, stop)
                writing.start_soon(write_over_mcp, writers[1], topology.url, map_id, stop, mcp_upstreams)
                await wait_until(lambda: acked_and_seen(10), timeout=30)

                os.kill(doomed.pid, signal.SIGKILL)
                killed = trio.current_time()
                await wait_until(
                    lambda: len(watcher.connected_at) >= 2 and acked_and_seen(10, killed), timeout=30
                )
                stop.set()

            final = await agent_http.get(f"/m/{map_id}/state")
            assert final.status_code == 200, final.text
            state = final.json()
            with trio.fail_after(10):
                await watcher.wait_for(lambda: watcher.last_version >= state["version"])
            streams.cancel_scope.cancel()

        # run.sh brings the dead process back on its port; it serves the map from Redis.
        restarted = await topology.restart_dead(doomed.name)
        assert restarted.url == doomed.url and restarted.pid != doomed.pid
        async with httpx.AsyncClient(base_url=restarted.url, cookies=browser.cookies) as direct:
            assert (await direct.get(f"/m/{map_id}/state")).json() == state
        await agent_http.aclose()
        await browser.aclose()

    # The stream moved to the other process once, and the proxy never refused it.
    assert watcher.refused == []
    assert len(watcher.connected_at) == 2, watcher.upstreams
    assert topology.backend_at(watcher.upstreams[1]) is survivor
    # Its history: the first snapshot, then every version once, in order, with no gap.
    kinds = [kind for kind, _, _ in watcher.events]
    assert kinds == ["snapshot"] + ["change"] * (len(kinds) - 1), "a resume fell back to a snapshot"
    versions = [version for _, version, _ in watcher.events]
    assert versions == list(range(versions[0], versions[0] + len(versions)))
    history = {version: feature_ids(data) for kind, version, data in watcher.events if kind == "change"}
    # Every acknowledged write is there, as the very version its ack reported.
    attempts = [a for w in writers for a in w.attempts]
    acked = [a for a in attempts if a.version is not None]
    for attempt in acked:
        assert history.get(attempt.version) == [attempt.feature_id], attempt
    # A write that failed may have been applied, once at most; nothing else was.
    drawn = [fid for ids in history.values() for fid in ids]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) <= {a.feature_id for a in attempts}
    # The final state through the proxy has every acknowledged feature, and what the tab drew.
    assert state["version"] == watcher.last_version
    assert {f["id"] for f in state["features"]} == set(drawn) >= {a.feature_id for a in acked}

    ended = next(t for t in watcher.ended_at if t >= killed)
    reconnected = watcher.connected_at[1]
    before = [a for a in acked if a.started < killed]
    caught_up = max(watcher.arrived[a.version] for a in before)
    first_new = min(watcher.arrived[a.version] for a in acked if a.started > killed)
    failed = {w.name: sum(a.error is not None for a in w.attempts) for w in writers}
    applied_anyway = {a.feature_id for a in attempts if a.error} & set(drawn)

    def ms(t: float) -> str:
        return f"{(t - killed) * 1000:.0f} ms"

    print(
        f"\nfailover: kill -9 of {doomed.name} (the stream's process) -> stream cut {ms(ended)}, "
        f"resumed on {survivor.name} {ms(reconnected)}, every write acknowledged before the kill "
        f"on the page {ms(max(caught_up, reconnected))}, full state with the first write made after "
        f"the kill {ms(first_new)}; writes: {len(acked)} acknowledged, failed per agent {failed}, "
        f"of which applied anyway {sorted(applied_anyway)}; versions 1..{state['version']}; "
        f"stream upstreams {watcher.upstreams}; MCP calls per upstream "
        f"{ {u: mcp_upstreams.count(u) for u in sorted(set(mcp_upstreams))} }"
    )


def recording_client(upstreams: list[str], *, keep_cookies: bool = True, **kwargs: Any) -> httpx2.AsyncClient:
    """An HTTP client for the SDK's transports that notes which backend answered each request."""

    async def note(response: httpx2.Response) -> None:
        upstreams.append(response.headers.get("x-mapsrv-upstream", ""))

    async def drop_cookies(request: httpx2.Request) -> None:
        request.headers.pop("cookie", None)

    kwargs.setdefault("timeout", httpx2.Timeout(30, read=300))
    hooks: dict[str, list[Any]] = {"response": [note]}
    if not keep_cookies:
        hooks["request"] = [drop_cookies]
    return httpx2.AsyncClient(event_hooks=hooks, **kwargs)


async def draw(agent: Client, map_id: str | None = None, markers: int = 3) -> str:
    if map_id is None:
        created = await agent.call_tool("create_map", {"title": "through the proxy"})
        assert not created.is_error, created.content
        map_id = created.structured_content["map_id"]
    for i in range(markers):
        result = await agent.call_tool("draw", {"map_id": map_id, "items": [{"at": [i, i]}], "fit": False})
        assert not result.is_error, result.content

    # a client without the affinity cookie may read on the other process, which has the writes
    # once Redis has carried them there (milliseconds): counted when they have arrived
    async def counted() -> bool:
        return (await agent.call_tool("read", {"map_id": map_id})).structured_content["count"] >= markers

    await wait_until(counted, timeout=10)
    return map_id


async def legacy_session(url: str, transport: str) -> list[str]:
    """One session-era agent through the proxy; which backend answered each of its requests."""
    upstreams: list[str] = []

    def http_client(**kwargs: Any) -> httpx2.AsyncClient:
        return recording_client(upstreams, **kwargs)

    async with http_client() as http:
        if transport == "sse":
            target: Any = sse_client(url + "sse", httpx_client_factory=http_client)
        else:
            target = streamable_http_client(url + "mcp", http_client=http)
        async with Client(target, mode="legacy") as agent:
            assert agent.protocol_version == "2025-11-25"
            await draw(agent)
    return upstreams


async def test_mcp_clients_without_the_browser_cookie_through_the_proxy(tmp_path: Path) -> None:
    async with open_topology(tmp_path / "local") as topology:
        url = topology.url
        backends = {b.address for b in topology.backends}

        # Stateless (2026-07-28): the SDK's client as it comes ...
        async with Client(url + "mcp") as agent:
            assert agent.protocol_version == "2026-07-28"
            await draw(agent)
        # ... and one that keeps no cookie at all: its calls land on either process, and every
        # call works on the same map.
        upstreams: list[str] = []
        async with recording_client(upstreams, keep_cookies=False) as http:
            async with Client(streamable_http_client(url + "mcp", http_client=http)) as agent:
                map_id = await draw(agent)
                with trio.fail_after(30):
                    while {u.split(",")[-1].strip() for u in upstreams} != backends:
                        await draw(agent, map_id, markers=1)

        # Legacy sessions live in one process: the proxy keeps each on the process that opened
        # it (the SDK's client keeps the proxy's affinity cookie; see deploy/local/README.md).
        for transport in ("streamable-http", "sse"):
            for _ in range(6):
                upstreams = await legacy_session(url, transport)
                assert len(upstreams) >= 5 and len(set(upstreams)) == 1, (transport, upstreams)
