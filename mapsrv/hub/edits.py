"""What a write, an undo or a redo asks of a map, decided from its state and history before the
write path applies it (pure: ``replica`` calls these with the map's lock held, again after each
catch-up, so every decision sees the state the batch will land on).

    a plain write          the ops as given; ``expected_version`` must match the map's version
    base_version given     after applying, a change since ``base_version`` that touched the same
                           features or layers (by anyone) makes it an ``EditConflict``; when the
                           history does not reach back that far, any change since does
    undo                   the actor's last change not yet undone, reverted; ``NothingToUndo``
                           when there is none, ``EditConflict`` when someone else touched what it
                           touched since
    redo                   the actor's last undo, reverted, likewise
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mapsrv.core import Event, Limits, MapState, Op, apply_all
from mapsrv.core.geometry import count
from mapsrv.core.history import Actor, History, Record, footprint_of, inverse_ops, record
from mapsrv.core.model import DEFAULT_LAYER
from mapsrv.core.ops import (
    FitBounds,
    ImportFeatures,
    RestoreFeatures,
    RestoreLayer,
    SetLayerStyle,
    SetTitle,
    SetView,
)
from mapsrv.errors import EditConflict, NothingToUndo, VersionConflict
from mapsrv.hub.fanout import change_frame
from mapsrv.hub.recovery import HeldBatch, new_batch_id
from mapsrv.observability import collector
from mapsrv.workers import run

__all__ = [
    "Built",
    "Plan",
    "Prepare",
    "HEAVY_BATCH",
    "build",
    "build_off_loop",
    "changes_json",
    "check_base",
    "duplicate_ops",
    "held_batch",
    "is_heavy",
    "plan_redo",
    "plan_undo",
    "plan_write",
]


@dataclass(frozen=True)
class Plan:
    """One batch to apply: its ops, and what its change record says beyond the usual."""

    ops: tuple[Op, ...]
    base_version: int | None = None
    undoes: int | None = None
    redoes: int | None = None
    summary: str | None = None


Prepare = Callable[[MapState, History], Plan]


HEAVY_BATCH = 2_000  # features (or ops) from which a batch is applied in a worker thread
POINTS_PER_FEATURE = 50  # a feature's points weigh as much as one feature per this many (issue 60:
# 241 countries at 1:50m, 100,000 points, were framed on the loop in 0.4 s)


async def build_off_loop(
    state: MapState, history: History, prepare: Prepare, by: Actor, at: float, limits: Limits
) -> tuple[Built, list[bytes]]:
    """``build`` and the events' frames, in one go, in a worker thread (all of it is pure): a
    heavy batch (``is_heavy``). What it builds lives as long as the map: frozen as it is made
    (``Collector.keeping``), so no middle pass of the collector visits it (one took 20-36 ms of
    90,000 points, the event loop waiting)."""
    with collector.PROCESS.keeping():
        return await run("encode", _build_framed, state, history, prepare, by, at, limits)


def _build_framed(
    state: MapState, history: History, prepare: Prepare, by: Actor, at: float, limits: Limits
) -> tuple[Built, list[bytes]]:
    built = build(state, history, prepare, by, at, limits)
    return built, [change_frame(event) for event in built.events]


def is_heavy(ops: Sequence[Op], state: MapState | None = None) -> bool:
    """Whether a batch writes or reads ``HEAVY_BATCH`` or more features and ops: what applying it
    costs, roughly (a style reads every feature of the map ``state`` to classify its layer's).
    Counted on the event loop, so it stops once the batch is heavy: summing 90,000 points'
    weights held the loop 20-30 ms."""
    styles = sum(1 for op in ops if isinstance(op, SetLayerStyle) and op.style is not None)
    total = len(ops) + (len(state.features) * styles if state is not None else 0)
    for op in ops:
        if isinstance(op, ImportFeatures):
            for f in op.features:
                if total >= HEAVY_BATCH:
                    return True
                total += 1 + count(f.type, f.coords) // POINTS_PER_FEATURE
    return total >= HEAVY_BATCH


def plan_write(ops: Sequence[Op], expected_version: int | None, base_version: int | None) -> Prepare:
    def prepare(state: MapState, history: History) -> Plan:
        if expected_version is not None and expected_version != state.version:
            raise VersionConflict(expected_version, state.version)
        return Plan(tuple(ops), base_version)

    return prepare


@dataclass(frozen=True)
class Built:
    """A batch decided and applied: the state after, its events (the last with its change), the
    change's ``Record`` for the history, and the plan (``held_batch`` turns it into a batch to
    hold while the store is away)."""

    state: MapState
    events: list[Event]
    record: Record | None
    plan: Plan


def build(state: MapState, history: History, prepare: Prepare, by: Actor, at: float, limits: Limits) -> Built:
    """Decide a batch and apply it to ``state``."""
    plan = prepare(state, history)
    after, events = apply_all(state, plan.ops, limits)
    events, rec = record(state, events, by, at, undoes=plan.undoes, redoes=plan.redoes, summary=plan.summary)
    if plan.base_version is not None and rec is not None:
        check_base(history, plan.base_version, state, rec)
    return Built(after, events, rec, plan)


def held_batch(batch_id: str, plan: Plan, by: Actor, at: float) -> HeldBatch:
    """The batch to hold while the store is away (an id of its own when the store gave none)."""
    return HeldBatch(
        batch_id or new_batch_id(),
        plan.ops,
        by,
        at,
        plan.undoes,
        plan.redoes,
        plan.summary,
    )


def check_base(history: History, base_version: int, state: MapState, rec: Record) -> None:
    """Refuse a batch (``rec``, applied to ``state``) that touches what changed since
    ``base_version``."""
    if base_version >= state.version:
        return
    if history.reaches(base_version):
        found = history.changed_since(base_version, rec.footprint)
        if not found:
            return
        said = f"since version {base_version}, {_listed(found)} touched what this write changes"
    else:
        found = history.since(base_version)
        said = (
            f"the map changed since version {base_version} (now {state.version}) and its history"
            " does not reach back that far"
        )
    raise EditConflict(
        f"edit conflict: {said}; read those changes, merge them into your edit, and retry with"
        f" base_version={state.version}",
        state.version,
        [rec.to_json() for rec in found],
    )


def _listed(records: Sequence[Record]) -> str:
    shown = [
        f"{rec.change.by.name} {_quoted(rec.change.summary)} (version {rec.version})" for rec in records[-3:]
    ]
    more = len(records) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _quoted(text: str) -> str:
    return f"'{text}'" if len(text) <= 80 else f"'{text[:79]}…'"


def _undo_of(history: History, state: MapState, actor: Actor, target: Record, verb: str) -> tuple[Op, ...]:
    if not history.reaches(target.version):  # events with no change since: who touched what is unknown
        raise EditConflict(
            f"cannot {verb} {_quoted(target.change.summary)}: since then the map was changed by a"
            " process that records no changes (an older mapsrv), so what it touched is unknown;"
            f" change the map by hand instead, basing the edit on base_version={state.version}",
            state.version,
            [],
        )
    others = history.changed_since(target.version, footprint_of(target.change.undo), by_others_than=actor)
    if others:
        raise EditConflict(
            f"cannot {verb} {_quoted(target.change.summary)}: since then {_listed(others)} touched the"
            " same features; change them by hand instead, basing the edit on"
            f" base_version={state.version}",
            state.version,
            [rec.to_json() for rec in others],
        )
    ops = inverse_ops(state, target.change.undo)
    if not ops:
        raise NothingToUndo(f"nothing is left to {verb} of {_quoted(target.change.summary)}")
    return tuple(ops)


def plan_undo(actor: Actor) -> Prepare:
    def prepare(state: MapState, history: History) -> Plan:
        target = history.undo_target(actor)
        if target is None:
            raise NothingToUndo(_nothing("undo", history))
        ops = _undo_of(history, state, actor, target, "undo")
        return Plan(ops, undoes=target.change.first, summary=f"undid {_quoted(target.change.summary)}")

    return prepare


def plan_redo(actor: Actor) -> Prepare:
    def prepare(state: MapState, history: History) -> Plan:
        target = history.redo_target(actor)
        if target is None:
            raise NothingToUndo(_nothing("redo", history))
        ops = _undo_of(history, state, actor, target, "redo")
        undone = target.change.summary.removeprefix("undid '").removesuffix("'")  # one pair of quotes
        return Plan(ops, redoes=target.change.first, summary=f"redid {_quoted(undone)}")

    return prepare


def _nothing(verb: str, history: History) -> str:
    if verb == "redo":
        return "nothing to redo: you have undone nothing since your last change on this map"
    return (
        "nothing to undo: you have no change on this map left to undo"
        f" (its history here reaches back to version {history.floor})"
    )


def changes_json(map_id: str, state: MapState, history: History, version: int, limit: int) -> dict[str, Any]:
    """``hub.changes_since``'s answer (docs/protocol.md)."""
    found = history.since(version)
    return {
        "map_id": map_id,
        "version": state.version,
        "complete": history.reaches(version) or version >= state.version,
        "changes": [rec.to_json() for rec in found[:limit]],
        "truncated": len(found) > limit,
    }


def duplicate_ops(state: MapState) -> list[Op]:
    """The ops that make a new map a copy of ``state``: its title (marked a copy), layers,
    features and view."""
    ops: list[Op] = [SetTitle(f"{state.title or 'Untitled map'} (copy)"[:200])]
    ops += [RestoreLayer(layer) for layer_id, layer in state.layers.items() if layer_id != DEFAULT_LAYER]
    if state.features:
        ops.append(RestoreFeatures(tuple(state.features.values())))
    view = state.view
    if view is not None and view.center is not None and view.zoom is not None:
        ops.append(SetView(view.center, view.zoom, animate=False))
    elif view is not None and view.bounds is not None:
        ops.append(FitBounds(bounds=view.bounds, animate=False))
    return ops
