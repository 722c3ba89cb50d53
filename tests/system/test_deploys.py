"""What a deploy does to the people watching maps (issue 37), with real processes:

- a storm: 2,000 browsers arrive on one map at once and then leave at once while an agent keeps
  writing to another map; every stream gets its snapshot, every write is answered and reaches its
  watcher in order, and the server is back to one stream afterwards (the 10,000-stream storm and
  its timings are the benchmark's: ``python -m tests.bench.storm 10000``);
- a rolling deploy: two processes on one Redis behind deploy/local's nginx; one is told to stop
  (SIGTERM) and ends its streams in batches over ``--drain-spread``; every viewer comes back on the
  other process with ``Last-Event-ID`` and misses nothing."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio
from httpx_sse import aconnect_sse
from prometheus_client.parser import text_string_to_metric_families
from support import SseReader, wait_until
from support.nginx import open_nginx
from support.processes import open_server

ROOT = Path(__file__).resolve().parents[2]
# One load generator (or one proxy) is one client to the server: room for its streams and writes.
ROOM = (
    "--max-streams-per-client", "100000", "--rate-streams", "0", "--rate-writes", "0",
    "--rate-writes-person", "0", "--rate-maps", "0",
)  # fmt: skip
WRITE_EVERY = 0.05  # the agent's pace: 20 writes a second


def gauge(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"no {name} in /metrics")


async def new_map(http: httpx.AsyncClient, origin: str) -> tuple[str, str]:
    """A new map of this client's: its id and its view stream's path."""
    made = await http.post("/new", headers={"origin": origin}, follow_redirects=False)
    map_id = made.headers["location"].rsplit("/", 1)[1]
    view = (await http.get(f"/m/{map_id}/state")).json()["view_url"]
    return map_id, "/" + view.split("://", 1)[1].split("/", 1)[1] + "/events"


@dataclass
class Writer:
    """An agent writing to one map at a steady pace; every answer noted."""

    http: httpx.AsyncClient
    origin: str
    map_id: str
    acked: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def run(self) -> None:
        n = 0
        while True:
            n += 1
            op = {"op": "add_feature", "type": "marker", "coords": [n % 80, n % 170], "label": f"m{n}"}
            answer = await self.http.post(
                f"/m/{self.map_id}/ops", json={"ops": [op]}, headers={"origin": self.origin}
            )
            if answer.status_code != 200:
                self.refused.append(f"{answer.status_code} {answer.text[:200]}")
            else:
                self.acked.append(answer.json()["version"])
            await trio.sleep(WRITE_EVERY)


async def test_a_storm_of_2000_streams_arriving_and_leaving_while_an_agent_writes() -> None:
    count = 2000
    async with open_server(*ROOM, "--store", "memory://") as server:
        host, port = server.host_port
        origin = server.url.rstrip("/")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            _, crowd_path = await new_map(http, origin)
            busy_id, busy_path = await new_map(http, origin)
            storm = "tests.bench.storm_client"
            command = [sys.executable, "-m", storm, host, str(port), crowd_path, str(count)]
            client = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT)
            )
            assert client.stdin is not None and client.stdout is not None
            replies = client.stdout

            async def ask(command: str) -> str:
                assert client.stdin is not None
                await client.stdin.send_all(f"{command}\n".encode())
                answer = b""
                while b"\n" not in answer:
                    chunk = await replies.receive_some()
                    assert chunk, f"the storm client ended during {command!r}"
                    answer += chunk
                return answer.decode()

            writer = Writer(http, origin, busy_id)
            watcher = await SseReader.open(host, port, busy_path)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watcher.run)
                    nursery.start_soon(writer.run)
                    with trio.fail_after(120):
                        assert '"open"' in await ask("open"), "every stream had its head and first bytes"
                    scrape = (await http.get("/metrics")).text
                    assert gauge(scrape, "mapsrv_sse_connections_active") == count + 1
                    arrived = list(writer.acked)
                    with trio.fail_after(60):
                        assert '"closed"' in await ask("close")

                    async def one_stream_left() -> bool:
                        return gauge((await http.get("/metrics")).text, "mapsrv_sse_connections_active") == 1

                    await wait_until(one_stream_left, timeout=60)
                    after = len(writer.acked)
                    await wait_until(lambda: len(writer.acked) >= after + 5, timeout=30)  # writes go on
                    last = writer.acked[-1]
                    await watcher.wait_for(last, timeout=30)
                    nursery.cancel_scope.cancel()
            finally:
                client.kill()
                await watcher.aclose()
    assert writer.refused == [], writer.refused[:5]
    assert len(arrived) >= 1, "the agent wrote while the crowd arrived"
    # every acknowledged write reached the watcher, in order, through both storms
    assert writer.acked == list(range(writer.acked[0], writer.acked[-1] + 1))
    changes = [v for v in watcher.ids if v > watcher.ids[0]]
    assert changes == list(range(watcher.ids[0] + 1, last + 1))


@dataclass
class Viewer:
    """A browser's EventSource through the proxy: it follows ``retry:`` hints, comes back with
    ``Last-Event-ID``, and notes which process served each connection and every version seen."""

    key: str  # its affinity cookie: where the proxy sends it while that process is up
    upstreams: list[tuple[int, str]] = field(default_factory=list)  # (status, process) per connection
    versions: list[tuple[str, int]] = field(default_factory=list)  # ("snapshot" | "change", version)
    ended: list[float] = field(default_factory=list)  # when each connection ended
    ready: trio.Event = field(default_factory=trio.Event)

    @property
    def last(self) -> int:
        return self.versions[-1][1] if self.versions else -1

    def gaps(self) -> list[str]:
        """Versions missed or out of order: a change must follow the version before it, a
        snapshot may only move forward."""
        out = []
        for (_, before), (kind, version) in zip(self.versions, self.versions[1:], strict=False):
            if (kind == "change" and version != before + 1) or (kind == "snapshot" and version < before):
                out.append(f"{kind} {version} after {before}")
        return out

    async def run(self, url: str, path: str) -> None:
        retry = 2.0
        async with httpx.AsyncClient(base_url=url, cookies={"mapsrv_affinity": self.key}) as http:
            while True:
                headers = {"Last-Event-ID": str(self.last)} if self.versions else {}
                try:
                    async with aconnect_sse(http, "GET", path, headers=headers, timeout=None) as source:
                        response = source.response
                        # "A, B" when the proxy tried A first (a 503 while it drains) and then B
                        upstream = response.headers.get("x-mapsrv-upstream", "").split(",")[-1].strip()
                        self.upstreams.append((response.status_code, upstream))
                        if response.status_code == 200:
                            async for sse in source.aiter_sse():
                                if sse.retry is not None:
                                    retry = sse.retry / 1000
                                if sse.event in ("snapshot", "change"):
                                    self.versions.append((sse.event, int(sse.id)))
                                    self.ready.set()
                except httpx.TransportError:
                    self.upstreams.append((0, ""))
                self.ended.append(trio.current_time())
                await trio.sleep(retry)  # as EventSource waits between connections


async def test_a_rolling_deploy_moves_every_viewer_to_the_other_process_missing_nothing(
    redis_server, tmp_path: Path
) -> None:
    spread = 2.0
    viewers = [Viewer(secrets.token_hex(8)) for _ in range(120)]
    common = (*ROOM, "--store", redis_server.url, "--sse-retry", "0.2")
    async with (
        open_server(*common, "--drain-spread", str(spread), "--graceful-timeout", "5") as leaving,
        open_server(*common) as staying,
        open_nginx(tmp_path, [leaving.host_port[1], staying.host_port[1]]) as proxy,
    ):
        a, b = (f"127.0.0.1:{s.host_port[1]}" for s in (leaving, staying))
        origin = staying.url.rstrip("/")
        async with httpx.AsyncClient(base_url=staying.url, timeout=30) as http:
            map_id, path = await new_map(http, origin)  # the agent writes through the process that stays
            writer = Writer(http, origin, map_id)
            async with trio.open_nursery() as nursery:
                for viewer in viewers:
                    nursery.start_soon(viewer.run, proxy.url, path)
                await wait_until(lambda: all(v.versions for v in viewers), timeout=30)
                on_a = [v for v in viewers if v.upstreams[0] == (200, a)]
                on_b = [v for v in viewers if v.upstreams[0] == (200, b)]
                assert len(on_a) + len(on_b) == len(viewers)
                assert len(on_a) >= 20, "the proxy's hash put enough viewers on the leaving process"
                writing = trio.CancelScope()

                async def write() -> None:
                    with writing:
                        await writer.run()

                nursery.start_soon(write)
                await wait_until(lambda: len(writer.acked) >= 10, timeout=10)
                os.kill(leaving.pid, signal.SIGTERM)
                with trio.fail_after(spread + 5 + 10):
                    await leaving.process.wait()
                assert leaving.process.returncode == 0
                target = len(writer.acked) + 10  # a few more writes once it has gone
                await wait_until(lambda: len(writer.acked) >= target, timeout=10)
                writing.cancel()
                last = writer.acked[-1]
                await wait_until(lambda: min(v.last for v in viewers) >= last, timeout=20)
                nursery.cancel_scope.cancel()
    assert writer.refused == [], writer.refused[:5]
    assert writer.acked == list(range(writer.acked[0], last + 1))
    for viewer in viewers:
        assert viewer.gaps() == [], (viewer.key, viewer.gaps())
        assert viewer.last >= last
    for viewer in on_a:
        served = [upstream for status, upstream in viewer.upstreams if status == 200]
        assert served[0] == a and b in served[1:], viewer.upstreams
        assert [s for s in served[served.index(b) :] if s != b] == [], "once moved, it stays"
    for viewer in on_b:
        assert viewer.ended == [] and viewer.upstreams == [(200, b)], "the staying one's viewers never moved"
    # the leaving process ended its streams over the window, not all at once
    ends = sorted(v.ended[0] for v in on_a)
    assert ends[-1] - ends[0] >= spread / 2, f"streams ended over {ends[-1] - ends[0]:.2f} s"


async def test_a_thousand_viewers_arriving_at_once_on_a_map_another_process_holds(redis_server) -> None:
    """A deploy moves a crowd onto a process that does not hold their map yet: each viewer's
    stream needs the store (the view key, the map, who is here), all at once. Every one is
    served: none gets the 503 that redis-py's 100-connection pool, refusing the 101st call, once
    caused by looking like Redis was down."""
    count = 1000
    async with (
        open_server(*ROOM, "--store", redis_server.url) as a,
        open_server(*ROOM, "--store", redis_server.url) as b,
    ):
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
            _, path = await new_map(http, b.url.rstrip("/"))
        host, port = a.host_port
        statuses: list[bytes] = []

        async def arrive() -> None:
            """One viewer's status line, or what kept it from one (a refused or reset
            connection, a close before the head): every outcome shows in the failure."""
            try:
                stream = await trio.open_tcp_stream(host, port)
            except OSError as exc:
                statuses.append(f"not connected: {exc!r}".encode())
                return
            try:
                await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        statuses.append(b"closed before its head: " + head[:200])
                        return
                    head += chunk
                statuses.append(head.split(b"\r\n", 1)[0])
            except trio.BrokenResourceError as exc:
                statuses.append(f"broken: {exc!r}".encode())
            finally:
                await stream.aclose()

        with trio.move_on_after(120):
            async with trio.open_nursery() as nursery:
                for _ in range(count):
                    nursery.start_soon(arrive)
        async with httpx.AsyncClient(base_url=a.url) as http:
            ready = await http.get("/ready")
    outcomes = {status: statuses.count(status) for status in set(statuses)}
    unanswered = count - len(statuses)
    assert statuses.count(b"HTTP/1.1 200 ") == count, f"{unanswered} without an answer in 120 s; {outcomes}"
    assert ready.status_code == 200, "the store never looked down"
