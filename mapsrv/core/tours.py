"""The shortest order through a route's stops by straight lines, for ``"order": "best"`` on a
server without a router: the first and last stop kept where they are, as the router's optimizer
keeps them, the others put in the order that makes the trip shortest.

Up to ``EXACT_UP_TO`` stops every order is tried (8 stops: 720 orders, well under a millisecond);
past that, the nearest stop next, then 2-opt (a stretch of the trip turned round while that makes
it shorter), which is near the best for the 20 stops a route may have.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

__all__ = ["EXACT_UP_TO", "shortest_order", "trip_length"]

EXACT_UP_TO = 9  # stops: 7! = 5,040 orders of the middle ones, a few milliseconds


def trip_length(metres: Sequence[Sequence[float]], order: Sequence[int]) -> float:
    """The length of the trip through ``order``, by the ``metres`` between each pair of stops."""
    return sum(metres[a][b] for a, b in itertools.pairwise(order))


def shortest_order(metres: Sequence[Sequence[float]]) -> tuple[int, ...]:
    """The stops' indexes in the order of the shortest trip from the first stop to the last, by
    ``metres``, the distances between every pair of stops."""
    count = len(metres)
    if count <= 3:
        return tuple(range(count))
    last = count - 1
    if count <= EXACT_UP_TO:
        orders = ((0, *middle, last) for middle in itertools.permutations(range(1, last)))
        return min(orders, key=lambda order: trip_length(metres, order))
    order = [0]
    left = set(range(1, last))
    while left:
        here = order[-1]
        order.append(min(left, key=lambda stop: (metres[here][stop], stop)))
        left.discard(order[-1])
    order.append(last)
    return tuple(_two_opt(metres, order))


def _two_opt(metres: Sequence[Sequence[float]], order: list[int]) -> list[int]:
    """``order`` with stretches of its middle turned round while any makes the trip shorter."""
    better = True
    while better:
        better = False
        for i in range(1, len(order) - 2):
            for j in range(i + 1, len(order) - 1):
                a, b, c, d = order[i - 1], order[i], order[j], order[j + 1]
                if metres[a][c] + metres[b][d] < metres[a][b] + metres[c][d] - 1e-9:
                    order[i : j + 1] = reversed(order[i : j + 1])
                    better = True
    return order
