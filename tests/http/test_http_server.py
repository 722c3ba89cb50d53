"""``mapsrv.http.hypercorn`` beyond its keep-alive timer (tests/http/test_keep_alive.py): its fixes to
hypercorn are installed once per process however many servers start, every server gets the same
settings, an answer longer than one coalesced write still arrives whole, and a connection's
socket is found only from inside that connection."""

from __future__ import annotations

import logging
from typing import Any

import hypercorn.protocol
import pytest
import trio
from hypercorn.trio.tcp_server import TCPServer
from support.hypercorn_app import App, Running, answered, serving

from mapsrv.http.h1 import COALESCE_UP_TO, H1Protocol
from mapsrv.http.hypercorn import connection_socket, hypercorn_config


def installed() -> tuple[Any, ...]:
    """What hypercorn runs now where mapsrv patches it."""
    return (TCPServer.run, TCPServer._read_data)


def test_the_fixes_to_hypercorn_are_installed_once_however_many_servers_start() -> None:
    """A process that starts several servers (the tests, a gateway beside a server) must not
    wrap hypercorn's methods again each time: a connection would run every layer."""
    hypercorn_config("127.0.0.1", 0, graceful_timeout=1, log="tests.http_server")
    first = installed()
    assert all(getattr(method, "_mapsrv_patched", False) is True for method in first)
    assert hypercorn.protocol.H11Protocol is H1Protocol  # type: ignore[attr-defined]
    hypercorn_config("127.0.0.1", 0, graceful_timeout=1, log="tests.http_server")
    assert installed() == first


@pytest.mark.parametrize(
    ("host", "bind"),
    [
        ("127.0.0.1", "127.0.0.1:8000"),
        ("localhost", "localhost:8000"),
        ("::1", "[::1]:8000"),
        ("[::1]", "[::1]:8000"),
        ("::", "[::]:8000"),
    ],
)
def test_every_host_is_bound_as_hypercorn_reads_it(host: str, bind: str) -> None:
    assert hypercorn_config(host, 8000, graceful_timeout=1, log="tests.http_server").bind == [bind]


def test_every_server_gets_the_same_settings() -> None:
    config = hypercorn_config("127.0.0.1", 0, graceful_timeout=7, log="tests.http_server")
    assert config.keep_alive_timeout == 75  # above the 60 s idle timeout of common proxies
    assert config.graceful_timeout == 7
    assert config.h11_max_incomplete_size == 64 * 1024  # the request line and headers
    assert config.log.access_logger is None  # the "mapsrv.access" logger logs each request, with more
    assert config.log.error_logger is logging.getLogger("tests.http_server")


@pytest.mark.parametrize("size", [COALESCE_UP_TO - 100, COALESCE_UP_TO + 1, 3 * COALESCE_UP_TO])
async def test_an_answer_of_any_length_arrives_whole_after_its_head(size: int) -> None:
    """A head is held to go out with its body; a body past ``COALESCE_UP_TO`` is written on its
    own after the head instead of copied onto it. Either way the client reads it all."""
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    async with serving(App(body=body), keep_alive=30) as server:
        connection = await server.connect()
        with trio.fail_after(10):
            assert await answered(connection, server.get()) == body
            assert await answered(connection, server.get()) == body  # and the connection goes on


def test_outside_a_connection_there_is_no_socket() -> None:
    assert connection_socket() is None


async def read_until_closed(server: Running, request: bytes) -> bytes:
    async with await trio.open_tcp_stream(server.host, server.port) as stream:
        await stream.send_all(request)
        data = b""
        while part := await stream.receive_some(65536):
            data += part
        return data


async def test_an_answer_longer_than_its_content_length_is_not_sent_at_all() -> None:
    """The head is held for the body, and a body past its Content-Length cannot be framed:
    nothing goes out, and the connection closes, rather than a head whose body never comes."""
    async with serving(App(body=b"too long", declared=4), keep_alive=30) as server:
        with trio.fail_after(10):
            assert await read_until_closed(server, server.get()) == b""


async def test_an_answer_shorter_than_its_content_length_ends_its_connection() -> None:
    """A body shorter than declared ends its connection at once, so the client sees a short
    answer, not one it waits on until the keep-alive timeout."""
    async with serving(App(body=b"short", declared=10), keep_alive=30) as server:
        with trio.fail_after(10):
            data = await read_until_closed(server, server.get())
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nshort")
