"""Guard for the one private name of redis-py that mapsrv uses: an asyncio connection's stream,
``_writer``, which the commit writer (``mapsrv.store.redis.writer._send``) writes packed commands
to, skipping redis-py's per-write ``asyncio.wait_for``. Checked on a connection made the way the
writer makes its own (the store's client's pool), against a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import trio_asyncio
from support import RedisServer

from mapsrv.store.redis.client import open_client
from mapsrv.store.redis.url import parse_redis_url
from mapsrv.store.redis.writer import _send, pack


async def _check_connection(url: str) -> None:
    client = open_client(parse_redis_url(url), socket_timeout=2.0)
    connection = client.connection_pool.make_connection()
    try:
        await connection.connect()
        stream = getattr(connection, "_writer", None)
        assert isinstance(stream, asyncio.StreamWriter), (
            f"a connected redis-py connection's _writer is {type(stream).__name__} now, not an"
            " asyncio.StreamWriter: the commit writer (mapsrv.store.redis.writer._send) cannot write"
        )
        assert isinstance(stream.transport.get_write_buffer_size(), int)  # how _send knows to drain
        assert isinstance(connection.socket_timeout, float)  # how long _send waits for a drain
        await _send(connection, pack("SET", "guard", "1") + pack("GET", "guard"))
        replies = [await connection.read_response(), await connection.read_response()]
        assert replies == [b"OK", b"1"], f"what _send wrote was answered {replies}"
    finally:
        await connection.disconnect()
        await client.aclose()


async def test_redis_connection_keeps_its_stream_as_writer(tmp_path: Any) -> None:
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        async with trio_asyncio.open_loop():
            await trio_asyncio.aio_as_trio(_check_connection)(server.url)
    finally:
        await server.stop()
