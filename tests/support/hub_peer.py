"""A map hub in a process of its own, on a shared store, driven line by line over stdin/stdout:
the other process of a two-process test (``open_hub_peer``). Each line in is a JSON command, each
line out its JSON answer:

    {"do": "apply", "map": id, "ops": [raw op, ...], "actor": {"id", "name"}, "base_version": n?}
    {"do": "undo" | "redo", "map": id, "actor": {...}}
    {"do": "state", "map": id}            -> {"version", "features": {id: [lat, lon]}, "changes": [...]}
    {"do": "wait", "map": id, "version": n}   until this process's copy reaches that version

An error answers {"error": code, "message": ...}."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

__all__ = ["HubPeer", "open_hub_peer"]

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # what makes ``support`` importable


class HubPeer:
    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some()
            if not chunk:
                raise EOFError("the hub peer exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def call(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(json.dumps(command).encode() + b"\n")
        with trio.fail_after(10):
            return await self._line()


@asynccontextmanager
async def open_hub_peer(store_url: str) -> AsyncIterator[HubPeer]:
    """``python -m support.hub_peer STORE_URL`` in a child process, stopped by its PID."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "support.hub_peer", store_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    peer = HubPeer(process)
    try:
        with trio.fail_after(20):
            assert await peer._line() == {"ready": True}
        yield peer
    finally:
        process.terminate()
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await process.wait()
        process.kill()


# --- the child's side -------------------------------------------------------------------------------


async def _serve(store_url: str) -> None:
    from mapsrv.core import Limits
    from mapsrv.core.history import Actor
    from mapsrv.core.parse import parse_op
    from mapsrv.errors import MapsrvError
    from mapsrv.hub import MapHub
    from mapsrv.store import open_store_from_url
    from support.waiting import wait_until

    store = open_store_from_url(store_url, ttl=600, log_size=1024)
    hub = MapHub(store=store)

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        map_id = command["map"]
        actor = Actor(**command["actor"]) if "actor" in command else None
        match command["do"]:
            case "apply":
                assert actor is not None
                ops = [parse_op(raw, Limits()) for raw in command["ops"]]
                base = command.get("base_version")
                events = await hub.apply(map_id, ops, base_version=base, actor=actor)
                return {"version": events[-1].version}
            case "undo" | "redo":
                assert actor is not None
                events = await (hub.undo if command["do"] == "undo" else hub.redo)(map_id, actor)
                return {"version": events[-1].version}
            case "wait":
                entry = await hub.get(map_id)
                await wait_until(lambda: entry.state.version >= command["version"], timeout=10)
                return {"version": entry.state.version}
            case "state":
                entry = await hub.get(map_id)
                return {
                    "version": entry.state.version,
                    "features": {fid: list(f.coords) for fid, f in entry.state.features.items()},
                    "changes": [r.to_json() for r in entry.history.records()],
                }
        raise ValueError(f"unknown command {command['do']!r}")

    async with trio.open_nursery() as nursery:
        messages = await nursery.start(store.serve)
        await nursery.start(hub.serve_replication, messages)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        print(json.dumps({"ready": True}), flush=True)
        buffer = b""
        async for chunk in stdin:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    answer = await handle(json.loads(line))
                except MapsrvError as exc:
                    answer = {"error": exc.code, **exc.to_json()}
                print(json.dumps(answer), flush=True)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(_serve, sys.argv[1])
