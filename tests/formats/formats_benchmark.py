"""What importing files costs, in CPU seconds (best of 5), beside the libraries mapsrv does not
use for comparison (each only when installed):

- a day's ride: a 50,000-point GPX track as a Garmin watch writes it (one point a second,
  elevation, time, heart rate), read into one line and written back; gpxpy's parse of it;
- a Google My Maps-like KML of 3,000 placemarks (points, 100-point lines, polygons, shared
  styles) and one 50,000-point line; fastkml's and kml2geojson's parse of it.

    /work/venv/bin/python tests/formats/formats_benchmark.py [points]
"""

from __future__ import annotations

import io
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from formats_helpers import map_of, ride

from mapsrv.core.model import Limits
from mapsrv.formats import read_file, write_file


def best(run: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def my_maps(placemarks: int, line: int) -> bytes:
    rng = random.Random(1)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>',
        "<name>Trip</name><Style id='icon-normal'><IconStyle><color>ffd18802</color>"
        "<Icon><href>x.png</href></Icon></IconStyle></Style><StyleMap id='icon'><Pair><key>normal</key>"
        "<styleUrl>#icon-normal</styleUrl></Pair></StyleMap>"
        "<Style id='line'><LineStyle><color>ff000000</color><width>1.2</width></LineStyle></Style>"
        "<Folder><name>Stops</name>",
    ]
    for i in range(placemarks):
        lat, lon = 48 + rng.random(), 2 + rng.random()
        if i % 3 == 0:
            geometry = f"<Point><coordinates>{lon:.6f},{lat:.6f},0</coordinates></Point>"
            out.append(f"<Placemark><name>Stop {i}</name><styleUrl>#icon</styleUrl>{geometry}</Placemark>")
        elif i % 3 == 1:
            coords = " ".join(f"{lon + k * 1e-4:.6f},{lat + k * 1e-4:.6f},0" for k in range(100))
            geometry = f"<LineString><coordinates>{coords}</coordinates></LineString>"
            out.append(f"<Placemark><name>Line {i}</name><styleUrl>#line</styleUrl>{geometry}</Placemark>")
        else:
            coords = f"{lon},{lat},0 {lon + 0.01},{lat},0 {lon + 0.01},{lat + 0.01},0 {lon},{lat},0"
            ring = f"<LinearRing><coordinates>{coords}</coordinates></LinearRing>"
            ring = f"<outerBoundaryIs>{ring}</outerBoundaryIs>"
            out.append(f"<Placemark><name>Area {i}</name><Polygon>{ring}</Polygon></Placemark>")
    coords = "\n".join(f"{2 + k * 1e-6:.7f},{48 + k * 1e-6:.7f},{100 + k * 0.01:.2f}" for k in range(line))
    out.append(
        f"</Folder><Placemark><name>Big</name><LineString><coordinates>{coords}</coordinates></LineString>"
    )
    out.append("</Placemark></Document></kml>")
    return "\n".join(out).encode()


def main() -> None:
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    limits = Limits()
    body = ride(points)
    state = map_of(read_file(body, None, limits))
    print(f"GPX: {points} points, {len(body) / 2**20:.1f} MiB")
    print(f"  mapsrv import (read_file):  {best(lambda: read_file(body, None, limits)):.3f} s")
    print(f"  mapsrv import, simplify=5:  {best(lambda: read_file(body, None, limits, simplify=5)):.3f} s")
    print(f"  mapsrv export (write_file): {best(lambda: write_file(state, 'gpx')):.3f} s")
    try:
        import gpxpy

        text = body.decode()
        print(f"  gpxpy.parse alone:          {best(lambda: gpxpy.parse(text), 3):.3f} s")
    except ImportError:
        pass
    kml = my_maps(3_000, points)
    print(f"KML: 3000 placemarks and a {points}-point line, {len(kml) / 2**20:.1f} MiB")
    print(f"  mapsrv import (read_file):  {best(lambda: read_file(kml, None, limits)):.3f} s")
    try:
        import fastkml

        print(f"  fastkml parse alone:        {best(lambda: fastkml.KML.from_string(kml), 3):.3f} s")
    except ImportError:
        pass
    try:
        import kml2geojson

        print(f"  kml2geojson alone:          {best(lambda: kml2geojson.convert(io.BytesIO(kml)), 3):.3f} s")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
