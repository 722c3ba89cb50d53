"""What keeping people's data whole (issue 57) costs, in a form valgrind can count: run one of the
issue's speed cases N times in process, so that the instructions of N and of 0 runs differ by N
times the case's own. The cases:

- ``read``: 10,000 named points read from GeoJSON into features (``features_from_geojson``);
- ``call``: the same read, applied to a new map as one write and its snapshot frame built (what
  one call importing 10,000 features costs the server, but the transport);
- ``shapes``: ``map_image`` of 500 coloured markers and 500 rectangles, unlabelled;
- ``labels``: ``map_image`` of 1,000 labelled points (``tests.bench.map_images``'s map).
- ``read`` and ``call`` take ``tests.bench.map_size``'s points.

It runs against whichever ``mapsrv`` is on the path, so the same file measures an older tree
(``PYTHONPATH=/tmp/before python tests/bench/data_cost.py read 1``, with a worktree of the older
commit at /tmp/before); ``tests/bench/data_cost_instructions.sh`` does the counting.

    python tests/bench/data_cost.py CASE N
"""

from __future__ import annotations

import sys
from typing import Any

import trio

from mapsrv.core import Feature, Limits, MapState
from mapsrv.core.geojson import features_from_geojson
from mapsrv.image.render import ImageRequest, render
from tests.bench.map_images import labelled  # the tree measured's own (PYTHONPATH)
from tests.bench.map_size import points

# a polygon's coordinates are a list of rings since issue 57, one ring before it
try:
    from mapsrv.core.geometry import parts as _whole
except ImportError:  # the tree before issue 57
    _whole = None


def shapes(n: int) -> MapState:
    features = {}
    for i in range(n):
        lat, lon = 35 + i * 7919 % 25000 / 1000, -10 + i * 104729 % 40000 / 1000
        if i % 2:
            features[f"p{i}"] = Feature(f"p{i}", "marker", (lat, lon), style=(("color", "#16a34a"),))
        else:
            ring = [(lat, lon), (lat + 0.2, lon), (lat + 0.2, lon + 0.3), (lat, lon + 0.3)]
            features[f"a{i}"] = Feature(f"a{i}", "polygon", [ring] if _whole else ring)
    return MapState("m", 1, "bench", None, features=features)


async def call(geo: dict[str, Any], limits: Limits) -> None:
    from mapsrv.core.history import Actor
    from mapsrv.core.ops import ImportFeatures
    from mapsrv.hub import MapHub

    hub = MapHub(limits=limits)
    entry = await hub.create_map(title="big")
    features = features_from_geojson(geo, limits)
    await hub.apply(entry.id, [ImportFeatures(features)], actor=Actor("agent:0123abcd", "bench"))
    entry.snapshot_frame()


def main(case: str, runs: int) -> None:
    limits = Limits()
    if case in ("read", "call"):
        geo = points(10_000)
        for _ in range(runs):
            if case == "read":
                features_from_geojson(geo, limits)
            else:
                trio.run(call, geo, limits)
        return
    state = shapes(1000) if case == "shapes" else labelled(1000)
    render(state, ImageRequest())  # the fonts and the view's basemap, in every count alike
    for _ in range(runs):
        render(state, ImageRequest())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
