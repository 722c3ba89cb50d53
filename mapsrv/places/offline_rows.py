"""The offline index's rows as answers: a search made ready (``Ask``), a row's score against it
and the Place it becomes, and a page of them (``Page``). The score is ``offline``'s docstring's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mapsrv.core.model import LatLon
from mapsrv.errors import InvalidInput
from mapsrv.places.model import Match, Place
from mapsrv.places.offline_words import query_words
from mapsrv.places.search import MAX_LIMIT, MAX_OFFSET, MAX_QUERY, haversine
from mapsrv.places.sources import Query
from mapsrv.places.text import fold, to_ascii

__all__ = ["COLUMNS", "Ask", "Page", "make_place", "place_of", "prepare", "score_row"]

COLUMNS = "e.id, e.kind, e.name, e.alt, e.category, e.address, e.country, e.population, e.lat, e.lon, e.base"


@dataclass(frozen=True)
class Page:
    """A search's answers from ``offset`` on, and how many it found in all: every match when
    ``complete``, else at least that many (the rows read stopped at a cap or a box around
    ``near`` that held enough)."""

    places: list[Place]
    count: int
    complete: bool
    kind: bool = False  # the text names a category a region has ("pharmacies", "coffee")


@dataclass(frozen=True)
class Ask:
    """A query made ready: its words, FTS text, categories asked for and where."""

    words: list[str]
    key: str  # the folded text, for an exact match
    category: str | None
    near: LatLon | None
    within_m: float | None
    country: str | None
    limit: int  # the rows wanted: the page's and those before it
    offset: int = 0
    cut: list[bool] = field(default_factory=list)  # True for a read that stopped short of every match
    text: str = ""  # the query as written, for a message


def score_row(row: tuple[Any, ...], ask: Ask) -> tuple[float, float | None, Match]:
    """A row's score (rounded, as a Place gives it), distance from ``near`` and what matched."""
    name, alt, address, lat, lon, base = row[2], row[3], row[5], row[8], row[9], row[10]
    match: Match = "words"
    if ask.key and ask.key == fold(name):
        match, base = "name", base + 1
    elif ask.key and any(ask.key == fold(a) for a in alt.split("\n") if a):
        match, base = "alternate name", base + 1
    elif ask.key and address and ask.key == fold(address):
        match, base = "address", base + 1
    elif not ask.words:
        match = "nearest"
    distance = haversine(ask.near, (lat, lon)) if ask.near is not None else None
    score = base - 2 * math.log10(1 + distance / 1000) if distance is not None else base
    return round(score, 3), distance, match


def place_of(row: tuple[Any, ...], ask: Ask) -> Place:
    return make_place(row, ask, *score_row(row, ask))


def make_place(row: tuple[Any, ...], ask: Ask, score: float, distance: float | None, match: Match) -> Place:
    _, kind, name, _, category, address, country, population, lat, lon, _ = row
    return Place(
        name=name,
        ascii_name=to_ascii(name),
        kind=kind,
        country_code=country,
        country="",
        admin1="",
        state="",
        lat=lat,
        lon=lon,
        population=population,
        geonameid=0,
        match=match,
        matched=ask.key or (ask.category or ""),
        score=score,
        distance_m=distance,
        category=category,
        address=address,
        source="index",
    )


def prepare(query: Query) -> Ask:
    if len(query.text) > MAX_QUERY:
        raise InvalidInput(
            f"query must be at most {MAX_QUERY} characters, got {len(query.text)}; give just the name"
        )
    offset = max(0, min(int(query.offset), MAX_OFFSET))
    limit = offset + max(1, min(int(query.limit), MAX_LIMIT + MAX_OFFSET))
    category = query.category.strip() if query.category and query.category.strip() else None
    country = query.country.upper() if query.country else None
    return Ask(
        query_words(query.text),
        fold(query.text),
        category,
        query.near,
        query.within_m,
        country,
        limit,
        offset,
        text=query.text,
    )
