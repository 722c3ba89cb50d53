"""Which drawn marker a route's stop stands on (``Markers``, pure: a grid of cells over the map's
markers): one within 30 m, found across any edge of its cell, never one further off."""

from __future__ import annotations

import math

import pytest

from mapsrv.core.measure import distance
from mapsrv.core.model import Feature
from mapsrv.mcp.tools.routing import SAME_PLACE_M, Markers

CELL = Markers.CELL


def moved(point: tuple[float, float], metres: float, bearing_deg: float) -> tuple[float, float]:
    """``point`` moved ``metres`` on a bearing (flat earth: exact enough over tens of metres)."""
    north = metres * math.cos(math.radians(bearing_deg)) / 111_195
    east = metres * math.sin(math.radians(bearing_deg)) / (111_195 * math.cos(math.radians(point[0])))
    return point[0] + north, point[1] + east


def test_a_stop_within_30_m_is_the_marker_and_one_further_is_not() -> None:
    assert SAME_PLACE_M == 30.0
    home = (38.7005, -9.1705)
    markers = Markers([Feature("home", "marker", home)])
    for metres in (0.0, 10.0, 29.0):
        assert markers.find(moved(home, metres, 45)) == "home", f"{metres} m away is the same place"
    for metres in (31.0, 60.0, 150.0, 300.0):
        stop = moved(home, metres, 0)
        assert distance([home, stop]) > SAME_PLACE_M
        assert markers.find(stop) is None, f"a stop {metres} m away reused the marker"


@pytest.mark.parametrize("bearing", [0, 45, 90, 135, 180, 225, 270, 315])
def test_a_marker_just_across_its_cells_edge_is_found(bearing: int) -> None:
    """The marker sits 5 m inside a corner of its cell; the stop is 20 m from it, over the edge
    (or corner) in each direction, so in a neighbouring cell."""
    row, column = math.floor(38.7 / CELL), math.floor(-9.17 / CELL)
    north, south = (row + 1) * CELL, row * CELL
    east, west = (column + 1) * CELL, column * CELL
    inside = 5 / 111_195
    lat = (
        north - inside
        if bearing in (0, 45, 315)
        else south + inside
        if bearing in (135, 180, 225)
        else (north + south) / 2
    )
    lon = (
        east - inside
        if bearing in (45, 90, 135)
        else west + inside
        if bearing in (225, 270, 315)
        else (east + west) / 2
    )
    marker = (lat, lon)
    stop = moved(marker, 20, bearing)
    assert (math.floor(stop[0] / CELL), math.floor(stop[1] / CELL)) != (row, column), (
        "the stop is over the edge"
    )
    assert Markers([Feature("m", "marker", marker)]).find(stop) == "m"
