"""``select``'s ``mark``: the features chosen, outlined for everyone watching the map.

A mark is a layer of its own (``MARK_LAYER``) holding an outline over each feature chosen: the
same shape with a thick dashed gold edge and no fill; a marker gets a gold ring around it, sized
to the selection's extent. The features themselves are not touched (their styles stay theirs);
the mark is one change like any other (attributed, undone by ``undo``), seen by the page, by late
joiners and in ``map_image`` alike. The next mark replaces it; ``mark: false`` takes it away.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mapsrv.core.measure import bbox
from mapsrv.core.model import Feature, MapState
from mapsrv.core.ops import ImportFeatures, Op, RemoveLayer
from mapsrv.spatial.index import MARK_LAYER
from mapsrv.spatial.shapes import GEOD

__all__ = ["MARK_LAYER", "MARK_STYLE", "mark_ops"]

MARK_STYLE = (("color", "#ffb000"), ("dash", "8 6"), ("fill_opacity", 0.0), ("weight", 5.0))
_RING_SHARE = 0.015  # a marker's ring: this share of the selection's diagonal, 25 m to 50 km


def mark_ops(state: MapState, chosen: Sequence[Feature]) -> list[Op]:
    """The ops that replace the map's mark with outlines of ``chosen`` (none: just remove it)."""
    ops: list[Op] = [RemoveLayer(MARK_LAYER)] if MARK_LAYER in state.layers else []
    if not chosen:
        return ops
    (south, west), (north, east) = bbox(chosen)
    diagonal = float(GEOD.inv(west, south, east, north)[2])
    ring = min(50_000.0, max(25.0, diagonal * _RING_SHARE))
    outlines = [
        Feature("", "circle", feature.coords, MARK_LAYER, style=MARK_STYLE, radius=ring)
        if feature.type == "marker"
        else dataclasses.replace(
            feature, id="", layer=MARK_LAYER, label="", popup="", style=MARK_STYLE, properties=(), series=""
        )
        for feature in chosen
    ]
    return [*ops, ImportFeatures(tuple(outlines))]
