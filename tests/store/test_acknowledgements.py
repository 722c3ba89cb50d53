"""Every acknowledgement is exact, under the faults people meet: two ``mapsrv serve`` processes on
one real redis-server, an agent drawing through process A (MCP ``draw``, one marker a call) and a
program writing through process B (``POST /m/<id>/ops``), each about 20 writes a second, with a
watcher on each process that reconnects as a browser does. Process A is paused (SIGSTOP) for 3 s,
then Redis is paused for 4 s. Afterwards:

- every write acknowledged as committed carries the version at which its change sits in the
  map's final log in Redis (one marker, one version, found by its label);
- a write held while the store was away says so (``provisional``), and its change is in the log;
  only Redis's pause makes writes provisional, never the process's own;
- committed acknowledgements never go backwards in real time: a write sent after another was
  acknowledged gets a higher version;
- each watcher's event ids follow one by one, except across a snapshot (an announced re-sync).
"""

from __future__ import annotations

import json
import os
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis
import trio
from bench.harness import open_server
from httpx_sse import aconnect_sse
from mcp import Client
from support import Browser, RedisServer, wait_until

from mapsrv.core.codec import event_from_wire
from mapsrv.core.events import FeaturesUpserted

PACE = 0.05  # seconds between one writer's calls: about 20 writes a second each
A_PAUSED = 3.0  # seconds process A is stopped
REDIS_PAUSED = 4.0  # seconds redis-server is stopped


@dataclass
class Ack:
    label: str
    sent: float
    answered: float
    version: int
    provisional: bool


@dataclass
class Watcher:
    """A browser's EventSource, in miniature: it reconnects with Last-Event-ID when its stream
    ends and notes every event id, and each snapshot, in order."""

    seen: list[tuple[str, int]] = field(default_factory=list)  # (kind, id)
    connections: int = 0

    async def run(self, client: httpx.AsyncClient, path: str) -> None:
        last: str | None = None
        while True:
            headers = {"Last-Event-ID": last} if last is not None else {}
            self.connections += 1
            try:
                async with aconnect_sse(client, "GET", path, headers=headers, timeout=None) as source:
                    async for sse in source.aiter_sse():
                        if sse.event in ("snapshot", "change") and sse.id:
                            self.seen.append((sse.event, int(sse.id)))
                            last = sse.id
            except httpx.TransportError:
                pass  # the process was stopped or the connection dropped: reconnect
            await trio.lowlevel.checkpoint()

    def gaps(self) -> list[str]:
        """Where an id does not follow the one before it, other than at a snapshot."""
        found = []
        for (_, before), (kind, after) in zip(self.seen, self.seen[1:], strict=False):
            if kind == "snapshot":
                continue
            if after != before + 1:
                found.append(f"{before} -> {after}")
        return found


def acknowledged(label: str, sent: float, answer: dict[str, Any]) -> Ack:
    return Ack(label, sent, trio.current_time(), answer["version"], bool(answer.get("provisional")))


def final_log(redis_url: str, map_id: str) -> dict[int, list[str]]:
    """The map's committed log in Redis: each version and the labels of the markers it added."""
    client = redis.Redis.from_url(redis_url)
    try:
        entries = client.xrange(f"mapsrv:{{{map_id}}}:log")
    finally:
        client.close()
    log: dict[int, list[str]] = {}
    for entry_id, fields in entries:
        event = event_from_wire(fields[b"e"])
        assert int(entry_id.split(b"-")[0]) == event.version
        labels = [f.label or "" for f in event.features] if isinstance(event, FeaturesUpserted) else []
        log[event.version] = labels
    return log


def backwards(acks: list[Ack]) -> list[str]:
    """Committed acknowledgements whose version is not above one acknowledged before the write
    was sent."""
    committed = sorted((a for a in acks if not a.provisional), key=lambda a: a.answered)
    found = []
    for write in committed:
        earlier = [a for a in committed if a.answered < write.sent]
        if earlier:
            top = max(earlier, key=lambda a: a.version)
            if write.version <= top.version:
                found.append(f"{write.label} v{write.version} after {top.label} v{top.version}")
    return found


async def test_every_acknowledgement_is_exact_through_a_paused_process_and_a_paused_redis(
    redis_server: RedisServer,
) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_server("--store", redis_server.url))
        b = await stack.enter_async_context(open_server("--store", redis_server.url))
        person = Browser(a.url)
        stack.push_async_callback(person.aclose)
        map_id = await person.new_map()
        on_b = Browser(b.url, person.client.cookies)
        stack.push_async_callback(on_b.aclose)
        for proc in (person, on_b):  # the watchers' clients: no timeout on a stream's reads
            proc.client.timeout = httpx.Timeout(10, read=None)
        watchers = {"a": Watcher(), "b": Watcher()}
        watching = await stack.enter_async_context(trio.open_nursery())
        stack.callback(watching.cancel_scope.cancel)  # before the clients close (LIFO)
        watching.start_soon(watchers["a"].run, person.client, f"/m/{map_id}/events")
        watching.start_soon(watchers["b"].run, on_b.client, f"/m/{map_id}/events")

        acks: list[Ack] = []
        refused: list[str] = []
        stop = trio.Event()

        async def agent() -> None:
            async with Client(a.url + "mcp") as client:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    label, sent = f"a{i}", trio.current_time()
                    item = {"at": [i % 80, 1], "label": label}
                    result = await client.call_tool("draw", {"map_id": map_id, "items": [item], "fit": False})
                    if result.is_error:
                        refused.append(f"{label}: {result.content}")
                    else:
                        done: dict[str, Any] = result.structured_content or {}
                        acks.append(
                            Ack(
                                label,
                                sent,
                                trio.current_time(),
                                done["version"],
                                bool(done.get("provisional")),
                            )
                        )
                    await trio.sleep(PACE)

        async def program() -> None:
            for i in range(100_000):
                if stop.is_set():
                    return
                label, sent = f"b{i}", trio.current_time()
                op = {"op": "add_feature", "type": "marker", "coords": [i % 80, 2], "label": label}
                response = await on_b.ops(map_id, op)
                if response.status_code != 200:
                    refused.append(f"{label}: {response.status_code} {response.text}")
                else:
                    acks.append(acknowledged(label, sent, response.json()))
                await trio.sleep(PACE)

        async with trio.open_nursery() as writers:
            writers.start_soon(agent)
            writers.start_soon(program)
            await wait_until(lambda: len(acks) >= 40, timeout=20)
            os.kill(a.pid, signal.SIGSTOP)
            try:
                await trio.sleep(A_PAUSED)  # the fault's length: the scenario, not a wait
            finally:
                os.kill(a.pid, signal.SIGCONT)
            resumed = len(acks)
            await wait_until(lambda: len(acks) >= resumed + 60, timeout=20)
            redis_stopped = trio.current_time()
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            try:
                await trio.sleep(REDIS_PAUSED)
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)
                redis_back = trio.current_time()
            back = len(acks)
            await wait_until(lambda: len(acks) >= back + 60, timeout=20)
            stop.set()

        async def settled() -> bool:
            ready = [(await c.client.get("/ready")).status_code == 200 for c in (person, on_b)]
            states = [await c.state(map_id) for c in (person, on_b)]
            return all(ready) and states[0] == states[1]

        await wait_until(settled, timeout=30)
        total = (await person.state(map_id))["version"]
        await wait_until(
            lambda: all(w.seen and w.seen[-1][1] == total for w in watchers.values()), timeout=20
        )

    log = final_log(redis_server.url, map_id)
    assert sorted(log) == list(range(1, total + 1)), "the log holds every version once"
    where = {label: version for version, labels in log.items() for label in labels}
    assert len(where) == sum(len(labels) for labels in log.values()), "no marker applied twice"
    assert not refused, f"refused: {refused[:5]}"
    lost = [ack.label for ack in acks if ack.label not in where]
    assert not lost, f"acknowledged but not in the log: {lost}"
    wrong = [
        f"{ack.label} acknowledged v{ack.version}, in the log at v{where[ack.label]}"
        for ack in acks
        if not ack.provisional and where[ack.label] != ack.version
    ]
    assert not wrong, f"{len(wrong)} acknowledgements name another write's version: {wrong[:5]}"
    assert not backwards(acks), f"acknowledgements went backwards: {backwards(acks)[:5]}"
    for name, watcher in watchers.items():
        assert not watcher.gaps(), f"watcher on {name} skipped ids: {watcher.gaps()[:5]}"
    # Only Redis's pause makes writes provisional: a process that was stopped and runs again
    # finds its store connection well (the time it spent stopped is not Redis's silence).
    early = [
        f"{a.label} sent at {a.sent - redis_stopped:+.2f} s"
        for a in acks
        if a.provisional and not (redis_stopped - 0.5 <= a.sent <= redis_back + 2.0)
    ]
    assert not early, f"provisional outside Redis's pause (relative to it): {early[:5]}"
    print(json.dumps({"acks": len(acks), "provisional": sum(a.provisional for a in acks), "versions": total}))
