"""Ops (what a caller asks for) and events (what happened), and the pure functions between them.

``apply(state, op)`` validates an op against the state and returns the new state with the event
that describes the change. ``apply_event(state, event)`` replays an event; replaying the events
``apply`` produced from any snapshot gives the same state. Events are resolved (generated ids
filled in, "fit these features" turned into bounds), so replay never needs the op.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

from mapsrv.core.model import (
    DEFAULT_LAYER,
    Bounds,
    Feature,
    LatLon,
    Layer,
    Limits,
    MapState,
    View,
    bounds_of,
    build_feature,
)
from mapsrv.errors import InvalidInput, NotFound, PayloadTooLarge

__all__ = [
    "AddFeature",
    "AddLayer",
    "Clear",
    "Event",
    "FitBounds",
    "ImportFeatures",
    "Op",
    "RemoveFeatures",
    "RemoveLayer",
    "SetLayerVisibility",
    "SetTitle",
    "SetView",
    "UpdateFeature",
    "apply",
    "apply_all",
    "apply_event",
]


@dataclass(frozen=True)
class SetTitle:
    title: str


@dataclass(frozen=True)
class SetView:
    center: LatLon
    zoom: float
    animate: bool = True


@dataclass(frozen=True)
class FitBounds:
    """Fit ``bounds``, or else the features named, or else every feature."""

    bounds: Bounds | None = None
    feature_ids: tuple[str, ...] = ()
    animate: bool = True


@dataclass(frozen=True)
class AddFeature:
    feature: Feature  # an empty id asks for a generated one


@dataclass(frozen=True)
class UpdateFeature:
    """Change some fields of a feature; ``None`` leaves a field as it is. ``style`` is merged
    (a key set to None is removed)."""

    id: str
    coords: Any = None
    radius: float | None = None
    layer: str | None = None
    label: str | None = None
    popup: str | None = None
    style: dict[str, Any] | None = None


@dataclass(frozen=True)
class RemoveFeatures:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class AddLayer:
    id: str
    name: str
    visible: bool = True
    # In a batch: do nothing if the layer already exists (checked when the batch is applied,
    # under the map's write lock, so concurrent writers cannot race on it).
    if_missing: bool = False


@dataclass(frozen=True)
class RemoveLayer:
    id: str


@dataclass(frozen=True)
class SetLayerVisibility:
    id: str
    visible: bool


@dataclass(frozen=True)
class Clear:
    layer: str | None = None


@dataclass(frozen=True)
class ImportFeatures:
    """Add many features at once (a GeoJSON FeatureCollection, decoded by the codec)."""

    features: tuple[Feature, ...]


Op: TypeAlias = (
    SetTitle
    | SetView
    | FitBounds
    | AddFeature
    | UpdateFeature
    | RemoveFeatures
    | AddLayer
    | RemoveLayer
    | SetLayerVisibility
    | Clear
    | ImportFeatures
)


@dataclass(frozen=True)
class Event:
    """One change at one version. ``kind`` says which of the other fields it uses:
    title: title · view: view · upsert: features, seq · remove: ids · layer: layer ·
    layer_remove: layer_id · clear: layer_id (None for every layer)."""

    version: int
    kind: str
    title: str | None = None
    view: View | None = None
    features: tuple[Feature, ...] = ()
    seq: int | None = None
    ids: tuple[str, ...] = ()
    layer: Layer | None = None
    layer_id: str | None = None

    @cached_property
    def wire(self) -> str:
        """The event's JSON text, made once and shared by the SSE frame and the store."""
        from mapsrv.core.codec import dumps  # codec builds on this module

        return dumps(self.to_json())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "kind": self.kind}
        if self.kind == "title":
            out["title"] = self.title
        elif self.kind == "view":
            assert self.view is not None
            out["view"] = self.view.to_json()
        elif self.kind == "upsert":
            out["features"] = [f.to_json() for f in self.features]
            out["seq"] = self.seq
        elif self.kind == "remove":
            out["ids"] = list(self.ids)
        elif self.kind == "layer":
            assert self.layer is not None
            out["layer"] = self.layer.to_json()
        elif self.kind == "layer_remove":
            out["id"] = self.layer_id
        else:  # clear
            out["layer"] = self.layer_id
        return out


def apply(state: MapState, op: Op, limits: Limits = Limits()) -> tuple[MapState, Event]:
    """Validate ``op`` against ``state``; return the next state and the event that leads to it."""
    version = state.version + 1
    event: Event
    if isinstance(op, SetTitle):
        event = Event(version, "title", title=op.title)
    elif isinstance(op, SetView):
        event = Event(version, "view", view=View(center=op.center, zoom=op.zoom, animate=op.animate))
    elif isinstance(op, FitBounds):
        event = Event(version, "view", view=View(bounds=_fit(state, op), animate=op.animate))
    elif isinstance(op, AddFeature):
        event = _upsert_new(state, (op.feature,), limits)
    elif isinstance(op, ImportFeatures):
        event = _upsert_new(state, op.features, limits)
    elif isinstance(op, UpdateFeature):
        event = Event(version, "upsert", features=(_updated(state, op, limits),), seq=state.seq)
    elif isinstance(op, RemoveFeatures):
        for fid in op.ids:
            _feature(state, fid)
        event = Event(version, "remove", ids=tuple(dict.fromkeys(op.ids)))
    elif isinstance(op, AddLayer):
        if op.id in state.layers:
            raise InvalidInput(f"layer {op.id!r} already exists")
        if len(state.layers) >= limits.max_layers:
            raise PayloadTooLarge(f"a map can have at most {limits.max_layers} layers")
        event = Event(version, "layer", layer=Layer(op.id, op.name, op.visible))
    elif isinstance(op, SetLayerVisibility):
        layer = _layer(state, op.id)
        event = Event(version, "layer", layer=dataclasses.replace(layer, visible=op.visible))
    elif isinstance(op, RemoveLayer):
        if op.id == DEFAULT_LAYER:
            raise InvalidInput("the default layer cannot be removed; clear it instead")
        _layer(state, op.id)
        event = Event(version, "layer_remove", layer_id=op.id)
    elif isinstance(op, Clear):
        if op.layer is not None:
            _layer(state, op.layer)
        event = Event(version, "clear", layer_id=op.layer)
    else:
        raise InvalidInput(f"unknown op {type(op).__name__}")
    new_state = apply_event(state, event)
    if new_state.points > limits.max_total_points and new_state.points > state.points:
        raise PayloadTooLarge(
            f"a map can hold at most {limits.max_total_points} coordinates in all;"
            f" this change would make {new_state.points}"
        )
    return new_state, event


def apply_all(state: MapState, ops: Sequence[Op], limits: Limits = Limits()) -> tuple[MapState, list[Event]]:
    """Apply a batch: every op or none. The error names the op that failed."""
    if len(ops) > limits.max_ops:
        raise PayloadTooLarge(f"a batch can have at most {limits.max_ops} ops, got {len(ops)}")
    events = []
    for index, op in enumerate(ops):
        if isinstance(op, AddLayer) and op.if_missing and op.id in state.layers:
            continue
        try:
            state, event = apply(state, op, limits)
        except (InvalidInput, NotFound) as exc:
            if len(ops) > 1:
                exc.message = f"op {index} ({_op_name(op)}): {exc.message}"
                exc.args = (exc.message,)
            raise
        events.append(event)
    return state, events


def apply_event(state: MapState, event: Event) -> MapState:
    """Replay one event. Trusts the event: it was validated when ``apply`` made it."""
    kind = event.kind
    changes: dict[str, Any] = {"version": event.version}
    if kind == "title":
        changes["title"] = event.title
    elif kind == "view":
        changes["view"] = event.view
    elif kind == "upsert":
        features = dict(state.features)
        points = state.points
        for feature in event.features:
            old = features.get(feature.id)
            points += len(feature.points()) - (len(old.points()) if old is not None else 0)
            features[feature.id] = feature
        changes["features"] = features
        changes["seq"] = event.seq
        changes["points"] = points
    elif kind == "remove":
        gone = set(event.ids)
        changes["features"] = {k: f for k, f in state.features.items() if k not in gone}
        changes["points"] = state.points - sum(
            len(state.features[k].points()) for k in gone if k in state.features
        )
    elif kind == "layer":
        assert event.layer is not None
        changes["layers"] = {**state.layers, event.layer.id: event.layer}
    elif kind == "layer_remove":
        changes["layers"] = {k: v for k, v in state.layers.items() if k != event.layer_id}
        changes["features"] = _without_layer(state.features.values(), event.layer_id)
    elif kind == "clear":
        changes["features"] = (
            {} if event.layer_id is None else _without_layer(state.features.values(), event.layer_id)
        )
    else:
        raise InvalidInput(f"unknown event kind {kind!r}")
    if kind in ("layer_remove", "clear"):
        changes["points"] = sum(len(f.points()) for f in changes["features"].values())
    return dataclasses.replace(state, **changes)


def _without_layer(features: Iterable[Feature], layer: str | None) -> dict[str, Feature]:
    return {f.id: f for f in features if f.layer != layer}


def _op_name(op: Op) -> str:
    name = type(op).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _feature(state: MapState, fid: str) -> Feature:
    try:
        return state.features[fid]
    except KeyError:
        raise NotFound(f"feature {fid!r:.80} not found on this map") from None


def _layer(state: MapState, lid: str) -> Layer:
    try:
        return state.layers[lid]
    except KeyError:
        raise NotFound(
            f"layer {lid!r:.80} not found; this map has {', '.join(map(repr, state.layers))}"
        ) from None


def _upsert_new(state: MapState, features: Sequence[Feature], limits: Limits) -> Event:
    if len(state.features) + len(features) > limits.max_features:
        raise PayloadTooLarge(
            f"a map can have at most {limits.max_features} features;"
            f" it has {len(state.features)} and this adds {len(features)}"
        )
    seq = state.seq
    taken = set(state.features)
    out = []
    for feature in features:
        _layer(state, feature.layer)
        if feature.id == "":
            while f"f{seq}" in taken:
                seq += 1
            feature = dataclasses.replace(feature, id=f"f{seq}")
            seq += 1
        elif feature.id in taken:
            raise InvalidInput(f"feature {feature.id!r} already exists; use update_feature to change it")
        taken.add(feature.id)
        out.append(feature)
    return Event(state.version + 1, "upsert", features=tuple(out), seq=seq)


def _updated(state: MapState, op: UpdateFeature, limits: Limits) -> Feature:
    old = _feature(state, op.id)
    style = dict(old.style)
    for key, value in (op.style or {}).items():
        if value is None:
            style.pop(key, None)
        else:
            style[key] = value
    new = build_feature(
        id=old.id,
        type=old.type,
        coords=old.coords if op.coords is None else op.coords,
        radius=old.radius if op.radius is None else op.radius,
        layer=old.layer if op.layer is None else op.layer,
        label=old.label if op.label is None else op.label,
        popup=old.popup if op.popup is None else op.popup,
        style=style,
        limits=limits,
    )
    _layer(state, new.layer)
    return new


def _fit(state: MapState, op: FitBounds) -> Bounds:
    if op.bounds is not None:
        return op.bounds
    if op.feature_ids:
        found = bounds_of(p for fid in op.feature_ids for p in _feature(state, fid).points())
    else:
        found = state.bbox()
    if found is None:
        raise InvalidInput("the map has no features to fit; give bounds instead")
    return found
