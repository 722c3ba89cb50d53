"""The offline index of an extract: imported from the PBF that support/place_extract.py writes,
then searched and reversed through the place source contract, and managed with `mapsrv places`."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.place_extract import (
    Named,
    PlaceFacts,
    PortoFacts,
    write_place_extract,
    write_places,
    write_porto_extract,
)

from mapsrv.cli import main
from mapsrv.errors import InvalidInput
from mapsrv.places import PlaceNotFound, offline_import
from mapsrv.places.offline import CANDIDATES, OfflineIndex, open_offline_index
from mapsrv.places.offline_files import SCHEMA_VERSION, list_regions
from mapsrv.places.offline_import import import_extract
from mapsrv.places.search import haversine
from mapsrv.places.sources import Query, SourceUnavailable

BAIXA = (38.71000, -9.13760)  # mid Rua Augusta


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlaceFacts, Path, PortoFacts]:
    folder = tmp_path_factory.mktemp("extracts")
    lisbon, porto = folder / "lisbon.osm.pbf", folder / "porto.osm.pbf"
    return lisbon, write_place_extract(lisbon), porto, write_porto_extract(porto)


@pytest.fixture
def facts(extracts: tuple[Path, PlaceFacts, Path, PortoFacts]) -> PlaceFacts:
    return extracts[1]


@pytest.fixture
def places_dir(tmp_path: Path, extracts: tuple[Path, PlaceFacts, Path, PortoFacts]) -> Path:
    import_extract(extracts[0], tmp_path, "lisbon")
    return tmp_path


@pytest.fixture
async def index(places_dir: Path) -> AsyncIterator[OfflineIndex]:
    found = open_offline_index(places_dir)
    assert found is not None
    yield found
    await found.aclose()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def close_to(a: tuple[float, float], b: tuple[float, float], metres: float = 1.0) -> bool:
    return haversine(a, b) <= metres


async def test_an_address_is_found_exactly_where_it_is(index: OfflineIndex, facts: PlaceFacts) -> None:
    address = facts.address("24")
    [found, *_] = await index.search(Query(address.text))
    assert (found.kind, found.address, found.source) == ("address", address.text, "index")
    assert close_to(found.latlon, address.latlon)
    [short, *_] = await index.search(Query(f"{address.street} {address.housenumber}"))
    assert short.address == address.text and short.match == "name"


async def test_a_building_address_is_at_its_centroid(index: OfflineIndex, facts: PlaceFacts) -> None:
    building = facts.building
    [found, *_] = await index.search(Query(f"{building.street} {building.housenumber}"))
    assert found.address == building.text
    assert close_to(found.latlon, building.latlon, metres=5)


async def test_a_street_is_one_row_on_the_street(index: OfflineIndex, facts: PlaceFacts) -> None:
    street = facts.street("Rua Augusta")
    found = await index.search(Query("Augusta", limit=10))
    streets = [p for p in found if p.kind == "street"]
    assert [p.name for p in streets] == [street.name]  # its two ways are one street
    assert any(close_to(streets[0].latlon, point) for point in street.points)
    assert all(p.kind != "address" for p in found)  # no number written, no address


async def test_names_and_alternate_names_score_like_the_builtin_list(
    index: OfflineIndex, facts: PlaceFacts
) -> None:
    [lisbon, *_] = await index.search(Query(facts.city_name_en))
    assert (lisbon.name, lisbon.match, lisbon.population) == (
        facts.city.name,
        "alternate name",
        facts.city_population,
    )
    assert lisbon.score == pytest.approx(math.log10(facts.city_population + 1) + 1, abs=0.001)
    [prefix, *_] = await index.search(Query("Lisb"))
    assert prefix.name == facts.city.name and prefix.match == "words"


async def test_a_category_word_finds_its_pois(index: OfflineIndex, facts: PlaceFacts) -> None:
    found = await index.search(Query("pharmacy", limit=20))
    assert {p.name for p in found} == {p.name for p in facts.pharmacies}
    assert {p.category for p in found} == {"amenity=pharmacy"}
    views = await index.search(Query("miradouro", category="viewpoint", limit=20))
    assert {p.name for p in views} == {v.name for v in facts.viewpoints}


async def test_pharmacies_near_a_point_nearest_first_and_within(
    index: OfflineIndex, facts: PlaceFacts
) -> None:
    by_distance = sorted(facts.pharmacies, key=lambda p: haversine(BAIXA, p.latlon))
    found = await index.search(Query(category="amenity=pharmacy", near=BAIXA, limit=10))
    assert [p.name for p in found] == [p.name for p in by_distance]
    assert [p.distance_m for p in found] == sorted(p.distance_m or 0 for p in found)
    assert found[0].distance_m == pytest.approx(haversine(BAIXA, by_distance[0].latlon))
    cut = haversine(BAIXA, by_distance[-2].latlon) + 1  # all but the one in Belém
    within = await index.search(Query(category="pharmacy", near=BAIXA, within_m=cut, limit=10))
    assert [p.name for p in within] == [p.name for p in by_distance[:-1]]
    texts = await index.search(Query("farmacia", near=BAIXA, within_m=cut, limit=10))
    assert [p.name for p in texts] == [p.name for p in by_distance[:-1]]


async def test_a_category_filters_pois_only(index: OfflineIndex, facts: PlaceFacts) -> None:
    found = await index.search(Query("lisboa", category="tourism=museum"))
    assert [p.name for p in found] == [facts.museum.name]
    assert await index.search(Query(category="amenity=nightclub")) == []
    monument = await index.search(Query(category="monument"))
    assert [(p.name, p.category) for p in monument] == [(facts.monument.name, facts.monument.category)]


async def test_two_towns_of_one_name_are_both_found(index: OfflineIndex, facts: PlaceFacts) -> None:
    found = await index.search(Query("Santa Cruz"))
    towns = [p for p in found if p.name == "Santa Cruz"]
    assert len(towns) == 2 and all(t.match == "name" for t in towns)
    for written in facts.santa_cruz:
        assert any(close_to(t.latlon, written.latlon) for t in towns)
    [near_second, *_] = await index.search(Query("Santa Cruz", near=facts.santa_cruz[1].latlon))
    assert close_to(near_second.latlon, facts.santa_cruz[1].latlon)


async def test_country_keeps_the_known_and_the_unknown(index: OfflineIndex, facts: PlaceFacts) -> None:
    assert [p.name for p in await index.search(Query("Lisboa", country="pt"))][:1] == [facts.city.name]
    assert await index.search(Query("Lisboa", country="ES")) == []  # the region's addresses are all PT


async def test_reverse_gives_the_address_there_and_nothing_at_sea(
    index: OfflineIndex, facts: PlaceFacts
) -> None:
    address = facts.address("150")
    nudged = (address.lat + 0.0001, address.lon)  # ~11 m north
    found = await index.reverse(nudged)
    assert found is not None and found.kind == "address" and found.address == address.text
    assert found.distance_m == pytest.approx(haversine(nudged, address.latlon))
    assert await index.reverse(facts.sea, within_m=200) is None
    far = await index.reverse(facts.sea, within_m=5_000)
    assert far is not None and far.distance_m is not None and 200 < far.distance_m <= 5_000


async def test_reverse_is_never_farther_than_its_radius(index: OfflineIndex, facts: PlaceFacts) -> None:
    """A place in the corner of the box around a point (inside the box, outside the circle) is
    not within the radius: the town of Santa Cruz, ~212 m north-east, is nothing within 200 m."""
    town = facts.santa_cruz[0]  # alone: the other is ~100 km off, Lisbon ~50 km
    north_east = (town.lat + 150 / 111_195, town.lon + 150 / (111_195 * math.cos(math.radians(town.lat))))
    metres = haversine(north_east, town.latlon)
    assert 205 < metres < 220
    assert await index.reverse(north_east, within_m=200) is None
    found = await index.reverse(north_east, within_m=250)
    assert found is not None and found.name == town.name and found.distance_m == pytest.approx(metres)


async def test_the_best_of_a_common_word_is_among_the_rows_ranked(tmp_path: Path) -> None:
    """Rows are stored best first, so a word in more rows than are ranked (CANDIDATES) still finds
    its best: a city written after twice as many hamlets that share its words."""
    hamlets = [(Named(f"Vila Nova {i}", 41.0 + i / 1_000, -8.0), "hamlet") for i in range(2 * CANDIDATES)]
    city = Named("Vila Nova de Gaia", 41.1239, -8.6118, tags=(("population", "303824"),))
    write_places(tmp_path / "north.osm.pbf", [*hamlets, (city, "city")])
    import_extract(tmp_path / "north.osm.pbf", tmp_path / "places", "north")
    index = OfflineIndex(tmp_path / "places")
    try:
        found = await index.search(Query("Vila Nova", limit=3))
        typed = await index.search(Query("vila no", limit=3))  # the last word as a prefix
    finally:
        await index.aclose()
    assert [p.name for p in found][:1] == [city.name], found
    assert [p.name for p in typed][:1] == [city.name], typed
    assert found[0].population == 303824


@pytest.mark.parametrize(
    "text",
    ['"*" OR NEAR(', '"', "AND", "a*", "NOT", "name:x", "\x00\x1f\x7f", "^x", "(((", "'; DROP TABLE x"],
)
async def test_hostile_text_is_plain_words(index: OfflineIndex, text: str) -> None:
    found = await index.search(Query(text))
    assert isinstance(found, list)


async def test_too_long_text_is_refused_clearly(index: OfflineIndex) -> None:
    with pytest.raises(InvalidInput, match="at most 200 characters, got 10240"):
        await index.search(Query("a" * 10_240))


async def test_regions_add_and_remove(
    places_dir: Path, extracts: tuple[Path, PlaceFacts, Path, PortoFacts]
) -> None:
    _, facts, porto_file, porto = extracts
    import_extract(porto_file, places_dir, "porto")
    index = open_offline_index(places_dir)
    assert index is not None
    try:
        [found, *_] = await index.search(Query(porto.address.text))
        assert found.address == porto.address.text
        both = await index.search(Query("pharmacy", limit=20))
        assert {p.name for p in both} == {p.name for p in facts.pharmacies} | {porto.pharmacy.name}
        assert main(["places", "remove", "porto", "--places-dir", str(places_dir)]) == 0
        assert await index.search(Query(porto.address.text)) == []
        assert {p.name for p in await index.search(Query("pharmacy", limit=20))} == {
            p.name for p in facts.pharmacies
        }
    finally:
        await index.aclose()
    assert [r.region for r in list_regions(places_dir)] == ["lisbon"]


async def test_reimporting_replaces_the_region(
    places_dir: Path, extracts: tuple[Path, PlaceFacts, Path, PortoFacts]
) -> None:
    _, facts, porto_file, porto = extracts
    index = open_offline_index(places_dir)
    assert index is not None
    try:
        assert await index.search(Query(facts.city.name))
        import_extract(porto_file, places_dir, "lisbon")  # the same region, other data
        assert [p.name for p in await index.search(Query(facts.city.name))] == []
        assert [p.name for p in await index.search(Query(porto.city.name))][:1] == [porto.city.name]
    finally:
        await index.aclose()
    assert files_in(places_dir) == ["lisbon.places.sqlite"]  # no temporary file left


def test_no_regions_no_index(tmp_path: Path) -> None:
    assert open_offline_index(tmp_path / "none") is None
    assert open_offline_index(tmp_path) is None


def test_the_index_file_is_sqlite_with_fts5_and_rtree(places_dir: Path) -> None:
    db = sqlite3.connect(places_dir / "lisbon.places.sqlite")
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert {"entries", "names", "addresses", "common", "spots", "meta"} <= tables


def test_addresses_have_their_own_fts_table(places_dir: Path, facts: PlaceFacts) -> None:
    db = sqlite3.connect(places_dir / "lisbon.places.sqlite")
    try:
        kinds = dict(db.execute("SELECT kind, count(*) FROM entries GROUP BY kind").fetchall())
        (names,) = db.execute("SELECT count(*) FROM names WHERE names MATCH 'augusta'").fetchone()
        (addresses,) = db.execute("SELECT count(*) FROM addresses WHERE addresses MATCH 'augusta'").fetchone()
        (version,) = db.execute("PRAGMA user_version").fetchone()
    finally:
        db.close()
    assert addresses == kinds["address"] == len(facts.addresses) + 1  # and the building
    assert 0 < names < addresses  # the street, a poi on it: no address
    assert version == SCHEMA_VERSION


async def outcome(index: OfflineIndex, query: Query) -> object:
    """What a search answers: its places, or the message of its refusal (a missing number)."""
    try:
        return await index.search(query)
    except PlaceNotFound as missing:
        return missing.message


async def test_common_words_are_checked_on_the_rows_found(
    tmp_path: Path, extracts: tuple[Path, PlaceFacts, Path, PortoFacts], monkeypatch: pytest.MonkeyPatch
) -> None:
    lisbon, facts = extracts[0], extracts[1]
    import_extract(lisbon, tmp_path / "plain", "lisbon")
    monkeypatch.setattr(offline_import, "COMMON_MIN", 2)  # "rua", "augusta", "lisboa"...: common
    import_extract(lisbon, tmp_path / "common", "lisbon")
    db = sqlite3.connect(tmp_path / "common" / "lisbon.places.sqlite")
    try:
        common = {w for (w,) in db.execute("SELECT word FROM common")}
        db.execute("INSERT INTO common VALUES ('24')")  # a common word some rows found lack
        db.commit()
    finally:
        db.close()
    assert {"rua", "augusta"} <= common
    address, other = facts.address("24"), facts.address("150")
    texts = [
        *(address.text, f"Rua Augusta {address.housenumber}", "rua augusta 2", "augusta rua 1"),
        *("rua nowhere 24", f"{address.postcode} rua 24", "augusta lisboa 1", "150 rua augusta"),
        *("150 24 1", "Rua Augusta"),
    ]
    plain, with_common = OfflineIndex(tmp_path / "plain"), OfflineIndex(tmp_path / "common")
    try:
        for text in texts:
            for near in (None, BAIXA):
                query = Query(text, near=near, limit=20)
                assert await outcome(with_common, query) == await outcome(plain, query), text
        assert [p.address for p in await with_common.search(Query("rua augusta 24"))][:1] == [address.text]
        assert await with_common.search(Query("rua nowhere 24")) == []
        assert [p.address for p in await with_common.search(Query("150 rua augusta"))][:1] == [other.text]
        assert await with_common.search(Query("150 24 1")) == []  # 150's row found by "150", "1": no "24"
    finally:
        await plain.aclose()
        await with_common.aclose()


async def test_an_index_of_another_format_is_refused_with_how_to_reimport(
    places_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = sqlite3.connect(places_dir / "lisbon.places.sqlite")
    try:
        db.execute("PRAGMA user_version = 0")  # as the files of format 1 are
    finally:
        db.close()
    index = OfflineIndex(places_dir)
    try:
        with pytest.raises(
            SourceUnavailable, match=r"region 'lisbon' is in format 1, this mapsrv reads"
        ) as err:
            await index.search(Query("Lisboa"))
        assert "mapsrv places import FILE.osm.pbf --region lisbon" in str(err.value)
        with pytest.raises(SourceUnavailable, match="import it again"):
            await index.reverse(BAIXA)
    finally:
        await index.aclose()
    assert main(["places", "list", "--places-dir", str(places_dir)]) == 0
    assert "not searched, index format 1" in capsys.readouterr().out
