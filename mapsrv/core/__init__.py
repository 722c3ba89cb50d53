"""The sans-IO heart of mapsrv: the map model, ops, the codec and SSE framing.

Nothing here imports trio, quart, redis, hypercorn or mcp; every function is pure.
"""

from mapsrv.core.model import Feature, Layer, Limits, MapState, View
from mapsrv.core.ops import Event, Op, apply, apply_all, apply_event

__all__ = [
    "Event",
    "Feature",
    "Layer",
    "Limits",
    "MapState",
    "Op",
    "View",
    "apply",
    "apply_all",
    "apply_event",
]
