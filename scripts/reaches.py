"""What each first-level region reaches out to sea (``mapsrv.places.borders.reach_of``), made
once from the shipped borders and written beside them, on their grid:

    PYTHONPATH=. python scripts/reaches.py mapsrv/places/world/admin1-reaches.npz [PROCESSES]

~105 s of a core for Natural Earth's 4,596 regions (Alaska 1.3 s, Nunavut 2.6 s), which is why
the server reads them rather than make them (issue 78: a US state's first ``within`` in 2-3 ms,
Alaska's in ~25 ms). Run again when the borders file or ``reach_of`` changes: the places file
refuses a reaches file made from other borders, and tests/places/test_reaches_stored.py makes a
sample again and compares. Made again from the same borders, the file is the same byte for
byte. The encoding is admin1-borders.npz's (scripts/admin1.py's ``save_rings``), plus
``regions`` (their count) and ``borders_digest`` (the borders file's SHA-256)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

import numpy as np
import shapely
from admin1 import save_rings  # scripts/, beside this one

from mapsrv.places.borders import GRID_DEGREES, borders_digest, reach_of, read_borders

_shapes = np.empty(0, dtype=object)
_tree: shapely.STRtree | None = None


def _one(region: int) -> bytes:
    reach = shapely.set_precision(reach_of(region, _shapes, _tree), GRID_DEGREES)
    return bytes(shapely.to_wkb(reach))


def main(target: str, processes: int) -> None:
    global _shapes, _tree
    _shapes = read_borders()[0]
    _tree = shapely.STRtree(_shapes)
    start = time.perf_counter()
    # forked: each worker has the borders and the tree already; the slowest regions first
    order = np.argsort(-shapely.get_num_coordinates(_shapes), kind="stable").tolist()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        made = dict(zip(order, pool.map(_one, order, chunksize=1), strict=True))
    reaches = shapely.from_wkb([made[i] for i in range(len(_shapes))])
    points: list[np.ndarray] = []
    ring_sizes: list[int] = []
    ring_polygon: list[int] = []
    polygon_region: list[int] = []
    for region, reach in enumerate(reaches):
        for polygon in shapely.get_parts(reach):
            if shapely.get_type_id(polygon) != 3 or polygon.is_empty:
                continue
            polygon_region.append(region)
            for ring in [polygon.exterior, *polygon.interiors]:
                xy = np.asarray(ring.coords)[:-1]
                points.append(np.rint((xy + np.array([180.0, 90.0])) / GRID_DEGREES).astype(np.int64))
                ring_sizes.append(len(xy))
                ring_polygon.append(len(polygon_region) - 1)
    absolute = np.concatenate(points)
    save_rings(
        target,
        absolute,
        ring_sizes,
        ring_polygon,
        polygon_region,
        regions=np.array(len(reaches)),
        borders_digest=np.array(borders_digest()),
    )
    seconds = time.perf_counter() - start
    print(f"{len(reaches)} reaches, {len(absolute)} points, {seconds:.0f} s -> {target}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count() or 1)
