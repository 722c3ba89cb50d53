"""The event loop watched for stalls: a step that keeps the loop from turning is counted, timed,
logged with the stack that was running and told apart from a wait that used no CPU; and a real
`mapsrv serve` reports stalls in /metrics and its log."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from functools import partial

import httpx
import pytest
import trio
from support import free_port, make_config, open_server, wait_until

from mapsrv.observability.stalls import REPORT, STALL, LoopWatch
from mapsrv.server import serve

STALLED = 0.3  # how long each test keeps the loop from turning, seconds


def spin_the_loop_thread(seconds: float) -> None:
    """Keeps the CPU busy in Python for ``seconds`` of this thread's CPU time (however long a
    loaded machine takes to give it that), so the watching thread can sample this frame."""
    end = time.thread_time() + seconds
    give_up = time.perf_counter() + 20 * seconds
    while time.thread_time() < end and time.perf_counter() < give_up:
        pass


async def watched_stall(block: object, watch: LoopWatch) -> None:
    """``block`` run on the loop under ``watch``, until the watch reports the stall it made. The
    watch is ready once started: its watching thread is running and its first beat taken."""
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.serve)
        block()  # type: ignore[operator]
        await wait_until(lambda: watch.last is not None, what="the watch's report of the stall")
        nursery.cancel_scope.cancel()


async def test_a_busy_stall_is_counted_timed_and_logged_with_its_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LoopWatch(lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="mapsrv.stalls"):
        await watched_stall(lambda: spin_the_loop_thread(STALLED), watch)
    stall = watch.last
    assert stall is not None
    assert STALLED - 0.05 <= stall.seconds <= 20 * STALLED
    assert stall.cpu >= STALLED * 0.8, "the loop thread's CPU time in the stall is counted"
    assert stall.samples >= 5
    assert stall.stack[0].startswith(f"{__name__}:spin_the_loop_thread:"), stall.stack
    stats = watch.statistics()
    assert stats.stalls >= 1 and stats.longest == pytest.approx(max(stats.longest, stall.seconds))
    assert stats.seconds >= stall.seconds
    assert stall.process >= stall.cpu and stats.longest_busy >= STALLED * 0.8, "the process was busy"
    assert STALLED >= REPORT > STALL
    [record] = [r for r in caplog.records if r.name == "mapsrv.stalls"]
    assert "event loop stalled" in record.getMessage() and "spin_the_loop_thread" in record.getMessage()


async def test_a_stall_that_waits_off_the_cpu_shows_little_loop_cpu() -> None:
    """A blocking call (here time.sleep) stops the loop without using the CPU: what tells an
    overloaded process from one that waited on something it should not."""
    watch = LoopWatch(lambda: 0.0)
    await watched_stall(lambda: time.sleep(STALLED), watch)  # the stall under test: a call that blocks
    stall = watch.last
    assert stall is not None and stall.seconds >= STALLED - 0.05
    assert stall.cpu < stall.seconds / 3
    assert watch.statistics().longest_busy < stall.seconds / 3, "a wait is not a busy stall"
    assert any(":watched_stall:" in frame for frame in stall.stack), stall.stack


def busy_beside(seconds: float) -> None:
    """A worker thread's work, in Python, for ``seconds`` of wall time."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_a_stall_names_the_worker_thread_busy_beside_it(caplog: pytest.LogCaptureFixture) -> None:
    """The loop stood still while a worker ran: the report says where the worker was, the first
    thing to look at when the loop waited for the interpreter (issue 60)."""
    watch = LoopWatch(lambda: 0.0)
    worker = threading.Thread(target=busy_beside, args=(3 * STALLED,))

    def stall_beside_a_worker() -> None:
        worker.start()
        time.sleep(STALLED)  # the stall under test, while the worker runs

    with caplog.at_level(logging.WARNING, logger="mapsrv.stalls"):
        await watched_stall(stall_beside_a_worker, watch)
    worker.join()
    stall = watch.last
    assert stall is not None and stall.samples >= 1
    assert stall.holder and stall.holder[0].startswith(f"{__name__}:busy_beside:"), stall.holder
    [record] = [r for r in caplog.records if r.name == "mapsrv.stalls"]
    assert "a worker thread was at " + __name__ + ":busy_beside:" in record.getMessage()


async def test_the_collectors_share_of_a_stall_is_told() -> None:
    spent = [0.0]

    def collector_seconds() -> float:
        return spent[0]

    def stall_in_the_collector() -> None:
        spin_the_loop_thread(0.2)
        spent[0] += 0.15  # as Collector.total_seconds reads after a 150 ms pass

    watch = LoopWatch(collector_seconds)
    await watched_stall(stall_in_the_collector, watch)
    assert watch.last is not None and watch.last.collector == pytest.approx(0.15)


async def test_mapsrv_serve_reports_a_paused_process_as_a_stall() -> None:
    """The real command, stopped whole (SIGSTOP, as a debugger or a frozen container does) and
    resumed: the stall is in /metrics and in the log, with the loop thread's CPU near nothing."""
    async with open_server() as process, httpx.AsyncClient(base_url=process.url) as http:
        before = _loop_metrics((await http.get("/metrics")).text)
        mark = len(process.log)  # stalls logged before (start-up's) are not the one under test
        os.kill(process.pid, signal.SIGSTOP)
        await trio.sleep(STALLED)  # how long the server stays stopped (the stall under test)
        os.kill(process.pid, signal.SIGCONT)
        await wait_until(
            lambda: _stalls_logged(process.log[mark:], at_least=STALLED - 0.05),
            timeout=10,
            what=f"a stall of {STALLED} s in the server's log",
        )
        stalls = _stalls_logged(process.log[mark:], at_least=STALLED - 0.05)
        after = _loop_metrics((await http.get("/metrics")).text)
    assert after["mapsrv_loop_stalls_total"] >= before["mapsrv_loop_stalls_total"] + 1
    assert after["mapsrv_loop_longest_stall_seconds"] >= STALLED - 0.05
    assert after["mapsrv_loop_stall_seconds_total"] >= after["mapsrv_loop_longest_stall_seconds"]
    # stopped, the process used no CPU: the stall is the machine's, not its own (the CI budget's);
    # start-up's collector pass (0.12-0.23 s of CPU, more on a loaded machine) may be the longest
    # busy one, so the stop must not have raised it past what it was
    busy_before, busy_after = (m["mapsrv_loop_longest_busy_stall_seconds"] for m in (before, after))
    assert busy_after == busy_before or busy_after < STALLED - 0.1, (busy_before, busy_after)
    # the longest since the stop is the stop's (a background load's may come beside it)
    _, cpu, line = max(stalls)
    assert cpu < 0.1, line


def _stalls_logged(log: bytes | bytearray, at_least: float) -> list[tuple[float, float, str]]:
    """The stalls of ``at_least`` seconds in a server's log: (seconds, loop thread CPU, line)."""
    found = []
    for line in log.decode().splitlines():
        if "event loop stalled" in line:
            seconds = int(line.split("stalled ")[1].split(" ms")[0]) / 1000
            cpu = int(line.split("loop thread CPU ")[1].split(" ms")[0]) / 1000
            if seconds >= at_least:
                found.append((seconds, cpu, line))
    return found


def _loop_metrics(text: str) -> dict[str, float]:
    lines = (line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mapsrv_loop_"))
    return {name: float(value) for name, value in lines}


async def test_the_start_settles_before_it_listens_and_is_not_a_stall(nursery: trio.Nursery) -> None:
    """The collector's start-up pass (``settle``, ~100 ms) runs once everything is built and
    before the socket is bound: nobody can be waiting, so it is no stall of the serving loop."""
    port = free_port()
    refused: list[bool] = []

    def settle() -> None:
        with socket.socket() as probe:
            refused.append(probe.connect_ex(("127.0.0.1", port)) != 0)
        time.sleep(STALLED)  # the pass under test, as long as it likes

    server = await nursery.start(partial(serve, settle=settle), make_config(port=port))
    assert refused == [True], "the socket was bound before the collector's pass"
    assert server.watch.statistics().longest < STALLED, "the pass before listening was counted as a stall"
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/health")).status_code == 200
    server.shutdown()
