"""``mapsrv.http.h1`` against what an attacker sends (issue 56): trailer fields that would
override the head, trailer and header floods, an error pipelined behind a running request, and a
head sent a byte at a time, alone or behind an answer in progress. Each test fails by an
assertion when its defence is removed."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os

import httpx
import pytest
import trio
from support.mcp import INITIALIZE
from support.raw_http import RawConnection
from support.servers import start_server
from support.waiting import wait_until
from test_h1 import get, served, until_closed

from mapsrv.http.h1_parser import MAX_FIELDS, RequestEvents

LIMIT = 64 * 1024  # hypercorn_config's h11_max_incomplete_size


def chunked(path: str, body: bytes, *trailers: str, headers: tuple[str, ...] = ()) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", *headers, "", ""]
    tail = "".join(f"{line}\r\n" for line in trailers)
    return "\r\n".join(head).encode() + b"%x\r\n%b\r\n0\r\n%b\r\n" % (len(body), body, tail.encode())


async def test_trailer_fields_never_become_request_headers() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(chunked("/", b"hello", "Origin: http://evil.example", "X-Forwarded-For: 6.6.6.6"))
            assert (await conn.read_response()).body == b"POST / 1.1 5hello"
            await conn.send(get("/next"))  # the connection is still good for the next request
            assert (await conn.read_response()).body == b"GET /next 1.1 0"
    names = [name for name, _ in server.app.heads[0]]
    assert b"origin" not in names and b"x-forwarded-for" not in names, server.app.heads[0]
    assert names == [b"host", b"transfer-encoding"]


async def test_a_trailer_origin_cannot_turn_an_allowed_mcp_call_away(nursery: trio.Nursery) -> None:
    """Through the whole server: before the fix the trailer's Origin made the MCP check answer 403,
    and a Content-Type sent only as a trailer turned a 400 into a 200."""
    app = await start_server(nursery)
    port = int(app.binds[0].rsplit(":", 1)[1])
    initialize = json.dumps(INITIALIZE).encode()
    json_head = (
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        "Host: 127.0.0.1",
    )
    conn = await RawConnection.open("127.0.0.1", port)
    with trio.fail_after(10):
        await conn.send(
            chunked("/mcp", initialize, "Origin: http://evil.example", headers=json_head).replace(
                b"Host: x\r\n", b""
            )
        )
        assert (await conn.read_response()).status == 200
        no_type = ("Accept: application/json, text/event-stream", "Host: 127.0.0.1")
        await conn.send(
            chunked("/mcp", initialize, "Content-Type: application/json", headers=no_type).replace(
                b"Host: x\r\n", b""
            )
        )
        assert (await conn.read_response()).status in (400, 415)


async def test_trailers_past_the_head_limit_are_refused_431_and_the_connection_closed() -> None:
    """Many short trailer lines (each dropped, but counted with the head), or one that never
    ends: 431 once past the limit, without waiting for the body timeout."""
    async with served() as server:
        for endless in (False, True):
            conn = await server.connect()
            with trio.fail_after(10):
                await conn.send(
                    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                )
                while len(server.app.seen) < 1 + endless:  # the head was read (an unfinished line
                    await trio.lowlevel.checkpoint()  # in the read that ends it counts from the next)
                line = b"X-Endless: " if endless else b"X-Trailer: " + b"t" * 29 + b"\r\n"
                flood = line + b"a" * (LIMIT + 100) if endless else line * (LIMIT // len(line) + 2)
                await conn.send(flood)  # just past the limit, then no more: it is all read when refused
                with contextlib.suppress(trio.BrokenResourceError):  # it may have been refused already
                    await conn.stream.send_eof()
                answer = await until_closed(conn)
            assert answer.startswith(b"HTTP/1.1 431 "), (endless, answer[:80])
    assert server.app.seen == ["/", "/"]  # the app saw the requests begin, never an answer of its own


async def test_an_error_pipelined_behind_a_running_request_waits_for_its_answer() -> None:
    """The first request's answer comes first, then the garbage's 400: a pipelining client reads
    each answer as its own request's."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/hold") + b"NOT HTTP AT ALL\r\n\r\n")
            while not server.app.seen:
                await trio.lowlevel.checkpoint()
            for _ in range(50):  # the garbage is parsed in the same read: its 400 must wait
                await trio.lowlevel.checkpoint()
            server.app.release.set()
            answers = await until_closed(conn)
    assert answers.startswith(b"HTTP/1.1 200 "), answers[:120]
    assert b"GET /hold 1.1 0HTTP/1.1 400 " in answers, answers[:300]


async def test_a_head_too_big_pipelined_behind_a_request_waits_too() -> None:
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/hold") + get("/big", f"X-Long: {'a' * 70_000}"))
            while not server.app.seen:
                await trio.lowlevel.checkpoint()
            server.app.release.set()
            answers = await until_closed(conn)
    assert answers.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 431 " in answers, answers[:200]
    assert server.app.seen == ["/hold"]


async def test_a_head_sent_a_byte_at_a_time_is_cut_at_the_header_timeout() -> None:
    """Keep-alive is 30 s here: without the head's own timeout the connection outlives the test."""
    async with served(header_timeout=0.5) as server:
        conn = await server.connect()
        started = trio.current_time()
        closed_at = None
        with trio.move_on_after(10):
            for byte in get("/slow") * 100:
                try:
                    await conn.send(bytes([byte]))
                except trio.BrokenResourceError:
                    closed_at = trio.current_time()
                    break
                with trio.move_on_after(0.05):  # a byte every 50 ms unless the server has ended it
                    if await conn.closed_by_server():
                        closed_at = trio.current_time()
                        break
        assert closed_at is not None, "a head trickling in for 10 s was not cut"
        assert 0.5 <= closed_at - started < 5, closed_at - started
    assert server.app.seen == []


async def test_a_head_whole_in_time_is_served_and_the_next_head_gets_its_own_time() -> None:
    async with served(header_timeout=1.0) as server:
        conn = await server.connect()
        with trio.fail_after(10):
            for _ in range(3):
                request = get("/")
                await conn.send(request[:10])
                await trio.sleep(0.6)  # the pause inside the head under test (its time is 1 s)
                await conn.send(request[10:])
                assert (await conn.read_response()).body == b"GET / 1.1 0"


@pytest.mark.parametrize("answer_after", [0.6, 1.5], ids=["answer_within_its_time", "answer_past_its_time"])
async def test_a_head_trickling_in_behind_an_answer_has_the_header_timeout_from_its_own_first_byte(
    answer_after: float,
) -> None:
    """A kept-alive client begins its next head while the answer before it is still being made
    and sends it a byte at a time. The head's time runs from its first byte: the answer ending
    neither restarts it (the keep-alive timer restarts after every answer, and the head's deadline
    goes back on it) nor does it begin at the earlier request; an answer that outlasts it still
    goes out whole, and the connection ends right after it. Nothing answers the unfinished head."""
    timeout = 1.0
    async with served(header_timeout=timeout) as server:
        conn = await server.connect()
        with trio.fail_after(5):
            await conn.send(get("/hold"))
            while not server.app.seen:
                await trio.lowlevel.checkpoint()
        # Pacing, not a wait: the next head begins a while after this request did, so a deadline
        # counted from this request would come before the head's own.
        await trio.sleep(timeout / 2)
        first_byte = trio.current_time()
        released = closed = math.inf
        answers = b""

        async def send_slowly() -> None:
            nonlocal released
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                for byte in get("/next", f"X-Pad: {'a' * 300}"):  # 15 s at this pace: never whole
                    if released == math.inf and trio.current_time() - first_byte >= answer_after:
                        server.app.release.set()
                        released = trio.current_time()
                    await conn.send(bytes([byte]))
                    await trio.sleep(0.05)  # the pace of the slow client under test

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_slowly)
            with trio.move_on_after(5 * timeout):
                answers = await until_closed(conn)
                closed = trio.current_time()
            nursery.cancel_scope.cancel()
    assert closed < math.inf, f"the connection outlived the trickling head's deadline by {4 * timeout} s"
    assert answers.startswith(b"HTTP/1.1 200 ") and answers.endswith(b"GET /hold 1.1 0"), answers[:200]
    assert answers.count(b"HTTP/1.1 ") == 1, answers
    due = max(first_byte + timeout, released)  # the head's deadline, or the answer if it is later
    assert due <= closed < due + 0.4 * timeout, (
        f"closed {closed - first_byte:.2f} s after the head's first byte, due at {due - first_byte:.2f} s"
        f" (the answer went out at {released - first_byte:.2f} s)"
    )
    assert server.app.seen == ["/hold"]


def test_the_parser_bounds_trailers_with_the_head() -> None:
    """The pure part, fed by hand: a head of 100 bytes leaves LIMIT - 100 for trailers."""
    import httptools

    events = RequestEvents(1000)
    parser = events.parser = httptools.HttpRequestParser(events)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    parser.feed_data(head)
    for i in range(40):
        parser.feed_data(b"X-%02d: %s\r\n" % (i, b"v" * 20))
        if events.failed:
            break
    assert events.failed and events.events[-1] == ("error", 431)
    assert [kind for kind, _ in events.events] == ["request", "error"]
    assert events.events[0][1][1] == [(b"host", b"x"), (b"transfer-encoding", b"chunked")]


async def test_health_answers_while_trailers_flood(nursery: trio.Nursery) -> None:
    """A chunked POST to /health needs no credentials: its trailers are refused all the same."""
    app = await start_server(nursery)
    port = int(app.binds[0].rsplit(":", 1)[1])
    conn = await RawConnection.open("127.0.0.1", port)
    with trio.fail_after(10):
        await conn.send(
            b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        )
        for _ in range(30):
            try:
                await conn.send(b"X-T: 1\r\n" * 512)
            except trio.BrokenResourceError:
                break
        answer = await until_closed(conn)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# What one connection may hold before its app reads it (README, "Limits"): the head and trailers
# (64 KiB), one read being parsed (64 KiB) and ten reads of body waiting for the app (640 KiB).
PER_CONNECTION = 64 * 1024 + 64 * 1024 + 10 * 64 * 1024


@pytest.mark.parametrize("flood", ["trailers", "headers"])
async def test_floods_on_twenty_connections_stay_within_the_bound(
    nursery: trio.Nursery, flood: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of 20 connections tries to send 4 MB of short header or trailer lines (before the fix
    every trailer line was kept, ~15 times its size in Python objects); the process grows less
    than the stated bound for 20 connections, and /health is answered meanwhile (how fast is
    printed: a timing, not a pass/fail check on a shared machine)."""
    caplog.set_level(logging.INFO, logger="mapsrv")
    app = await start_server(nursery)
    port = int(app.binds[0].rsplit(":", 1)[1])
    start = b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    start += b"Transfer-Encoding: chunked\r\n\r\n0\r\n" if flood == "trailers" else b""
    lines = b"X-T: 1\r\n" * 8192  # 64 KiB a send
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(3):  # the server's first answers cost memory of their own
            assert (await client.get("/health")).status_code == 200

    # ... and so do the places and outlines it loads in the background at start (tens of MiB the
    # first time, for seconds on a busy machine): the growth measured is the floods' alone
    def warm() -> bool:
        return any(r.getMessage().startswith("places warm in") for r in caplog.records)

    await wait_until(warm, timeout=60, what='the server\'s log line "places warm in"')
    before, peak, refused = rss(), 0, []
    slowest = 0.0
    flooding = 20

    async def flood_one() -> None:
        nonlocal flooding
        conn = await RawConnection.open("127.0.0.1", port)
        try:
            await conn.send(start)
            for _ in range(64):
                await conn.send(lines)
        except trio.BrokenResourceError:
            refused.append(True)  # the server ended it
        finally:
            flooding -= 1
            await conn.aclose()

    async def watch() -> None:
        nonlocal peak, slowest
        async with httpx.AsyncClient() as client:
            while flooding:
                peak = max(peak, rss() - before)
                began = trio.current_time()
                assert (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
                slowest = max(slowest, trio.current_time() - began)

    with trio.fail_after(30):
        async with trio.open_nursery() as floods:
            for _ in range(20):
                floods.start_soon(flood_one)
            floods.start_soon(watch)
    print(f"{flood}: peak growth {peak / 2**20:.1f} MiB, slowest /health {slowest * 1000:.0f} ms")
    assert len(refused) == 20, "every flooding connection is ended by the server"
    assert peak < 20 * PER_CONNECTION, f"grew {peak / 2**20:.1f} MiB"


async def test_a_head_of_more_than_max_fields_is_refused_431() -> None:
    """200 short fields are served; one more is refused, though the head is far under 64 KiB
    (each field parsed is a tuple: 64 KiB of them would hold ~1.2 MB)."""
    async with served() as server:
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/", *(f"X-{i}: v" for i in range(MAX_FIELDS - 1))))
            assert (await conn.read_response()).body == b"GET / 1.1 0"
        conn = await server.connect()
        with trio.fail_after(10):
            await conn.send(get("/many", *(f"X-{i}: v" for i in range(MAX_FIELDS))))
            answer = await until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert server.app.seen == ["/"]
