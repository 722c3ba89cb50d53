"""support/search_extract.py's Helsinki with areas (issue 59, item 2), written with pyosmium.

``write_area_extract(path)`` writes it and returns :class:`AreaFacts`. What it adds: the city's
boundary (a ``boundary=administrative`` relation, ``admin_level`` 8, ``name:sv`` "Helsingfors",
its outer ring two ways as OSM splits them, and an enclave as an inner ring: a hole); a district
(``admin_level`` 10, "Kallio"); a park (a closed way, ``leisure=park``); a campus (a multipolygon
relation of two separate parts, ``amenity=university``); and a boundary named "Uusimaa"
(``admin_level`` 4, a small box) that shares its name with Finland's Natural Earth region; and
what a point stands in (issue 77): a station (``building=train_station``), a named building in
the district (``building=yes``) and an unnamed one beside it, each a closed way.
Each ring is (lat, lon) points, not closed: the writer closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from support.place_extract import _Objects
from support.search_extract import SearchFacts, search_objects

__all__ = ["AreaFacts", "Outline", "box_ring", "write_area_extract"]

Ring = tuple[tuple[float, float], ...]


def box_ring(south: float, west: float, north: float, east: float) -> Ring:
    return ((south, west), (south, east), (north, east), (north, west))


@dataclass(frozen=True)
class Outline:
    name: str
    tags: tuple[tuple[str, str], ...]
    outers: tuple[Ring, ...]
    inners: tuple[Ring, ...] = ()

    @property
    def kind(self) -> str:
        tags = dict(self.tags)
        if "boundary" in tags:
            return "administrative"
        building = tags.get("building")
        if building is not None:
            return "station" if building == "train_station" else "building"
        return tags.get("leisure") or tags["amenity"]


@dataclass(frozen=True)
class AreaFacts:
    search: SearchFacts
    city: Outline  # admin_level 8, one hole
    district: Outline  # admin_level 10
    park: Outline  # a closed way
    campus: Outline  # two parts
    uusimaa: Outline  # admin_level 4, named as the Natural Earth region
    station: Outline  # building=train_station, in the city
    building: Outline  # building=yes, named, in the district
    unnamed: Outline  # building=yes, no name: not an area


# the city: a pentagon split into two ways at its first and third corners
CITY_RING: Ring = ((60.140, 24.900), (60.140, 25.010), (60.185, 25.030), (60.215, 24.990), (60.200, 24.890))
HOLE: Ring = box_ring(60.1850, 24.9700, 60.1900, 24.9800)


def _facts(search: SearchFacts) -> AreaFacts:
    return AreaFacts(
        search=search,
        city=Outline(
            "Helsinki",
            (("boundary", "administrative"), ("admin_level", "8"), ("name:sv", "Helsingfors")),
            (CITY_RING,),
            (HOLE,),
        ),
        district=Outline(
            "Kallio",
            (("boundary", "administrative"), ("admin_level", "10"), ("name:sv", "Berghäll")),
            (box_ring(60.1780, 24.9400, 60.1880, 24.9600),),
        ),
        park=Outline(
            "Kaisaniemen puisto", (("leisure", "park"),), (box_ring(60.1735, 24.9440, 60.1765, 24.9500),)
        ),
        campus=Outline(
            "Helsingin yliopisto",
            (("amenity", "university"),),
            (box_ring(60.1690, 24.9480, 60.1710, 24.9520), box_ring(60.2050, 25.0400, 60.2080, 25.0460)),
        ),
        uusimaa=Outline(
            "Uusimaa",
            (("boundary", "administrative"), ("admin_level", "4")),
            (box_ring(60.1500, 24.9200, 60.1600, 24.9300),),
        ),
        station=Outline(
            "Helsingin päärautatieasema",
            (("building", "train_station"),),
            (box_ring(60.1705, 24.9400, 60.1722, 24.9445),),
        ),
        building=Outline(
            "Sähkötalo", (("building", "yes"),), (box_ring(60.1838, 24.9485, 60.1844, 24.9495),)
        ),
        unnamed=Outline("", (("building", "yes"),), (box_ring(60.1800, 24.9410, 60.1805, 24.9415),)),
    )


def _relation(objects: _Objects, outline: Outline, kind: str, split: bool = False) -> None:
    members: list[tuple[int, str]] = []
    for ring in outline.outers:
        if split:  # two ways meeting at their ends, as OSM splits a long boundary
            members.append((objects.way(ring[:3], {}), "outer"))
            members.append((objects.way((*ring[2:], ring[0]), {}), "outer"))
        else:
            members.append((objects.way(ring, {}, closed=True), "outer"))
    members += [(objects.way(ring, {}, closed=True), "inner") for ring in outline.inners]
    objects.relation(members, {"type": kind, "name": outline.name, **dict(outline.tags)})


def write_area_extract(path: Path) -> AreaFacts:
    """Writes the Helsinki extract with its areas to ``path`` and returns what it holds."""
    search, objects = search_objects()
    facts = _facts(search)
    _relation(objects, facts.city, "boundary", split=True)
    _relation(objects, facts.district, "boundary")
    _relation(objects, facts.uusimaa, "boundary")
    objects.way(facts.park.outers[0], {"name": facts.park.name, **dict(facts.park.tags)}, closed=True)
    _relation(objects, facts.campus, "multipolygon")
    for building in (facts.station, facts.building, facts.unnamed):
        named = {"name": building.name} if building.name else {}
        objects.way(building.outers[0], {**named, **dict(building.tags)}, closed=True)
    objects.write(path)
    return facts
