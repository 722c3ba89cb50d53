"""The borders ``select``'s ``within`` tests points against (issue 59), checked against outlines
nobody here drew: the US Census Bureau's state lines (support/census_states.py, 1:5,000,000,
public domain). A national list of points, each with its state: points spread over every state,
points near the coasts, and the islands a coarse outline loses (Key West, Marathon, Nantucket,
Martha's Vineyard, the Outer Banks, Culebra, Vieques). Places on the water off a coast (piers, a
lighthouse on its reef) are their country's."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from support.census_states import census_states

from mapsrv.places.borders import borders, country_area, country_at, region_area, region_at

ISLANDS = {
    "Key West": ("US-FL", 24.5551, -81.7800),
    "Marathon": ("US-FL", 24.7136, -81.0904),
    "Nantucket": ("US-MA", 41.2835, -70.0995),
    "Edgartown, Martha's Vineyard": ("US-MA", 41.3890, -70.5134),
    "Kill Devil Hills, Outer Banks": ("US-NC", 36.0307, -75.6760),
    "Hatteras, Outer Banks": ("US-NC", 35.2193, -75.6901),
    "Culebra": ("US-PR", 18.3030, -65.3010),
    "Vieques": ("US-PR", 18.1263, -65.4401),
    "Avalon, Santa Catalina Island": ("US-CA", 33.3428, -118.3282),
    "Kodiak": ("US-AK", 57.7900, -152.4072),
}
# (lat, lon) out on the water, beyond Natural Earth's coastline: the ends of piers a few hundred
# metres out, and a lighthouse on a reef 14 km off Rame Head, inside the territorial sea
OFFSHORE = {
    "Santa Monica Pier's end": ("US", 34.0076, -118.4995),
    "Brighton Palace Pier's end": ("GB", 50.8148, -0.1366),
    "Scheveningen Pier's end": ("NL", 52.1158, 4.2751),
    "Eddystone Lighthouse": ("GB", 50.1803, -4.2653),
}
STATE_LINE_KM = 5.0  # Natural Earth 1:10m's state lines lie ~0.5 km (p50) to 2 km (p90) off the Census's
KM_PER_DEGREE = 111.0


@pytest.fixture(scope="module")
def states() -> dict[str, shapely.Geometry]:
    return {code: shape for code, shape in census_states().items() if code.startswith("US-")}


def _km(shape: shapely.Geometry, points: np.ndarray) -> np.ndarray:
    return shapely.distance(shape, points) * KM_PER_DEGREE * np.cos(np.radians(shapely.get_y(points)))


@pytest.fixture(scope="module")
def listed(states: dict[str, shapely.Geometry]) -> list[tuple[str, shapely.Point]]:
    return national_list(states)


def national_list(states: dict[str, shapely.Geometry]) -> list[tuple[str, shapely.Point]]:
    """Points with their state: spread over each state, and near its coast (1 to 2 km inland
    of the Census's shore); none within STATE_LINE_KM of another state or country."""
    rng = np.random.default_rng(59)
    found = borders()
    abroad = np.array([c not in ("US", "PR") for c in found.countries])
    lines = {code: shapely.simplify(shape.boundary, 0.001) for code, shape in states.items()}
    out: list[tuple[str, shapely.Point]] = []
    for code, census in sorted(states.items()):
        west, south, east, north = census.bounds
        box = shapely.box(west - 0.1, south - 0.1, east + 0.1, north + 0.1)
        others = shapely.union_all([lines[c] for c in states if c != code and box.intersects(lines[c])])
        spread = shapely.points(rng.uniform(west, east, 2000), rng.uniform(south, north, 2000))
        coords = shapely.get_coordinates(census.boundary)
        pick = coords[rng.integers(0, len(coords), 1500)]
        angle, reach = rng.uniform(0, 2 * np.pi, len(pick)), rng.uniform(0.009, 0.018, len(pick))
        east_west = reach * np.cos(angle) / np.cos(np.radians(pick[:, 1]))
        coast = shapely.points(pick[:, 0] + east_west, pick[:, 1] + reach * np.sin(angle))
        points = np.concatenate([spread[shapely.contains(census, spread)][:150], coast])
        points = points[shapely.contains(census, points)]
        if not others.is_empty:
            points = points[_km(others, points) >= STATE_LINE_KM]
        near, regions = found.tree.query(points, predicate="dwithin", distance=STATE_LINE_KM / KM_PER_DEGREE)
        foreign = np.unique(near[abroad[regions]])
        points = np.delete(points, foreign)
        out += [(code, p) for p in points]
    return out


def test_islands_are_in_their_state_and_country() -> None:
    """Each island's town is inside its state's area and (but Puerto Rico's) the United States'."""
    usa = country_area("US")
    assert usa is not None
    for name, (code, lat, lon) in ISLANDS.items():
        area = region_area(code)
        assert area is not None and area.covers(shapely.Point(lon, lat)), f"{name} not in {code}"
        assert code == "US-PR" or usa.covers(shapely.Point(lon, lat)), f"{name} not in the US"
    assert country_area("PR") is not None and country_area("PR").covers(shapely.Point(-65.3010, 18.3030))


def test_a_national_list_of_points_is_in_its_own_states(listed: list[tuple[str, shapely.Point]]) -> None:
    """At least 99.9 % of the list in its own state."""
    assert len(listed) > 15_000 and len({code for code, _ in listed}) >= 51
    own = sum(bool(region_area(code).covers(p)) for code, p in listed)
    assert own / len(listed) >= 0.999, f"{len(listed) - own} of {len(listed)} points outside their state"


def test_no_state_reaches_into_another(
    states: dict[str, shapely.Geometry], listed: list[tuple[str, shapely.Point]]
) -> None:
    """The list's points more than STATE_LINE_KM inside their state's shore and lines are in no
    other state's area: the reach out to sea stops at the neighbours' land. (Nearer a shore, a
    bay between two states is both's: Long Island Sound, Narragansett Bay.)"""
    inland = [(c, p) for c, p in listed if _km(states[c].boundary, np.array([p]))[0] >= STATE_LINE_KM]
    assert len(inland) > 5_000
    points = np.array([p for _, p in inland])
    mine = np.array([code for code, _ in inland])
    elsewhere = {c: int(shapely.covers(region_area(c), points[mine != c]).sum()) for c in set(mine)}
    assert sum(elsewhere.values()) == 0, {code: n for code, n in elsewhere.items() if n}


def test_the_united_states_holds_its_states_points(listed: list[tuple[str, shapely.Point]]) -> None:
    """The country is its regions' union: the list's points of the 50 states and DC are in it."""
    usa = country_area("USA")
    assert usa is not None
    points = [p for code, p in listed if code != "US-PR"]
    inside = int(shapely.covers(usa, np.array(points)).sum())
    assert inside / len(points) >= 0.999, f"{len(points) - inside} of {len(points)} outside the US"


def test_a_place_on_the_water_off_a_coast_is_the_nearest_regions_country() -> None:
    for name, (country, lat, lon) in OFFSHORE.items():
        assert region_at(lon, lat) == ("", ""), f"{name} is inside an outline: not a test of the reach"
        assert country_at(lon, lat) == country, name
    assert country_at(3.0, 55.0) == "", "the middle of the North Sea is no country's"
