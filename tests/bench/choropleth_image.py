"""A choropleth of every country in ``map_image`` (issue 45: <= 150 ms at 800 x 600): the
Natural Earth countries (1:110m, and 1:50m as ``import`` with ``join`` makes them) as polygons
with a number each, styled in 7 Jenks classes, drawn offline (first at a view, then again at
it, as after each change), with the legend; the thread's CPU time beside the wall clock.

    python -m tests.bench.choropleth_image [--whole]

``--whole`` adds the same countries drawn whole: one multipolygon each, holes kept.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from mapsrv.core import Feature, Limits, MapState, apply_all
from mapsrv.core.ops import AddLayer, ImportFeatures, SetLayerStyle
from mapsrv.image.render import ImageRequest, render
from mapsrv.places.world import countries


def choropleth(scale: str = "110m", whole: bool = False) -> MapState:
    """Each country's polygons (outer rings) on layer "countries", with a made-up GDP per head;
    ``whole``: each country one feature, a multipolygon with its holes (issue 57)."""
    features = []
    for i, country in enumerate(countries(scale)):  # type: ignore[arg-type]
        if whole:
            coords = tuple(
                tuple(tuple((lat, lon) for lon, lat in ring[:-1]) for ring in polygon if len(ring) > 3)
                for polygon in country.polygons
                if len(polygon[0]) > 3
            )
            value = (i * 7919) % 90_000 + 500
            props = (("gdp", value), ("name", country.name))
            features.append(Feature(f"c{i}", "multipolygon", coords, layer="countries", properties=props))
            continue
        for j, polygon in enumerate(country.polygons):
            ring = tuple((lat, lon) for lon, lat in polygon[0][:-1])
            if len(ring) < 3:
                continue
            value = (i * 7919) % 90_000 + 500
            props = (("gdp", value), ("name", country.name))
            features.append(Feature(f"c{i}-{j}", "polygon", ring, layer="countries", properties=props))
    style = {"by": "gdp", "method": "jenks", "classes": 7, "ramp": "YlOrRd"}
    ops = [
        AddLayer("countries", "GDP per head"),
        ImportFeatures(tuple(features)),
        SetLayerStyle("countries", style),
    ]
    state, _ = apply_all(MapState("m", title="GDP per head"), ops, Limits())
    return state


def timed(state: MapState, repeat: int = 10, size: tuple[int, int] = (800, 600)) -> dict[str, Any]:
    request = ImageRequest(width=size[0], height=size[1])
    started, used = time.perf_counter(), time.process_time()
    first = render(state, request)
    first_ms = (time.perf_counter() - started) * 1000
    first_cpu_ms = (time.process_time() - used) * 1000
    times, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        render(state, request)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return {
        "features": len(state.features),
        "image": f"{first.view.width}x{first.view.height} at zoom {round(first.view.zoom, 2):g}",
        "first_ms": round(first_ms, 1),
        "first_cpu_ms": round(first_cpu_ms, 1),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),  # the thread's own: what a busy machine hides
        "png_kb": round(len(first.png) / 1024, 1),
        "legend": first.legend is not None,
    }


def main() -> None:
    out = {f"choropleth_{scale}": timed(choropleth(scale)) for scale in ("110m", "50m")}
    if "--whole" in sys.argv:  # each country one multipolygon with its holes (not before issue 57)
        out.update({f"whole_{scale}": timed(choropleth(scale, whole=True)) for scale in ("110m", "50m")})
        # asked wider than the world (issue 58: the world once, framed on the data)
        out["whole_50m_1200x600"] = timed(choropleth("50m", whole=True), size=(1200, 600))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
