"""Where an area's label goes on the page (static/inside.js), run in Node as the ES module it is,
against Shapely on every Natural Earth country at 1:50m (the largest part of each, holes kept):
its pole is inside the part and as far from the outline as Shapely's polylabel finds (to the
precision asked), and its room is the largest box around the pole that stays inside, a box a
hair larger crossing the outline. The map image's twin (``mapsrv.image.inside``) is held to the
same boxes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import shapely
from shapely.ops import polylabel
from support import require

import mapsrv.web
from mapsrv.core.geometry import largest_part
from mapsrv.image.inside import inner_point, mercator, room_at
from mapsrv.places.world import countries

STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
SCRIPT = """
import { mercatorRing, poleOf, roomAt } from '%(static)s/inside.js';
import fs from 'fs';
const parts = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(parts.map((rings) => {
  const flat = rings.map(mercatorRing);
  const [x, y, d] = poleOf(flat);
  return [x, y, d, roomAt(flat, x, y, 30, 10)];
})));
"""


def largest_parts() -> list[tuple[str, Any]]:
    """Each country's largest part at 1:50m as mapsrv holds it: [lat, lon] rings, unclosed."""
    out = []
    for country in countries("50m"):
        polygons = [
            [[[lat, lon] for lon, lat in (ring[:-1] if ring[0] == ring[-1] else ring)] for ring in polygon]
            for polygon in country.polygons
        ]
        _, rings = largest_part("multipolygon", polygons)
        out.append((country.name, rings))
    return out


def in_mercator(rings: Any) -> Any:
    polygon = shapely.Polygon(mercator(rings[0]), [mercator(r) for r in rings[1:]])
    return polygon if polygon.is_valid else None


def run_page(parts: list[Any]) -> list[list[float]]:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    assert node is not None
    done = subprocess.run(
        [node, "--input-type=module", "-e", SCRIPT % {"static": STATIC.as_posix()}],
        input=json.dumps(parts),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer: list[list[float]] = json.loads(done.stdout)
    return answer


def box(x: float, y: float, half_w: float, half_h: float, s: float) -> Any:
    return shapely.box(x - half_w * s, y - half_h * s, x + half_w * s, y + half_h * s)


def test_the_pages_pole_and_room_are_shapelys_for_every_country() -> None:
    parts = largest_parts()
    page = run_page([rings for _, rings in parts])
    checked = 0
    for (name, rings), (x, y, distance, room) in zip(parts, page, strict=True):
        polygon = in_mercator(rings)
        if polygon is None:  # a ring that crosses itself: no reference to hold it to
            continue
        west, south, east, north = polygon.bounds
        precision = max(east - west, north - south) / 1000
        reference = polylabel(polygon, precision)
        best = polygon.exterior.distance(reference)
        for hole in polygon.interiors:
            best = min(best, hole.distance(reference))
        pole = shapely.Point(x, y)
        assert polygon.contains(pole), name
        assert polygon.boundary.distance(pole) >= best - 1.5 * precision, (name, distance, best)
        assert abs(polygon.boundary.distance(pole) - distance) <= precision, name  # measured on thinned rings
        assert polygon.contains(box(x, y, 30, 10, room * 0.999)), name
        assert not polygon.contains(box(x, y, 30, 10, room * 1.01)), name
        checked += 1
    assert checked > 230


def test_the_images_room_is_the_largest_box_inside_every_country() -> None:
    checked = 0
    for name, rings in largest_parts():
        polygon = in_mercator(rings)
        if polygon is None:
            continue
        x, y = inner_point(rings)
        room = room_at(rings, x, y, 30, 10)
        assert polygon.contains(box(x, y, 30, 10, room * 0.999)), name
        assert not polygon.contains(box(x, y, 30, 10, room * 1.01)), name
        checked += 1
    assert checked > 230
