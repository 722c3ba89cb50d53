"""Upload links (issue 73): a file handed to mapsrv by a person or a client, never through the model.

An agent's ``import`` with ``upload: true`` opens a slot: a link ``/u/<token>`` (the token is
``secrets.token_urlsafe(24)``: 192 bits, unguessable) bound to one map and to the caller, and a
small handle that only that caller can redeem. The link takes one file: a PUT ``take``s the slot
(a second PUT, or one after the expiry, finds nothing, as an unknown token does), and the
import's answer is kept for the handle. A file the reader refuses ``reopen``s the slot, so a
person can choose another before the link expires; the refusal is kept to tell the agent.

Where the slots live follows the store (``upload_slots``): in this process's memory
(``UploadSlots``: the memory and SQLite stores, one process), or in a shared store's
``UploadTable`` (``SharedUploadSlots``: Redis, several processes behind an ingress), so that a
link made by one process takes its file in whichever the person's browser reaches, and the
agent's handle hears the answer in whichever its next call reaches. Expired slots go when the
registry is next touched (the shared ones by their time to live); at most ``PER_CALLER`` open
links per caller (per process, with a shared store) and ``IN_ALL`` slots in all are held here.
"""

from __future__ import annotations

import json
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

from mapsrv.core.changes import Actor
from mapsrv.errors import NotFound, TooManyRequests
from mapsrv.hub.facade import MapHub
from mapsrv.store.contract import UploadTable

__all__ = [
    "EXPIRY",
    "IN_ALL",
    "KEEP",
    "PER_CALLER",
    "POLL",
    "WAIT",
    "SharedUploadSlots",
    "UploadSlot",
    "UploadSlots",
    "UploadSlotsStatistics",
    "upload_slots",
]

EXPIRY = 10 * 60.0  # seconds a link stays open for its file
KEEP = 10 * 60.0  # seconds an answer (or an expired link's handle) is kept for its agent
WAIT = 60.0  # seconds ``import`` with a handle waits for the file before answering that it still waits
PER_CALLER = 10  # open links one caller may hold
IN_ALL = 1000  # slots held in all (open, receiving, or answered and kept for the handle)
POLL = 0.5  # seconds between two looks at a shared slot while its agent waits for the file
_UNKNOWN = "upload link not found: it was used, it expired, or it never existed; ask for a new one"

State = Literal["open", "receiving", "done"]


@dataclass(eq=False)
class UploadSlot:
    """One link's slot. ``defaults``: the import's arguments the agent gave with ``upload: true``
    (``format``, ``layer``, ``file_layer``, ``crs``), which the link's own take precedence over."""

    token: str
    handle: str
    map_id: str
    owner: str  # the caller (``principal`` or its actor's id): who may redeem the handle
    actor: Actor  # whom the import is attributed to: the agent that asked for the file
    expires: float
    base_url: str = ""  # the server's address as the agent knows it, for the map's view link
    defaults: dict[str, str] = field(default_factory=dict)
    state: State = "open"
    answer: dict[str, Any] | None = None  # the import's report, once done
    refused: str | None = None  # the last file's refusal, while it waits for another
    kept_until: float = 0.0  # a done slot: when its answer is forgotten
    changed: trio.Event = field(default_factory=trio.Event)

    def _changed(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


@dataclass(frozen=True)
class UploadSlotsStatistics:
    open: int
    receiving: int
    done: int


class UploadSlots:
    """The slots of one hub. ``expiry``, ``wait``, ``keep`` and the bounds are settable (tests
    shorten them)."""

    def __init__(
        self,
        expiry: float = EXPIRY,
        wait: float = WAIT,
        keep: float = KEEP,
        per_caller: int = PER_CALLER,
        in_all: int = IN_ALL,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.expiry = expiry
        self.wait = wait
        self.keep = keep
        self.per_caller = per_caller
        self.in_all = in_all
        self.clock = clock
        self._by_token: dict[str, UploadSlot] = {}
        self._by_handle: dict[tuple[str, str], UploadSlot] = {}

    async def open(
        self,
        map_id: str,
        owner: str,
        actor: Actor,
        *,
        base_url: str = "",
        defaults: dict[str, str] | None = None,
    ) -> UploadSlot:
        """A new slot for a file to ``map_id``, redeemable by ``owner``; refused past the bounds."""
        self.check_room(owner)
        handle = secrets.token_urlsafe(6)
        while (owner, handle) in self._by_handle:  # 48 bits: a clash among one caller's is rare
            handle = secrets.token_urlsafe(6)
        slot = UploadSlot(
            token=secrets.token_urlsafe(24),
            handle=handle,
            map_id=map_id,
            owner=owner,
            actor=actor,
            expires=self.clock() + self.expiry,
            base_url=base_url.rstrip("/"),
            defaults=dict(defaults or {}),
        )
        await self._opened(slot)  # first: a slot the shared store did not take is not held here
        self._by_token[slot.token] = slot
        self._by_handle[owner, handle] = slot
        return slot

    async def _opened(self, slot: UploadSlot) -> None:
        """Where a new slot is kept beside this process's registry (``SharedUploadSlots``)."""

    def check_room(self, owner: str) -> None:
        """Refuses a new link to ``owner`` past ``per_caller`` open ones, or past ``in_all`` in all."""
        self._sweep()
        mine = sum(1 for s in self._by_token.values() if s.owner == owner and self._open(s))
        if mine >= self.per_caller:
            raise TooManyRequests(
                f"at most {self.per_caller} upload links may be open at once, got {mine}:"
                " use one, or wait for one to expire",
                retry_after=self._next_expiry(owner),
            )
        if len(self._by_token) >= self.in_all:
            raise TooManyRequests("this server holds too many upload links now: try again in a minute", 60)

    async def find(self, token: str) -> UploadSlot:
        """The open slot of ``token``; the same NotFound for an unknown, used or expired link."""
        self._sweep()
        slot = self._by_token.get(token)
        if slot is None or slot.state != "open" or self.expired(slot):
            raise NotFound(_UNKNOWN)
        return slot

    async def take(self, token: str) -> UploadSlot:
        """The open slot of ``token``, now receiving its file: no other request finds it."""
        slot = await self.find(token)
        slot.state = "receiving"
        slot._changed()
        return slot

    async def finish(self, slot: UploadSlot, answer: dict[str, Any]) -> None:
        """The slot's file is imported: ``answer`` is kept for its handle, the link is spent."""
        slot.state, slot.answer, slot.refused = "done", answer, None
        slot.kept_until = self.clock() + self.keep
        slot._changed()

    async def reopen(self, slot: UploadSlot, refusal: str | None) -> None:
        """The slot's file was refused (``refusal`` says why), or only previewed (None): the link
        takes another until it expires."""
        if slot.state == "receiving":
            slot.state, slot.refused = "open", refusal
            slot._changed()

    async def redeem(self, handle: str, owner: str) -> UploadSlot:
        """``owner``'s slot of ``handle``: another caller's is not found, like an unknown one."""
        self._sweep()
        slot = self._by_handle.get((owner, handle))
        if slot is None:
            raise NotFound(
                f"upload {handle[:16]!r} not found: it expired, or another caller asked for it;"
                " ask for a new link with upload: true"
            )
        return slot

    async def wait_for_file(self, slot: UploadSlot) -> UploadSlot:
        """``slot`` once its file is imported, its link expired unused, or ``wait`` seconds
        passed, whichever comes first."""
        with trio.move_on_after(self.wait):
            while slot.state != "done":
                left = slot.expires - self.clock()
                if slot.state == "open" and left <= 0:
                    break
                changed = slot.changed
                with trio.move_on_after(left if slot.state == "open" else self.wait):
                    await changed.wait()
        return slot

    def expired(self, slot: UploadSlot) -> bool:
        return slot.state == "open" and self.clock() >= slot.expires

    def _open(self, slot: UploadSlot) -> bool:
        return slot.state == "receiving" or (slot.state == "open" and not self.expired(slot))

    def statistics(self) -> UploadSlotsStatistics:
        """The slots this process holds (with a shared store: the ones it made)."""
        states = [s.state for s in self._by_token.values()]
        return UploadSlotsStatistics(states.count("open"), states.count("receiving"), states.count("done"))

    def _next_expiry(self, owner: str) -> float:
        ends = [s.expires for s in self._by_token.values() if s.owner == owner and s.state == "open"]
        return max(1.0, min(ends, default=self.expiry) - self.clock())

    def _sweep(self) -> None:
        """Forget expired links (never one receiving its file) and answers kept past their time.
        An expired link's handle stays a little, so that its agent hears that it expired."""
        now = self.clock()
        for slot in list(self._by_token.values()):
            if slot.state == "done":
                gone = now >= slot.kept_until
            else:
                gone = slot.state == "open" and now >= slot.expires + self.keep
            if gone:
                del self._by_token[slot.token]
                self._by_handle.pop((slot.owner, slot.handle), None)


class SharedUploadSlots(UploadSlots):
    """The slots in a shared store's ``UploadTable``: any process finds a link another made,
    takes its file (one of two at once: the table's swap decides), and hears its answer. The
    bounds on open links are this process's (``UploadSlots``, over the links it made)."""

    def __init__(self, table: UploadTable, **settings: Any) -> None:
        super().__init__(**settings)
        self.table = table
        self._signals: dict[str, trio.Event] = {}  # a slot's change seen in this process

    async def _opened(self, slot: UploadSlot) -> None:
        # kept past the link's expiry for as long as an answer is kept after it
        ttl = self.expiry + 2 * self.keep
        await self.table.put_upload(slot.token, self._record(slot), _handle_key(slot.owner, slot.handle), ttl)

    async def find(self, token: str) -> UploadSlot:
        slot = await self._load(token)
        if slot is None or slot.state != "open" or self.expired(slot):
            raise NotFound(_UNKNOWN)
        return slot

    async def take(self, token: str) -> UploadSlot:
        slot = await self.find(token)
        if not await self.table.swap_upload(token, "open", {"state": "receiving"}):
            raise NotFound(_UNKNOWN)  # another request took it first
        self._seen(slot, "receiving")
        return slot

    async def finish(self, slot: UploadSlot, answer: dict[str, Any]) -> None:
        fields = {"state": "done", "answer": json.dumps(answer), "refused": ""}
        await self.table.swap_upload(slot.token, "receiving", fields)
        slot.answer, slot.refused = answer, None
        self._seen(slot, "done")

    async def reopen(self, slot: UploadSlot, refusal: str | None) -> None:
        if await self.table.swap_upload(slot.token, "receiving", {"state": "open", "refused": refusal or ""}):
            slot.refused = refusal
            self._seen(slot, "open")

    async def redeem(self, handle: str, owner: str) -> UploadSlot:
        token = await self.table.upload_token(_handle_key(owner, handle))
        slot = await self._load(token) if token is not None else None
        if slot is None:
            return await super().redeem(handle, owner)  # the same refusal
        return slot

    async def wait_for_file(self, slot: UploadSlot) -> UploadSlot:
        """As ``UploadSlots.wait_for_file``, looking at the table every ``POLL`` seconds (at once
        when this process saw the slot change)."""
        try:
            with trio.move_on_after(self.wait):
                while slot.state != "done" and not self.expired(slot):
                    signal = self._signals.setdefault(slot.token, trio.Event())
                    with trio.move_on_after(POLL):
                        await signal.wait()
                    fresh = await self._load(slot.token)
                    if fresh is None:
                        break
                    slot.state, slot.answer, slot.refused = fresh.state, fresh.answer, fresh.refused
        finally:
            self._signals.pop(slot.token, None)  # a change made elsewhere never pops it
        return slot

    def _seen(self, slot: UploadSlot, state: State) -> None:
        slot.state = state
        mine = self._by_token.get(slot.token)
        if mine is not None:  # the link was made here: its bound counts it as it is now
            mine.state, mine.answer, mine.refused = state, slot.answer, slot.refused
            if state == "done":
                mine.kept_until = self.clock() + self.keep
        signal = self._signals.pop(slot.token, None)
        if signal is not None:
            signal.set()

    async def _load(self, token: str) -> UploadSlot | None:
        record = await self.table.upload(token)
        if record is None:
            return None
        now, wall = self.clock(), time.time()
        return UploadSlot(
            token=token,
            handle=record["handle"],
            map_id=record["map_id"],
            owner=record["owner"],
            actor=Actor(record["actor_id"], record["actor_name"]),
            expires=now + float(record["expires"]) - wall,
            base_url=record["base_url"],
            defaults=json.loads(record["defaults"]),
            state=record["state"],  # type: ignore[arg-type]
            answer=json.loads(record["answer"]) if record.get("answer") else None,
            refused=record.get("refused") or None,
        )

    def _record(self, slot: UploadSlot) -> dict[str, str]:
        return {
            "handle": slot.handle,
            "map_id": slot.map_id,
            "owner": slot.owner,
            "actor_id": slot.actor.id,
            "actor_name": slot.actor.name,
            "expires": repr(time.time() + slot.expires - self.clock()),  # wall time: other processes'
            "base_url": slot.base_url,
            "defaults": json.dumps(slot.defaults),
            "state": slot.state,
        }


def _handle_key(owner: str, handle: str) -> str:
    return f"{owner} {handle}"


_REGISTRIES: weakref.WeakKeyDictionary[MapHub, UploadSlots] = weakref.WeakKeyDictionary()


def upload_slots(hub: MapHub) -> UploadSlots:
    """The upload links of ``hub`` (made on first use): in its store's table when the store is
    shared, else in this process."""
    slots = _REGISTRIES.get(hub)
    if slots is None:
        table = hub.store.uploads
        slots = _REGISTRIES[hub] = UploadSlots() if table is None else SharedUploadSlots(table)
    return slots
