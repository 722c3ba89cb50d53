"""find_places as an agent meets it (issue 59): a real mapsrv on port 0 serving a real Helsinki
extract (support/search_extract.py, imported with `mapsrv places import`), asked with the MCP
SDK's own client. A kind asked in any form, with or without the query; a list cut short says how
many there are and pages on with a cursor; an unknown category is answered with the known ones;
a search that finds nothing near says so, and never suggests a town of another country."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from mcp import Client
from support import start_server
from support.search_extract import SearchFacts, write_search_extract

from mapsrv.cli import main
from mapsrv.server import Server


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
async def indexed(nursery: trio.Nursery, places_dir: Path) -> Server:
    return await start_server(nursery, places_dir=str(places_dir))


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)


@pytest.mark.parametrize(
    "arguments",
    [
        {"category": "coffee"},
        {"category": "cafés"},
        {"query": "cafés"},
        {"query": "coffee"},
        {"query": "", "category": "amenity=cafe"},
    ],
    ids=["category-synonym", "category-plural", "query-plural", "query-synonym", "category-key-value"],
)
async def test_cafes_asked_as_people_ask(
    indexed: Server, facts: SearchFacts, arguments: dict[str, Any]
) -> None:
    async with Client(indexed.url + "mcp") as agent:
        found = await call(agent, "find_places", {**arguments, "near": list(facts.around), "limit": 5})
    assert len(found["places"]) == 5 and all(p["category"] == "amenity=cafe" for p in found["places"])
    distances = [p["distance_m"] if "distance_m" in p else p["distance_km"] * 1000 for p in found["places"]]
    assert distances == sorted(distances)


async def test_a_list_cut_short_says_how_many_and_pages_on_with_a_cursor(
    indexed: Server, facts: SearchFacts
) -> None:
    asked = {"category": "cafe", "near": list(facts.around), "within_km": 1, "limit": 50}
    async with Client(indexed.url + "mcp") as agent:
        first = await call(agent, "find_places", asked)
        second = await call(agent, "find_places", {**asked, "cursor": first["cursor"]})
        other = await error(agent, "find_places", {**asked, "within_km": 2, "cursor": first["cursor"]})
        made_up = await error(agent, "find_places", {**asked, "cursor": "not-a-cursor"})
        whole = await call(agent, "find_places", {**asked, "limit": 5, "within_km": 0.11})
    assert len(first["places"]) == 50 and first["count"] == 87 and "87" in first["note"]
    assert len(second["places"]) == 37 and second["count"] == 87 and "cursor" not in second
    names = {(p["name"], p["lat"], p["lon"]) for p in first["places"] + second["places"]}
    assert len(names) == 87
    assert other.startswith("invalid: ") and "cursor is from another search" in other
    assert made_up.startswith("invalid: ") and "cursor" in made_up
    # a list that is not cut says nothing more
    assert len(whole["places"]) < 5 and "cursor" not in whole and "count" not in whole


async def test_an_unknown_category_is_answered_with_the_known_ones(
    indexed: Server, facts: SearchFacts
) -> None:
    async with Client(indexed.url + "mcp") as agent:
        said = await error(agent, "find_places", {"category": "zoo", "near": list(facts.around)})
    assert said.startswith("invalid: ") and "'zoo' is not a kind of place" in said, said
    assert "cafe (coffee; 87)" in said and "pharmacy (chemist, drugstore; 2)" in said, said
    assert "nothing found" not in said


async def test_no_pharmacy_near_says_so_and_suggests_no_town_abroad(
    indexed: Server, facts: SearchFacts
) -> None:
    far = [60.2055, 24.6559]  # Espoo, ~16 km west: no pharmacy of the extract within 1 km
    async with Client(indexed.url + "mcp") as agent:
        found = await call(agent, "find_places", {"query": "Pharmacy", "near": far, "within_km": 1})
        typo = await error(agent, "find_places", {"query": "Tampre", "near": list(facts.around)})
    assert found["places"] == [] and found["note"] == "no Pharmacy found within 1 km of near; widen within_km"
    assert "Parvomay" not in str(found)
    assert "Tampere (FI)" in typo and "(CO)" not in typo, typo


async def test_a_missing_house_number_is_refused_with_the_streets_nearest_numbers(indexed: Server) -> None:
    async with Client(indexed.url + "mcp") as agent:
        drawn = await error(agent, "draw", {"items": [{"at": "Aleksanterinkatu 5, Helsinki", "label": "x"}]})
        found = await error(agent, "find_places", {"query": "Aleksanterinkatu 5"})
        exact = await call(agent, "find_places", {"query": "Aleksanterinkatu 7"})
    for said in (drawn, found):
        assert said.startswith("not_found: ") and "Aleksanterinkatu has no number 5 in the index" in said, (
            said
        )
        assert "Aleksanterinkatu 3, Aleksanterinkatu 7" in said, said
    assert [p["name"] for p in exact["places"]] == ["Aleksanterinkatu 7"]


async def test_nearest_place_at_a_shop_is_the_shop_and_its_address(
    indexed: Server, facts: SearchFacts
) -> None:
    pharmacy, address = facts.pharmacies[1]
    async with Client(indexed.url + "mcp") as agent:
        here = await call(agent, "nearest_place", {"lat": address.lat, "lon": address.lon + 0.0001})
    assert here["place"]["name"] == pharmacy.name
    assert here["place"]["address"].startswith("Pohjoisesplanadi 21")


async def test_the_last_page_a_search_goes_to_says_why_it_has_no_cursor(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """500 hamlets named alike in an extract: a search pages on to the 400 the index ranks, and
    its last page has no cursor and a note that says why and what to do (issue 77: caps say why)."""
    from support.place_extract import Named, write_places

    hamlets = [(Named(f"Kyla {i}", 60.2 + i * 1e-4, 24.9), "hamlet") for i in range(500)]
    write_places(tmp_path / "hamlets.osm.pbf", hamlets)
    assert main(["places", "import", str(tmp_path / "hamlets.osm.pbf"), "--no-basemap",
                 "--places-dir", str(tmp_path / "places")]) == 0  # fmt: skip
    server = await start_server(nursery, places_dir=str(tmp_path / "places"))
    async with Client(server.url + "mcp") as agent:
        asked: dict[str, Any] = {"query": "Kyla", "limit": 50}
        pages = [await call(agent, "find_places", asked)]
        while "cursor" in pages[-1]:
            pages.append(await call(agent, "find_places", {**asked, "cursor": pages[-1]["cursor"]}))
    last = pages[-1]
    assert sum(len(p["places"]) for p in pages) == 400, [p.get("note") for p in pages]  # the index's ranking
    assert last["count"] == "at least 400" and "cursor" not in last
    assert "a search goes no deeper than this: narrow it" in last["note"], last["note"]
