"""The embedded store: the hub's own memory is the only copy, so there is nothing to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from mapsrv.core import Event, MapState
from mapsrv.store import Conflict, LoadedMap, MapMeta, StoreStatistics

if TYPE_CHECKING:
    from mapsrv.hub import MapHub

__all__ = ["MemoryStore"]


class MemoryStore:
    durable = False

    @property
    def available(self) -> bool:
        return True

    def statistics(self) -> StoreStatistics:  # TODO(merge): the hub branch's version wins
        return StoreStatistics(available=True, errors=0)

    async def serve(
        self, hub: MapHub, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await trio.sleep_forever()

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        return True

    async def load(self, map_id: str) -> LoadedMap | None:
        return None

    async def map_for_view_key(self, view_key: str) -> str | None:
        return None

    async def last_map_of(self, user: str) -> str | None:
        return None

    async def remember_last_map(self, user: str, map_id: str) -> None:
        pass

    async def claim(self, map_id: str, owner: str) -> str | None:
        return owner

    async def commit(
        self, map_id: str, expected: int, events: Sequence[Event], state: MapState, *, snapshot: bool
    ) -> Conflict | None:
        return None

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        return None

    async def touch(self, entries: Sequence[tuple[str, str]]) -> None:
        pass
