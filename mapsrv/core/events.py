"""What happened to a map: one frozen dataclass per kind of change, each at one version.

Events are resolved (generated ids filled in, "fit these features" turned into bounds), so
replaying them never needs the op that made them. ``Event`` is the union of every kind; code
that handles events matches on the classes and ends with ``assert_never``, so the type checker
names any kind a handler forgets. The wire names (``KIND``) are the protocol's
(docs/protocol.md); the codec turns events into JSON and back. The last event of a write batch
carries the batch's ``Change`` (who made it and how to revert it, ``mapsrv.core.changes``); every
other event has None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from mapsrv.core.changes import Change
from mapsrv.core.model import Feature, Layer, View

__all__ = [
    "EVENT_TYPES",
    "Cleared",
    "Event",
    "FeaturesRemoved",
    "FeaturesUpserted",
    "LayerRemoved",
    "LayerSet",
    "LayerStyled",
    "TitleSet",
    "ViewSet",
    "feature_ids",
]


@dataclass(frozen=True)
class TitleSet:
    KIND: ClassVar[str] = "title"
    version: int
    title: str
    change: Change | None = None
    members: tuple[tuple[str, Any], ...] | None = None  # None: the map's are left as they are


@dataclass(frozen=True)
class ViewSet:
    KIND: ClassVar[str] = "view"
    version: int
    view: View
    change: Change | None = None


@dataclass(frozen=True)
class FeaturesUpserted:
    """Features added, or replacing the ones with the same ids. ``seq`` is the map's next
    generated-id number after them."""

    KIND: ClassVar[str] = "upsert"
    version: int
    features: tuple[Feature, ...]
    seq: int
    change: Change | None = None


@dataclass(frozen=True)
class FeaturesRemoved:
    KIND: ClassVar[str] = "remove"
    version: int
    ids: tuple[str, ...]
    change: Change | None = None


@dataclass(frozen=True)
class LayerSet:
    """A layer added, or its name or visibility changed."""

    KIND: ClassVar[str] = "layer"
    version: int
    layer: Layer
    change: Change | None = None


@dataclass(frozen=True)
class LayerStyled:
    """A layer's style by value set (its JSON, as ``Layer.style``) or removed (None)."""

    KIND: ClassVar[str] = "layer_style"
    version: int
    layer_id: str
    style: Mapping[str, Any] | None = field(default=None, hash=False)
    change: Change | None = None


@dataclass(frozen=True)
class LayerRemoved:
    """A layer and every feature on it removed."""

    KIND: ClassVar[str] = "layer_remove"
    version: int
    layer_id: str
    change: Change | None = None


@dataclass(frozen=True)
class Cleared:
    """Every feature removed: of one layer, or of the whole map when ``layer_id`` is None."""

    KIND: ClassVar[str] = "clear"
    version: int
    layer_id: str | None
    change: Change | None = None


Event: TypeAlias = (
    TitleSet | ViewSet | FeaturesUpserted | FeaturesRemoved | LayerSet | LayerStyled | LayerRemoved | Cleared
)

EVENT_TYPES: tuple[type[Event], ...] = (
    TitleSet,
    ViewSet,
    FeaturesUpserted,
    FeaturesRemoved,
    LayerSet,
    LayerStyled,
    LayerRemoved,
    Cleared,
)


def feature_ids(events: Iterable[Event]) -> list[str]:
    """The ids of the features these events added or changed, in order."""
    return [f.id for e in events if isinstance(e, FeaturesUpserted) for f in e.features]
