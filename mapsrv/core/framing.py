"""The box that frames what matters (issue 76): a map's features, or, when a few of them lie so
far from the rest that framing them too would zoom out to a continent or the world (4 airports
in Palau, Yap and Tinian beside 3,376 in the United States), the rest, those few counted so the
answer and the image can say so. An import's and a drawing's camera and ``map_image``'s
whole-map view frame this way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mapsrv.core.measure import bbox
from mapsrv.core.model import Bounds, Feature
from mapsrv.core.pace import paced

__all__ = ["MOST_LEFT_OUT", "framed"]

MOST_LEFT_OUT = 0.01  # the share of the features a frame may leave out
_FEWEST = 50  # fewer features than this are all framed
_CLOSER = 2.0  # ... and only when leaving them out makes the box this many times narrower (a zoom)
_TAIL = 0.005  # the quantiles each side that bound the bulk
_MARGIN = 1.0  # the bulk's box widened by its own size each side, before features are tested


def _center(feature: Feature) -> tuple[float, float]:
    if feature.type in ("marker", "circle"):
        lat, lon = feature.coords
        return float(lat), float(lon)
    points = feature.points()
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


def _closer(whole: Bounds, bulk: Bounds) -> float:
    """How many times narrower ``bulk`` is than ``whole``, on the axis that shrinks most."""
    ((s0, w0), (n0, e0)), ((s1, w1), (n1, e1)) = whole, bulk
    tall = max(n0 - s0, 1e-9) / max(n1 - s1, 1e-9)
    wide = max(e0 - w0, 1e-9) / max(e1 - w1, 1e-9)
    return max(tall, wide)


def framed(features: Sequence[Feature]) -> tuple[Bounds, int]:
    """The box to show ``features`` in (``((south, west), (north, east))``, as ``bbox``), and how
    many of them it leaves out: none, unless at most ``MOST_LEFT_OUT`` of at least 50 lie
    outside the bulk (their middles past its 0.5 % and 99.5 % quantiles, widened by its own
    size each side) and framing the rest halves the box's width or height (a zoom closer)."""
    whole = bbox(paced(features))  # each a step a cancelled call stops at (a big import's camera)
    if len(features) < _FEWEST:
        return whole, 0
    middles = np.array([_center(f) for f in paced(features)])
    low, high = np.quantile(middles, [_TAIL, 1 - _TAIL], axis=0)
    margin = np.maximum((high - low) * _MARGIN, 0.01)
    inside = np.all((middles >= low - margin) & (middles <= high + margin), axis=1)
    left = len(features) - int(inside.sum())
    if not 0 < left <= MOST_LEFT_OUT * len(features):
        return whole, 0
    bulk = bbox(f for f, kept in zip(paced(features), inside.tolist(), strict=True) if kept)
    return (bulk, left) if _closer(whole, bulk) >= _CLOSER else (whole, 0)
