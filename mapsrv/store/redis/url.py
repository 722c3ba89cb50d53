"""Which Redis a store URL names: one server, a Sentinel-managed primary, or a Cluster. Pure
parsing (no redis import), so that ``Config`` can check a URL before anything connects.

    redis://[[user]:password@]host:port/db          one server (also rediss:// and unix://, as
                                                    redis-py's ``from_url`` reads them)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]
                                                    the primary that these Sentinels name
                                                    ``service_name`` (rediss+sentinel: TLS to it)
    redis+cluster://[[user]:password@]host:port[,host:port...]
                                                    a Redis Cluster, found from these nodes
                                                    (rediss+cluster: TLS)

The user and password are the Redis servers'. Options in the query string:

    wait_replicas=N        after each commit, wait (Redis ``WAIT``) until N replicas have it; a
                           commit they do not confirm in time is held and pushed again by its
                           batch id, so a failover never loses an acknowledged write. Default 1
                           with Sentinel, 0 otherwise.
    sentinel_password=...  the Sentinels' own password (redis+sentinel only)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["SCHEMES", "RedisTarget", "parse_redis_url"]

SINGLE = ("redis", "rediss", "unix")
SCHEMES = (*SINGLE, "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster")


@dataclass(frozen=True)
class RedisTarget:
    kind: Literal["single", "sentinel", "cluster"]
    url: str  # a single server's URL as redis-py reads it (our own options removed)
    nodes: tuple[tuple[str, int], ...] = ()  # sentinels, or cluster nodes to start from
    service: str = ""  # the Sentinel service (primary) name
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    sentinel_password: str | None = None
    wait_replicas: int = 0


def _nodes(netloc: str, url: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    nodes = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"store url {url!r}: every node must be host:port, got {part!r}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def _int(options: dict[str, str], key: str, default: int, url: str) -> int:
    raw = options.pop(key, None)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"store url {url!r}: {key} must be a whole number, got {raw!r}")
    return int(raw)


def parse_redis_url(url: str) -> RedisTarget:
    """The target a ``redis*://`` store URL names; ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"store url {url!r}: unknown scheme {parts.scheme!r}")
    options = dict(parse_qsl(parts.query))
    if parts.scheme in SINGLE:
        wait = _int(options, "wait_replicas", 0, url)
        plain = urlunsplit(parts._replace(query=urlencode(options)))
        return RedisTarget("single", plain, wait_replicas=wait)
    userinfo = parts.netloc.rpartition("@")[0]
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    nodes = _nodes(parts.netloc, url)
    user, secret, tls = (
        unquote(username) or None,
        unquote(password) or None,
        parts.scheme.startswith("rediss"),
    )
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme.endswith("+cluster"):
        if path not in ([], ["0"]):
            raise ValueError(f"store url {url!r}: a Redis Cluster has only database 0")
        wait = _int(options, "wait_replicas", 0, url)
        return RedisTarget("cluster", url, nodes, username=user, password=secret, tls=tls, wait_replicas=wait)
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(
            f"store url {url!r}: name the service, as redis+sentinel://host:port,host:port/service_name/db"
        )
    return RedisTarget(
        "sentinel",
        url,
        nodes,
        username=user,
        password=secret,
        tls=tls,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        sentinel_password=options.pop("sentinel_password", None),
        wait_replicas=_int(options, "wait_replicas", 1, url),
    )
