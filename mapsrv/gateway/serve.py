"""``serve_gateway(config, servers)``: children, sessions and hypercorn in one nursery, and the
SIGTERM drain (not ready, then sessions end, then the children's groups are gone)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import hypercorn.trio
import trio

from mapsrv.gateway.app import GatewayApp
from mapsrv.gateway.config import GatewayConfig, ServerSpec
from mapsrv.gateway.forward import Forwarder, Owners
from mapsrv.gateway.runner import Children
from mapsrv.gateway.sessions import Sessions
from mapsrv.http.hypercorn import hypercorn_config

__all__ = ["Gateway", "serve_gateway"]

log = logging.getLogger("mapsrv.gateway")


@dataclass
class Gateway:
    config: GatewayConfig
    sessions: Sessions
    children: Children
    url: str
    _shutdown: trio.Event = field(default_factory=trio.Event)

    def shutdown(self) -> None:
        self._shutdown.set()


async def serve_gateway(
    config: GatewayConfig,
    servers: list[ServerSpec],
    *,
    task_status: trio.TaskStatus[Gateway] = trio.TASK_STATUS_IGNORED,
) -> None:
    children = Children(allow_env=config.child_env, max_line=config.max_line, grace=config.kill_grace)
    sessions = Sessions(config, children, servers)
    if config.peer_url:
        sessions.forwarder = Forwarder(
            Owners(config.peer_url, config.peer_key), config.max_body_size, config.peer_timeout
        )
    shutdown = trio.Event()
    app = GatewayApp(config, sessions, shutdown.is_set)
    async with trio.open_nursery() as outer:  # children outlive the sessions that use them
        await outer.start(children.serve)
        async with trio.open_nursery() as nursery:
            await nursery.start(sessions.serve)
            stopping = trio.Event()
            http_done = trio.Event()

            async def serve_http(*, task_status: trio.TaskStatus[list[str]]) -> None:
                try:
                    asgi_app: Any = app
                    await hypercorn.trio.serve(
                        asgi_app,
                        hypercorn_config(
                            config.host,
                            config.port,
                            graceful_timeout=config.graceful_timeout,
                            log="mapsrv.gateway.http",
                        ),
                        shutdown_trigger=stopping.wait,
                        task_status=task_status,
                    )
                finally:
                    http_done.set()

            binds: list[str] = await nursery.start(serve_http)
            gateway = Gateway(config, sessions, children, binds[0], shutdown)
            log.info("mapsrv gateway listening on %s", binds[0], extra={"servers": [s.name for s in servers]})
            task_status.started(gateway)
            await shutdown.wait()
            await _drain(config, sessions)
            stopping.set()
            with trio.move_on_after(1):
                await http_done.wait()
            log.info("stopped")
            nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()
    if sessions.forwarder is not None:
        with trio.CancelScope(shield=True):
            await sessions.forwarder.aclose()


async def _drain(config: GatewayConfig, sessions: Sessions) -> None:
    """Not ready (new sessions refused), calls in flight finish, then every session ends and
    every child's group is gone."""
    log.info("draining: not ready; stopping in %g s", config.drain_delay)
    sessions.draining = True
    await trio.sleep(config.drain_delay)
    with trio.move_on_after(config.graceful_timeout):
        await sessions.wait_answered()
    sessions.close_all("gateway stopping")  # streams end, children get TERM then KILL
    with trio.move_on_after(config.kill_grace + 5):
        await sessions.wait_empty()
