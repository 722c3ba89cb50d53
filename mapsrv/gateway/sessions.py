"""Every open session of the gateway, by id: opening one (a child from the server's warm pool,
within the caps), finding one, ending idle ones, and counting what ended sessions did."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from mapsrv.gateway.config import GatewayConfig, ServerSpec
from mapsrv.gateway.forward import Forwarder
from mapsrv.gateway.pool import CrashBreaker, WarmPool
from mapsrv.gateway.runner import Children
from mapsrv.gateway.session import Session, SessionStats
from mapsrv.gateway.shared import SharedChildren

__all__ = ["Refused", "Sessions"]

log = logging.getLogger("mapsrv.gateway")


@dataclass
class Refused(Exception):
    """No session now: answer 503 with Retry-After."""

    reason: str
    retry_after: float


class Sessions:
    def __init__(self, config: GatewayConfig, children: Children, servers: list[ServerSpec]) -> None:
        self.config = config
        self.children = children
        self.servers = {s.name: s for s in servers}
        self.breakers = {s.name: CrashBreaker(config.crash_limit, config.crash_window) for s in servers}
        self.pools = {s.name: WarmPool(children, s, config.warm, self.breakers[s.name]) for s in servers}
        self.shared = {
            s.name: SharedChildren(
                self.pools[s.name],
                config.stateless_children,
                CrashBreaker(config.crash_limit, config.crash_window),
                config.max_line,
                call_timeout=config.call_timeout,
            )
            for s in servers
        }
        self.open: dict[str, Session] = {}
        self.ended = SessionStats()
        self.ended_by_reason: dict[str, int] = {}
        self.opened = 0
        self.spawn_seconds: list[float] = []  # drained by the metrics collector
        self.forwarder: Forwarder | None = None  # set when several processes share the sessions
        self.draining = False  # no new sessions
        self.closing = False  # no new stateless requests either: every child is being stopped
        self._nursery: trio.Nursery | None = None
        self._empty = trio.Event()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for pool in self.pools.values():
                await nursery.start(pool.serve)
            for shared in self.shared.values():
                await nursery.start(shared.serve)
            nursery.start_soon(self._expire_idle)
            task_status.started()
            await trio.sleep_forever()

    def get(self, session_id: str | None) -> Session | None:
        return self.open.get(session_id) if session_id else None

    async def open_session(self, server: str, transport: str) -> Session:
        assert self._nursery is not None
        if self.draining:
            raise Refused("the gateway is shutting down", 1)
        if len(self.open) >= self.config.max_sessions:
            raise Refused(f"{len(self.open)} sessions open, the most this gateway holds", 5)
        wait = self.breakers[server].retry_after()
        if wait:
            raise Refused(f"the {server!r} server keeps exiting at start; not starting another now", wait)
        started = trio.current_time()
        try:
            child = await self.pools[server].take("new")
        except OSError as exc:
            raise Refused(f"cannot start the {server!r} server: {exc.strerror or exc}", 5) from None
        self.spawn_seconds.append(trio.current_time() - started)
        session_id = self.forwarder.owners.new_id() if self.forwarder else None
        session = Session(
            server, child, transport, self.config.max_line, session_id, call_timeout=self.config.call_timeout
        )
        self.open[session.id] = session
        self.opened += 1
        await self._nursery.start(self._run, session)
        return session

    async def _run(self, session: Session, *, task_status: trio.TaskStatus[None]) -> None:
        try:
            await session.run(task_status=task_status)
        finally:
            self.open.pop(session.id, None)
            if not self.open:
                self._empty.set()
                self._empty = trio.Event()
            recorded = session.child.exited.is_set()  # an exit counts at once, not once reaped:
            if recorded:  # a crash loop must open the breaker before more spawns slip through
                self._record_exit(session)
            with trio.CancelScope(shield=True):
                await session.child.gone.wait()
            if not recorded:
                self._record_exit(session)
            reason = session.end_reason or "stopped"
            self.ended_by_reason[reason] = self.ended_by_reason.get(reason, 0) + 1
            self.ended.add(session.stats)
            log.info(
                "session ended",
                extra={"session": session.ref, "server": session.server, "reason": reason},
            )

    def _record_exit(self, session: Session) -> None:
        session.end_reason = session.end_reason or session.child.reason
        if session.end_reason in ("crashed", "exited"):
            self.breakers[session.server].record(session.child)

    async def _expire_idle(self) -> None:
        """A session idle longer than idle_timeout ends, even with a GET stream open; one with a
        call in flight is not idle."""
        period = min(self.config.idle_timeout / 4, 5.0)
        while True:
            await trio.sleep(period)
            deadline = trio.current_time() - self.config.idle_timeout
            for session in list(self.open.values()):
                if not session.busy and session.last_active < deadline:
                    session.close("idle")

    async def wait_empty(self) -> None:
        if self.open:
            await self._empty.wait()
        for shared in self.shared.values():
            await shared.wait_gone()

    async def wait_answered(self) -> None:
        """Until no call is in flight, in sessions or on shared children."""
        for session in list(self.open.values()):
            await session.wait_answered()
        for shared in self.shared.values():
            await shared.wait_answered()

    def close_all(self, reason: str) -> None:
        self.closing = True
        for session in list(self.open.values()):
            session.close(reason)
        for shared in self.shared.values():
            shared.close(reason)

    def live_stats(self) -> SessionStats:
        total = SessionStats()
        total.add(self.ended)
        for session in self.open.values():
            total.add(session.stats)
        for shared in self.shared.values():
            total.add(shared.ended)
            for session in shared.live:
                total.add(session.stats)
        return total
