"""The built-in places and borders answer as they did in memory (issue 78): the answers of
gazetteer_questions.py's questions, recorded from the in-memory index and borders before they
moved to a file on disk, asked again of the code as it is."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import shapely
from support.gazetteer_questions import ANSWERS, answers, name_questions, points

from mapsrv.mcp.tools.outlines import area_named


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    with gzip.open(ANSWERS, "rt") as file:
        found: dict[str, Any] = json.load(file)
    return found


@pytest.fixture(scope="module")
def now() -> dict[str, Any]:
    return json.loads(json.dumps(answers()))  # as recorded: tuples as lists


def _first_difference(asked: list[Any], before: list[Any], after: list[Any]) -> str:
    assert len(before) == len(after) == len(asked)
    for question, old, new in zip(asked, before, after, strict=True):
        if old != new:
            return f"{question}: was {old}, now {new}"
    return ""


def test_find_places_answers_every_name_prefix_and_typo_as_before(recorded: Any, now: Any) -> None:
    asked = name_questions()
    assert now["find_places"] == recorded["find_places"], _first_difference(
        asked, recorded["find_places"], now["find_places"]
    )


def test_the_nearest_place_to_a_thousand_points_is_as_before(recorded: Any, now: Any) -> None:
    asked = points()[::3]
    assert now["nearest_place"] == recorded["nearest_place"], _first_difference(
        asked, recorded["nearest_place"], now["nearest_place"]
    )


def test_the_country_and_region_at_points_near_coasts_and_borders_are_as_before(
    recorded: Any, now: Any
) -> None:
    asked = points()
    for question in ("country_at", "region_at"):
        assert now[question] == recorded[question], (
            question + ": " + _first_difference(asked, recorded[question], now[question])
        )
    assert now["map_country"] == recorded["map_country"]
    before, after = recorded["regions_of_points"], now["regions_of_points"]
    assert after == before, f"{len(after)} [point, region] pairs for 4,000 points, {len(before)} before"


def test_the_points_within_states_and_countries_are_as_before(recorded: Any) -> None:
    """The recorded points asked again: spread over each area's box as it was then. (The box
    itself is not held: New York's reached 45.2 N, 20 km into Quebec, by a zero-area sliver that
    the union of the cut cells left, gone since ``borders._cut_cells``; the area is the same.)"""
    for name, before in recorded["within"].items():
        area = area_named(name)
        assert area is not None, name
        inside = shapely.covers(area.shape, shapely.points(before["points"])).tolist()
        moved = [
            p for p, old, new in zip(before["points"], before["inside"], inside, strict=True) if old != new
        ]
        assert not moved, f"within {name}: {len(moved)} of 1,000 points answered otherwise, e.g. {moved[:3]}"
