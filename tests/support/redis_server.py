"""Private ``redis-server`` processes per test or benchmark: foreground, free ports, no
persistence unless asked, each stopped by its PID. One server (``RedisServer``, ``open_redis``), a
3-primary Redis Cluster (``open_redis_cluster``; ``slot_nodes`` says which nodes serve a key), and a
primary + 2 replicas watched by 3 Sentinels (``open_redis_sentinel``); ``redis_cli`` runs one
command against any of them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis
import trio

from .processes import free_port
from .waiting import require, wait_until

__all__ = [
    "RedisServer",
    "SentinelSetup",
    "open_redis",
    "open_redis_cluster",
    "open_redis_sentinel",
    "redis_cli",
    "slot_nodes",
]


class RedisServer:
    """A private ``redis-server`` in the foreground on a free port, stopped by its PID. ``start``
    again after ``stop`` comes back on the same port and data directory."""

    def __init__(
        self, directory: str, *, persist: bool = False, args: Sequence[str] = (), config: str = ""
    ) -> None:
        self.binary = shutil.which("redis-server")
        require(self.binary is not None, "redis-server")
        self.port = free_port()
        self.directory = directory
        self.persist = persist
        self.args = list(args)  # more options, e.g. ["--replicaof", host, port]
        self.config = config  # a config file's text (Sentinel rewrites its own file as it runs)
        if config:
            with open(os.path.join(directory, "redis.conf"), "w") as file:
                file.write(config)
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        )
        head = [str(self.binary)]
        if self.config:
            head.append(os.path.join(self.directory, "redis.conf"))
        command = [*head, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--dir", self.directory, *persistence, *self.args]  # fmt: skip
        self.process = await trio.lowlevel.open_process(command, stdout=subprocess.DEVNULL)
        await wait_until(self.answers_ping, timeout=10)

    async def answers_ping(self) -> bool:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        except OSError:
            return False
        async with stream:
            try:
                await stream.send_all(b"PING\r\n")
                return (await stream.receive_some(64)).startswith((b"+PONG", b"-NOAUTH"))  # up
            except trio.BrokenResourceError:  # still starting
                return False

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with trio.move_on_after(10):
                await self.process.wait()
            self.process.kill()
        self.process = None


@asynccontextmanager
async def open_redis() -> AsyncIterator[str]:
    """A private redis-server on a free port (no persistence); yields its URL."""
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(directory)
        await server.start()
        try:
            yield server.url
        finally:
            with trio.CancelScope(shield=True):
                await server.stop()


def replicas_online(port: int) -> int:
    """How many replicas the server's ``ROLE`` lists as online (-1: it is a replica itself)."""
    plain = redis.Redis(port=port, single_connection_client=True)
    try:
        role: Any = plain.execute_command("ROLE")
        return len(role[2]) if role[0] == b"master" else -1
    finally:
        plain.close()


@asynccontextmanager
async def open_primary_and_replica(directory: str) -> AsyncIterator[tuple[RedisServer, RedisServer]]:
    """A redis-server and one replica of it (in ``directory``), once the replica is online."""
    os.makedirs(primary_dir := os.path.join(directory, "primary"))
    os.makedirs(replica_dir := os.path.join(directory, "replica"))
    primary = RedisServer(primary_dir)
    await primary.start()
    replica = RedisServer(replica_dir, args=["--replicaof", "127.0.0.1", str(primary.port)])
    try:
        await replica.start()
        await wait_until(lambda: replicas_online(primary.port) == 1, timeout=10)
        yield primary, replica
    finally:
        with trio.CancelScope(shield=True):
            await replica.stop()
            await primary.stop()


async def redis_cli(port: int, *command: str | int, password: str | None = None) -> str:
    """One command through ``redis-cli`` (a real client, as an operator would type it)."""
    binary = shutil.which("redis-cli")
    require(binary is not None, "redis-cli")
    auth = ["-a", password, "--no-auth-warning"] if password else []
    args = [str(binary), "-h", "127.0.0.1", "-p", str(port), *auth, *map(str, command)]
    with trio.fail_after(20):
        done = await trio.run_process(args, capture_stdout=True, capture_stderr=True)
    return str(done.stdout.decode())


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


async def _servers(
    stack: AsyncExitStack, directory: str, count: int, args: Sequence[str], *, cluster: bool = False
) -> list[RedisServer]:
    servers = []
    for i in range(count):
        path = os.path.join(directory, f"node{i}")
        os.mkdir(path)
        server = RedisServer(path, args=args)
        if cluster:
            server.port = _free_cluster_port()
        await server.start()
        stack.push_async_callback(_stop_shielded, server)
        servers.append(server)
    return servers


async def _stop_shielded(server: RedisServer) -> None:
    with trio.CancelScope(shield=True):
        await server.stop()


@asynccontextmanager
async def open_redis_cluster(
    primaries: int = 3, replicas: int = 0, *, password: str | None = None
) -> AsyncIterator[list[RedisServer]]:
    """A Redis Cluster of ``primaries`` nodes and ``replicas`` replicas of each, every slot
    covered and every replica online; yields every node (which is which: ``slot_nodes``, or
    ``CLUSTER NODES``). With ``password``, every node asks for it, of clients and of each other."""
    with tempfile.TemporaryDirectory() as directory:
        async with AsyncExitStack() as stack:
            args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
            if password:
                args += ["--requirepass", password, "--masterauth", password]
            nodes = await _servers(stack, directory, primaries * (1 + replicas), args, cluster=True)
            await redis_cli(
                nodes[0].port, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                "--cluster-replicas", str(replicas), "--cluster-yes", password=password,
            )  # fmt: skip

            async def ready() -> bool:
                for node in nodes:
                    info = await redis_cli(node.port, "CLUSTER", "INFO", password=password)
                    role = await redis_cli(node.port, "ROLE", password=password)
                    if "cluster_state:ok" not in info:
                        return False
                    if role.startswith("master") and role.count("\n") < 2 + 3 * replicas:
                        return False  # ROLE lists 3 lines per replica online
                return True

            await wait_until(ready, timeout=20)
            yield nodes


def slot_nodes(port: int, key: str, password: str | None = None) -> tuple[int, list[int]]:
    """The ports of the Cluster primary that holds ``key``'s slot now and of its replicas."""
    plain = redis.Redis(port=port, password=password)
    slot = int(plain.execute_command("CLUSTER", "KEYSLOT", key))
    lines = [line.split() for line in plain.execute_command("CLUSTER", "NODES").decode().splitlines()]
    plain.close()
    ports = {fields[0]: int(fields[1].split("@")[0].rsplit(":", 1)[1]) for fields in lines}
    for fields in lines:
        for held in fields[8:]:
            low, _, high = held.partition("-")
            if "master" in fields[2] and int(low) <= slot <= int(high or low):
                return ports[fields[0]], [ports[f[0]] for f in lines if f[3] == fields[0]]
    raise AssertionError(f"no node holds slot {slot}")


@dataclass
class SentinelSetup:
    primary: RedisServer
    replicas: list[RedisServer]
    sentinels: list[RedisServer]
    service: str = "mapsrv"

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    async def primary_port(self) -> int:
        """The primary's port as the first Sentinel tells it now."""
        reply = await redis_cli(self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(reply.split()[1])


@asynccontextmanager
async def open_redis_sentinel() -> AsyncIterator[SentinelSetup]:
    """A primary, two replicas in sync with it, and 3 Sentinels (quorum 2) that know them all."""
    with tempfile.TemporaryDirectory() as directory:
        async with AsyncExitStack() as stack:
            (primary,) = await _servers(stack, directory, 1, [])
            replicas = []
            for i in range(2):  # two, so that a promoted one still has a replica to confirm writes
                path = os.path.join(directory, f"replica{i}")
                os.mkdir(path)
                replica = RedisServer(path, args=["--replicaof", "127.0.0.1", str(primary.port)])
                await replica.start()
                stack.push_async_callback(_stop_shielded, replica)
                replicas.append(replica)
            sentinels = []
            for i in range(3):
                path = os.path.join(directory, f"sentinel{i}")
                os.mkdir(path)
                # down-after 1.5 s: at 1 s, on a busy machine, a Sentinel now and then found the
                # replica it had just promoted silent for a second and failed over again; the
                # first new primary then had no replica online until the Sentinels demoted it
                # (about 10 s later), so no commit could be confirmed meanwhile
                config = (
                    f"sentinel monitor mapsrv 127.0.0.1 {primary.port} 2\n"
                    "sentinel down-after-milliseconds mapsrv 1500\n"
                    "sentinel failover-timeout mapsrv 4000\n"
                )
                sentinel = RedisServer(path, args=["--sentinel"], config=config)
                await sentinel.start()
                stack.push_async_callback(_stop_shielded, sentinel)
                sentinels.append(sentinel)
            setup = SentinelSetup(primary, replicas, sentinels)

            async def known() -> bool:
                for replica in replicas:
                    if "master_link_status:up" not in await redis_cli(replica.port, "INFO", "replication"):
                        return False
                for s in sentinels:
                    known = await redis_cli(s.port, "SENTINEL", "REPLICAS", "mapsrv")
                    others = await redis_cli(s.port, "SENTINEL", "SENTINELS", "mapsrv")
                    if any(str(r.port) not in known for r in replicas) or others.count("runid") < 2:
                        return False
                return True

            await wait_until(known, timeout=30)
            yield setup
