"""How mapsrv and its gateway run hypercorn: one configuration, and one fix to hypercorn itself."""

from __future__ import annotations

import logging
from typing import Any

import hypercorn.config
import trio
from hypercorn.trio.tcp_server import TCPServer

__all__ = ["close_idle_connections_on_eof", "hypercorn_config"]


def hypercorn_config(host: str, port: int, *, graceful_timeout: float, log: str) -> hypercorn.config.Config:
    """Bind ``host:port`` (IPv6 in brackets), no access log of hypercorn's own (ours is richer),
    keep-alive above common proxies' 60 s idle timeout; and close connections at the client's EOF."""
    close_idle_connections_on_eof()
    hc = hypercorn.config.Config()
    bracketed = ":" in host and not host.startswith("[")
    hc.bind = [f"[{host}]:{port}" if bracketed else f"{host}:{port}"]
    hc.graceful_timeout = graceful_timeout
    hc.accesslog = None
    hc.errorlog = logging.getLogger(log)
    hc.keep_alive_timeout = 75
    hc.h11_max_incomplete_size = 64 * 1024  # request line and headers
    return hc


def close_idle_connections_on_eof() -> None:
    """Make hypercorn close a connection as soon as its client has (idempotent).

    hypercorn 0.18 (hypercorn/trio/tcp_server.py): ``TCPServer.run`` reads in ``_read_data`` inside
    a task group that also holds the keep-alive timer (``idle_task``); at EOF ``_read_data``
    returns, but the task group waits for the timer before ``_close`` runs. Stopping the timer
    when reading ends lets it close at once. This touches hypercorn privates: tests/test_connections.py
    fails when they change (and when the leak comes back)."""
    read_data: Any = TCPServer._read_data
    if getattr(read_data, "_mapsrv_patched", False):
        return

    async def read_then_stop_timer(self: Any) -> None:
        try:
            await read_data(self)
        finally:
            with trio.CancelScope(shield=True):
                await self.idle_task.stop()

    read_then_stop_timer._mapsrv_patched = True  # type: ignore[attr-defined]
    TCPServer._read_data = read_then_stop_timer  # type: ignore[method-assign]
