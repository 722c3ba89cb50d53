"""``mapsrv.core.origins``: the memory of sources that are down, on a clock the test turns. The
backoff doubles to its cap, spread a little; one probe when it is over (half-open), a lost probe
given up after its lease; a burst of failures from before the mark does not double it; a success
forgets; thousands of distinct hosts keep it at its bound."""

from __future__ import annotations

import pytest

from mapsrv.core.origins import Origins, origin_of

DEAD = "http://dead.example:80"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def origins(clock: Clock, **kwargs: float) -> Origins:
    return Origins(clock=clock, wall=lambda: 1_700_000_000.0 + clock.now, **kwargs)  # type: ignore[arg-type]


def test_an_origin_is_its_scheme_host_and_port_named_as_given() -> None:
    assert origin_of("https://Tiles.Example.org/{z}/{x}/{y}.png") == (
        "https://tiles.example.org:443",
        "tiles.example.org",
    )
    assert origin_of("http://127.0.0.1:8080/a.geojson") == ("http://127.0.0.1:8080", "127.0.0.1")
    assert origin_of("http://[::1]:9/x")[1] == "[::1]"
    assert origin_of("https://{s}.tile.osm.org/{z}")[0] == "https://{s}.tile.osm.org:443"
    assert origin_of("http://a.example/x")[0] != origin_of("https://a.example/x")[0]
    assert origin_of("http://user:secret@a.example:81/")[1] == "a.example", "no credentials in messages"


def test_the_backoff_doubles_up_to_its_cap_with_one_probe_each_time() -> None:
    clock = Clock()
    memory = origins(clock, first=5.0, most=40.0)
    assert memory.check(DEAD) is None, "up until it fails"
    waits = []
    down = memory.failed(DEAD, "dead.example", "ConnectError")
    for _ in range(6):
        assert memory.check(DEAD) is not None and memory.check(DEAD) is not None
        waited = down.retry - (1_700_000_000.0 + clock.now)
        waits.append(waited)
        clock.now += waited + 1e-6
        assert memory.check(DEAD) is None and DEAD in memory, "the backoff is over: one probe"
        told = memory.check(DEAD)
        assert told is not None and told.probing and "being retried now" in told.describe()
        down = memory.failed(DEAD, "dead.example", "ConnectError")  # the probe failed too
    for expected, waited in zip([5, 10, 20, 40, 40, 40], waits, strict=True):
        assert expected * 0.9 - 1e-9 <= waited <= min(40, expected * 1.1) + 1e-9, waits
    assert memory.statistics().marked == 1 and memory.statistics().probes == 6
    assert memory.statistics().skipped == 6 * 3


def test_a_success_forgets_and_what_callers_are_told() -> None:
    clock = Clock()
    memory = origins(clock, first=5.0)
    down = memory.failed(DEAD, "dead.example", "no answer within 2 s")
    assert down.name == "dead.example" and down.since == 1_700_001_000.0
    text = memory.check(DEAD).describe()  # type: ignore[union-attr]
    assert text.startswith("unreachable since ") and "(no answer within 2 s), retrying after " in text
    assert text.count(" UTC") == 2 and "dead.example" not in text
    memory.succeeded(DEAD)
    assert DEAD not in memory and memory.check(DEAD) is None and len(memory) == 0
    assert memory.statistics().down == 0


def test_failures_from_before_the_mark_do_not_double_it_and_a_lost_probe_is_given_up() -> None:
    clock = Clock()
    memory = origins(clock, first=10.0, lease=30.0)
    first = memory.failed(DEAD, "dead.example", "ConnectError")
    for _ in range(20):  # the other tiles of the same image, failing after it
        assert memory.failed(DEAD, "dead.example", "ConnectError").retry == first.retry
    clock.now += 11
    assert memory.peek(DEAD) is None, "peeking does not take the probe"
    assert memory.check(DEAD) is None  # the probe; its caller is cancelled and never reports
    clock.now += 29
    assert memory.check(DEAD) is not None and memory.peek(DEAD) is not None
    clock.now += 2
    assert memory.check(DEAD) is None, "the lease is over: another probe"


def test_thousands_of_down_hosts_keep_the_memory_bounded() -> None:
    clock = Clock()
    memory = origins(clock, size=1024)
    for i in range(2000):
        memory.failed(f"http://h{i}.example:80", f"h{i}.example", "its host does not resolve")
        clock.now += 0.001
    stats = memory.statistics()
    assert len(memory) == stats.down == 1024 and stats.marked == 2000 and stats.forgotten == 2000 - 1024
    assert "http://h0.example:80" not in memory and "http://h1999.example:80" in memory
    assert memory.check("http://h0.example:80") is None, "forgotten: tried again"


def test_a_backoff_must_make_sense() -> None:
    with pytest.raises(ValueError, match="0 < first <= most"):
        Origins(first=10, most=5)
