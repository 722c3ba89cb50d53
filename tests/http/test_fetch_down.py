"""A source that is down is not waited on again (issue 60): through the guarded fetcher against
real sockets, a source that hangs (accepts, never answers) and one that is gone (its port closed)
cost one failure; then every fetch is refused at once with when it is tried again, and the server
they name sees no connection (its accepts counted); when the backoff is over one fetch probes
it, and once it answers it is fetched again. A 5xx marks it down, a 404 does not. Two thousand
names that do not resolve keep the memory at its bound. The memory's clock is turned by the
test, so nothing waits for a backoff."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator

import pytest
import trio
from support.flaky import Flaky, TurnedClock
from support.sources import http_answer

from mapsrv.core.origins import Origins
from mapsrv.errors import InvalidInput, SourceDown
from mapsrv.http.fetch import SourcePolicy, fetch_source

GEOJSON = json.dumps({"type": "FeatureCollection", "features": []}).encode()
OK = http_answer("200 OK", GEOJSON, "application/geo+json")


def policy(clock: TurnedClock, deadline: float = 0.5, **kwargs: float) -> SourcePolicy:
    return SourcePolicy.of(
        ("127.0.0.1",), deadline=deadline, origins=Origins(5.0, 60.0, clock=clock, **kwargs)
    )


async def test_a_hanging_source_is_refused_at_once_until_one_probe_finds_it_back(
    nursery: trio.Nursery,
) -> None:
    clock = TurnedClock()
    sources = policy(clock)
    server = Flaky(OK, "hang")
    url = f"http://127.0.0.1:{await server.serve(nursery)}/data.geojson"
    with trio.fail_after(5), pytest.raises(InvalidInput) as first:
        await fetch_source(sources, url)
    assert "did not answer within 0.5 s" in first.value.message
    assert re.search(r"'127\.0\.0\.1' is not tried again before \d\d:\d\d:\d\d UTC", first.value.message)
    assert server.accepted == 1
    with trio.fail_after(0.2), pytest.raises(SourceDown) as again:  # no connection: nothing to wait
        await fetch_source(sources, url.replace("data", "other"))
    message = again.value.message
    assert (
        message.startswith("source '127.0.0.1' is unreachable since ")
        and "(no answer within 0.5 s)" in message
    )
    assert "retrying after" in message and again.value.retry_after >= 1 and again.value.status == 503
    assert server.accepted == 1, "the source that is down was not asked again"

    clock.now += 6  # the backoff is over: one fetch probes it, and it still hangs
    with trio.fail_after(5), pytest.raises(InvalidInput, match="did not answer within"):
        await fetch_source(sources, url)
    assert server.accepted == 2
    with pytest.raises(SourceDown):
        await fetch_source(sources, url)
    clock.now += 6
    with pytest.raises(SourceDown):  # doubled: 10 s now
        await fetch_source(sources, url)
    assert server.accepted == 2

    server.mode = "answer"
    clock.now += 6
    with trio.fail_after(5):
        assert (await fetch_source(sources, url)).body == GEOJSON
    assert server.accepted == 3 and len(sources.origins) == 0, "up again: forgotten"
    assert (await fetch_source(sources, url)).body == GEOJSON
    stats = sources.origins.statistics()
    assert stats.marked == 1 and stats.probes == 2 and stats.skipped == 3


async def test_a_source_that_is_gone_is_refused_at_once_then_fetched_when_back(nursery: trio.Nursery) -> None:
    clock = TurnedClock()
    sources = policy(clock)
    server = Flaky(OK, "answer")
    url = f"http://127.0.0.1:{await server.serve(nursery)}/data.geojson"
    assert (await fetch_source(sources, url)).body == GEOJSON
    server.gone()
    with trio.fail_after(5), pytest.raises(InvalidInput, match=r"could not be fetched \(ConnectError\)"):
        await fetch_source(sources, url)
    with pytest.raises(SourceDown, match=r"\(ConnectError\), retrying after"):
        await fetch_source(sources, url)
    assert sources.origins.statistics().skipped == 1
    server.mode = "answer"
    await server.serve(nursery)  # back, on the same port
    with pytest.raises(SourceDown):
        await fetch_source(sources, url)
    clock.now += 6
    assert (await fetch_source(sources, url)).body == GEOJSON
    assert server.accepted == 2


async def test_a_5xx_marks_the_source_down_and_a_404_does_not(nursery: trio.Nursery) -> None:
    clock = TurnedClock()
    sources = policy(clock)
    missing = Flaky(http_answer("404 Not Found", b"no", "text/plain"), "answer")
    url = f"http://127.0.0.1:{await missing.serve(nursery)}/x.geojson"
    for _ in range(2):
        with pytest.raises(InvalidInput, match="answered HTTP 404"):
            await fetch_source(sources, url)
    assert missing.accepted == 2 and len(sources.origins) == 0
    failing = Flaky(http_answer("503 Service Unavailable", b"busy", "text/plain"), "answer")
    url = f"http://127.0.0.1:{await failing.serve(nursery)}/x.geojson"
    with pytest.raises(InvalidInput, match="answered HTTP 503"):
        await fetch_source(sources, url)
    with pytest.raises(SourceDown, match=r"\(HTTP 503\)"):
        await fetch_source(sources, url)
    assert failing.accepted == 1


class NoNames(trio.abc.HostnameResolver):
    async def getaddrinfo(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def getnameinfo(self, sockaddr: tuple[str, int], flags: int) -> tuple[str, str]:
        raise NotImplementedError


@pytest.fixture
async def no_names() -> AsyncIterator[None]:
    before = trio.socket.set_custom_hostname_resolver(NoNames())
    yield
    trio.socket.set_custom_hostname_resolver(before)


async def test_two_thousand_hosts_that_are_down_keep_the_memory_at_its_bound(no_names: None) -> None:
    sources = policy(TurnedClock(), deadline=10.0, size=1024)
    for i in range(2000):
        with pytest.raises(InvalidInput, match="does not resolve"):
            await fetch_source(sources, f"http://h{i}.example/a.geojson")
    stats = sources.origins.statistics()
    assert stats.down == len(sources.origins) == 1024 and stats.marked == 2000 and stats.forgotten == 976
    with pytest.raises(
        SourceDown, match=r"'h1999\.example' is unreachable since .* \(its host does not resolve\)"
    ):
        await fetch_source(sources, "http://h1999.example/b.geojson")
