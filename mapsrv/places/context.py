"""Choosing, for every name of one call, the place it means, in the context of the others.

Each name has candidates (every place it may name, from every source) with a prior: how likely
it is before anything else is known (log10 of the population, +1 for a place's own name, for the
built-in list). A candidate then loses

- ``log10(1 + d / 100 km)``, with ``d`` its distance to the nearest other point of the call: the
  place chosen for each other name, the map's features and view. A trip's stops lie near each
  other; Salamanca beside Lisbon, Porto and Madrid is Spain's, not Mexico's. When the call's
  other points have legs of their own (two or more points, or a map's view across), the distance
  is weighed against the trip's own scale instead, ``1.6 log10(1 + d / s)``, ``s`` the longest of
  those legs (each point's distance to its nearest other; past 24 fixed points, their box's
  diagonal), at least 25 km; a trip wider than 500 km is no local trip, and a call of more than
  eight open names counts the fixed reach alone (the legs' cost grows with their square). Rome
  between Atlanta and Chattanooga (170 km apart) is Georgia's: Rome, Italy is 46 legs away;
  London on a map of Toronto is Ontario's;
- ``3 log10(1 + d / 50 km)`` from the place its hint names ("Salamanca, Madrid"), or ``near``;
- 1 when it is a district of a much bigger city (a city beats a district of another city that
  shares its name).

Names with one candidate are fixed and anchor the others; each other name takes its best
candidate, then every name is chosen again against the others' choices until none changes (at
most five rounds: an itinerary settles in two). Where that ends depends on where it starts:
"Barcelona, Valencia" from the priors alone (Barcelona, Spain; Valencia, Venezuela) settled in
Venezuela, and with the names the other way round in Spain. So a call of two to eight such names
also starts from each of a few other regions (up to four, each a rival candidate of a name, none
within 200 km of another; all names gathered around it) and keeps the ending whose names' scores
sum highest, whatever their order: Barcelona and Valencia in Spain (13.34 against 13.22), Portland
and Bangor in Maine. A call of more such names starts from the priors alone (its cost grows with
the square of the names; tests/bench/place_context.py). Population still speaks: 1 in log10 is
a factor of 10 in people against a factor of ~10 in distance, so London beside New York is still
England's, and Santiago beside Vigo is still Chile's (Santiago de Compostela, 100,000 people, is
"Santiago" only by an alternate name). The weights were set on the itineraries of
tests/places/test_context.py and the trips of tests/places/test_local_trips.py (1.55 to 1.7 keep
them all: Paris between Dallas and Texarkana wants more, London beside New York and Boston less).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mapsrv.core.model import LatLon
from mapsrv.places.model import Place

__all__ = ["ALTERNATIVES", "CLOSE", "FAR", "RIVAL", "Candidate", "Choice", "Context", "choose"]

REACH_KM = 100.0  # distances to the call's other places are counted in these
TRIP_WEIGHT = 1.6  # ... and in a trip's own scale, this much more (module docstring)
TRIP_KM = (25.0, 500.0)  # the bounds of a trip's scale
SEPARATE_KM = 200.0  # the regions a call's names are gathered around lie this far apart
HINT_KM = 50.0  # ... and to a hint's place in these
HINT_WEIGHT = 3.0
DISTRICT = 1.0
CLOSE = 0.3  # priors closer than this (a factor of 2; a district's less 1), nothing else to go by: ask
ALTERNATIVES = 3  # other places listed for a shared name
RIVAL = 1.5  # ... at most this far below the chosen one's prior (a factor of ~30 in people)
FAR = 2.0  # ... and its score, context counted: Madrid, Colombia beside Lisbon is no rival
_ROUNDS = 5
_SEEDS = 4  # regions a call's names are also gathered around, at most (besides the priors' own)
_SEEDED = 8  # ... in calls of at most this many open names (tests/bench/place_context.py: 20 names)
_PAIRED = 24  # fixed points measured pair by pair for a trip's scale, at most (then their box)
_EARTH_KM = 6_371.0088
_SAME_KM = 1.0  # two candidates closer than this are one place (two sources of the same city)


@dataclass(frozen=True)
class Candidate:
    place: Place
    prior: float
    district: bool = False  # a district of a much bigger city
    hint: LatLon | None = None  # the point its name's hint (or ``near``) names


@dataclass(frozen=True)
class Context:
    """What a call already knows of where it is: points of the map (its features, its view)."""

    anchors: tuple[LatLon, ...] = ()
    span_km: float | None = None  # the map's view, across: a trip's scale when the map has no legs

    def __bool__(self) -> bool:
        return bool(self.anchors)


@dataclass(frozen=True)
class Choice:
    """The place a name was taken to mean, and why: ``"only"`` (the one place of that name),
    ``"hint"`` (the place its hint names, "Salamanca, Madrid", or ``near``), ``"context"`` (the
    call's other places or the map changed the choice the prior alone would make), ``"largest"``
    (the prior alone; a hint that names a state, region or country only kept its places out of the
    candidates). ``close``: nothing decided between candidates whose priors are close (the client
    may be asked)."""

    place: Place
    why: str
    close: bool = False
    alternatives: tuple[tuple[Place, float], ...] = field(default=())  # other places, km from this
    candidates: tuple[Place, ...] = ()  # every candidate, best first


def choose(named: Mapping[str, Sequence[Candidate]], context: Context = Context()) -> dict[str, Choice]:
    """The place each name most likely means, chosen jointly (the module's docstring)."""
    names = [n for n in named if named[n]]
    units = {n: [_unit(c.place) for c in named[n]] for n in names}
    base = {n: [_base(c, u) for c, u in zip(named[n], units[n], strict=True)] for n in names}
    anchors = [_unit_of(p) for p in context.anchors]
    open_names = [n for n in names if len(named[n]) > 1]
    fixed = anchors + [units[n][0] for n in names if len(named[n]) == 1]
    # each candidate's distance to the nearest point no choice moves: the same in every round
    settled = {n: [_nearest_km(u, fixed) if fixed else math.inf for u in units[n]] for n in open_names}
    game = _Game(open_names, units, base, settled, fixed, _fixed_scale(fixed, context.span_km))
    best: tuple[float, dict[str, int], dict[str, list[float]]] | None = None
    for start in game.starts():
        picked, scores = game.settle(start)
        total = sum(scores[n][picked[n]] for n in open_names)
        if best is None or total > best[0] + 1e-9:  # a tie keeps the earlier: the priors' own start
            best = (total, picked, scores)
    picked, scores = (best[1], best[2]) if best is not None else ({}, {})
    picked.update({n: 0 for n in names if n not in picked})
    scores.update({n: list(base[n]) for n in names if n not in scores})
    return {
        n: _choice(named[n], base[n], scores[n], picked[n], units[n], bool(anchors) or len(names) > 1)
        for n in names
    }


_Unit = tuple[float, float, float]


@dataclass(frozen=True)
class _Game:
    """The open names (more than one candidate each), their candidates' points and base scores, and
    each candidate's distance to the nearest fixed point (inf: none)."""

    names: list[str]
    units: dict[str, list[_Unit]]
    base: dict[str, list[float]]
    settled: dict[str, list[float]]
    fixed: list[_Unit]  # the points no choice moves
    fixed_scale: float | None  # the longest of their legs (or the map's view across); None: no leg

    def starts(self) -> list[dict[str, int]]:
        """The priors' own choice, then the call's names gathered around each of a few other
        regions: a candidate of an open name, rival to its name's best, not near an earlier one's."""
        first = {n: _argmax(self.base[n]) for n in self.names}
        starts = [first]
        if not 2 <= len(self.names) <= _SEEDED:
            # one open name: a pass against the fixed points is its best; many: the cost (docstring)
            return starts
        seeds: list[tuple[float, _Unit]] = []
        for n in self.names:
            top = max(self.base[n])
            seeds += [(b, u) for b, u in zip(self.base[n], self.units[n], strict=True) if b >= top - RIVAL]
        seeds.sort(key=lambda s: -s[0])
        points: list[_Unit] = []
        for _, seed in seeds:
            if len(points) == _SEEDS:
                break
            if points and _nearest_km(seed, points) < SEPARATE_KM:
                continue
            points.append(seed)
            near_fixed = [_nearest_km(seed, self.fixed) if self.fixed else math.inf]
            start = {n: _argmax(self._scores(n, [seed], near_fixed)) for n in self.names}
            if start not in starts:
                starts.append(start)
        return starts

    def settle(self, picked: dict[str, int]) -> tuple[dict[str, int], dict[str, list[float]]]:
        """Every open name chosen again against the others' choices until none changes."""
        picked = dict(picked)
        scores = {n: list(self.base[n]) for n in self.names}
        for _ in range(_ROUNDS):
            changed = False
            for n in self.names:
                rest = [m for m in self.names if m != n]
                others = [self.units[m][picked[m]] for m in rest]
                local = len(self.names) <= _SEEDED  # a trip's scale: small calls (its cost)
                near_fixed = [self.settled[m][picked[m]] for m in rest] if local else None
                scores[n] = self._scores(n, others, near_fixed)
                best = _argmax(scores[n])
                changed |= best != picked[n]
                picked[n] = best
            if not changed:
                break
        return picked, scores

    def _scores(self, n: str, others: list[_Unit], near_fixed: list[float] | None = None) -> list[float]:
        """``n``'s candidates' scores against ``others`` (the other names' choices, each
        ``near_fixed`` km from the nearest fixed point) and the fixed points."""
        reach, weight = REACH_KM, 1.0
        scale = self._scale(others, near_fixed) if len(self.names) <= _SEEDED else None
        if scale is not None and scale <= TRIP_KM[1]:
            reach, weight = max(TRIP_KM[0], scale), TRIP_WEIGHT
        out = []
        for b, u, near in zip(self.base[n], self.units[n], self.settled[n], strict=True):
            km = min(near, _nearest_km(u, others)) if others else near
            out.append(b if math.isinf(km) else b - weight * math.log10(1 + km / reach))
        return out

    def _scale(self, others: list[_Unit], near_fixed: list[float] | None) -> float | None:
        """The trip's scale without the name being chosen: the longest of its legs, each point's
        distance to the nearest other point (the other names' choices, the fixed points)."""
        legs = [] if self.fixed_scale is None else [self.fixed_scale]
        for i, point in enumerate(others):
            rest = others[:i] + others[i + 1 :]
            leg = near_fixed[i] if near_fixed is not None else math.inf
            if rest:
                leg = min(leg, _nearest_km(point, rest))
            if not math.isinf(leg):
                legs.append(leg)
        return max(legs) if legs else None


def _fixed_scale(fixed: list[_Unit], span_km: float | None) -> float | None:
    """The longest leg among the fixed points (each one's distance to its nearest other), or the
    map's view across, whichever is longer; past ``_PAIRED`` points, their box's diagonal (an
    upper bound of it, in one pass rather than one per pair)."""
    legs = [] if span_km is None else [span_km]
    if len(fixed) > _PAIRED:
        lats = [math.degrees(math.asin(max(-1.0, min(1.0, u[2])))) for u in fixed]
        lons = [math.degrees(math.atan2(u[1], u[0])) for u in fixed]
        corners = (_unit_of((min(lats), min(lons))), _unit_of((max(lats), max(lons))))
        legs.append(_km(*corners))
    elif len(fixed) > 1:
        legs.append(max(_nearest_km(p, fixed[:i] + fixed[i + 1 :]) for i, p in enumerate(fixed)))
    return max(legs) if legs else None


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _choice(
    candidates: Sequence[Candidate],
    base: list[float],
    scores: list[float],
    picked: int,
    units: list[tuple[float, float, float]],
    had_context: bool,
) -> Choice:
    place = candidates[picked].place
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    ranked = tuple(candidates[i].place for i in order)
    if len(candidates) == 1:
        return Choice(place, "only", candidates=ranked)
    alternatives: list[tuple[Place, float]] = []
    own = place.match == "name"  # then places that only have the name as an alternate are no rivals
    for i in order:
        km = _km(units[i], units[picked])
        other = candidates[i].place
        if i == picked or km < _SAME_KM or len(alternatives) == ALTERNATIVES:
            continue
        unlikely = candidates[i].prior < candidates[picked].prior - RIVAL or scores[i] < scores[picked] - FAR
        if unlikely or (own and other.match == "alternate name"):
            continue  # Paris, Texas (25,000 people) is no rival to Paris (2.1 million)
        alternatives.append((other, km))
    by_prior = max(range(len(candidates)), key=lambda i: candidates[i].prior)
    if candidates[picked].hint is not None:
        why = "hint"
    elif picked != by_prior:
        why = "context"
    else:
        why = "largest"
    # a district marked down is no close rival: "Salamanca, Spain" is the city, not a question
    rivals = [
        base[i] for i in range(len(candidates)) if i != picked and _km(units[i], units[picked]) >= _SAME_KM
    ]
    close = (
        not had_context
        and candidates[picked].hint is None
        and bool(rivals)
        and base[picked] - max(rivals) < CLOSE
    )
    return Choice(place, why, close, tuple(alternatives), ranked)


def _base(candidate: Candidate, unit: tuple[float, float, float]) -> float:
    score = candidate.prior - (DISTRICT if candidate.district else 0.0)
    if candidate.hint is not None:
        score -= HINT_WEIGHT * math.log10(1 + _km(unit, _unit_of(candidate.hint)) / HINT_KM)
    return score


def _unit(place: Place) -> tuple[float, float, float]:
    return _unit_of(place.latlon)


def _unit_of(point: LatLon) -> tuple[float, float, float]:
    lat, lon = math.radians(point[0]), math.radians(point[1])
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def _km(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    # the chord between two unit vectors, as the arc on the sphere (ranking only: within 0.5 %)
    chord = math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2)
    return 2 * _EARTH_KM * math.asin(min(1.0, chord / 2))


def _nearest_km(unit: tuple[float, float, float], others: list[tuple[float, float, float]]) -> float:
    # the nearest by the largest dot product (a generator, not max's key=: twice as fast), then
    # the chord it gives (|a - b|^2 = 2 - 2 a.b for unit vectors) as the arc
    x, y, z = unit
    dot = max(x * a + y * b + z * c for a, b, c in others)
    chord = math.sqrt(max(0.0, 2.0 - 2.0 * dot))
    return 2 * _EARTH_KM * math.asin(min(1.0, chord / 2))
