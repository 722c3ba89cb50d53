"""The page's geometry module (static/shapes.js) run in Node as the ES module it is, against its
Python twin (mapsrv.core.geometry): the same label part for every Natural Earth country at both
scales (the part ``largest_part`` names for everything computed in Python), the
same parts and points in the same order for every type, the same shapes accepted and refused,
and a drag that moves one vertex, or every part and hole, without touching the rest."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support import require

import mapsrv.web
from mapsrv.core import geometry
from mapsrv.places.world import countries

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
SCRIPT = """
import * as S from '%(static)s/shapes.js';
const shapes = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = shapes.map((f) => ({
  valid: S.isValid(f),
  largest: S.isValid(f) ? S.largestPart(f) : null,
  parts: S.isValid(f) ? S.parts(f) : null,
  points: S.isValid(f) ? S.flatPoints(f) : null,
  counts: S.isValid(f) ? S.partCount(f) : null,
  paths: S.isValid(f) ? S.vertexPaths(f).map(([path]) => path) : null,
}));
process.stdout.write(JSON.stringify(out));
"""

SQUARE = [[0, 0], [0, 1], [1, 1], [1, 0]]
HOLE = [[0.2, 0.2], [0.2, 0.4], [0.4, 0.4], [0.4, 0.2]]
VALID = [
    {"type": "marker", "coords": [48.85, 2.35]},
    {"type": "circle", "coords": [48.85, 2.35], "radius": 500},
    {"type": "rectangle", "coords": [[48, 2], [49, 3]]},
    {"type": "polyline", "coords": [[0, 0], [1, 1], [2, 0]]},
    {"type": "polygon", "coords": SQUARE},
    {"type": "polygon", "coords": [SQUARE, HOLE]},
    {"type": "multipoint", "coords": [[1, 1], [2, 2], [3, 3]]},
    {"type": "multipolyline", "coords": [[[0, 0], [0, 1]], [[5, 5], [5, 9], [6, 9]]]},
    {"type": "multipolygon", "coords": [[SQUARE], [[[10, 10], [10, 13], [13, 13], [13, 10]], HOLE]]},
    {
        "type": "collection",
        "coords": [
            {"type": "marker", "coords": [40, 40]},
            {"type": "polyline", "coords": [[0, 0], [0, 30]]},
            {"type": "polygon", "coords": SQUARE},
            {"type": "multipolygon", "coords": [[[[20, 20], [20, 22], [22, 22]]]]},
        ],
    },
]
REFUSED = [
    {"type": "polyline", "coords": [[0, 0]]},
    {"type": "polygon", "coords": [[0, 0], [1, 1]]},
    {"type": "polygon", "coords": [SQUARE, [[0, 0], [1, 1]]]},
    {"type": "multipoint", "coords": []},
    {"type": "multipolyline", "coords": [[0, 0], [1, 1]]},
    {"type": "multipolygon", "coords": [SQUARE]},
    {"type": "multipolygon", "coords": []},
    {"type": "collection", "coords": [{"type": "circle", "coords": [0, 0], "radius": 5}]},
    {
        "type": "collection",
        "coords": [{"type": "collection", "coords": [{"type": "marker", "coords": [0, 0]}]}],
    },
    {"type": "collection", "coords": []},
    {"type": "rectangle", "coords": [[0, 0], [1, 1], [2, 2]]},
    {"type": "constructor", "coords": [0, 0]},
    {"type": "hexagon", "coords": SQUARE},
]


def run_shapes(shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    script = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);\n"
    script += SCRIPT % {"static": STATIC.as_posix()}
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(shapes),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer: list[dict[str, Any]] = json.loads(done.stdout)
    return answer


def country_features() -> list[dict[str, Any]]:
    """Every country of both scales as a mapsrv feature ([lat, lon], rings unclosed)."""
    out = []
    for scale in ("110m", "50m"):
        for country in countries(scale):  # type: ignore[arg-type]
            polygons = [
                [
                    [[lat, lon] for lon, lat in (ring[:-1] if ring[0] == ring[-1] else ring)]
                    for ring in polygon
                ]
                for polygon in country.polygons
            ]
            if len(polygons) > 1:
                out.append({"type": "multipolygon", "coords": polygons, "name": country.name})
            else:
                [rings] = polygons
                out.append(
                    {"type": "polygon", "coords": rings if len(rings) > 1 else rings[0], "name": country.name}
                )
    return out


def as_json(value: Any) -> Any:
    """Tuples as lists, for comparing Python's values with what Node printed."""
    return json.loads(json.dumps(value))


def test_a_label_goes_on_the_same_part_of_every_country_as_in_python() -> None:
    features = country_features()
    answers = run_shapes(features)
    several = 0
    for f, answer in zip(features, answers, strict=True):
        assert answer["valid"], f["name"]
        held = geometry.check(f["type"], f["coords"], 1_000_000)
        assert as_json(geometry.largest_part(f["type"], held)) == answer["largest"], f["name"]
        several += len(answer["parts"]) > 1
    assert len(features) > 400 and several > 100  # both scales, and many countries of several parts


def test_parts_points_and_counts_are_pythons_for_every_type() -> None:
    answers = run_shapes(VALID)
    for f, answer in zip(VALID, answers, strict=True):
        assert answer["valid"], f
        held = geometry.check(f["type"], as_json(f["coords"]), 100_000)
        parts = list(geometry.parts(f["type"], held))
        assert as_json(parts) == answer["parts"], f["type"]
        assert as_json(geometry.points(f["type"], held)) == answer["points"], f["type"]
        assert as_json(geometry.largest_part(f["type"], held)) == answer["largest"], f["type"]
        holes = sum(len(rings) - 1 for kind, rings in parts if kind == "polygon")
        assert answer["counts"] == {"parts": len(parts), "holes": holes}
        assert len(answer["paths"]) == geometry.count(f["type"], held), f["type"]


def test_what_python_refuses_the_page_does_not_draw() -> None:
    for f, answer in zip(REFUSED, run_shapes(REFUSED), strict=True):
        assert not answer["valid"], f
        try:
            geometry.check(f["type"], f["coords"], 100_000)
        except Exception:  # InvalidInput, or a type core does not know
            continue
        raise AssertionError(f"core accepts {f}")


MOVES = """
import * as S from '%(static)s/shapes.js';
const square = (x, y, d) => [[y, x], [y, x + d], [y + d, x + d], [y + d, x]];
const country = { type: 'multipolygon', coords: [[square(0, 0, 4), square(1, 1, 1)], [square(10, 10, 2)]] };
const moved = S.movedCoords(country, [0, 1, 2], { lat: 1.5, lng: 1.5 });
const rect = S.movedCoords({ type: 'rectangle', coords: [[0, 0], [1, 1]] }, [1], { lat: -1, lng: -2 });
const members = { type: 'collection', coords: [
  { type: 'marker', coords: [1, 2] }, { type: 'polyline', coords: [[0, 0], [0, 5]] }] };
process.stdout.write(JSON.stringify({
  moved: moved,
  shared: [moved[1] === country.coords[1], moved[0][0] === country.coords[0][0]],
  rectangle: rect,
  member: S.movedCoords(members, [1, 1], { lat: 3, lng: 3.0000004 }),
  shifted: S.shiftedCoords(country, 0.5, -0.25),
  edge: S.shiftedCoords({ type: 'polygon', coords: [[80, 0], [88, 0], [88, 5]] }, 5, 0),
  shiftedMembers: S.shiftedCoords(members, 1, 1),
}));
"""


def test_a_drag_moves_one_vertex_or_every_part_and_hole() -> None:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    script = MOVES % {"static": STATIC.as_posix()}
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["moved"][0][1] == [[1, 1], [1, 2], [1.5, 1.5], [2, 1]]  # the hole's third vertex only
    assert out["shared"] == [True, True], "what the drag did not touch is not copied"
    assert out["rectangle"] == [[-1, -2], [0, 0]], "a rectangle stays south-west, north-east"
    assert out["member"] == [
        {"type": "marker", "coords": [1, 2]},
        {"type": "polyline", "coords": [[0, 0], [3, 3]]},
    ]
    shifted = out["shifted"]
    assert shifted[0][1] == [[1.5, 0.75], [1.5, 1.75], [2.5, 1.75], [2.5, 0.75]], (
        "the hole moves with its part"
    )
    assert shifted[1][0][0] == [10.5, 9.75], "and every other part with it"
    assert out["edge"] == [[82, 0], [90, 0], [90, 5]], "kept whole, stopped at the pole"
    assert out["shiftedMembers"] == [
        {"type": "marker", "coords": [2, 3]},
        {"type": "polyline", "coords": [[1, 1], [1, 6]]},
    ]
