"""A map's history of changes: who changed what, how to revert it, and the map as it was.

Every write batch is one change (``mapsrv.core.changes``); its last event carries the ``Change``.
``record`` makes that change from the state before the batch and the batch's events: the
``Inverse`` (each feature, layer and title the batch touched, as it was before) and a short summary,
and with it the batch's ``Record`` (what it touched and did), reading the batch once.
``History`` keeps one map's records (bounded, newest last), fed with every event as it is applied
here, whoever wrote it, so that each process derives the same history from the same events (a
batch written here hands ``History.extend`` the ``Record`` made for it; one from another process
has it derived from its events).

Undo and redo are per actor, derived from the records: an actor's ordinary change goes on its undo
stack (and empties its redo stack), an undo moves the change it reverts to the redo stack, a redo
moves it back. Undoing applies the ``Inverse`` as a new change (``undoes`` set), so undos are
replicated and can themselves be undone. Which writes conflict is a matter of ``Footprint``s:
the features and layers a change touched.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mapsrv.core.changes import SYSTEM, Actor, Change, Inverse, agent_actor, person_actor
from mapsrv.core.codec import actor_to_json
from mapsrv.core.events import Event
from mapsrv.core.model import DEFAULT_LAYER, MapState
from mapsrv.core.ops import Op, RemoveFeatures, RemoveLayer, RestoreFeatures, RestoreLayer, SetTitle
from mapsrv.core.summary import (
    NOTES_LAYER,
    Effect,
    Footprint,
    after_of,
    effect_of,
    footprint_of,
    inverse_of,
    summarize,
)
from mapsrv.errors import InvalidInput

__all__ = [
    "NOTES_LAYER",
    "SYSTEM",
    "Actor",
    "Change",
    "Effect",
    "Footprint",
    "History",
    "Inverse",
    "Record",
    "agent_actor",
    "footprint_of",
    "inverse_ops",
    "person_actor",
    "record",
    "revert",
]

MAX_CHANGES = 1_000
MAX_PENDING = 4_096  # events without a change waiting for the one that closes their batch
ACTIVITY = 50


def record(
    before: MapState,
    events: Sequence[Event],
    by: Actor,
    at: float,
    *,
    undoes: int | None = None,
    redoes: int | None = None,
    summary: str | None = None,
) -> tuple[list[Event], Record | None]:
    """``events`` (one batch applied to ``before``) with the batch's ``Change`` on the last, and
    the batch's ``Record`` for ``History.extend`` (None for an empty batch)."""
    if not events:
        return [], None
    inverse = inverse_of(before, events)
    after = after_of(inverse, events)
    effect = effect_of(inverse, events, after)
    if summary is None:
        summary = summarize(before, events, inverse, after, effect)
    change = Change(by, events[0].version, at, summary, inverse, undoes, redoes)
    last = dataclasses.replace(events[-1], change=change)
    return [*events[:-1], last], Record(change, last.version, footprint_of(inverse, events), effect)


def inverse_ops(state: MapState, inverse: Inverse) -> list[Op]:
    """The ops that bring ``state`` back to what ``inverse`` remembers."""
    ops: list[Op] = [RestoreLayer(layer) for _, layer in inverse.layers if layer is not None]
    restore = tuple(f for _, f in inverse.features if f is not None)
    if restore:
        ops.append(RestoreFeatures(restore))
    gone = tuple(fid for fid, f in inverse.features if f is None and fid in state.features)
    if gone:
        ops.append(RemoveFeatures(gone))
    ops.extend(
        RemoveLayer(lid)
        for lid, layer in inverse.layers
        if layer is None and lid in state.layers and lid != DEFAULT_LAYER
    )
    if inverse.title is not None:
        ops.append(SetTitle(inverse.title, inverse.members))
    return ops


def revert(state: MapState, inverse: Inverse) -> MapState:
    """``state`` with what ``inverse`` remembers put back (its version left as it is)."""
    features = dict(state.features)
    for fid, feature in inverse.features:
        if feature is None:
            features.pop(fid, None)
        else:
            features[fid] = feature
    layers = dict(state.layers)
    for lid, layer in inverse.layers:
        if layer is None:
            layers.pop(lid, None)
        else:
            layers[lid] = layer
    return dataclasses.replace(
        state,
        features=features,
        layers=layers,
        title=state.title if inverse.title is None else inverse.title,
        members=state.members if inverse.members is None else inverse.members,
        points=sum(f.point_count() for f in features.values()),
    )


@dataclass(frozen=True)
class Record:
    """One change as the history keeps it: the change, the version it ended at, what it touched
    and what it did."""

    change: Change
    version: int
    footprint: Footprint
    effect: Effect

    @classmethod
    def of(cls, change: Change, events: Sequence[Event]) -> Record:
        return cls(
            change, events[-1].version, footprint_of(change.undo, events), effect_of(change.undo, events)
        )

    @property
    def undoable(self) -> bool:
        return bool(self.change.undo)

    def to_json(self) -> dict[str, Any]:
        """The change as ``changes_since`` and the activity list show it (no undo data)."""
        change = self.change
        out: dict[str, Any] = {
            "version": self.version,
            "first": change.first,
            "by": actor_to_json(change.by),
            "at": change.at,
            "summary": change.summary,
            "added": list(self.effect.added),
            "changed": list(self.effect.changed),
            "removed": list(self.effect.removed),
        }
        if change.undoes is not None:
            out["undoes"] = change.undoes
        if change.redoes is not None:
            out["redoes"] = change.redoes
        if self.effect.notes:
            out["notes"] = [{"id": i, "text": t, "at": list(p)} for i, t, p in self.effect.notes]
        return out


class History:
    """The change records of one map, newest last. Complete for every version after ``floor``
    (up to ``version``, the last event it was given): older records were dropped (bounded), or
    came before this process could see them."""

    def __init__(self, version: int = 0, *, max_changes: int = MAX_CHANGES) -> None:
        self.max_changes = max_changes
        self.floor = version
        self.version = version
        self._records: deque[Record] = deque()
        self._pending: list[Event] = []  # this batch's events so far (the last one carries the change)

    def __len__(self) -> int:
        return len(self._records)

    def copy(self) -> History:
        other = History(self.version, max_changes=self.max_changes)
        other.take(self)
        return other

    def take(self, other: History) -> None:
        """Become a copy of ``other`` (its records are values: they are shared)."""
        self.floor, self.version = other.floor, other.version
        self._records = deque(other._records)
        self._pending = list(other._pending)

    def reset(self, version: int) -> None:
        """Forget everything: the map was reloaded at ``version`` from a snapshot."""
        self._records.clear()
        self._pending.clear()
        self.floor = self.version = version

    def load(self, events: Sequence[Event], version: int) -> None:
        """Start again from a log of events that ends at ``version`` (what a store keeps)."""
        self.reset(events[0].version - 1 if events and events[-1].version == version else version)
        self.extend(events)

    def extend(self, events: Iterable[Event], *, record: Record | None = None) -> None:
        """The next events applied to the map. ``record``: the ``Record`` that ``record()`` made
        for the batch they end with, when they were written here (else it is derived from them)."""
        for event in events:
            self.add(event, record=record)

    def add(self, event: Event, *, record: Record | None = None) -> None:
        """The next event applied to the map (older ones, already seen, are ignored); ``record``
        as for ``extend``, used when this event closes its batch."""
        if event.version <= self.version:
            return
        if event.version != self.version + 1:  # a gap: what came before cannot be walked back through
            self.reset(event.version - 1)
        self.version = event.version
        change = event.change
        if change is None:
            self._pending.append(event)
            if len(self._pending) > MAX_PENDING:
                self._forget_through(self._pending[-1].version)
            return
        batch = [e for e in self._pending if e.version >= change.first]
        if len(batch) != len(self._pending) or change.first <= self.floor:
            # events with no change before this batch (written before changes were recorded), or
            # a batch that began before the history does: nothing before it can be undone
            self._forget_through(event.version if change.first <= self.floor else change.first - 1)
        self._pending.clear()
        if change.first > self.floor:
            if record is None or record.change is not change:
                record = Record.of(change, [*batch, event])
            self._records.append(record)
            while len(self._records) > self.max_changes:
                self.floor = self._records.popleft().version

    def _forget_through(self, version: int) -> None:
        self._records.clear()
        self._pending = [e for e in self._pending if e.version > version]
        self.floor = max(self.floor, version)

    def reaches(self, version: int) -> bool:
        """Whether every change after ``version`` is known here."""
        return self.floor <= version <= self.version and not self._pending

    def records(self) -> list[Record]:
        return list(self._records)

    def since(self, version: int) -> list[Record]:
        """The records of the changes after ``version``, oldest first."""
        out = []
        for rec in reversed(self._records):
            if rec.version <= version:
                break
            out.append(rec)
        out.reverse()
        return out

    def changed_since(
        self, version: int, footprint: Footprint, *, by_others_than: Actor | None = None
    ) -> list[Record]:
        """The changes after ``version`` that touched what ``footprint`` touches (leaving out
        ``by_others_than``'s own)."""
        return [
            rec
            for rec in self.since(version)
            if rec.footprint.overlaps(footprint)
            and (by_others_than is None or rec.change.by.id != by_others_than.id)
        ]

    def activity(self, count: int = ACTIVITY) -> list[dict[str, Any]]:
        return [rec.to_json() for rec in list(self._records)[-count:]]

    def _stacks(self, actor: Actor) -> tuple[list[Record], list[Record]]:
        undo: list[Record] = []
        redo: list[Record] = []
        for rec in self._records:
            change = rec.change
            if change.by.id != actor.id or not rec.undoable:
                continue
            if change.undoes is not None:
                undo = [r for r in undo if r.change.first != change.undoes]
                redo.append(rec)
            elif change.redoes is not None:
                redo = [r for r in redo if r.change.first != change.redoes]
                undo.append(rec)
            else:
                undo.append(rec)
                redo.clear()
        return undo, redo

    def undo_target(self, actor: Actor) -> Record | None:
        """The actor's last change not yet undone."""
        undo, _ = self._stacks(actor)
        return undo[-1] if undo else None

    def redo_target(self, actor: Actor) -> Record | None:
        """The actor's last undo, when nothing but undos and redos came after it."""
        _, redo = self._stacks(actor)
        return redo[-1] if redo else None

    def state_at(self, current: MapState, version: int) -> MapState:
        """The map's features, layers and title as they were at ``version`` (walking inverses back
        from ``current``); the view and the id counter are ``current``'s. A version inside a
        batch (batches are atomic) gives the map as it was before that batch."""
        if current.version != self.version or not self.reaches(version):
            raise InvalidInput(
                f"version {version} is not in this map's history, which reaches back to version"
                f" {self.floor} (now {current.version}); pick a version in between"
            )
        state = current
        for rec in self.since(version)[::-1]:
            state = revert(state, rec.change.undo)
        return dataclasses.replace(state, version=version)
