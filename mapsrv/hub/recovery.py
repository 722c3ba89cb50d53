"""Every decision of replication recovery, as pure functions over plain values (h11's rule: the
state logic apart from the I/O). ``replica`` is the shell that asks the store and acts on them.

A map's copy here follows the store's. What can go wrong, and what follows:

    the store's answer to a commit              next step
    Committed                                   DONE: the store has the batch
    AlreadyCommitted where this copy expected   DONE: an earlier attempt landed; its reply was lost
    AlreadyCommitted elsewhere                  LANDED_ELSEWHERE: take the store's state; the batch is in it
    Conflict, store ahead                       CATCH_UP: apply the store's newer events, retry on top
    Conflict, store behind                      RELOAD: the store went back in time; it stays the truth
    Missing                                     RECREATE: the map expired there; recreate it from this copy
    StoreUnavailable (raised), also while       the store counts an outage (its breaker open): HOLD the batch
    recovering from any of the above            here (``HeldWrites``) until the store is back, and answer
                                                it as provisional; else (this process stalled while the call
                                                waited): RETRY with the same batch id

    A write's acknowledgement names the version where the store has its batch: the one it tried
    (DONE), the one the store says it landed at (LANDED_ELSEWHERE), never one of this copy's alone
    unless it is held (provisional).

    an event from the store's feed              next step
    at or below this copy's version             IGNORE (our own echo, or one we caught up on)
    while writes are held here                  IGNORE (the re-sync brings the map in line)
    the next version                            APPLY
    past the next version                       CATCH_UP (a gap: some events were missed)

    catching up                                 RELOAD when the store's log no longer reaches back
                                                (or the store is behind this copy)

Re-sync of held writes (``Replica.push_held``): each held batch is committed in order, on top of
what the store has, with the id it was given when first written, so the store can tell a batch it
already has from a new one; a batch that no longer applies on top of another process's writes is
dropped (and logged).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from mapsrv.core import Event, Limits, MapState, Op, apply_all
from mapsrv.core.history import SYSTEM, Actor, History, record
from mapsrv.errors import MapsrvError
from mapsrv.store import AlreadyCommitted, CommitReply, Committed, Conflict, Missing

__all__ = [
    "HeldBatch",
    "HeldWrites",
    "Next",
    "OnRemote",
    "after_commit",
    "after_unavailable",
    "apply_held",
    "landed_at",
    "new_batch_id",
    "on_remote",
]


class Next(enum.Enum):
    """What to do after the store answered a commit."""

    DONE = "done"
    LANDED_ELSEWHERE = "landed elsewhere"
    CATCH_UP = "catch up"
    RELOAD = "reload"
    RECREATE = "recreate"
    RETRY = "retry"
    HOLD = "hold"


class OnRemote(enum.Enum):
    """What to do with an event from the store's feed."""

    IGNORE = "ignore"
    APPLY = "apply"
    CATCH_UP = "catch up"


def new_batch_id() -> str:
    """Names one write batch for the store, so it is committed at most once."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class HeldBatch:
    """A write acknowledged while the store was unreachable: pushed later as the same change
    (same actor, time and summary when an undo); the version its edit was based on is not
    kept: a held write is not checked against changes made meanwhile."""

    id: str
    ops: tuple[Op, ...]  # applied again on whatever the store has when it is pushed
    actor: Actor = SYSTEM
    at: float = 0.0
    undoes: int | None = None
    redoes: int | None = None
    summary: str | None = None
    first: int = 0  # the version of its first event here; an undo or redo of it names that version


@dataclass
class HeldWrites:
    """Writes applied here while the store was unreachable, in order, and the state the store had
    (as far as this copy knows) before the first of them."""

    base: MapState
    batches: list[HeldBatch] = field(default_factory=list)
    history: History = field(default_factory=History)  # the history that goes with ``base``
    rewritten: bool = False  # a partial re-sync replayed batches on another base: restart viewers
    # A pushed batch's first version here -> in the store (they differ when it moved on top of
    # another process's writes): the held undos and redos that name it name it there.
    renumbered: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.batches)


def after_commit(reply: CommitReply, *, expected: int, landing: int) -> Next:
    """The next step after a commit that started from ``expected`` and would have moved the
    map to ``landing``."""
    match reply:
        case Committed():
            return Next.DONE
        case AlreadyCommitted(version=version):
            return Next.DONE if version == landing else Next.LANDED_ELSEWHERE
        case Missing():
            return Next.RECREATE
        case Conflict(current=current) if current < expected:
            return Next.RELOAD
        case Conflict():
            return Next.CATCH_UP


def after_unavailable(*, store_available: bool) -> Next:
    """The next step after a store call that failed (``StoreUnavailable``) in a write: HOLD it
    when the store counts an outage; RETRY when it does not (the call timed out while this process
    was stopped: the store may have the batch, or not, and its id tells which)."""
    return Next.RETRY if store_available else Next.HOLD


def landed_at(reply: CommitReply, *, landing: int) -> int:
    """The version a committed write's acknowledgement names: where the store has its batch."""
    match reply:
        case AlreadyCommitted(version=version):
            return version
        case _:
            return landing


def on_remote(version: int, *, holding: bool, event_version: int) -> OnRemote:
    """What an event from the feed means for a copy at ``version``."""
    if holding or event_version <= version:
        return OnRemote.IGNORE
    if event_version == version + 1:
        return OnRemote.APPLY
    return OnRemote.CATCH_UP


def apply_held(
    state: MapState, batch: HeldBatch, limits: Limits, renumbered: Mapping[int, int] | None = None
) -> tuple[MapState, list[Event]] | None:
    """A held batch applied again on top of ``state``; None when it no longer applies (another
    process removed what it drew on, or filled the map). An undo or redo names the change it
    reverts by that change's version in the store (``renumbered``, when that change moved)."""
    try:
        after, events = apply_all(state, batch.ops, limits)
    except MapsrvError:
        return None
    moved = renumbered or {}
    undoes = moved.get(batch.undoes, batch.undoes) if batch.undoes is not None else None
    redoes = moved.get(batch.redoes, batch.redoes) if batch.redoes is not None else None
    marked, _ = record(
        state, events, batch.actor, batch.at, undoes=undoes, redoes=redoes, summary=batch.summary
    )
    return after, marked
