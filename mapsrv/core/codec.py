"""The wire form of mapsrv's own data: states and events to JSON and back.

What is decoded here was written by mapsrv (a snapshot in Redis, an event another process
committed), so decoding trusts it and skips the validation that untrusted input gets in
``mapsrv.core.parse``: an event another process accepted must replay here even if this process
runs with other limits. Each event kind is encoded and decoded in one place below.

An event has two wire forms: ``wire`` (everything, for the store's log and pub/sub, from which
every process rebuilds a map's history and so what it can undo) and ``viewer_wire`` (for the
event streams: its change without the ``undo`` data, which no viewer reads and which holds every
feature a batch removed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from mapsrv.core.changes import Actor, Change, Inverse
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
from mapsrv.core.geometry import count, decode
from mapsrv.core.json_bytes import dumps_finite
from mapsrv.core.json_pieces import let_go
from mapsrv.core.model import DEFAULT_LAYER, Feature, Layer, MapState, View, per_point
from mapsrv.core.pace import paced
from mapsrv.errors import InvalidInput

__all__ = [
    "actor_to_json",
    "change_from_json",
    "change_to_json",
    "dumps",
    "event_from_json",
    "event_from_wire",
    "event_to_json",
    "feature_from_json",
    "state_from_json",
    "viewer_wire",
    "wire",
]

_WIRE = "_wire"  # where an event keeps its JSON text once made (see ``wire``)
_VIEWER_WIRE = "_viewer_wire"  # likewise for ``viewer_wire``


def dumps(value: Any) -> str:
    """Compact JSON as ``json.dumps`` writes it, at pydantic-core's speed; NaN and infinities are
    refused with ``ValueError`` (they are not JSON)."""
    return dumps_finite(value)


def event_to_json(event: Event, *, undo: bool = True) -> dict[str, Any]:
    """The event as JSON; ``undo=False`` leaves its change's undo data out (``viewer_wire``)."""
    out: dict[str, Any] = {"version": event.version, "kind": event.KIND}
    match event:
        case TitleSet(title=title, members=members):
            out["title"] = title
            if members is not None:  # left out when None: events from before read the same
                out["members"] = dict(members)
        case ViewSet(view=view):
            out["view"] = view.to_json()
        case FeaturesUpserted(features=features, seq=seq):
            out["features"] = [f.to_json() for f in paced(features)]
            out["seq"] = seq
        case FeaturesRemoved(ids=ids):
            out["ids"] = list(ids)
        case LayerSet(layer=layer):
            out["layer"] = layer.to_json()
        case LayerStyled(layer_id=layer_id, style=style):
            out["layer"] = layer_id
            out["style"] = style
        case LayerRemoved(layer_id=layer_id):
            out["id"] = layer_id
        case Cleared(layer_id=layer_id):
            out["layer"] = layer_id
        case _:
            assert_never(event)
    if event.change is not None:  # left out when None: events from before changes read the same
        out["change"] = change_to_json(event.change, undo=undo)
    return out


def event_from_json(raw: Mapping[str, Any]) -> Event:
    kind = raw["kind"]
    version = int(raw["version"])
    change = None if raw.get("change") is None else change_from_json(raw["change"])
    match kind:
        case TitleSet.KIND:
            members = raw.get("members")
            return TitleSet(version, raw["title"], change, None if members is None else _pairs(members))
        case ViewSet.KIND:
            return ViewSet(version, _view_from_json(raw["view"]), change)
        case FeaturesUpserted.KIND:
            features = tuple(feature_from_json(f) for f in raw["features"])
            return FeaturesUpserted(version, features, int(raw["seq"]), change)
        case FeaturesRemoved.KIND:
            return FeaturesRemoved(version, tuple(raw["ids"]), change)
        case LayerSet.KIND:
            return LayerSet(version, _layer_from_json(raw["layer"]), change)
        case LayerStyled.KIND:
            return LayerStyled(version, raw["layer"], raw.get("style"), change)
        case LayerRemoved.KIND:
            return LayerRemoved(version, raw["id"], change)
        case Cleared.KIND:
            return Cleared(version, raw["layer"], change)
    raise InvalidInput(f"unknown event kind {kind!r:.40}")


def actor_to_json(actor: Actor) -> dict[str, Any]:
    return {"id": actor.id, "name": actor.name}


def change_to_json(change: Change, *, undo: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "by": actor_to_json(change.by),
        "first": change.first,
        "at": change.at,
        "summary": change.summary,
    }
    if change.undoes is not None:
        out["undoes"] = change.undoes
    if change.redoes is not None:
        out["redoes"] = change.redoes
    if undo:
        out["undo"] = _inverse_to_json(change.undo)  # last: ``wire`` appends it to the viewer's form
    return out


def _inverse_to_json(inverse: Inverse) -> dict[str, Any]:
    out: dict[str, Any] = {
        "features": {fid: None if f is None else f.to_json() for fid, f in inverse.features},
        "layers": {lid: None if layer is None else layer.to_json() for lid, layer in inverse.layers},
    }
    if inverse.title is not None:
        out["title"] = inverse.title
    if inverse.members is not None:
        out["members"] = dict(inverse.members)
    return out


def change_from_json(raw: Mapping[str, Any]) -> Change:
    undo = raw["undo"]
    inverse = Inverse(
        features=tuple(
            (fid, None if f is None else feature_from_json(f)) for fid, f in undo["features"].items()
        ),
        layers=tuple(
            (lid, None if layer is None else _layer_from_json(layer)) for lid, layer in undo["layers"].items()
        ),
        title=undo.get("title"),
        members=None if undo.get("members") is None else _pairs(undo["members"]),
    )
    undoes, redoes = raw.get("undoes"), raw.get("redoes")
    return Change(
        by=Actor(raw["by"]["id"], raw["by"]["name"]),
        first=int(raw["first"]),
        at=float(raw["at"]),
        summary=raw["summary"],
        undo=inverse,
        undoes=None if undoes is None else int(undoes),
        redoes=None if redoes is None else int(redoes),
    )


def wire(event: Event) -> str:
    """The event's JSON text, made once per event and shared by the store's log and pub/sub
    (and by its SSE frame when it has no change). Kept on the event itself (events are frozen
    values: the text never changes)."""
    text: str | None = event.__dict__.get(_WIRE)
    if text is None:
        if event.change is None:
            text = _dumps_event(event, undo=True)
        else:
            # The change is the event's last member and ``undo`` the change's last, so this is the
            # viewer's form with ``undo`` added before its two closing braces: the rest of the
            # event is encoded once for both forms.
            undo = dumps(_inverse_to_json(event.change.undo))
            text = viewer_wire(event)[:-2] + ',"undo":' + undo + "}}"
        event.__dict__[_WIRE] = text
    return text


def viewer_wire(event: Event) -> str:
    """The event's JSON text as viewers get it: as ``wire``, but its change (if any) without
    ``undo`` (who, when and a summary are kept). Made once per event and kept, like ``wire``;
    an event without a change has one form, ``wire``'s text."""
    if event.change is None:
        return wire(event)
    text: str | None = event.__dict__.get(_VIEWER_WIRE)
    if text is None:
        text = _dumps_event(event, undo=False)
        event.__dict__[_VIEWER_WIRE] = text
    return text


def _dumps_event(event: Event, *, undo: bool) -> str:
    value = event_to_json(event, undo=undo)
    text = dumps(value)
    let_go(value)  # a big import's features' objects freed a slice at a time
    return text


def event_from_wire(text: str | bytes) -> Event:
    """An event from its JSON text, keeping that text for ``wire``."""
    event = event_from_json(json.loads(text))
    event.__dict__[_WIRE] = text.decode() if isinstance(text, bytes) else text
    return event


def feature_from_json(raw: Mapping[str, Any]) -> Feature:
    radius = raw.get("radius")
    coords = decode(raw["type"], raw["coords"])
    members = raw.get("members")
    return Feature(
        id=raw["id"],
        type=raw["type"],
        coords=coords,
        layer=raw.get("layer", DEFAULT_LAYER),
        label=raw.get("label", ""),
        popup=raw.get("popup", ""),
        style=tuple(sorted((raw.get("style") or {}).items())),
        radius=None if radius is None else float(radius),
        properties=_properties(
            raw.get("properties"), raw["type"], coords, raw.get("lists") or (), raw.get("series", "")
        ),
        members=_pairs(members) if members else (),
        series=raw.get("series", ""),
    )


def _pairs(members: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(members.items())  # in the order stored, as check_members keeps them


def _properties(
    raw: Mapping[str, Any] | None, type_: str, coords: Any, lists: Sequence[str], series: str = ""
) -> tuple[tuple[str, Any], ...]:
    """Properties as ``check_properties`` made them: a list a tuple when it is one scalar per
    point (``per_point``) and not one of ``lists`` (``Feature.to_json``), else a nested value
    as it is."""
    if not raw:
        return ()
    points = -1
    out = []
    for key, value in raw.items():
        if isinstance(value, list):
            if points < 0:  # a series' lists are one value a time (``mapsrv.core.series``)
                times = raw.get(series) if series else None
                points = max(count(type_, coords), len(times) if isinstance(times, list) else 0)
            value = tuple(value) if per_point(value, points) and key not in lists else value
        out.append((key, value))
    return tuple(out)  # in the order stored: a file's columns in its order


def _point(raw: Any) -> tuple[float, float]:
    return (float(raw[0]), float(raw[1]))


def _view_from_json(raw: Mapping[str, Any]) -> View:
    animate = bool(raw.get("animate", True))
    if "bounds" in raw:
        south_west, north_east = raw["bounds"]
        return View(bounds=(_point(south_west), _point(north_east)), animate=animate)
    return View(center=_point(raw["center"]), zoom=float(raw["zoom"]), animate=animate)


def _layer_from_json(raw: Mapping[str, Any]) -> Layer:
    return Layer(raw["id"], raw["name"], bool(raw["visible"]), raw.get("style"), raw.get("source"))


def state_from_json(raw: Mapping[str, Any], map_id: str) -> MapState:
    features = [feature_from_json(f) for f in raw["features"]]
    view = raw["view"]
    return MapState(
        id=map_id,
        version=int(raw["version"]),
        title=raw["title"],
        view=None if view is None else _view_from_json(view),
        layers={layer["id"]: _layer_from_json(layer) for layer in raw["layers"]},
        features={f.id: f for f in features},
        seq=int(raw["seq"]),
        points=sum(f.point_count() for f in features),
        members=_pairs(raw["members"]) if raw.get("members") else (),
    )
