"""Maps leave memory when nobody used or watched them for ``idle_timeout`` (they stay stored);
the store's keys of watched maps are kept alive meanwhile, and maps past their retention are swept
from the store (``catalog``) every ``RETENTION_SWEEP`` seconds."""

from __future__ import annotations

import logging

import trio

from mapsrv.hub.catalog import Catalog
from mapsrv.hub.registry import Registry
from mapsrv.store import Store

__all__ = ["RETENTION_SWEEP", "serve_expiry"]

log = logging.getLogger("mapsrv.hub")

RETENTION_SWEEP = 60.0  # seconds between sweeps of the store for maps past their time


async def serve_expiry(
    registry: Registry,
    store: Store,
    catalog: Catalog,
    idle_timeout: float,
    interval: float | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    # A tenth of the idle timeout (1 s to 60 s), and never more than a third of it: the sweep
    # refreshes the store's keys of watched maps, whose time to live is the idle timeout.
    idle = idle_timeout
    interval = interval if interval is not None else max(min(1.0, idle / 3), min(60.0, idle / 10))
    next_sweep = trio.current_time()
    task_status.started()
    while True:
        await trio.sleep(interval)
        now = trio.current_time()
        in_use = registry.keep_watched(now, now - interval * 1.5)
        registry.expire_idle(now)
        try:
            await store.touch(in_use)
            if now >= next_sweep:
                next_sweep = now + RETENTION_SWEEP
                await catalog.sweep()
        except Exception:  # keys get refreshed on the next sweep or write
            log.warning("could not refresh or sweep the store's maps", exc_info=True)
