"""A small OpenStreetMap extract of central Lisbon that the place tests import, written with pyosmium.

``write_place_extract(path)`` writes it and returns :class:`PlaceFacts`: the names, tags and
coordinates written, so tests assert against the data rather than against remembered results.
The file is what osm2pgsql and Nominatim import: nodes sorted by id before ways, every way's nodes
present, every object with a version and a timestamp. ``write_porto_extract`` writes a second,
tiny region for the tests that import several.

What is in it: the city node "Lisboa" (name:en "Lisbon"), a suburb and a neighbourhood, four Baixa
streets (Rua Augusta split into two ways, as OSM splits streets), addresses on Rua Augusta as nodes
and one as a building way, pharmacies (one far off in Belém), cafés, a museum, three viewpoints, a
monument, and two towns called "Santa Cruz" ~100 km apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import osmium
from osmium.osm.mutable import Node, Relation, Way

__all__ = [
    "Address",
    "Named",
    "PlaceFacts",
    "PortoFacts",
    "Street",
    "write_place_extract",
    "write_places",
    "write_porto_extract",
]

# every object carries a version and a timestamp, as OSM's own extracts do (osm2pgsql keeps them)
META = {
    "version": 1,
    "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
    "changeset": 1,
    "uid": 1,
    "user": "mapsrv",
}
FIRST_WAY = 1000
FIRST_RELATION = 500


@dataclass(frozen=True)
class Named:
    """A named node: a place, or a point of interest whose ``category`` is its OSM key=value."""

    name: str
    lat: float
    lon: float
    category: str = ""  # "amenity=pharmacy"; "" for places
    tags: tuple[tuple[str, str], ...] = ()  # any further tags written

    @property
    def latlon(self) -> tuple[float, float]:
        return (self.lat, self.lon)


@dataclass(frozen=True)
class Street:
    name: str
    ways: tuple[tuple[tuple[float, float], ...], ...]  # each way's (lat, lon) points, in order
    highway: str = "pedestrian"

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        return tuple(p for way in self.ways for p in way)


@dataclass(frozen=True)
class Address:
    street: str
    housenumber: str
    postcode: str
    city: str
    country: str
    lat: float  # a node's location; a building's centroid
    lon: float
    corners: tuple[tuple[float, float], ...] = ()  # a building's outline, closed; () for a node

    @property
    def latlon(self) -> tuple[float, float]:
        return (self.lat, self.lon)

    @property
    def text(self) -> str:
        """As a person writes it: "Rua Augusta 24, 1100-053 Lisboa"."""
        return f"{self.street} {self.housenumber}, {self.postcode} {self.city}"

    def tags(self) -> dict[str, str]:
        return {
            "addr:street": self.street,
            "addr:housenumber": self.housenumber,
            "addr:postcode": self.postcode,
            "addr:city": self.city,
            "addr:country": self.country,
        }


@dataclass(frozen=True)
class PlaceFacts:
    city: Named  # "Lisboa", tags name:en and population
    city_name_en: str
    city_population: int
    suburb: Named
    neighbourhood: Named
    streets: tuple[Street, ...]
    addresses: tuple[Address, ...]  # as nodes, on Rua Augusta
    building: Address  # on Rua Augusta, as a closed building way
    pharmacies: tuple[Named, ...]  # the first ones in the Baixa, the last in Belém (~6 km west)
    cafes: tuple[Named, ...]
    museum: Named
    viewpoints: tuple[Named, ...]
    monument: Named
    santa_cruz: tuple[Named, Named]  # two towns of one name, ~100 km apart
    sea: tuple[float, float]  # on the Tagus, ~700 m from anything in the extract
    node_count: int = 0
    way_count: int = 0

    def address(self, housenumber: str) -> Address:
        return next(a for a in (*self.addresses, self.building) if a.housenumber == housenumber)

    def street(self, name: str) -> Street:
        return next(s for s in self.streets if s.name == name)


@dataclass(frozen=True)
class PortoFacts:
    city: Named
    pharmacy: Named
    address: Address


def _lisbon() -> PlaceFacts:
    augusta = "Rua Augusta"
    postcode, city, country = "1100-053", "Lisboa", "PT"
    on_augusta = [("24", 38.70885, -9.13690), ("100", 38.71000, -9.13752), ("150", 38.71105, -9.13810)]
    corners = ((38.71210, -9.13862), (38.71210, -9.13842), (38.71225, -9.13842), (38.71225, -9.13862))
    centroid = (sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4)
    return PlaceFacts(
        city=Named("Lisboa", 38.70776, -9.13650, tags=(("name:en", "Lisbon"), ("population", "545796"))),
        city_name_en="Lisbon",
        city_population=545796,
        suburb=Named("Baixa", 38.71120, -9.13740),
        neighbourhood=Named("Chiado", 38.71080, -9.14190),
        streets=(
            Street(
                augusta,
                (
                    ((38.70830, -9.13665), (38.70950, -9.13725), (38.71050, -9.13780)),
                    ((38.71050, -9.13780), (38.71200, -9.13850), (38.71330, -9.13925)),
                ),
            ),
            Street("Rua da Prata", (((38.70860, -9.13585), (38.71050, -9.13690), (38.71330, -9.13830)),)),
            Street("Rua do Ouro", (((38.70800, -9.13760), (38.71030, -9.13880), (38.71300, -9.14020)),)),
            Street(
                "Rua Garrett",
                (((38.71070, -9.14250), (38.71100, -9.14130), (38.71120, -9.14040)),),
                "residential",
            ),
        ),
        addresses=tuple(Address(augusta, n, postcode, city, country, lat, lon) for n, lat, lon in on_augusta),
        building=Address(augusta, "200", postcode, city, country, *centroid, corners=corners),
        pharmacies=(
            Named("Farmácia Baixa", 38.70990, -9.13770, "amenity=pharmacy"),
            Named("Farmácia Estácio", 38.71380, -9.13920, "amenity=pharmacy"),
            Named("Farmácia Azevedo", 38.71400, -9.14010, "amenity=pharmacy"),
            Named("Farmácia Barreto", 38.71085, -9.14260, "amenity=pharmacy"),
            Named("Farmácia Belém", 38.69750, -9.20600, "amenity=pharmacy"),
        ),
        cafes=(
            Named("A Brasileira", 38.71065, -9.14235, "amenity=cafe"),
            Named("Café Nicola", 38.71365, -9.13965, "amenity=cafe"),
        ),
        museum=Named("Museu de Lisboa", 38.75770, -9.15300, "tourism=museum"),
        viewpoints=(
            Named("Miradouro de Santa Luzia", 38.71180, -9.13020, "tourism=viewpoint"),
            Named("Miradouro da Senhora do Monte", 38.71930, -9.13280, "tourism=viewpoint"),
            Named("Miradouro de São Pedro de Alcântara", 38.71550, -9.14440, "tourism=viewpoint"),
        ),
        monument=Named("Padrão dos Descobrimentos", 38.69360, -9.20570, "historic=monument"),
        santa_cruz=(
            Named("Santa Cruz", 39.13530, -9.38060, tags=(("population", "1500"),)),
            Named("Santa Cruz", 38.27000, -8.79000),
        ),
        sea=(38.70150, -9.13400),
    )


class _Ids:
    def __init__(self) -> None:
        self.node = 0
        self.way = FIRST_WAY - 1
        self.relation = FIRST_RELATION - 1

    def next_relation(self) -> int:
        self.relation += 1
        return self.relation

    def next_node(self) -> int:
        self.node += 1
        return self.node

    def next_way(self) -> int:
        self.way += 1
        return self.way


@dataclass
class _Objects:
    """Nodes and ways to write: ids are given as objects are added, so the file is sorted by id
    (a way's own untagged nodes come after the tagged ones, still before every way)."""

    ids: _Ids = field(default_factory=_Ids)
    nodes: list[Node] = field(default_factory=list)
    ways: list[Way] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    joints: dict[tuple[float, float], int] = field(default_factory=dict)  # untagged way nodes by place

    def node(self, at: tuple[float, float], tags: dict[str, str] | None = None) -> int:
        ident = self.ids.next_node()
        self.nodes.append(Node(id=ident, location=(at[1], at[0]), tags=tags or {}, **META))
        return ident

    def way(self, points: tuple[tuple[float, float], ...], tags: dict[str, str], closed: bool = False) -> int:
        # ways meeting at a point share its node, as OSM's do (Rua Augusta's two halves)
        refs = [self.joints.get(p) or self.joints.setdefault(p, self.node(p)) for p in points]
        if closed:
            refs.append(refs[0])
        ident = self.ids.next_way()
        self.ways.append(Way(id=ident, nodes=refs, tags=tags, **META))
        return ident

    def relation(self, members: Iterable[tuple[int, str]], tags: dict[str, str]) -> int:
        """A relation of ways (``(way id, role)``: "outer", "inner"), e.g. a boundary."""
        ident = self.ids.next_relation()
        refs = [("w", way, role) for way, role in members]
        self.relations.append(Relation(id=ident, members=refs, tags=tags, **META))
        return ident

    def write(self, path: Path, box: tuple[float, float, float, float] | None = None) -> None:
        """Writes the file; with ``box`` (west, south, east, north), a header saying it covers
        that box, as ``osmium extract`` writes one."""
        path.unlink(missing_ok=True)  # SimpleWriter will not overwrite
        header = osmium.io.Header()
        if box is not None:
            low, high = osmium.osm.Location(box[0], box[1]), osmium.osm.Location(box[2], box[3])
            header.add_box(osmium.osm.Box(low, high))
        writer = osmium.SimpleWriter(str(path), header=header)
        try:
            for node in self.nodes:
                writer.add_node(node)
            for way in self.ways:
                writer.add_way(way)
            for relation in self.relations:
                writer.add_relation(relation)
        finally:
            writer.close()


def _named(objects: _Objects, named: Named, tags: dict[str, str]) -> None:
    objects.node(named.latlon, {**tags, "name": named.name, **dict(named.tags)})


def _poi(objects: _Objects, named: Named) -> None:
    key, value = named.category.split("=")
    _named(objects, named, {key: value})


def write_place_extract(path: Path) -> PlaceFacts:
    """Writes the Lisbon extract to ``path`` (replacing it) and returns what it holds."""
    facts = _lisbon()
    objects = _Objects()
    _named(objects, facts.city, {"place": "city"})
    _named(objects, facts.suburb, {"place": "suburb"})
    _named(objects, facts.neighbourhood, {"place": "neighbourhood"})
    for town in facts.santa_cruz:
        _named(objects, town, {"place": "town"})
    for poi in (*facts.pharmacies, *facts.cafes, facts.museum, *facts.viewpoints, facts.monument):
        _poi(objects, poi)
    for address in facts.addresses:
        objects.node(address.latlon, address.tags())
    for street in facts.streets:
        for points in street.ways:
            objects.way(points, {"highway": street.highway, "name": street.name})
    objects.way(facts.building.corners, {"building": "yes", **facts.building.tags()}, closed=True)
    objects.write(path)
    return PlaceFacts(**{**facts.__dict__, "node_count": len(objects.nodes), "way_count": len(objects.ways)})


def write_porto_extract(path: Path) -> PortoFacts:
    """A second, tiny region ~275 km north of Lisbon: a city, a pharmacy and an address."""
    facts = PortoFacts(
        city=Named("Porto", 41.14961, -8.61099, tags=(("population", "231800"),)),
        pharmacy=Named("Farmácia Porto", 41.14700, -8.60700, "amenity=pharmacy"),
        address=Address("Rua de Santa Catarina", "1", "4000-447", "Porto", "PT", 41.14640, -8.60630),
    )
    objects = _Objects()
    _named(objects, facts.city, {"place": "city"})
    _poi(objects, facts.pharmacy)
    objects.node(facts.address.latlon, facts.address.tags())
    objects.write(path)
    return facts


def write_places(path: Path, places: Iterable[tuple[Named, str]]) -> None:
    """An extract of named places alone, written in the order given: each a node, its ``place=``
    the kind given ("city", "hamlet"), with its further tags (population, addr:country)."""
    objects = _Objects()
    for named, kind in places:
        _named(objects, named, {"place": kind})
    objects.write(path)
