"""A small street map of central Helsinki for the basemap tests (issue 79), written with pyosmium
through support/place_extract.py's writer, with a header box as ``osmium extract`` writes one.

``write_street_extract(path)`` writes it and returns :class:`StreetFacts`. What is in it: the sea
south of a coastline (a way west to east, land on its left as OSM draws it), a grid of named
streets (a primary road, "Mannerheimintie", running north-south; residential streets
east-west), a footway, a railway, a park (a closed way, ``leisure=park``), a lake
(``natural=water``), buildings (closed ways) along the streets, some with house numbers, and two
places: the city (a node, ``place=city``) and a suburb, "Kallio".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from support.place_extract import _Objects

__all__ = ["BOX", "DRAWN_STREETS", "StreetFacts", "street_region", "write_street_extract"]

BOX = (24.930, 60.158, 24.960, 60.175)  # west, south, east, north
COAST = 60.1605  # the coastline's latitude: the sea south of it
MAIN = "Mannerheimintie"
CROSS = ("Lönnrotinkatu", "Bulevardi", "Eerikinkatu", "Kalevankatu")


@dataclass(frozen=True)
class StreetFacts:
    box: tuple[float, float, float, float]
    main: str  # the primary road's name
    main_lon: float  # it runs north-south here
    cross: dict[str, float]  # residential street -> its latitude (each runs east-west)
    buildings: tuple[tuple[tuple[float, float], ...], ...]  # (lat, lon) rings
    numbered: dict[str, tuple[float, float]]  # house number -> its building's middle
    park: tuple[tuple[float, float], ...]
    lake: tuple[tuple[float, float], ...]
    coast: float
    places: dict[str, tuple[float, float]]


def _ring(south: float, west: float, north: float, east: float) -> tuple[tuple[float, float], ...]:
    return ((south, west), (south, east), (north, east), (north, west))


def write_street_extract(path: Path) -> StreetFacts:
    objects = _Objects()
    west, _, east, _ = BOX
    main_lon = 24.9400
    objects.way(
        ((COAST, west - 0.01), (COAST - 0.0005, 24.945), (COAST, east + 0.01)), {"natural": "coastline"}
    )
    objects.way(((60.1620, main_lon), (60.1740, main_lon)), {"highway": "primary", "name": MAIN})
    cross = {}
    for i, name in enumerate(CROSS):
        lat = 60.1640 + i * 0.0025
        cross[name] = lat
        objects.way(((lat, 24.9320), (lat, 24.9580)), {"highway": "residential", "name": name})
    objects.way(((60.1630, 24.9450), (60.1720, 24.9550)), {"highway": "footway"})
    objects.way(((60.1745, west - 0.001), (60.1748, east + 0.001)), {"railway": "rail"})
    park = _ring(60.1650, 24.9480, 60.1685, 24.9540)
    objects.way(park, {"leisure": "park", "name": "Vanha kirkkopuisto"}, closed=True)
    lake = _ring(60.1700, 24.9500, 60.1720, 24.9560)
    objects.way(lake, {"natural": "water", "name": "Lampi"}, closed=True)
    buildings, numbered = [], {}
    for i, lat in enumerate(cross.values()):
        for j in range(6):
            lon = 24.9410 + j * 0.0010
            ring = _ring(lat + 0.0002, lon, lat + 0.0007, lon + 0.0007)
            tags = {"building": "yes"}
            if j < 3:
                number = str(1 + 2 * (i * 3 + j))
                tags |= {"addr:housenumber": number, "addr:street": CROSS[i]}
                numbered[number] = (lat + 0.00045, lon + 0.00035)
            objects.way(ring, tags, closed=True)
            buildings.append(ring)
    places = {"Helsinki": (60.1690, 24.9380), "Kallio": (60.1730, 24.9500)}
    objects.node(places["Helsinki"], {"place": "city", "name": "Helsinki"})
    objects.node(places["Kallio"], {"place": "suburb", "name": "Kallio"})
    objects.write(path, box=BOX)
    return StreetFacts(BOX, MAIN, main_lon, cross, tuple(buildings), numbered, park, lake, COAST, places)


def street_region(folder: Path) -> tuple[Path, StreetFacts]:
    """A places directory in ``folder`` holding Helsinki's street basemap, as ``mapsrv places
    import`` builds it, and what is in the extract."""
    import shutil

    from mapsrv.places.street_tiles import build_basemap

    facts = write_street_extract(folder / "helsinki.osm.pbf")
    places = folder / "places"
    places.mkdir()
    built = build_basemap(folder / "helsinki.osm.pbf", folder / "helsinki.basemap.pmtiles")
    shutil.copy(built.path, places / built.path.name)
    return places, facts


# What the street tiles at the map's zoom (those drawn at 256 px) drew, in a page or an app's
# frame: pixels near each of the given colours, their labels with their boxes in page pixels, each
# tile's drawing time, and a label past its tile's edge (``outside``).
DRAWN_STREETS = """(colours) => {
  const out = { counts: colours.map(() => 0), labels: [], boxes: [], ms: [] };
  for (const canvas of document.querySelectorAll('.mapsrv-street-tile[data-labels]')) {
    const rect = canvas.getBoundingClientRect();
    if (Math.abs(rect.width - 256) > 1) continue; // another zoom's, scaled
    out.ms.push(+canvas.dataset.drawMs);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      colours.forEach((c, k) => {
        const d = Math.max(...c.map((v, j) => Math.abs(data[i + j] - v)));
        if (d <= 6 && data[i + 3] === 255) out.counts[k] += 1;
      });
    }
    const boxes = JSON.parse(canvas.dataset.labelBoxes);
    JSON.parse(canvas.dataset.labels).forEach((text, i) => {
      const b = boxes[i];
      out.labels.push(text);
      out.boxes.push([rect.left + b[0], rect.top + b[1], rect.left + b[2], rect.top + b[3]]);
      if (b[0] < 0 || b[1] < 0 || b[2] > 256 || b[3] > 256) out.outside = text;
    });
  }
  return out;
}"""
