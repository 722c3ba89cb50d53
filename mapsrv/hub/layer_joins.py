"""A table joined to a layer of a map (``mapsrv.formats.layer_join`` decides what matches): the
changed features, each with the row's columns added to its properties and checked as any
feature's are, as one ``RestoreFeatures`` op. The caller writes it at the version it read, so a
change made meanwhile is a conflict rather than lost, and one undo takes the whole join back."""

from __future__ import annotations

import dataclasses

from mapsrv.core.model import Limits, MapState, check_properties
from mapsrv.core.ops import Op, RestoreFeatures
from mapsrv.errors import InvalidInput
from mapsrv.formats.layer_join import LayerJoin, Target, join_to_layer
from mapsrv.formats.sandbox import Table
from mapsrv.workers import run

__all__ = ["layer_join_ops"]


def _join(
    state: MapState, layer: str, table: Table, key: str | None, limits: Limits
) -> tuple[list[Op], LayerJoin]:
    if layer not in state.layers:
        have = ", ".join(repr(name) for name in list(state.layers)[:10]) or "none"
        raise InvalidInput(f"join: layer must be a layer of this map, got {layer!r:.40}; it has {have}")
    targets = [Target(f.id, f.label, f.properties) for f in state.features.values() if f.layer == layer]
    joined = join_to_layer((table.header, table.rows, table.comma), targets, key)
    joined.layer = layer
    changed = []
    for fid, properties in joined.changed.items():
        feature = state.features[fid]
        times = dict(properties).get(feature.series) if feature.series else None  # a series' lists: by time
        points = max(feature.point_count(), len(times) if isinstance(times, (tuple, list)) else 0)
        checked = check_properties(dict(properties), limits, points)
        changed.append(dataclasses.replace(feature, properties=checked))
    return ([RestoreFeatures(tuple(changed))] if changed else []), joined


async def layer_join_ops(
    state: MapState, layer: str, table: Table, key: str | None, limits: Limits
) -> tuple[list[Op], LayerJoin]:
    """The op that joins ``table`` to ``layer`` of ``state`` by ``key`` (else found), and what
    the join found; worked out off the loop (a 100,000-feature layer's matching takes a while)."""
    return await run("encode", _join, state, layer, table, key, limits)
