"""``memory://``: the hub's own memory is the only copy, so there is nothing to do. Maps last as
long as the process, and its lists are what the hub holds (``hub.catalog``)."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from mapsrv.core import Event, MapState
from mapsrv.store.contract import (
    COMMITTED,
    CommitReply,
    LoadedMap,
    MapMeta,
    MapRecord,
    MapSummary,
    PersonLink,
    StoreMessage,
    StoreStatistics,
    Touched,
)

__all__ = ["MemoryStore"]

_STATISTICS = StoreStatistics(available=True, errors=0)


class MemoryStore:
    durable = False
    uploads = None  # upload links stay in their process (``mapsrv.hub.upload_slots``)
    shared = False

    @property
    def available(self) -> bool:
        return True

    def statistics(self) -> StoreStatistics:
        return _STATISTICS

    def follow(self, map_id: str) -> None:
        pass  # no other process writes

    def unfollow(self, map_id: str) -> None:
        pass

    async def serve(
        self,
        *,
        task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        send, receive = trio.open_memory_channel[StoreMessage](0)
        with send:  # nothing ever happens elsewhere
            task_status.started(receive)
            await trio.sleep_forever()

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        return True

    async def load(self, map_id: str) -> LoadedMap | None:
        return None

    async def map_for_view_key(self, view_key: str) -> str | None:
        return None

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        return None  # the hub's registry knows every key

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        pass

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        pass  # nobody else to tell

    async def notify(self, map_id: str, text: str) -> None:
        pass

    async def presence_of(self, map_id: str) -> list[str]:
        return []

    async def last_map_of(self, user: str) -> str | None:
        return None

    async def remember_last_map(self, user: str, map_id: str) -> None:
        pass

    async def claim(self, map_id: str, owner: str) -> str | None:
        return owner

    async def commit(
        self,
        map_id: str,
        expected: int,
        events: Sequence[Event],
        state: MapState,
        *,
        snapshot: bool,
        batch_id: str,
    ) -> CommitReply:
        return COMMITTED

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        return None

    async def touch(self, entries: Sequence[Touched]) -> None:
        pass

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        return []  # the hub lists what it holds

    async def remember_opened(self, user: str, map_id: str) -> None:
        pass

    async def delete(self, map_id: str) -> MapMeta | None:
        return None  # the hub forgets it, and remembers its keys as gone

    async def gone(self, key: str) -> bool:
        return False

    async def sweep(self, now: float, *, retention: float | None, unused: float) -> list[str]:
        return []

    async def map_ids(self, cursor: str = "", count: int = 500) -> tuple[list[str], str]:
        return [], ""

    async def dump(self, map_id: str) -> MapRecord | None:
        return None

    async def restore(self, record: MapRecord, *, replace: bool = False) -> bool:
        return False  # nothing outlives the process: there is nothing to restore into

    async def sign_in(self, user: str, person: str) -> None:
        pass  # the hub keeps who signed in (``catalog``)

    async def sign_out(self, user: str) -> None:
        pass

    async def person_of(self, user: str) -> str | None:
        return None

    async def identities_of(self, person: str) -> list[str]:
        return []

    async def people(self) -> list[PersonLink]:
        return []

    async def restore_person(self, link: PersonLink) -> None:
        pass
