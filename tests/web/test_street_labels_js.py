"""The page and ``map_image`` find a road's straight runs alike (issue 79): static/streetlabels.js
``runs`` answers what ``mapsrv.image.street_labels.segments`` answers, run for run, for thousands
of generated lines (straight, gently curving, zigzagging, leaving and re-entering the tile, with
repeated points), so a name the image draws along a street the page draws there too. Run in Node
(the module is a plain ES module)."""

from __future__ import annotations

import json
import math
import random

from support.node import run_in_node

import mapsrv.web
from mapsrv.image.street_labels import segments

STATIC = mapsrv.web.__file__.rsplit("/", 1)[0] + "/static"
SCRIPT = """
const labels = await import(%(module)s);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const same = (p) => p;
process.stdout.write(JSON.stringify(cases.map((parts) => labels.runs(parts, same, 256))));
"""


def lines(rng: random.Random, count: int) -> list[list[list[list[float]]]]:
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.choice((1, 1, 2))):
            x, y = rng.uniform(-80, 336), rng.uniform(-80, 336)
            heading, bend = rng.uniform(0, 2 * math.pi), rng.choice((0.0, 0.0, 0.02, 0.2, 1.5))
            part = [[x, y]]
            for _ in range(rng.randint(1, 14)):
                step = rng.choice((0.0, 5.0, 12.0, 40.0, 90.0))
                heading += rng.uniform(-bend, bend)
                x, y = x + step * math.cos(heading), y + step * math.sin(heading)
                part.append([x, y])
            parts.append(part)
        out.append(parts)
    return out


def test_the_page_and_the_image_find_the_same_straight_runs() -> None:
    cases = lines(random.Random(79), 3000)
    page = run_in_node(SCRIPT % {"module": json.dumps("file://" + STATIC + "/streetlabels.js")}, cases)
    joined = 0
    for parts, found in zip(cases, page, strict=True):
        ours = segments([[tuple(p) for p in part] for part in parts], 256)
        assert len(found) == len(ours), (parts, found, ours)
        for run, (a, b, length) in zip(found, ours, strict=True):
            assert run["ends"] == [list(a), list(b)], (parts, run, (a, b))
            assert math.isclose(run["length"], length, rel_tol=1e-12)
        joined += sum(1 for part in parts for _ in part) > len(ours) + 1
    assert joined > 500, "many lines had runs of several segments"
