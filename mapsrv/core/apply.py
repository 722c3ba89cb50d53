"""The pure functions between ops, events and states.

``apply(state, op)`` validates an op against the state and returns the new state with the event
that describes the change. ``apply_event(state, event)`` replays an event; replaying the events
``apply`` produced from any snapshot gives the same state. Events are resolved (generated ids
filled in, "fit these features" turned into bounds), so replay never needs the op.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, assert_never

from mapsrv.core.events import (
    Cleared,
    Event,
    FeaturesRemoved,
    FeaturesUpserted,
    LayerRemoved,
    LayerSet,
    LayerStyled,
    TitleSet,
    ViewSet,
)
from mapsrv.core.layer_source import check_layer_source
from mapsrv.core.layer_style import check_layer_style
from mapsrv.core.model import (
    DEFAULT_LAYER,
    Bounds,
    Feature,
    Layer,
    Limits,
    MapState,
    View,
    bounds_of,
    build_feature,
)
from mapsrv.core.ops import (
    AddFeature,
    AddLayer,
    Clear,
    FitBounds,
    ImportFeatures,
    Op,
    RemoveFeatures,
    RemoveLayer,
    RestoreFeatures,
    RestoreLayer,
    SetLayerSource,
    SetLayerStyle,
    SetLayerVisibility,
    SetTitle,
    SetView,
    UpdateFeature,
)
from mapsrv.core.pace import paced
from mapsrv.core.routes import ROUTE_KEYS, route_facts
from mapsrv.errors import InvalidInput, NotFound, PayloadTooLarge

__all__ = ["apply", "apply_all", "apply_event", "apply_events", "kept_properties"]


def apply(
    state: MapState, op: Op, limits: Limits = Limits(), *, owned: Mapping[str, Feature] | None = None
) -> tuple[MapState, Event]:
    """Validate ``op`` against ``state``; return the next state and the event that leads to it.
    ``owned``: as ``apply_event``'s."""
    event = _resolve(state, op, limits)
    new_state = apply_event(state, event, owned=owned)
    if new_state.points > limits.max_total_points and new_state.points > state.points:
        raise PayloadTooLarge(
            f"a map can hold at most {limits.max_total_points} coordinates in all;"
            f" this change would make {new_state.points}"
        )
    return new_state, event


def _resolve(state: MapState, op: Op, limits: Limits) -> Event:
    version = state.version + 1
    match op:
        case SetTitle(title, members):
            return TitleSet(version, title, members=members)
        case SetView(center, zoom, animate):
            return ViewSet(version, View(center=center, zoom=zoom, animate=animate))
        case FitBounds():
            return ViewSet(version, View(bounds=_fit(state, op), animate=op.animate))
        case AddFeature(feature):
            return _upsert_new(state, (feature,), limits)
        case ImportFeatures(features):
            return _upsert_new(state, features, limits)
        case UpdateFeature():
            return FeaturesUpserted(version, (_updated(state, op, limits),), state.seq)
        case RemoveFeatures(ids):
            for fid in ids:
                _feature(state, fid)
            return FeaturesRemoved(version, tuple(dict.fromkeys(ids)))
        case AddLayer(lid, name, visible):
            if lid in state.layers:
                raise InvalidInput(f"layer {lid!r} already exists")
            if len(state.layers) >= limits.max_layers:
                raise PayloadTooLarge(f"a map can have at most {limits.max_layers} layers")
            return LayerSet(version, Layer(lid, name, visible))
        case SetLayerVisibility(lid, visible):
            return LayerSet(version, dataclasses.replace(_layer(state, lid), visible=visible))
        case SetLayerStyle(lid, style):
            _layer(state, lid)
            if style is None:
                return LayerStyled(version, lid, None)
            mine = [f for f in state.features.values() if f.layer == lid]
            return LayerStyled(version, lid, check_layer_style(style, mine, lid))
        case SetLayerSource(lid, source):
            checked = None if source is None else check_layer_source(source)
            return LayerSet(version, dataclasses.replace(_layer(state, lid), source=checked))
        case RemoveLayer(lid):
            if lid == DEFAULT_LAYER:
                raise InvalidInput("the default layer cannot be removed; clear it instead")
            _layer(state, lid)
            return LayerRemoved(version, lid)
        case Clear(layer):
            if layer is not None:
                _layer(state, layer)
            return Cleared(version, layer)
        case RestoreFeatures(features):
            return _restored(state, features, limits)
        case RestoreLayer(layer):
            if layer.id not in state.layers and len(state.layers) >= limits.max_layers:
                raise PayloadTooLarge(f"a map can have at most {limits.max_layers} layers")
            return LayerSet(version, layer)
        case _:
            assert_never(op)


def apply_all(state: MapState, ops: Sequence[Op], limits: Limits = Limits()) -> tuple[MapState, list[Event]]:
    """Apply a batch: every op or none. The error names the op that failed.

    Drawing on a layer the map does not have creates that layer first (named by its id), so an
    agent or a program can put features on ``"hotels"`` without a separate call."""
    if len(ops) > limits.max_ops:
        raise PayloadTooLarge(f"a batch can have at most {limits.max_ops} ops, got {len(ops)}")
    events = []
    # The first op that changes features copies the map's dict; the batch's later ones change
    # that copy (a batch of 1,000 add_feature ops on a 100,000-feature map made 1,000 copies:
    # 5-9 s). The state given is never changed, so a failed batch leaves it as it was.
    original = state.features
    for index, op in enumerate(ops):
        owned = None if state.features is original else state.features
        try:
            for layer in _missing_layers(state, op):
                state, event = apply(state, AddLayer(layer, layer), limits, owned=owned)
                events.append(event)
            state, event = apply(state, op, limits, owned=owned)
        except (InvalidInput, NotFound) as exc:
            if len(ops) > 1:
                exc.message = f"op {index} ({_op_name(op)}): {exc.message}"
                exc.args = (exc.message,)
            raise
        events.append(event)
    return state, events


def _missing_layers(state: MapState, op: Op) -> list[str]:
    match op:
        case AddFeature(feature):
            drawn: Iterable[Feature] = (feature,)
        case ImportFeatures(features) | RestoreFeatures(features):
            drawn = features
        case SetLayerSource(layer):
            return [] if layer in state.layers else [layer]
        case _:
            return []
    return list(dict.fromkeys(f.layer for f in drawn if f.layer not in state.layers))


def apply_events(state: MapState, events: Iterable[Event]) -> MapState:
    """Replay events in order, copying the map's features once however many there are."""
    original = state.features
    for event in events:
        state = apply_event(state, event, owned=None if state.features is original else state.features)
    return state


def apply_event(state: MapState, event: Event, *, owned: Mapping[str, Feature] | None = None) -> MapState:
    """Replay one event. Trusts the event: it was validated when ``apply`` made it.

    ``owned``: when it is ``state.features`` itself, that dict belongs to the caller's batch alone
    (no other state holds it) and is changed in place rather than copied."""
    match event:
        case TitleSet(version, title, _, members):
            given = state.members if members is None else members
            return dataclasses.replace(state, version=version, title=title, members=given)
        case ViewSet(version, view):
            return dataclasses.replace(state, version=version, view=view)
        case FeaturesUpserted(version, upserted, seq):
            features = _own(state, owned)
            points = state.points
            for feature in paced(upserted):
                old = features.get(feature.id)
                points += feature.point_count() - (old.point_count() if old is not None else 0)
                features[feature.id] = feature
            return dataclasses.replace(state, version=version, features=features, seq=seq, points=points)
        case FeaturesRemoved(version, ids):
            gone = set(ids)
            had = state.features
            points = state.points - sum(had[k].point_count() for k in paced(gone) if k in had)
            if state.features is owned or len(gone) * 8 < len(state.features):
                features = _own(state, owned)
                for k in gone:
                    features.pop(k, None)
            else:
                features = {k: f for k, f in state.features.items() if k not in gone}
            return dataclasses.replace(state, version=version, features=features, points=points)
        case LayerSet(version, layer):
            return dataclasses.replace(state, version=version, layers={**state.layers, layer.id: layer})
        case LayerStyled(version, layer_id, style):
            styling = state.layers.get(layer_id)
            if styling is None:
                return dataclasses.replace(state, version=version)
            styled = dataclasses.replace(styling, style=style)
            return dataclasses.replace(state, version=version, layers={**state.layers, layer_id: styled})
        case LayerRemoved(version, layer_id):
            layers = {k: v for k, v in state.layers.items() if k != layer_id}
            return _with_features(state, version, _without_layer(state.features.values(), layer_id), layers)
        case Cleared(version, layer_id):
            kept = {} if layer_id is None else _without_layer(state.features.values(), layer_id)
            return _with_features(state, version, kept, state.layers)
        case _:
            assert_never(event)


def _own(state: MapState, owned: Mapping[str, Feature] | None) -> dict[str, Feature]:
    """``state``'s features as a dict to change: the batch's own when ``owned`` is it, else a copy."""
    if isinstance(owned, dict) and state.features is owned:
        return owned
    return dict(state.features)


def _with_features(
    state: MapState, version: int, features: dict[str, Feature], layers: Mapping[str, Layer]
) -> MapState:
    points = sum(f.point_count() for f in features.values())
    return dataclasses.replace(state, version=version, features=features, layers=layers, points=points)


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
    existing = state.features  # looked up, never copied: an op on a big map stays cheap
    taken: set[str] = set()  # the ids this op adds
    out = []
    for feature in paced(features):
        _layer(state, feature.layer)
        if feature.id == "":
            while f"f{seq}" in existing or f"f{seq}" in taken:
                seq += 1
            # not dataclasses.replace: it reads every field by name (15 us a feature, most of
            # a 10,000-feature import); the fields' dict holds them all already
            feature = Feature(**{**vars(feature), "id": f"f{seq}"})
            seq += 1
        elif feature.id in existing or feature.id in taken:
            raise InvalidInput(f"feature {feature.id!r} already exists; use update_feature to change it")
        taken.add(feature.id)
        out.append(feature)
    return FeaturesUpserted(state.version + 1, tuple(out), seq)


def _restored(state: MapState, features: Sequence[Feature], limits: Limits) -> Event:
    back = sum(1 for f in dict.fromkeys(f.id for f in features) if f not in state.features)
    if len(state.features) + back > limits.max_features:
        raise PayloadTooLarge(
            f"a map can have at most {limits.max_features} features;"
            f" it has {len(state.features)} and this brings back {back}"
        )
    for feature in features:
        _layer(state, feature.layer)
    return FeaturesUpserted(state.version + 1, tuple(features), state.seq)


def _updated(state: MapState, op: UpdateFeature, limits: Limits) -> Feature:
    old = _feature(state, op.id)
    style = dict(old.style)
    for key, value in (op.style or {}).items():
        if value is None:
            style.pop(key, None)
        else:
            style[key] = value
    type_ = old.type if op.type is None else op.type
    new = build_feature(
        id=old.id,
        type=type_,
        coords=old.coords if op.coords is None else op.coords,
        radius=op.radius if op.radius is not None or type_ != old.type else old.radius,
        layer=old.layer if op.layer is None else op.layer,
        label=old.label if op.label is None else op.label,
        popup=old.popup if op.popup is None else op.popup,
        style=style,
        limits=limits,
    )
    _layer(state, new.layer)
    series = (
        old.series if new.type not in ("polyline", "multipolyline") else ""
    )  # a line's lists are per point
    return dataclasses.replace(new, properties=kept_properties(old, new), series=series)


def kept_properties(old: Feature, new: Feature) -> tuple[tuple[str, Any], ...]:
    """A feature's properties after an update (checked already, with ``old``): all of them,
    unless its points moved. Then what described the old points goes: a track's per-point times
    and elevations, and a routed line's distance and time (a reshaped line no longer follows the
    router's road)."""
    if new.coords == old.coords or old.series:  # a series' lists are by time, not by point
        return old.properties
    stale = set(ROUTE_KEYS) if route_facts(old) is not None else set()
    return tuple((k, v) for k, v in old.properties if not isinstance(v, tuple) and k not in stale)


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
