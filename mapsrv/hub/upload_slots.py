"""Upload links (issue 73): a file handed to mapsrv by a person or a client, never through the model.

An agent's ``import`` with ``upload: true`` opens a slot: a link ``/u/<token>`` (the token is
``secrets.token_urlsafe(24)``: 192 bits, unguessable) bound to one map and to the caller, and a
small handle that only that caller can redeem. The link takes one file: a PUT ``take``s the slot
(a second PUT, or one after the expiry, finds nothing, as an unknown token does), and the
import's answer is kept for the handle. A file the reader refuses ``reopen``s the slot, so a
person can choose another before the link expires; the refusal is kept to tell the agent.

The slots live in this process's memory, one registry per hub (``upload_slots``): with several
processes behind an ingress, the link works only where it was made (the ingress must send
``/u/<token>`` to the process that answered the ``import``: docs/files.md). Expired slots go when
the registry is next touched; at most ``PER_CALLER`` open links per caller and ``IN_ALL`` slots
in all are held.
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

from mapsrv.core.changes import Actor
from mapsrv.errors import NotFound, TooManyRequests
from mapsrv.hub.facade import MapHub

__all__ = [
    "EXPIRY",
    "IN_ALL",
    "KEEP",
    "PER_CALLER",
    "WAIT",
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

    def open(
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
        self._by_token[slot.token] = slot
        self._by_handle[owner, handle] = slot
        return slot

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

    def find(self, token: str) -> UploadSlot:
        """The open slot of ``token``; the same NotFound for an unknown, used or expired link."""
        self._sweep()
        slot = self._by_token.get(token)
        if slot is None or slot.state != "open" or self.expired(slot):
            raise NotFound(_UNKNOWN)
        return slot

    def take(self, token: str) -> UploadSlot:
        """The open slot of ``token``, now receiving its file: no other request finds it."""
        slot = self.find(token)
        slot.state = "receiving"
        slot._changed()
        return slot

    def finish(self, slot: UploadSlot, answer: dict[str, Any]) -> None:
        """The slot's file is imported: ``answer`` is kept for its handle, the link is spent."""
        slot.state, slot.answer, slot.refused = "done", answer, None
        slot.kept_until = self.clock() + self.keep
        slot._changed()

    def reopen(self, slot: UploadSlot, refusal: str) -> None:
        """The slot's file was refused (``refusal`` says why): the link takes another until it
        expires."""
        if slot.state == "receiving":
            slot.state, slot.refused = "open", refusal
            slot._changed()

    def redeem(self, handle: str, owner: str) -> UploadSlot:
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


_REGISTRIES: weakref.WeakKeyDictionary[MapHub, UploadSlots] = weakref.WeakKeyDictionary()


def upload_slots(hub: MapHub) -> UploadSlots:
    """The upload links of ``hub``'s process (made on first use)."""
    slots = _REGISTRIES.get(hub)
    if slots is None:
        slots = _REGISTRIES[hub] = UploadSlots()
    return slots
