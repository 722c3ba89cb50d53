"""Search as people type (issue 59): a real extract of central Helsinki (support/search_extract.py,
written with pyosmium) imported as an operator imports it, then searched through the offline
index and the resolver: plurals, accents, synonyms, every name an object has, category words in
the query alone, the category without them, counts, a chain's branches and unnamed places."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.search_extract import SearchFacts, write_search_extract

from mapsrv.cli import main
from mapsrv.places import PlaceNotFound
from mapsrv.places.offline import OfflineIndex, open_offline_index
from mapsrv.places.offline_words import forms, fts_query, match_categories
from mapsrv.places.search import haversine
from mapsrv.places.service import PlaceService
from mapsrv.places.sources import Query


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SearchFacts]:
    path = tmp_path_factory.mktemp("extract") / "helsinki.osm.pbf"
    return path, write_search_extract(path)


@pytest.fixture(scope="module")
def facts(extract: tuple[Path, SearchFacts]) -> SearchFacts:
    return extract[1]


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory, extract: tuple[Path, SearchFacts]) -> Path:
    directory = tmp_path_factory.mktemp("places")
    assert main(["places", "import", str(extract[0]), "--places-dir", str(directory)]) == 0
    return directory


@pytest.fixture
async def index(places_dir: Path) -> AsyncIterator[OfflineIndex]:
    found = open_offline_index(places_dir)
    assert found is not None
    yield found
    await found.aclose()


@pytest.fixture
async def service(index: OfflineIndex) -> AsyncIterator[PlaceService]:
    yield PlaceService([index])


def cafe_names(facts: SearchFacts) -> set[str]:
    return {c.name for c in (*facts.cafes, *facts.chain)}


@pytest.mark.parametrize("text", ["cafe", "cafes", "café", "cafés", "Cafés", "coffee", "CAFE"])
async def test_a_kind_in_any_form_finds_its_places(
    index: OfflineIndex, facts: SearchFacts, text: str
) -> None:
    found = await index.search(Query(text, near=facts.around, limit=10))
    assert len(found) == 10 and all(p.category == "amenity=cafe" for p in found), found


@pytest.mark.parametrize("text", ["pharmacy", "pharmacies", "chemist", "chemists", "drugstore"])
async def test_a_pharmacy_by_any_word_people_use(index: OfflineIndex, facts: SearchFacts, text: str) -> None:
    found = await index.search(Query(text, near=facts.around, limit=5))
    assert {p.name for p in found} == {p.name for p, _ in facts.pharmacies}


@pytest.mark.parametrize("asked", ["cafe", "cafes", "café", "coffee", "amenity=cafe", "Coffee"])
async def test_the_category_alone_without_repeating_it_in_the_query(
    index: OfflineIndex, facts: SearchFacts, asked: str
) -> None:
    found = await index.search(Query("", near=facts.around, category=asked, limit=50))
    assert len(found) == 50 and {p.name for p in found} <= cafe_names(facts) | {
        "cafe, Fredrikinkatu 12",
        "cafe on Mannerheimintie",
    }


async def test_a_name_with_a_category_keeps_both(index: OfflineIndex, facts: SearchFacts) -> None:
    found = await index.search(Query("robert", near=facts.around, category="coffee", limit=10))
    assert [p.name for p in found] == ["Robert's Coffee"] * 3


@pytest.mark.parametrize("text", ["Gamla saluhallen", "gamla salu", "Kauppahalli", "Vanha kauppahalli"])
async def test_every_name_an_object_has_finds_it(index: OfflineIndex, facts: SearchFacts, text: str) -> None:
    found = await index.search(Query(text, limit=3))
    assert found and found[0].name == facts.market_hall.name, found
    assert haversine(found[0].latlon, facts.market_hall.latlon) < 1


async def test_a_citys_name_in_its_other_language(index: OfflineIndex, facts: SearchFacts) -> None:
    (found,) = await index.search(Query("Helsingfors", limit=1))
    assert found.name == facts.city.name and found.match == "alternate name"


async def test_a_chains_branches_are_kept_apart(service: PlaceService, facts: SearchFacts) -> None:
    found = await service.lookup(Query("Robert's Coffee", near=facts.around, limit=10))
    points = sorted(p.latlon for p in found.places if p.name == "Robert's Coffee")
    assert points == sorted(c.latlon for c in facts.chain)


async def test_unnamed_places_are_named_by_kind_and_street_and_come_after_the_named(
    service: PlaceService, facts: SearchFacts
) -> None:
    _, lat, lon = facts.unnamed_cafe_on
    ask = Query("cafes", near=(lat, lon), within_m=2_000, limit=50)
    found = (await service.lookup(ask)).places + (
        await service.lookup(Query(**{**ask.__dict__, "offset": 50}))
    ).places
    labels = [p.name for p in found]
    assert "cafe" not in labels and len(labels) == 87
    # each unnamed one is the nearest café to where it is, and still listed after the named ones
    assert labels[-2:] == ["cafe on Mannerheimintie", "cafe, Fredrikinkatu 12"] or labels[-2:] == [
        "cafe, Fredrikinkatu 12",
        "cafe on Mannerheimintie",
    ], labels[-5:]
    nearest = min(found, key=lambda p: p.distance_m or 0)
    assert nearest.name == "cafe on Mannerheimintie"


async def test_a_search_cut_short_says_how_many_and_pages_on(
    service: PlaceService, facts: SearchFacts
) -> None:
    ask = Query("", category="cafe", near=facts.around, within_m=1_000, limit=50)
    first = await service.lookup(ask)
    assert len(first.places) == 50 and first.count == 87 and first.complete  # 82 + 3 + 2 unnamed
    rest = await service.lookup(Query(**{**ask.__dict__, "offset": 50}))
    assert len(rest.places) == 37 and rest.count == 87
    seen = [(p.name, p.latlon) for p in first.places + rest.places]
    assert len(set(seen)) == 87
    distances = [p.distance_m or 0 for p in first.places + rest.places]
    named = distances[:85]
    assert named == sorted(named)  # the page goes on where the first stopped, nearest first


def test_forms_and_queries() -> None:
    assert forms("cafes") == ("cafes", "cafe") and forms("pharmacies") == ("pharmacies", "pharmacy")
    assert forms("churches") == ("churches", "church") and forms("bus") == ("bus",)
    assert fts_query(["rua", "cafes"]) == '"rua" AND ("cafes"* OR "cafe"*)'
    assert fts_query(["cafes", "rua"]) == '("cafes" OR "cafe") AND "rua"*'


def test_match_categories_by_value_synonym_and_plural() -> None:
    known = ["amenity=cafe", "amenity=pharmacy", "shop=chemist", "amenity=fast_food"]
    assert match_categories("coffee", known) == ["amenity=cafe"]
    assert match_categories("Cafés", known) == ["amenity=cafe"]
    assert match_categories("chemists", known) == ["amenity=pharmacy", "shop=chemist"]
    assert match_categories("fast food", known) == ["amenity=fast_food"]
    assert match_categories("zoo", known) == []


# addresses


@pytest.mark.parametrize(("number", "offered"), [("5", ["3", "7", "1", "11"]), ("9", ["11", "7", "13", "3"])])
async def test_a_missing_house_number_says_so_and_offers_the_nearest_on_that_street(
    index: OfflineIndex, number: str, offered: list[str]
) -> None:
    with pytest.raises(PlaceNotFound) as missing:
        await index.search(Query(f"Aleksanterinkatu {number}", limit=5))
    assert f"Aleksanterinkatu has no number {number} in the index" in missing.value.message
    assert missing.value.suggestions == [f"Aleksanterinkatu {n}" for n in offered]


async def test_a_house_number_is_that_number_not_one_it_begins(
    index: OfflineIndex, facts: SearchFacts
) -> None:
    found = await index.search(Query("Aleksanterinkatu 1", limit=5))  # 11 and 13 begin with it
    assert [p.name for p in found] == ["Aleksanterinkatu 1"]
    assert haversine(found[0].latlon, facts.numbers[0].latlon) < 1


async def test_shops_and_named_buildings_are_addresses_forward(
    index: OfflineIndex, facts: SearchFacts
) -> None:
    name, building = facts.building
    for text in (name, "Aleksanterinkatu 52"):
        (found,) = await index.search(Query(text, limit=1))
        assert found.name == name and found.address.startswith("Aleksanterinkatu 52,"), text
        assert haversine(found.latlon, building.latlon) < 1
    pharmacy, _ = facts.pharmacies[0]
    (found,) = await index.search(Query("Mannerheimintie 5", limit=1))
    assert found.name == pharmacy.name and found.address.startswith("Mannerheimintie 5,")


async def test_shops_and_named_buildings_are_addresses_in_reverse(
    index: OfflineIndex, facts: SearchFacts
) -> None:
    name, building = facts.building
    pharmacy, address = facts.pharmacies[0]
    at_building = await index.reverse((building.lat + 0.0001, building.lon))  # ~11 m north
    at_pharmacy = await index.reverse((address.lat, address.lon + 0.0002))  # ~11 m east
    assert (
        at_building is not None
        and at_building.name == name
        and at_building.address.startswith("Aleksanterinkatu 52")
    )
    assert at_pharmacy is not None and at_pharmacy.name == pharmacy.name
    assert at_pharmacy.distance_m is not None and 5 < at_pharmacy.distance_m < 20


async def test_reverse_prefers_a_street_10_m_away_to_an_address_150_m_away(
    index: OfflineIndex, facts: SearchFacts
) -> None:
    at = (60.16939, 24.94400)  # 10 m north of Aleksanterinkatu, far from its middle
    _, building = facts.building
    assert 140 < haversine(at, building.latlon) < 180  # Stockmann's address: the nearest address
    found = await index.reverse(at)
    assert found is not None and (found.kind, found.name) == ("street", "Aleksanterinkatu"), found
    assert found.distance_m is not None and 9 < found.distance_m < 11


async def test_reverse_measures_a_street_by_its_line_not_its_one_point(index: OfflineIndex) -> None:
    at = (60.16250, 24.93832)  # 10 m east of Fredrikinkatu's south end; its row's point is its north end
    found = await index.reverse(at)
    assert found is not None and found.name == "Fredrikinkatu" and found.distance_m is not None
    assert 9 < found.distance_m < 11 and haversine(at, found.latlon) > 700
