"""The shortest order through a route's stops by straight lines (``core/tours.py``, pure, on a
matrix of distances): every order tried up to 9 stops, and past that a trip that does not cross
itself, checked on points round a circle, whose shortest trip from one to its neighbour goes round."""

from __future__ import annotations

import itertools
import math
import random

from mapsrv.core.tours import EXACT_UP_TO, shortest_order, trip_length


def matrix(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[math.dist(a, b) for b in points] for a in points]


def round_a_circle(count: int, seed: int) -> tuple[list[tuple[float, float]], list[int]]:
    """``count`` points at random places round a circle, the first and last neighbours (the
    first at 0, the last the furthest round), the others shuffled; and each point's place round
    the circle, in turn."""
    rng = random.Random(seed)
    angles = sorted([0.0, *(rng.uniform(0.01, 2 * math.pi - 0.01) for _ in range(count - 1))])
    middle = list(range(1, count - 1))
    rng.shuffle(middle)
    places = [0, *middle, count - 1]
    return [(math.cos(angles[p]), math.sin(angles[p])) for p in places], places


def test_up_to_nine_stops_the_order_is_the_shortest_of_every_order() -> None:
    rng = random.Random(7)
    for count in range(4, EXACT_UP_TO + 1):
        metres = matrix([(rng.random(), rng.random()) for _ in range(count)])
        every = ((0, *m, count - 1) for m in itertools.permutations(range(1, count - 1)))
        best = min(trip_length(metres, order) for order in every)
        order = shortest_order(metres)
        assert order[0] == 0 and order[-1] == count - 1 and sorted(order) == list(range(count))
        assert trip_length(metres, order) == best, count


def test_past_nine_stops_the_trip_goes_round_the_circle() -> None:
    for count in (10, 14, 20):
        for seed in range(20):
            points, places = round_a_circle(count, seed)
            order = shortest_order(matrix(points))
            assert [places[i] for i in order] == list(range(count)), (count, seed)
