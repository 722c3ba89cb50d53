"""What one write batch did, read from the state before it and its events: the ``Inverse`` that
reverts it, what it touched (its ``Footprint``, for conflicts), what it added, changed and removed
(its ``Effect``), and a short summary in words ("added 3 markers", "moved 'Hotel'")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, assert_never

from mapsrv.core.apply import kept_properties
from mapsrv.core.changes import Inverse
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
from mapsrv.core.geometry import kind_name
from mapsrv.core.model import Feature, LatLon, Layer, MapState
from mapsrv.core.pace import paced
from mapsrv.core.routes import route_facts

__all__ = [
    "NOTES_LAYER",
    "Effect",
    "Footprint",
    "after_of",
    "effect_of",
    "footprint_of",
    "inverse_of",
    "summarize",
]

NOTES_LAYER = "notes"  # people's notes are markers on this layer (docs/protocol.md)
MAX_SUMMARY = 200
MAX_QUOTED = 40


@dataclass(frozen=True)
class Footprint:
    """What a change touched: features (added, changed or removed), layers (added, changed or
    removed), the layers its features are on, and whether it set the title. Two changes conflict
    when they touch the same feature, the same layer, a layer the other draws on, or both set the
    title; drawing on the same layer is no conflict."""

    features: frozenset[str] = frozenset()
    layers: frozenset[str] = frozenset()
    drawn_on: frozenset[str] = frozenset()
    title: bool = False

    def overlaps(self, other: Footprint) -> bool:
        return bool(
            self.features & other.features
            or self.layers & (other.layers | other.drawn_on)
            or other.layers & self.drawn_on
            or (self.title and other.title)
        )


@dataclass(frozen=True)
class Effect:
    """The feature ids a change added, changed and removed, and the notes it added
    (id, text, where)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    notes: tuple[tuple[str, str, LatLon], ...] = ()


def inverse_of(before: MapState, events: Sequence[Event]) -> Inverse:
    """What reverts ``events`` (one batch applied to ``before``): every feature and layer they
    touch, as it was in ``before``. A feature a batch touches twice is remembered once, as it was
    before the first touch, which is its value in ``before``."""
    features: dict[str, Feature | None] = {}
    layers: dict[str, Layer | None] = {}
    title: str | None = None
    members: tuple[tuple[str, Any], ...] | None = None

    def touch_layer(lid: str, *, with_features: bool) -> None:
        if lid not in layers:
            layers[lid] = before.layers.get(lid)
        if with_features:
            for f in paced(before.features.values()):
                if f.layer == lid and f.id not in features:
                    features[f.id] = f

    for event in events:
        match event:
            case TitleSet():
                title = before.title if title is None else title
                if event.members is not None and members is None:
                    members = before.members
            case ViewSet():
                pass
            case FeaturesUpserted(features=upserted):
                for f in paced(upserted):
                    if f.id not in features:
                        features[f.id] = before.features.get(f.id)
            case FeaturesRemoved(ids=ids):
                for fid in paced(ids):
                    if fid not in features:
                        features[fid] = before.features.get(fid)
            case LayerSet(layer=layer):
                touch_layer(layer.id, with_features=False)
            case LayerStyled(layer_id=lid):
                touch_layer(lid, with_features=False)
            case LayerRemoved(layer_id=lid):
                touch_layer(lid, with_features=True)
            case Cleared(layer_id=lid):
                for f in paced(before.features.values()):
                    if (lid is None or f.layer == lid) and f.id not in features:
                        features[f.id] = f
            case _:
                assert_never(event)
    return Inverse(tuple(features.items()), tuple(layers.items()), title, members)


def after_of(inverse: Inverse, events: Sequence[Event]) -> dict[str, Feature | None]:
    """The features a batch touched as they are after it (the inverse holds every one)."""
    after = dict(inverse.features)
    for event in events:
        match event:
            case FeaturesUpserted(features=upserted):
                for feature in paced(upserted):
                    after[feature.id] = feature
            case FeaturesRemoved(ids=ids):
                for fid in ids:
                    after[fid] = None
            case LayerRemoved(layer_id=lid) | Cleared(layer_id=lid):
                every = isinstance(event, Cleared) and lid is None
                for fid, f in paced(after.items()):
                    if f is not None and (every or f.layer == lid):
                        after[fid] = None
    return after


def footprint_of(inverse: Inverse, events: Sequence[Event] = ()) -> Footprint:
    """What a batch touches; with no events, what applying ``inverse`` touches (an undo)."""
    drawn = {f.layer for _, f in inverse.features if f is not None}
    drawn.update(f.layer for e in events if isinstance(e, FeaturesUpserted) for f in e.features)
    return Footprint(
        features=frozenset(fid for fid, _ in inverse.features),
        layers=frozenset(lid for lid, _ in inverse.layers),
        drawn_on=frozenset(drawn),
        title=inverse.title is not None,
    )


def _is_note(feature: Feature | None) -> TypeGuard[Feature]:
    return feature is not None and feature.layer == NOTES_LAYER and feature.type == "marker"


def effect_of(
    inverse: Inverse, events: Sequence[Event], after: dict[str, Feature | None] | None = None
) -> Effect:
    after = after_of(inverse, events) if after is None else after
    added, changed, removed = [], [], []
    notes: list[tuple[str, str, LatLon]] = []
    for fid, old in paced(inverse.features):
        new = after.get(fid)
        if old is None and new is not None:
            added.append(fid)
        elif old is not None and new is None:
            removed.append(fid)
        elif old != new:
            changed.append(fid)
        # A note with new text: the page places a note first and writes its text when the person
        # saves it, so the text usually arrives in a later change than the marker.
        if _is_note(new) and new.popup and (old is None or not _is_note(old) or old.popup != new.popup):
            notes.append((fid, new.popup, new.coords))
    return Effect(tuple(added), tuple(changed), tuple(removed), tuple(notes))


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return "'" + (text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…") + "'"


def _name(f: Feature) -> str:
    return _quoted(f.label) if f.label else f"{kind_name(f.type)} {f.id}"


def _counted(kinds: list[str]) -> str:
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    words = [
        (("an " if kind[0] in "aeiou" else "a ") + kind) if n == 1 else f"{n} {kind}s"
        for kind, n in counts.items()
    ]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _moved(old: Feature, new: Feature) -> bool:
    """Only its points changed (and, with them, the properties that described the old points)."""
    same = (old.type, old.layer, old.label, old.popup, old.style) == (
        new.type,
        new.layer,
        new.label,
        new.popup,
        new.style,
    )
    return same and new.properties == kept_properties(old, new)


def _feature_parts(
    inverse: Inverse, events: Sequence[Event], after: dict[str, Feature | None], effect: Effect
) -> list[str]:
    before = dict(inverse.features)
    explicit = {fid for e in events if isinstance(e, FeaturesRemoved) for fid in e.ids}
    parts = []
    new = [after[fid] for fid in effect.added]
    routed = [facts for f in new if f is not None and (facts := route_facts(f)) is not None]
    along = f" ({routed[0].words()})" if len(routed) == 1 else ""
    if len(new) == 1 and new[0] is not None and new[0].label:
        parts.append(f"added {_quoted(new[0].label)}{along}")
    elif new:
        kinds = ["route" if route_facts(f) else kind_name(f.type) for f in new if f is not None]
        parts.append("added " + _counted(kinds) + along)
    pairs = [(before[fid], after[fid]) for fid in effect.changed]
    verb = "moved" if all(o is not None and n is not None and _moved(o, n) for o, n in pairs) else "edited"
    if len(pairs) == 1 and pairs[0][1] is not None:
        parts.append(f"{verb} {_name(pairs[0][1])}")
    elif pairs:
        parts.append(f"{verb} {len(pairs)} features")
    gone = [before[fid] for fid in effect.removed if fid in explicit]
    if len(gone) == 1 and gone[0] is not None:
        parts.append(f"removed {_name(gone[0])}")
    elif gone:
        parts.append(f"removed {len(gone)} features")
    return parts


def _layer_parts(before: MapState, events: Sequence[Event]) -> list[str]:
    parts = []
    for event in events:
        match event:
            case LayerSet(layer=new):
                old = before.layers.get(new.id)
                if old is None:
                    parts.append(f"added layer {_quoted(new.name)}")
                elif old.visible != new.visible:
                    parts.append(f"{'showed' if new.visible else 'hid'} layer {_quoted(new.name)}")
                elif old.name != new.name:
                    parts.append(f"renamed layer {_quoted(old.name)} to {_quoted(new.name)}")
                elif old.style != new.style:
                    parts.append(f"restyled layer {_quoted(new.name)}")
                elif old.source != new.source:
                    verb = "removed the source of" if new.source is None else "set the source of"
                    parts.append(f"{verb} layer {_quoted(new.name)}")
            case LayerStyled(layer_id=lid, style=style):
                named = _quoted(before.layers[lid].name if lid in before.layers else lid)
                if style is None:
                    parts.append(f"removed the style of layer {named}")
                else:
                    by = f" by {_quoted(str(style['by']))}" if style.get("by") else ""
                    parts.append(f"styled layer {named}{by}")
            case LayerRemoved(layer_id=lid):
                gone = before.layers.get(lid)
                parts.append(f"removed layer {_quoted(gone.name if gone else lid)}")
            case Cleared(layer_id=None):
                parts.append("cleared the map")
            case Cleared(layer_id=str(lid)):
                parts.append(f"cleared layer {_quoted(lid)}")
    return parts


def summarize(
    before: MapState,
    events: Sequence[Event],
    inverse: Inverse,
    after: dict[str, Feature | None] | None = None,
    effect: Effect | None = None,
) -> str:
    """A few words on what a batch did, for people and agents reading the history (``after`` and
    ``effect``, when the caller has them, are not derived again)."""
    after = after_of(inverse, events) if after is None else after
    effect = effect_of(inverse, events, after) if effect is None else effect
    parts = []
    titles = [e.title for e in events if isinstance(e, TitleSet)]
    if titles:
        parts.append(f"set the title to {_quoted(titles[-1])}" if titles[-1] else "removed the title")
    parts += _layer_parts(before, events)
    parts += _feature_parts(inverse, events, after, effect)
    if not parts and any(isinstance(e, ViewSet) for e in events):
        parts.append("moved the view")
    text = ", ".join(dict.fromkeys(parts)) or "changed nothing"
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
