"""A small OpenStreetMap extract of central Helsinki for the search tests (issue 59), written with
pyosmium through support/place_extract.py's writer.

``write_search_extract(path)`` writes it and returns :class:`SearchFacts`: what was written, so
tests assert against the data. What is in it: the city (``name:sv`` "Helsingfors"); the old market
hall "Vanha kauppahalli" (``name:sv`` "Gamla saluhallen", ``old_name`` "Kauppahalli"); 82 named
cafés within 400 m of the Esplanadi, three branches of one chain (brand "Robert's Coffee"), two
unnamed cafés (one with a full address, one with its street alone); two pharmacies with addresses
(shops that are addresses); a named building with an address (a way); Aleksanterinkatu with house
numbers 1, 3, 7, 11 and 13 as address nodes (5 and 9 missing), and three streets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from support.place_extract import Address, Named, _Objects

__all__ = ["SearchFacts", "search_objects", "write_search_extract"]

ESPLANADI = (60.16760, 24.94830)  # the park's middle: the cafés lie around it
CITY = "Helsinki"


@dataclass(frozen=True)
class SearchFacts:
    city: Named
    market_hall: Named  # name:sv, old_name
    cafes: tuple[Named, ...]  # 82, named
    chain: tuple[Named, ...]  # three branches, one name
    unnamed_cafe_at: Address  # an unnamed café with a full address
    unnamed_cafe_on: tuple[str, float, float]  # an unnamed café with addr:street alone
    pharmacies: tuple[tuple[Named, Address], ...]  # each with its address
    building: tuple[str, Address]  # a named building (a way) with an address
    numbers: tuple[Address, ...]  # Aleksanterinkatu 1, 3, 7, 11, 13
    streets: dict[str, tuple[tuple[float, float], ...]]
    around: tuple[float, float] = ESPLANADI


def _address(street: str, number: str, lat: float, lon: float) -> Address:
    return Address(street, number, "00100", CITY, "FI", lat, lon)


def _facts() -> SearchFacts:
    cafes = []
    for i in range(82):  # on rings 100 to 400 m out
        angle, metres = i * 2.399963, 100 + 300 * (i / 81)
        dlat = metres * math.cos(angle) / 111_195
        dlon = metres * math.sin(angle) / (111_195 * math.cos(math.radians(ESPLANADI[0])))
        cafes.append(
            Named(f"Kahvila Numero {i + 1}", ESPLANADI[0] + dlat, ESPLANADI[1] + dlon, "amenity=cafe")
        )
    brand = (("brand", "Robert's Coffee"),)
    numbers = tuple(
        _address("Aleksanterinkatu", n, 60.16930, 24.94800 + i * 0.0009)
        for i, n in enumerate(("1", "3", "7", "11", "13"))
    )
    return SearchFacts(
        city=Named(CITY, 60.16952, 24.93545, tags=(("name:sv", "Helsingfors"), ("population", "664028"))),
        market_hall=Named(
            "Vanha kauppahalli",
            60.16720,
            24.95310,
            "amenity=marketplace",
            tags=(("name:sv", "Gamla saluhallen"), ("old_name", "Kauppahalli")),
        ),
        cafes=tuple(cafes),
        chain=(
            Named("Robert's Coffee", 60.16800, 24.94400, "amenity=cafe", brand),
            Named("Robert's Coffee", 60.16850, 24.94500, "amenity=cafe", brand),
            Named("Robert's Coffee", 60.16700, 24.94250, "amenity=cafe", brand),
        ),
        unnamed_cafe_at=_address("Fredrikinkatu", "12", 60.16500, 24.93900),
        unnamed_cafe_on=("Mannerheimintie", 60.17000, 24.93800),
        pharmacies=(
            (
                Named("Yliopiston Apteekki", 60.16880, 24.94680, "amenity=pharmacy"),
                _address("Mannerheimintie", "5", 60.16880, 24.94680),
            ),
            (
                Named("Apteekki Esplanadi", 60.16790, 24.94990, "amenity=pharmacy"),
                _address("Pohjoisesplanadi", "21", 60.16790, 24.94990),
            ),
        ),
        building=("Stockmann", _address("Aleksanterinkatu", "52", 60.16860, 24.94150)),
        numbers=numbers,
        streets={
            "Aleksanterinkatu": ((60.16930, 24.94100), (60.16930, 24.95300)),
            "Mannerheimintie": ((60.16800, 24.94000), (60.17500, 24.93500)),
            "Fredrikinkatu": ((60.16200, 24.93800), (60.16900, 24.94000)),
        },
    )


def write_search_extract(path: Path) -> SearchFacts:
    """Writes the Helsinki extract to ``path`` (replacing it) and returns what it holds."""
    facts, objects = search_objects()
    objects.write(path)
    return facts


def search_objects() -> tuple[SearchFacts, _Objects]:
    """The Helsinki extract's facts and its objects, to write, or to add to first."""
    facts = _facts()
    objects = _Objects()
    objects.node(facts.city.latlon, {"place": "city", "name": facts.city.name, **dict(facts.city.tags)})
    for poi in (facts.market_hall, *facts.cafes, *facts.chain):
        key, value = poi.category.split("=")
        objects.node(poi.latlon, {key: value, "name": poi.name, **dict(poi.tags)})
    objects.node(facts.unnamed_cafe_at.latlon, {"amenity": "cafe", **facts.unnamed_cafe_at.tags()})
    street, lat, lon = facts.unnamed_cafe_on
    objects.node((lat, lon), {"amenity": "cafe", "addr:street": street})
    for pharmacy, address in facts.pharmacies:
        objects.node(pharmacy.latlon, {"amenity": "pharmacy", "name": pharmacy.name, **address.tags()})
    for address in facts.numbers:
        objects.node(address.latlon, address.tags())
    for name, points in facts.streets.items():
        objects.way(points, {"highway": "primary", "name": name})
    name, address = facts.building
    corners = tuple(
        (address.lat + dlat, address.lon + dlon)
        for dlat, dlon in ((-0.0002, -0.0004), (-0.0002, 0.0004), (0.0002, 0.0004), (0.0002, -0.0004))
    )
    objects.way(corners, {"building": "retail", "name": name, **address.tags()}, closed=True)
    return facts, objects
