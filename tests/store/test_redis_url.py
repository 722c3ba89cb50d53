"""Store URLs for one Redis, Sentinel and Cluster: what each names, and the errors that say what
is wrong (checked by ``Config`` before anything connects)."""

from __future__ import annotations

import pytest

from mapsrv.config import Config, ConfigError
from mapsrv.store.redis.url import RedisTarget, parse_redis_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", RedisTarget("single", "redis://127.0.0.1:6379/0")),
        (
            "rediss://h:6380/2?wait_replicas=1",
            RedisTarget("single", "rediss://h:6380/2", wait_replicas=1),
        ),
        (
            "redis+sentinel://:pw@s1:26379,s2:26379/mymaster/3?sentinel_password=sp",
            RedisTarget(
                "sentinel",
                "redis+sentinel://:pw@s1:26379,s2:26379/mymaster/3?sentinel_password=sp",
                (("s1", 26379), ("s2", 26379)),
                service="mymaster",
                db=3,
                password="pw",
                sentinel_password="sp",
                wait_replicas=1,
            ),
        ),
        (
            "redis+sentinel://s1:26379/mymaster?wait_replicas=2",
            RedisTarget(
                "sentinel",
                "redis+sentinel://s1:26379/mymaster?wait_replicas=2",
                (("s1", 26379),),
                service="mymaster",
                wait_replicas=2,
            ),
        ),
        (
            "rediss+cluster://app:secret@n1:7000,n2:7001",
            RedisTarget(
                "cluster",
                "rediss+cluster://app:secret@n1:7000,n2:7001",
                (("n1", 7000), ("n2", 7001)),
                username="app",
                password="secret",
                tls=True,
            ),
        ),
    ],
)
def test_each_url_form_names_its_target(url: str, expected: RedisTarget) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://s1:26379", "name the service"),
        ("redis+sentinel://s1:26379/a/b", "name the service"),
        ("redis+cluster://n1:7000/1", "only database 0"),
        ("redis+cluster://n1", "every node must be host:port, got 'n1'"),
        ("redis+sentinel://s1:26379/m?wait_replicas=all", "wait_replicas must be a whole number"),
        ("mongodb://x", "unknown scheme 'mongodb'"),
    ],
)
def test_a_bad_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_redis_url(url)


def test_config_takes_sentinel_and_cluster_urls_and_refuses_bad_ones() -> None:
    for url in ("redis+sentinel://s1:26379,s2:26379/mapsrv/0", "redis+cluster://n1:7000,n2:7001"):
        assert Config.from_sources({"MAPSRV_STORE": url}).store == url
    with pytest.raises(ConfigError, match="name the service"):
        Config.from_sources({"MAPSRV_STORE": "redis+sentinel://s1:26379"})
