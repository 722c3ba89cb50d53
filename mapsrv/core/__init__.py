"""The sans-IO heart of mapsrv: the map model, ops and events, the codec and SSE framing.

Nothing here imports trio, quart, redis, hypercorn or mcp; every function is pure.
"""

from mapsrv.core.apply import apply, apply_all, apply_event, apply_events
from mapsrv.core.events import Event, feature_ids
from mapsrv.core.model import Feature, Layer, Limits, MapState, View
from mapsrv.core.ops import Op

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
    "apply_events",
    "feature_ids",
]
