"""A track's times carried onto the road's line (pure), and a line's climb."""

from __future__ import annotations

import pytest

from mapsrv.core.routes import climb
from mapsrv.routing.tracks import along_m, positions, retime

# three points due north, ~111 m apart
LINE = [(0.0, 0.0), (0.001, 0.0), (0.002, 0.0)]


def test_road_points_get_times_of_constant_speed_between_the_fixes_around_them() -> None:
    metres = along_m(LINE)
    assert metres[1] == pytest.approx(111.2, abs=0.1)
    times = retime(["2026-01-01T10:00:00Z", None, "2026-01-01T10:00:20+00:00"], [0.0, 50.0, metres[2]], LINE)
    assert times == ["2026-01-01T10:00:00Z", "2026-01-01T10:00:10Z", "2026-01-01T10:00:20Z"]


def test_before_the_first_fix_and_after_the_last_the_time_stays() -> None:
    times = retime(["2026-01-01T10:00:05Z", "2026-01-01T10:00:06Z"], [50.0, 60.0], LINE)
    assert times == ["2026-01-01T10:00:05Z", "2026-01-01T10:00:06Z", "2026-01-01T10:00:06Z"]
    assert retime([None, "not a time"], [0.0, 1.0], LINE) is None


def test_matched_points_are_placed_along_their_edge_and_never_go_back() -> None:
    edges = [(0, 1), (1, 2)]
    matched = [(0, (0.0005, 0.0)), (1, (0.0015, 0.0)), (0, (0.0002, 0.0)), None]
    at = positions(LINE, edges, matched)
    assert at[0] == pytest.approx(55.6, abs=0.1) and at[1] == pytest.approx(166.8, abs=0.1)
    assert at[2] == at[1], "a point matched behind the last one stays where the last one was"
    assert at[3] is None


def test_a_lines_climb_sums_its_rises_and_falls() -> None:
    found = climb([100.0, 120.0, None, 110.0, 130.0])
    assert found is not None
    assert (found.ascent_m, found.descent_m, found.highest_m) == (40.0, 10.0, 130.0)
    assert climb([None, 5.0]) is None
