"""A commit's round trip to Redis, the two ways it goes: through the link's writer (``COMMIT`` and
``WAIT`` packed here, pipelined with the other commits waiting to go) or, on a Cluster, as one
pipeline to the node the map's slot is on. Both load the script again when Redis lost it, and
answer unavailable when fewer replicas than asked confirmed the write."""

from __future__ import annotations

from typing import Any

from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError

from mapsrv.store.contract import StoreUnavailable
from mapsrv.store.redis.link import UNAVAILABLE, RedisLink, ReplicasBehind
from mapsrv.store.redis.scripts import COMMIT
from mapsrv.store.redis.writer import pack

__all__ = ["commit_and_wait", "commit_through_writer"]


async def commit_through_writer(
    link: RedisLink, sha: str, wait_ms: int, keys: list[str], args: list[Any], n: int
) -> Any:
    """``COMMIT`` (and ``WAIT n`` in the same write) through the link's writer: packed here,
    one crossing, no redis-py command machinery. Pipelined with whatever other commits are
    waiting to go."""
    packed = pack(b"EVALSHA", sha, len(keys), *keys, *args)
    if n:
        packed += pack(b"WAIT", n, wait_ms)
    for _ in range(2):
        replies = await link.send(packed, 2 if n else 1)
        reply = replies[0]
        if isinstance(reply, NoScriptError):  # Redis restarted, or a new primary: load it
            await link.run(lambda c: c.script_load(COMMIT))
            continue
        for failed in replies:
            if isinstance(failed, ResponseError):
                # a demoted primary: READONLY ("... a read only replica."), or WAIT refused
                if "replica" in str(failed):
                    assert link.writer is not None
                    link.writer.reset = True  # its next connection asks the Sentinels
                    raise link.fail(ReadOnlyError(str(failed)))
                if isinstance(failed, UNAVAILABLE):  # full, loading, its primary down
                    raise link.fail(failed)
                raise failed
        if n and reply[0] in (1, 2) and int(replies[1]) < n:
            raise link.fail(ReplicasBehind(f"a commit reached {replies[1]} of {n} replicas in time; held"))
        return reply
    raise StoreUnavailable()


async def commit_and_wait(
    client: Any, script: Any, keys: list[str], args: list[Any], n: int, wait_ms: int
) -> Any:
    """``COMMIT`` and ``WAIT n`` in one round trip; unavailable when fewer replicas confirm.
    Only a Cluster commits this way (elsewhere the writer does), and there ``WAIT``, which has
    no key, would go to the client's default node: it goes to the node the commit went to,
    on the same connection, so that it counts that node's replicas and covers that write."""
    node = client.get_node_from_key(keys[0])
    for _ in range(2):
        async with client.pipeline(transaction=False) as pipe:  # error replies are returned
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            pipe.execute_command("WAIT", n, wait_ms, target_nodes=node)
            reply, confirmed = await pipe.execute(raise_on_error=False)
        if isinstance(reply, NoScriptError):
            await client.script_load(script.script)
            continue
        for failed in (reply, confirmed):
            # demoted: "WAIT cannot be used with replica instances" (a replica answers the
            # commit itself with MOVED, which redis-py follows)
            if isinstance(failed, ResponseError) and "replica" in str(failed):
                await client.nodes_manager.initialize()  # the next call asks where the slot is
                raise ReadOnlyError(str(failed)) from failed
            if isinstance(failed, Exception):
                raise failed
        if reply[0] in (1, 2) and int(confirmed) < n:  # committed, or found: replicas have it?
            # Not acknowledged as committed: the hub holds the batch and pushes it again by its
            # id. The breaker opens (``ReplicasBehind``), so that later writes are held at once
            # rather than each waiting for replicas that are not there, until the health check
            # sees enough replicas online again.
            raise ReplicasBehind(f"a commit reached {confirmed} of {n} replicas in time; held")
        return reply
    raise StoreUnavailable()
