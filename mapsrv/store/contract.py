"""The store contract: the protocol every store honours, its replies and its messages (see
mapsrv.store)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from mapsrv.core import Event, MapState
from mapsrv.errors import Unavailable

__all__ = [
    "COMMITTED",
    "MISSING",
    "AlreadyCommitted",
    "CommitReply",
    "Committed",
    "Conflict",
    "Followed",
    "LoadedMap",
    "MapMeta",
    "MapRecord",
    "MapSummary",
    "Missing",
    "PersonLink",
    "Reconnected",
    "RemoteEvent",
    "Store",
    "StoreMessage",
    "StoreStatistics",
    "StoreUnavailable",
    "Touched",
    "UploadTable",
    "links_notice",
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
    # The editors' link: a capability apart from the id (which the owner and agents use), None
    # while the owner has not made one or has turned it off.
    edit_key: str | None = None
    # The agent that made the map (its actor id, "agent:<hash>"; never a secret), so that an
    # anonymous agent can list the maps it made; None for a map a browser made.
    maker: str | None = None


@dataclass(frozen=True)
class LoadedMap:
    meta: MapMeta
    state: MapState
    # The newest events the store's log holds, ending at ``state.version`` (empty when it keeps
    # none): the hub rebuilds the map's history of changes from them.
    log: tuple[Event, ...] = ()


@dataclass(frozen=True)
class MapSummary:
    """One line of a list of maps (``Store.maps_of``): what a person or an agent needs to find a
    map again, without loading it."""

    meta: MapMeta
    title: str
    version: int
    features: int
    created: float  # unix seconds
    updated: float  # unix seconds of its last change (its creation before any)
    updated_by: str  # who made the last change, by display name ("" before any change)


@dataclass(frozen=True)
class MapRecord:
    """Everything a store holds of one map, as a backup carries it (``Store.dump`` and
    ``Store.restore``): its keys and owners, the state at its version, the newest events of its
    log (ending at that version) and who opened it through its edit link."""

    meta: MapMeta
    state: MapState
    log: tuple[Event, ...]
    created: float
    updated: float
    updated_by: str
    used: float  # unix seconds it was last opened or changed (retention counts from here)
    retired_edit_keys: tuple[str, ...] = ()  # turned-off edit keys, still answering "turned off"
    opened_by: tuple[str, ...] = ()  # browser users who opened it through its edit link


@dataclass(frozen=True, order=True)
class PersonLink:
    """A browser user that signed in as a person (``oidc:<sub>``), and whether it still is."""

    user: str
    person: str
    signed_in: bool


@dataclass(frozen=True)
class Committed:
    """The store has the batch."""


@dataclass(frozen=True)
class AlreadyCommitted:
    """A batch with this id was committed before (a reply lost in an outage or a timeout); it
    ended at ``version``. Nothing was written this time."""

    version: int


@dataclass(frozen=True)
class Conflict:
    """The store has the map at ``current``, not at the version the writer started from."""

    current: int


@dataclass(frozen=True)
class Missing:
    """The store has no map with this id (it expired there, or the store lost it)."""


COMMITTED: Final = Committed()
MISSING: Final = Missing()

CommitReply = Committed | AlreadyCommitted | Conflict | Missing


@dataclass(frozen=True)
class RemoteEvent:
    """An event some process (this one included: ignore it by version) committed to ``map_id``."""

    map_id: str
    text: bytes | str  # the event's JSON, as committed


@dataclass(frozen=True)
class Reconnected:
    """The store is reachable again, or its event feed was re-established: events may have been
    missed, and writes held during the outage can be pushed now."""


@dataclass(frozen=True)
class Followed:
    """The store now reports ``map_id``'s events (``Store.follow``); ones committed before that
    may have passed this process by: catch the map up."""

    map_id: str


StoreMessage = RemoteEvent | Reconnected | Followed

Touched = tuple[str, str, str | None]  # a map in use: its id, view key and edit key


def links_notice(meta: MapMeta) -> str:
    """The notice ``set_links`` publishes on the map's channel: its keys now (a process holding
    the map updates its copy and ends the streams opened through old keys)."""
    return json.dumps({"links": {"view_key": meta.view_key, "edit_key": meta.edit_key}})


@dataclass(frozen=True)
class StoreStatistics:
    available: bool
    errors: int  # calls that failed because the store could not be reached
    remote_events: int = 0  # events received from the store's feed
    reconnections: int = 0  # times the store came back or its feed was re-established
    breaker_trips: int = 0  # times a timeout opened the breaker (later calls fail at once)
    followed_maps: int = 0  # maps whose events the store reports to this process now
    echoes_skipped: int = 0  # this process's own events, back from the feed, dropped unread
    feed_batches: int = 0  # hand-overs of what the feed had received (one or more messages each)


class UploadTable(Protocol):
    """Upload links' slots where every process of a shared store finds them (issue 73): a link
    made by one process takes its file in whichever the ingress sends the person to. A slot is a
    flat record of text fields (``mapsrv.hub.upload_slots`` says which), under its token, and its
    handle's key (its caller and handle) names the token; both go after ``ttl`` seconds."""

    async def put_upload(self, token: str, record: dict[str, str], handle_key: str, ttl: float) -> None: ...

    async def upload(self, token: str) -> dict[str, str] | None: ...

    async def upload_token(self, handle_key: str) -> str | None: ...

    async def swap_upload(self, token: str, state: str, fields: dict[str, str]) -> bool:
        """Set ``fields`` of the slot only while its ``state`` field is ``state`` (atomically:
        one of two processes taking the same link wins); whether they were set."""
        ...


class Store(Protocol):
    durable: bool  # maps outlive the process: some may be here that this process has never seen
    shared: bool  # other processes use it at once (presence and pointers go through it)

    @property
    def uploads(self) -> UploadTable | None:
        """Where upload links' slots are shared between processes; None: each keeps its own."""

    @property
    def available(self) -> bool: ...

    def statistics(self) -> StoreStatistics: ...

    def follow(self, map_id: str) -> None:
        """Report this map's events from now on (the hub holds it); ``Followed`` says when that
        has taken effect. Never blocks."""

    def unfollow(self, map_id: str) -> None:
        """Stop reporting this map's events (the hub forgot it). Never blocks."""

    async def serve(
        self, *, task_status: trio.TaskStatus[trio.MemoryReceiveChannel[StoreMessage]] = ...
    ) -> None:
        """Run the store's background work; ``task_status.started`` hands over the channel on
        which remote events and reconnections arrive."""

    async def create(self, meta: MapMeta, state: MapState) -> bool:
        """Store a new map; False (and nothing written) when one with this id exists."""

    async def load(self, map_id: str) -> LoadedMap | None: ...

    async def map_for_view_key(self, view_key: str) -> str | None: ...

    async def map_for_edit_key(self, edit_key: str) -> tuple[str, bool] | None:
        """The map an edit key opens, and whether it still does (False: the owner turned it
        off or made a new one); None for a key the store does not know."""

    async def set_links(self, old: MapMeta, new: MapMeta) -> None:
        """The map's view and edit keys become ``new``'s: the old edit key answers as turned
        off, the old view key as unknown, and every process holding the map hears a notice."""

    async def share_presence(self, map_id: str, sender: str, text: str, ttl: float) -> None:
        """Publish who is on the map through this process (``text``, JSON), kept for ``ttl``
        seconds unless shared again; every process holding the map hears a notice."""

    async def notify(self, map_id: str, text: str) -> None:
        """Tell every other process holding the map ``text`` (a JSON notice, not an event),
        kept nowhere: those that hear it, hear it."""

    async def presence_of(self, map_id: str) -> list[str]:
        """What each process last shared of the map's presence (and has not expired)."""

    async def last_map_of(self, user: str) -> str | None: ...

    async def remember_last_map(self, user: str, map_id: str) -> None: ...

    async def claim(self, map_id: str, owner: str) -> str | None: ...

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
        """Append ``events`` (and move the map to ``state``) if the map is at ``expected``, in one
        atomic step. A non-empty ``batch_id`` is remembered, so that the same batch can never be
        committed twice whatever happens to replies."""

    async def events_after(self, map_id: str, version: int) -> list[Event] | None:
        """Every event after ``version`` up to the store's current version, or None when the store
        cannot give all of them (its log no longer reaches back, the map is missing, or the store
        is behind ``version``)."""

    async def touch(self, entries: Sequence[Touched]) -> None:
        """Keep the keys of maps still in use alive: (map id, view key, edit key or None)."""

    # --- finding, deleting and keeping maps (issue 34) -------------------------------------------

    async def maps_of(
        self, *, owner: str | None = None, principal: str | None = None, maker: str | None = None
    ) -> list[MapSummary]:
        """The maps of one person or agent, newest change first: ``owner`` (a browser user: the
        maps it owns and those it opened through an edit link), ``principal`` (an API key's
        name: the maps made with it) or ``maker`` (an anonymous agent: the maps it made); with
        none of them, every map (a private, one-person store)."""

    async def remember_opened(self, user: str, map_id: str) -> None:
        """``user`` opened the map through its edit link: it is in their list from now on."""

    async def delete(self, map_id: str) -> MapMeta | None:
        """Forget the map, its log and its keys, in one step; its id and keys answer ``gone``
        from then on. None when there was no such map."""

    async def gone(self, key: str) -> bool:
        """Whether ``key`` (a map id, view key or edit key) belonged to a deleted map."""

    async def sweep(self, now: float, *, retention: float | None, unused: float) -> list[str]:
        """Forget maps nobody drew on (version 0) unused for ``unused`` seconds and, with a
        ``retention``, every map nobody opened or changed for that long; the ids forgotten.
        A forgotten map leaves nothing behind (it was not deleted by anyone: it answers 404)."""

    async def map_ids(self, cursor: str = "", count: int = 500) -> tuple[list[str], str]:
        """A page of the store's map ids (about ``count``) and the cursor of the next page, ""
        after the last: a backup reads them page by page, never all at once."""

    async def dump(self, map_id: str) -> MapRecord | None:
        """One map as a backup carries it; None when it went meanwhile."""

    async def restore(self, record: MapRecord, *, replace: bool = False) -> bool:
        """Store a map from a backup; False (nothing written) when one with its id is there
        and ``replace`` is not set."""

    # --- people who sign in (issue 36) ----------------------------------------------------------

    async def sign_in(self, user: str, person: str) -> None:
        """The browser user ``user`` signed in as ``person`` (``oidc:<sub>``): it stands for the
        person until it signs out, and the maps it owns are the person's for good."""

    async def sign_out(self, user: str) -> None:
        """The browser user ``user`` signed out: it no longer stands for anybody (the maps it made
        stay the person's)."""

    async def person_of(self, user: str) -> str | None:
        """The person a signed-in browser user stands for, else None."""

    async def identities_of(self, person: str) -> list[str]:
        """Every browser user that ever signed in as ``person``: the maps they own are theirs."""

    async def people(self) -> list[PersonLink]:
        """Every browser user that ever signed in, and as whom (for a backup)."""

    async def restore_person(self, link: PersonLink) -> None:
        """Put back a link from a backup."""
