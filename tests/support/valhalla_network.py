"""Writes the routing tests' street network (street_grid.py) as an OSM PBF file, with pyosmium.

Run by the Python 3.12 of $VALHALLA_HOME (scripts/valhalla-env.sh), not by mapsrv's 3.11:
``$VALHALLA_HOME/bin/python tests/support/valhalla_network.py OUT.pbf``. tests/support/valhalla.py
does so before it builds Valhalla's tiles from the file.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import osmium
from osmium.osm.mutable import Node, Way
from street_grid import COLUMNS, FOOTWAY, ISLAND, ISLAND_ENDS, MOTORWAY, ROWS, intersection

# OSM ids: intersections 1..36 (row-major), the island's ends after them; ways by kind
ROW_WAY, COLUMN_WAY, FOOTWAY_WAY, ISLAND_WAY, MOTORWAY_WAY = 100, 200, 300, 400, 500
ISLAND_NODES = (len(ROWS) * len(COLUMNS) + 1, len(ROWS) * len(COLUMNS) + 2)
# the motorway's two nodes north of the grid (its ends are the grid's north corners)
MOTORWAY_BENDS = ((len(ROWS), len(COLUMNS) - 1, ISLAND_NODES[1] + 1), (len(ROWS), 0, ISLAND_NODES[1] + 2))
# every object carries a version and a timestamp, as OSM's own extracts do
META = {"version": 1, "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}


def node_id(row: int, column: int) -> int:
    return 1 + row * len(COLUMNS) + column


def street(way_id: int, nodes: list[int], name: str, highway: str = "residential", **tags: str) -> Way:
    return Way(id=way_id, nodes=nodes, tags={"highway": highway, "name": name, **tags}, **META)


def write(path: Path) -> None:
    path.unlink(missing_ok=True)  # SimpleWriter will not overwrite
    writer = osmium.SimpleWriter(str(path))
    try:
        for row in range(len(ROWS)):  # nodes first, sorted by id, as readers expect
            for column in range(len(COLUMNS)):
                lat, lon = intersection(row, column)
                writer.add_node(Node(id=node_id(row, column), location=(lon, lat), **META))
        for node, (lat, lon) in zip(ISLAND_NODES, ISLAND_ENDS, strict=True):
            writer.add_node(Node(id=node, location=(lon, lat), **META))
        for row, column, node in MOTORWAY_BENDS:
            lat, lon = intersection(row, column)
            writer.add_node(Node(id=node, location=(lon, lat), **META))
        for row, name in enumerate(ROWS):
            writer.add_way(street(ROW_WAY + row, [node_id(row, c) for c in range(len(COLUMNS))], name))
        for column, name in enumerate(COLUMNS):
            writer.add_way(street(COLUMN_WAY + column, [node_id(r, column) for r in range(len(ROWS))], name))
        diagonal = [node_id(i, i) for i in range(min(len(ROWS), len(COLUMNS)))]
        writer.add_way(street(FOOTWAY_WAY, diagonal, FOOTWAY, highway="footway"))
        writer.add_way(street(ISLAND_WAY, list(ISLAND_NODES), ISLAND))
        north_east, north_west = node_id(len(ROWS) - 1, len(COLUMNS) - 1), node_id(len(ROWS) - 1, 0)
        motorway = [north_east, *(node for _, _, node in MOTORWAY_BENDS), north_west]
        writer.add_way(street(MOTORWAY_WAY, motorway, MOTORWAY, "motorway", oneway="yes", maxspeed="120"))
    finally:
        writer.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: valhalla_network.py OUT.pbf")
    write(Path(sys.argv[1]))
