"""What tests and benchmarks share: free ports, child processes waited for on a deadline, a
private redis-server, SSE readers that fail instead of hanging, and condition waits.

Imported as ``support`` (pytest puts tests/ on ``sys.path``; tests/bench/__init__.py does the
same for ``python -m tests.bench.run``)."""

from .processes import ServerProcess, free_port, open_listener, open_server, wait_for_port
from .redis_server import (
    RedisServer,
    SentinelSetup,
    open_primary_and_replica,
    open_redis,
    open_redis_cluster,
    open_redis_sentinel,
    redis_cli,
    replicas_online,
)
from .servers import Browser, make_config, start_server
from .sse import EventStream, SseReader, open_stream
from .waiting import IN_CI, require, wait_until

__all__ = [
    "Browser",
    "make_config",
    "start_server",
    "IN_CI",
    "EventStream",
    "RedisServer",
    "SentinelSetup",
    "ServerProcess",
    "SseReader",
    "free_port",
    "open_listener",
    "open_primary_and_replica",
    "open_redis",
    "open_redis_cluster",
    "open_redis_sentinel",
    "open_server",
    "open_stream",
    "redis_cli",
    "replicas_online",
    "require",
    "wait_for_port",
    "wait_until",
]
