"""redis-py's asyncio client for a store URL's target (``mapsrv.store.redis.url``): one server, the
primary a Sentinel names, or a Cluster; with the timeouts the link's breaker counts on and one
retry on a connection Redis closed while restarting."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from mapsrv.store.redis.url import RedisTarget

__all__ = ["open_client"]


def open_client(target: RedisTarget, *, socket_timeout: float) -> Any:
    """redis-py's asyncio client for this target. Call inside the asyncio loop."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "health_check_interval": 10,
        # After Redis restarts, the pool's first call on each old connection fails ("closed by
        # server"): try once more on a fresh one. Safe for every call (commits carry batch ids);
        # not on timeouts, where a hung Redis must trip the breaker, not be waited twice.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    }
    if target.kind == "single":
        return aioredis.Redis.from_url(target.url, **options)
    auth: dict[str, Any] = {"username": target.username, "password": target.password, "ssl": target.tls}
    if target.kind == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        sentinels = Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes),
            sentinel_kwargs={
                "socket_timeout": socket_timeout,
                "socket_connect_timeout": socket_timeout,
                "password": target.sentinel_password,
            },
        )
        return sentinels.master_for(target.service, db=target.db, **auth, **options)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        **auth,
        **options,
    )
