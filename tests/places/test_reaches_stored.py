"""What each region reaches out to sea is made once by scripts/reaches.py and shipped
(``world/admin1-reaches.npz``), not made per question (issue 78): the shipped reaches are what
``borders.reach_of`` makes now, and an area is its region and its reach."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely

from mapsrv.places import borders as borders_module
from mapsrv.places.borders import GRID_DEGREES, borders, reach_of, read_reaches, region_area
from mapsrv.places.shape_file import reaches

# a bay split between two states, a coast facing another country, a lake shore inland, islands
# far out, a landlocked region, and a sample of the rest
NAMED = ("US-NY", "US-WA", "US-TX", "US-RI", "US-HI", "DE-BW", "AT-7", "PT-20")
SAMPLED = 8


def _sample() -> list[int]:
    found = borders()
    picked = [found.by_code[code][0] for code in NAMED]
    return picked + random.Random(78).sample(range(len(found.names)), SAMPLED)


@pytest.mark.parametrize("region", _sample())
def test_a_shipped_reach_is_what_reach_of_makes_now(region: int) -> None:
    found = borders()
    made = shapely.set_precision(reach_of(region, found.shapes, found.tree), GRID_DEGREES)
    (shipped,) = reaches([region])
    assert not shipped.is_empty or made.is_empty, found.names[region]
    apart = shapely.symmetric_difference(made, shipped).area
    assert apart < 1e-12 * max(made.area, 1.0), f"{found.names[region]}: {apart} square degrees apart"


@pytest.mark.parametrize("code", ["US-NY", "US-AK", "DE-BW"])
def test_an_area_is_its_region_and_all_it_reaches(code: str) -> None:
    found = borders()
    (region,) = found.by_code[code]
    area = region_area(code)
    assert area is not None
    whole = shapely.union(found.shapes[region], reaches([region])[0])
    assert shapely.symmetric_difference(area, whole).area < 1e-12 * whole.area
    assert shapely.get_type_id(area) in (3, 6)  # polygons only


def test_reaches_made_from_other_borders_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(borders_module, "borders_digest", lambda: "0" * 64)
    with pytest.raises(ValueError, match=r"admin1-reaches\.npz was made from other borders"):
        read_reaches()


def test_every_region_has_its_reach_and_each_reaches_out_from_its_own_land() -> None:
    found = borders()
    shipped = read_reaches()
    assert len(shipped) == len(found.names)
    assert shapely.is_valid(shipped).all()
    # each reach meets its own region (it grows from it): spot-checked over a spread of them
    picked = np.arange(0, len(shipped), 97)
    meets = shapely.intersects(shipped[picked], found.shapes[picked])
    assert meets.all(), [found.names[i] for i in picked[~meets]]
