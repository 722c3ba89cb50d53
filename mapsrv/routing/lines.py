"""A line redrawn along what a router answered: a route's road, a track put on the roads. Its
id, layer, label, popup and style kept; the ground's heights along it when the router has them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mapsrv.core.model import Feature, LatLon, Limits, build_feature
from mapsrv.core.routes import climb
from mapsrv.errors import MapsrvError
from mapsrv.routing.model import Router

__all__ = ["elevations", "redrawn"]

log = logging.getLogger("mapsrv.routing")


async def elevations(router: Router, coords: Sequence[LatLon]) -> tuple[float | None, ...]:
    """The heights along ``coords``, or () when the router has no elevation data or fails to
    answer (a route is drawn without them rather than not at all)."""
    try:
        heights = await router.heights(coords)
    except MapsrvError as exc:
        log.info("no elevation along a line: %s", exc.message)
        return ()
    return heights if any(h is not None for h in heights) else ()


def redrawn(
    line: Feature,
    coords: Any,
    properties: dict[str, Any],
    heights: Sequence[float | None],
    limits: Limits,
    type_: str = "polyline",
) -> Feature:
    """``line`` (its id, layer, label, popup and style) on new ``coords`` (a polyline's, or a
    multipolyline's) with ``properties``, and, when there are ``heights`` (one per point, every
    segment's in turn), those heights and their climb."""
    if heights:
        properties["elevations"] = list(heights)
        climbed = climb(heights)
        properties |= climbed.properties() if climbed else {}
    return build_feature(
        id=line.id,
        type=type_,
        coords=coords,
        layer=line.layer,
        label=line.label,
        popup=line.popup,
        style=dict(line.style),
        properties=properties,
        limits=limits,
    )
