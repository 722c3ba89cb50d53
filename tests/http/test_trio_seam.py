"""Guard for the one private name of trio that mapsrv uses: a trio socket's standard socket,
``_sock``, whose ``fileno`` ``mapsrv.http.socket_writer`` calls on every frame it writes (one
Python call fewer per viewer per event). Without it the writer falls back to trio's own
``fileno`` (correct, a little slower): this test says so by name."""

from __future__ import annotations

import socket

import trio

from mapsrv.http.socket_writer import fileno_of


async def test_trio_socket_keeps_its_standard_socket_as_sock() -> None:
    sock = trio.socket.socket()
    inner = getattr(sock, "_sock", None)
    try:
        assert isinstance(inner, socket.socket), (
            f"trio's socket keeps no standard socket as _sock now ({type(inner).__name__}):"
            " mapsrv.http.socket_writer falls back to trio's slower fileno; find the new place or"
            " drop the shortcut"
        )
        assert inner.fileno() == sock.fileno() >= 0
        assert fileno_of(sock) == inner.fileno  # the shortcut is taken
    finally:
        sock.close()
    # The writer's safety: a closed socket's descriptor reads as -1, never a reused number.
    assert inner.fileno() == -1, "trio's _sock still has a descriptor after trio closed the socket"
