"""Ops: what a caller asks for, one frozen dataclass each, and ``Op`` their union. What an op
does to a map is ``mapsrv.core.apply``'s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from mapsrv.core.model import (
    Bounds,
    Feature,
    LatLon,
    Layer,
)

__all__ = [
    "AddFeature",
    "AddLayer",
    "Clear",
    "FitBounds",
    "ImportFeatures",
    "Op",
    "RemoveFeatures",
    "RemoveLayer",
    "RestoreFeatures",
    "RestoreLayer",
    "SetLayerSource",
    "SetLayerStyle",
    "SetLayerVisibility",
    "SetTitle",
    "SetView",
    "UpdateFeature",
]


@dataclass(frozen=True)
class SetTitle:
    title: str
    # the file's own members beside its title (``MapState.members``); None: as they are
    members: tuple[tuple[str, Any], ...] | None = None


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
    (a key set to None is removed). ``type`` reshapes it (a polygon into a multipolygon): its
    coords, given or kept, are checked for the new type, and a radius goes unless it is a circle."""

    id: str
    coords: Any = None
    radius: float | None = None
    layer: str | None = None
    label: str | None = None
    popup: str | None = None
    style: dict[str, Any] | None = None
    type: str | None = None


@dataclass(frozen=True)
class RemoveFeatures:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class AddLayer:
    id: str
    name: str
    visible: bool = True


@dataclass(frozen=True)
class RemoveLayer:
    id: str


@dataclass(frozen=True)
class SetLayerVisibility:
    id: str
    visible: bool


@dataclass(frozen=True)
class SetLayerStyle:
    """Style a layer by value (``style`` as a caller asked: checked, and its breaks or categories
    computed from the layer's features, when applied), or remove its style (None)."""

    layer: str
    style: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class SetLayerSource:
    """Give a layer a source from elsewhere (``mapsrv.core.layer_source``: checked when applied),
    or take it away (None). The layer is made first when the map has none by that id."""

    layer: str
    source: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Clear:
    layer: str | None = None


@dataclass(frozen=True)
class ImportFeatures:
    """Add many features at once (a GeoJSON FeatureCollection, decoded by the codec)."""

    features: tuple[Feature, ...]


@dataclass(frozen=True)
class RestoreFeatures:
    """Put features back exactly as they were (an undo): each replaces the feature with its id,
    or comes back if it is gone."""

    features: tuple[Feature, ...]


@dataclass(frozen=True)
class RestoreLayer:
    """Put a layer back exactly as it was (an undo): added again, or its name and visibility."""

    layer: Layer


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
    | SetLayerStyle
    | SetLayerSource
    | Clear
    | ImportFeatures
    | RestoreFeatures
    | RestoreLayer
)
