"""Events other processes committed (or this process's own, echoed back by the store), handed to
the maps held here in the order the store sent them.

The store's reader never waits for a map's lock: an event for an idle map is applied at once;
otherwise it waits in the map's ``inbox`` for a task of that map's own, which takes the lock and
applies the queue. So one slow map never stalls another. What an event means for a map's copy
(apply it, ignore it, catch up first) is ``recovery.on_remote``'s decision; applying and catching
up are the replica's (``Replica`` hands them in).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from mapsrv.core import Event
from mapsrv.core.codec import event_from_wire
from mapsrv.core.ids import map_ref
from mapsrv.errors import MapsrvError
from mapsrv.hub.recovery import OnRemote, on_remote
from mapsrv.hub.registry import MapEntry
from mapsrv.store import StoreUnavailable

__all__ = ["RemoteEvents"]

log = logging.getLogger("mapsrv.hub")


class RemoteEvents:
    """``apply``: move a map on by the next event (no I/O); ``catch_up``: bring a map up to the
    store's version (called with the map's lock held)."""

    def __init__(
        self,
        apply: Callable[[MapEntry, Event], None],
        catch_up: Callable[[MapEntry], Awaitable[None]],
    ) -> None:
        self._apply = apply
        self._catch_up = catch_up

    async def receive(self, entry: MapEntry, event: Event) -> None:
        """One event for ``entry``. Call with the map's lock held."""
        step = on_remote(entry.state.version, holding=entry.held is not None, event_version=event.version)
        if step is OnRemote.APPLY:
            self._apply(entry, event)
        elif step is OnRemote.CATCH_UP:
            await self._catch_up(entry)

    def deliver(self, nursery: trio.Nursery, entry: MapEntry, text: bytes | str) -> None:
        """Apply an event at once when its map is idle; else queue it for the map's own task."""
        try:
            event = event_from_wire(text)
        except Exception:
            log.exception("map %s: an event from the store could not be read", map_ref(entry.id))
            return
        if not entry.inbox and not entry.lock.locked():
            step = on_remote(entry.state.version, holding=entry.held is not None, event_version=event.version)
            if step is OnRemote.IGNORE:
                return
            if step is OnRemote.APPLY:
                self._apply(entry, event)
                return
        entry.inbox.append(event)
        if not entry.draining:
            entry.draining = True
            nursery.start_soon(self._drain, entry)

    async def _drain(self, entry: MapEntry) -> None:
        try:
            async with entry.lock:
                while entry.inbox:
                    event = entry.inbox.popleft()
                    try:
                        await self.receive(entry, event)
                    except StoreUnavailable:
                        entry.inbox.clear()  # the re-sync when the store is back catches up
                    except Exception:  # one bad event must not stop following this map
                        log.exception("map %s: could not apply an event from the store", map_ref(entry.id))
        finally:
            entry.draining = False

    async def catch_up_followed(self, entry: MapEntry) -> None:
        """The store follows this map now: fetch what was committed before it did."""
        try:
            async with entry.lock:
                if entry.held is None:  # else the re-sync that pushes held writes catches up
                    await self._catch_up(entry)
        except StoreUnavailable:
            pass  # the re-sync when the store is back catches up
        except MapsrvError as exc:
            log.warning("map %s: catch-up failed: %s", map_ref(entry.id), exc.message)
