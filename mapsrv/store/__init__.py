"""Where maps are replicated, chosen by URL (as encode/broadcaster does): ``memory://`` keeps
them in this process only; ``redis://`` (and ``rediss://``) makes Redis the source of truth so
that any process can serve and recover any map.

The hub talks to a store only through ``Store``; the hub keeps the hot copy and the store keeps
the replicated one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import trio

from mapsrv.core import Event, MapState
from mapsrv.errors import Unavailable

if TYPE_CHECKING:
    from mapsrv.hub import MapHub

__all__ = [
    "Conflict",
    "LoadedMap",
    "MapMeta",
    "Store",
    "StoreStatistics",
    "StoreUnavailable",
    "open_store_from_url",
]


class StoreUnavailable(Unavailable):
    """The replicated store cannot be reached right now."""

    def __init__(self, message: str = "the map store is unavailable; retry shortly") -> None:
        super().__init__(message, retry_after=2)


@dataclass(frozen=True)
class MapMeta:
    id: str
    view_key: str
    owner: str | None
    principal: str | None


@dataclass(frozen=True)
class LoadedMap:
    meta: MapMeta
    state: MapState


# TODO(merge): the hub branch defines StoreStatistics and statistics() on every store; keep theirs.
@dataclass(frozen=True)
class StoreStatistics:
    available: bool
    errors: int  # failed calls to the store since start


@dataclass(frozen=True)
class Conflict:
    """A commit found the map at another version than expected."""

    current: int


class Store(Protocol):
    durable: bool  # other processes share it: maps may exist here that this process has never seen

    @property
    def available(self) -> bool: ...

    def statistics(self) -> StoreStatistics: ...  # TODO(merge): see StoreStatistics

    async def serve(self, hub: MapHub, *, task_status: trio.TaskStatus[None] = ...) -> None: ...

    async def create(self, meta: MapMeta, state: MapState) -> bool: ...

    async def load(self, map_id: str) -> LoadedMap | None: ...

    async def map_for_view_key(self, view_key: str) -> str | None: ...

    async def last_map_of(self, user: str) -> str | None: ...

    async def remember_last_map(self, user: str, map_id: str) -> None: ...

    async def claim(self, map_id: str, owner: str) -> str | None: ...

    async def commit(
        self, map_id: str, expected: int, events: Sequence[Event], state: MapState, *, snapshot: bool
    ) -> Conflict | None: ...

    async def events_after(self, map_id: str, version: int) -> list[Event] | None: ...

    async def touch(self, entries: Sequence[tuple[str, str]]) -> None: ...


def open_store_from_url(url: str, *, ttl: float, log_size: int) -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from mapsrv.store.memory import MemoryStore

        return MemoryStore()
    if scheme in ("redis", "rediss", "unix"):
        from mapsrv.store.redis import RedisStore

        return RedisStore(url, ttl=ttl, log_size=log_size)
    raise ValueError(f"unknown store {url!r}: use memory:// or redis://host:port/db")
