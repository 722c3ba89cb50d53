"""Boundaries from a table (issue 45): ``import`` with ``join`` turns rows naming countries (codes,
names in any common spelling) or states and provinces into their Natural Earth outlines, with
the row's cells as properties, through the SDK's client on a real socket. Each country's
outline is checked against its capital (point in polygon, computed here); unknown rows are
listed once with their lines and the name they may mean, and the rest imported; rows that land
on one outline (a real table's duplicate code) are reported; hostile cells stay text; a long
table with repeats fits; a key names its column in any spelling of it."""

from __future__ import annotations

import random
from typing import Any

import trio
from mcp import Client
from mcp.types import CallToolResult
from support import start_server
from support.gapminder import gapminder_csv, gapminder_rows

from mapsrv.core.geometry import parts
from mapsrv.core.model import Feature
from mapsrv.core.times import time_ms

# value in the table -> (ISO alpha-2, capital as (lat, lon))
COUNTRIES = {
    "Côte d'Ivoire": ("CI", (6.8276, -5.2893)),  # Yamoussoukro
    "USA": ("US", (38.9072, -77.0369)),
    "UK": ("GB", (51.5074, -0.1278)),
    "South Korea": ("KR", (37.5665, 126.9780)),
    "Czech Republic": ("CZ", (50.0755, 14.4378)),
    "DEU": ("DE", (52.5200, 13.4050)),
    "fr": ("FR", (48.8566, 2.3522)),
    "076": ("BR", (-15.7939, -47.8828)),
    "Russian Federation": ("RU", (55.7558, 37.6173)),
    "Fiji": ("FJ", (-18.1248, 178.4501)),
    "Norway": ("NO", (59.9139, 10.7522)),
    "Kosovo": ("XK", (42.6629, 21.1655)),
    "Viet Nam": ("VN", (21.0278, 105.8342)),
    "JPN": ("JP", (35.6762, 139.6503)),
    "New Zealand": ("NZ", (-41.2866, 174.7756)),
    "Somaliland": ("", (9.5600, 44.0650)),  # Hargeisa; Natural Earth's, no ISO code
}


# Gapminder's Asian countries, as it spells them (the World Bank's names)
COUNTRIES_OF_ASIA = sorted({row["country"] for row in gapminder_rows() if row["continent"] == "Asia"})


# towns on islands a country's three biggest parts leave out: Jakarta (Java), Makassar (Sulawesi),
# Ruteng (Flores, the Lesser Sundas), Cebu City (the Visayas)
ISLANDS = (
    ("Indonesia", (-6.2, 106.85)),
    ("Indonesia", (-5.14, 119.42)),
    ("Indonesia", (-8.61, 120.46)),
    ("Philippines", (10.31, 123.89)),
)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def inside(point: tuple[float, float], ring: tuple[tuple[float, float], ...]) -> bool:
    """Ray casting on [lat, lon] points: does the ring hold ``point``?"""
    lat, lon = point
    holds = False
    for (lat0, lon0), (lat1, lon1) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (lat0 > lat) != (lat1 > lat) and lon < lon0 + (lat - lat0) * (lon1 - lon0) / (lat1 - lat0):
            holds = not holds
    return holds


async def features_of(server: Any, map_id: str) -> list[Feature]:
    entry = await server.hub.get(map_id)
    return list(entry.state.features.values())


async def test_countries_in_mixed_spellings_become_outlines_holding_their_capitals(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    table = "country,gdp_per_head,continent\n" + "".join(
        f'"{name}",{1000 + 137 * n},x{n}\n' for n, name in enumerate(COUNTRIES)
    )
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert answer["format"] == "csv" and "unresolved" not in answer, answer
        assert set(answer["kinds"]) == {"polygon", "multipolygon"}
        assert answer["added"] == len(COUNTRIES)  # one feature per row, its outline whole
        assert len(answer["ids"]) <= 20 and len(str(answer)) < 4000
        features = await features_of(server, answer["map_id"])
    by_row = {dict(f.properties)["country"]: f for f in features}
    assert set(by_row) == set(COUNTRIES) and len(features) == len(COUNTRIES)
    for n, (name, (_, capital)) in enumerate(COUNTRIES.items()):
        feature = by_row[name]
        props = dict(feature.properties)
        assert props["gdp_per_head"] == 1000 + 137 * n and isinstance(props["gdp_per_head"], int)
        assert props["continent"] == f"x{n}"
        outlines = [rings[0] for _, rings in parts(feature.type, feature.coords)]
        assert any(inside(capital, ring) for ring in outlines), f"{name}: capital {capital} in no outline"
        assert feature.label
    assert by_row["USA"].label == "United States" and by_row["UK"].label == "United Kingdom"
    assert by_row["USA"].type == "multipolygon" and by_row["Czech Republic"].type == "polygon"
    # across the antimeridian: each part stays on one side, as the page's Leaflet draws it
    for name in ("Russian Federation", "Fiji", "USA", "New Zealand"):
        assert by_row[name].type == "multipolygon"
        for _, rings in parts(by_row[name].type, by_row[name].coords):
            lons = [lon for _, lon in rings[0]]
            assert -180 <= min(lons) and max(lons) <= 180 and max(lons) - min(lons) < 180, name


async def test_canada_is_one_multipolygon_and_south_africa_keeps_lesotho_as_a_hole(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        table = "country,people\nCanada,40\nSouth Africa,62\n"
        answer = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert answer["kinds"] == {"multipolygon": 1, "polygon": 1}, answer
        features = await features_of(server, answer["map_id"])
    canada, south_africa = sorted(features, key=lambda f: f.label)
    assert (canada.label, canada.type) == ("Canada", "multipolygon") and len(canada.coords) > 20
    ottawa, maseru = (45.4215, -75.6972), (-29.3151, 27.4869)
    assert any(inside(ottawa, rings[0]) for _, rings in parts(canada.type, canada.coords))
    ((_, (outline, lesotho)),) = parts(south_africa.type, south_africa.coords)
    assert inside(maseru, outline) and inside(maseru, lesotho)  # in the hole: not in South Africa


async def test_unknown_countries_are_listed_and_the_rest_imported(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    table = "name;value\nFrance;1,5\nAtlantis;2\nXX;3\nPeru;4\n;5\nGermany;6\n"
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert answer["n_unresolved"] == 2
        assert answer["unresolved"] == [
            {"line": 3, "text": "Atlantis (not a country)"},
            {"line": 4, "text": "XX (not a country)"},
        ]
        assert any("without a country: line 6" in note for note in answer["notes"]), answer["notes"]
        features = await features_of(server, answer["map_id"])
    assert {dict(f.properties)["name"] for f in features} == {"France", "Peru", "Germany"}
    assert {dict(f.properties)["value"] for f in features} == {1.5, 4, 6}  # ";": a decimal comma


async def test_regions_by_name_and_code(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        states = "state,votes\nCA,55\nTexas,40\nN.Y.,28\nUS-FL,30\nOntario,1\n"
        answer = structured(
            await agent.call_tool(
                "import", {"content": states, "join": "regions", "country": "United States"}
            )
        )
        assert answer["unresolved"] == [{"line": 6, "text": "Ontario (not a region of US)"}]
        features = await features_of(server, answer["map_id"])
        labels = {f.label for f in features}
        assert labels == {"California", "Texas", "New York", "Florida"}
        assert len(features) == 4  # a state with islands (California's) is one multipolygon
        sacramento, austin = (38.5816, -121.4944), (30.2672, -97.7431)
        (california,) = (f for f in features if f.label == "California")
        (texas,) = (f for f in features if f.label == "Texas")
        for feature, capital in ((california, sacramento), (texas, austin)):
            assert any(inside(capital, rings[0]) for _, rings in parts(feature.type, feature.coords))

        mixed = "where,nation,people\nOntario,Canada,15\nBavaria,DE,13\nPunjab,,30\n"
        mixed += "Punjab,Pakistan,127\nQC,CA,9\n"
        answer = structured(
            await agent.call_tool("import", {"content": mixed, "join": "regions", "key": "where"})
        )
        assert answer["unresolved"] == [{"line": 4, "text": "Punjab (in IN and PK: give a country)"}]
        features = await features_of(server, answer["map_id"])
        assert {f.label for f in features} == {"Ontario", "Bayern", "Punjab", "Québec"}

        refused = await agent.call_tool("import", {"content": states, "join": "regions", "country": "Narnia"})
        assert refused.is_error and "Narnia" in str(refused.content)
        refused = await agent.call_tool("import", {"content": states, "key": "state"})
        assert refused.is_error and "join" in str(refused.content)


async def test_hostile_cells_stay_text(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    huge = "A" * 300_000
    table = (
        "country,formula,note\n"
        'Spain,"=cmd|\' /C calc\'!A0","bell\x07 and \x1b[31m escape"\n'
        f"Italy,+SUM(A1),{huge}\n"
        f"{huge},1,2\n"
        '"Portugal\x00",@x,-1\n'
    )
    async with Client(server.url + "mcp") as agent:
        result = await agent.call_tool("import", {"content": table, "join": "countries"})
        answer = structured(result)
        assert answer["n_unresolved"] >= 1 and len(str(answer)) < 6000
        features = await features_of(server, answer["map_id"])
    spain = dict(next(f for f in features if f.label == "Spain").properties)
    assert spain["formula"] == "=cmd|' /C calc'!A0"
    italy = dict(next(f for f in features if f.label == "Italy").properties)
    assert italy["formula"] == "+SUM(A1)" and isinstance(italy["note"], str)
    assert {f.label for f in features} <= {"Spain", "Italy", "Portugal"}


async def test_ten_thousand_rows_with_repeats_fit(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    names = list(COUNTRIES)
    rng = random.Random(45)
    rows = [f'"{rng.choice(names)}",{year},{rng.random() * 100:.2f}' for year in range(10_000)]
    table = "country,year,value\n" + "\n".join(rows) + "\n"
    assert len(table.encode()) < 4 * 2**20
    async with Client(server.url + "mcp") as agent:
        with trio.fail_after(60):
            answer = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert "unresolved" not in answer
        # one outline per country, its rows by year (issue 76): nothing to thin
        countries = len({row.split('",')[0] for row in rows})
        assert answer["added"] == countries and answer["ids"] == [f"f1-f{countries}"], "every id, as one run"
        assert not any("thinned" in note for note in answer["notes"]), answer["notes"]
        assert any(f"10000 rows joined as {countries} outlines" in note for note in answer["notes"])
        assert len(str(answer)) < 4000
        features = await features_of(server, answer["map_id"])
    assert {f.series for f in features} == {"year"}
    years = [y for f in features for y in dict(f.properties)["year"]]
    assert sorted(years) == list(range(10_000)), "every row's year, each once"
    for f in features:  # each value beside its own year, in time order
        props = dict(f.properties)
        assert list(props["year"]) == sorted(props["year"], key=time_ms), "in time order (0 is 1970 UTC)"
        assert len(props["value"]) == len(props["year"])


async def test_rows_stacked_on_one_outline_are_reported_and_a_time_series_is_not(
    nursery: trio.Nursery,
) -> None:
    """Gapminder's table as plotly ships it codes both Koreas KOR: joined by that code, the 24 rows
    (both Koreas, 12 years) land on South Korea two per year, reported with their lines and what
    they say; every other country's 12 rows are one per year (the year column), not reported."""
    server = await start_server(nursery)
    by_code = gapminder_csv(columns=("iso_alpha", "country", "year", "gdpPercap"))
    async with Client(server.url + "mcp") as agent:
        answer = structured(
            await agent.call_tool("import", {"content": by_code, "join": "countries", "key": "iso_alpha"})
        )
        # one outline per place (issue 76): 140 countries' 12 years each, and South Korea's outline
        # twice, once a Korea, since their rows by code share it at every time
        assert answer["added"] == 141 and answer["n_stacked"] == 24, answer.get("stacked")
        (stacked,) = answer["stacked"]
        lines = [n + 2 for n, row in enumerate(gapminder_rows()) if row["country"].startswith("Korea")]
        assert stacked["outline"] == "South Korea" and stacked["lines"] == lines[:20]
        assert stacked["rows"] == ["KOR: Korea, Dem. Rep.", "KOR: Korea, Rep."]
        assert any("24 rows share an outline" in note and "South Korea" in note for note in answer["notes"])
        assert answer["unresolved"] == [{"line": 1262, "text": "REU (no outline at 1:50m), lines 1262-1273"}]
        # 1,692 rows as 141 outlines need no thinning, islands kept (issue 76): a cap of 3 parts
        # had left Java out
        assert not any("thinned" in note for note in answer["notes"]), answer["notes"]
        assert "1692 rows joined as 141 outlines" in " ".join(answer["notes"])
        joined = await features_of(server, answer["map_id"])
        koreas = sorted(dict(f.properties)["country"] for f in joined if f.label == "South Korea")
        assert koreas == ["Korea, Dem. Rep.", "Korea, Rep."], "each Korea its own series on the outline"
        by_label = {f.label: f for f in joined}
        for country, town in ISLANDS:
            shape = by_label[country]
            outlines = [rings[0] for _, rings in parts(shape.type, shape.coords)]
            assert any(inside(town, ring) for ring in outlines), (country, town)
        # one year, no time column: the two rows still share the outline; by name, nothing is shared
        one_year = gapminder_csv(COUNTRIES_OF_ASIA, [2007], ("iso_alpha", "country", "pop"))
        answer = structured(
            await agent.call_tool("import", {"content": one_year, "join": "countries", "key": "iso_alpha"})
        )
        assert [(s["outline"], len(s["lines"])) for s in answer["stacked"]] == [("South Korea", 2)]
        answer = structured(await agent.call_tool("import", {"content": one_year, "join": "countries"}))
        assert "stacked" not in answer and "unresolved" not in answer, answer
        features = await features_of(server, answer["map_id"])
    labels = {dict(f.properties)["country"]: f.label for f in features}
    assert labels["Korea, Dem. Rep."] == "North Korea" and labels["Korea, Rep."] == "South Korea"
    assert (
        labels["Hong Kong, China"] == "Hong Kong" and labels["West Bank and Gaza"] == "Palestinian Territory"
    )


async def test_unmatched_values_are_listed_once_with_their_lines_and_the_nearest_name(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    table = "country,year,value\n" + "".join(
        f"{name},{year},{n}\n" for n, (name, year) in enumerate(
            [("Hong Kng", 2000), ("France", 2000), ("Hong Kng", 2001), ("Hong Kng", 2002), ("World", 2000),
             ("Atlantis", 2000), ("Germny", 2000)]
        )
    )  # fmt: skip
    async with Client(server.url + "mcp") as agent:
        answer = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
    assert answer["unresolved"] == [
        {"line": 2, "text": "Hong Kng (not a country; nearest: Hong Kong), lines 2, 4-5"},
        {"line": 6, "text": "World (a group of countries, not one)"},
        {"line": 7, "text": "Atlantis (not a country)"},
        {"line": 8, "text": "Germny (not a country; nearest: Germany)"},
    ]
    assert answer["added"] == 1 and answer["n_unresolved"] == 4


async def test_a_key_is_found_in_another_spelling_of_its_column(nursery: trio.Nursery) -> None:
    """Exports from France by the buyer's code: the key, however it is spelt, is the code column,
    not the country column a join would take by itself."""
    server = await start_server(nursery)
    table = "country,ISO_A3,tonnes\nFrance,DEU,10\nFrance,PRT,5\n"
    async with Client(server.url + "mcp") as agent:
        for key in ("iso_a3", "Iso A3"):
            answer = structured(
                await agent.call_tool("import", {"content": table, "join": "countries", "key": key})
            )
            assert "joined 2 of 2 rows to countries by column 'ISO_A3'" in answer["notes"], (key, answer)
            features = await features_of(server, answer["map_id"])
            assert {f.label: dict(f.properties)["tonnes"] for f in features} == {"Germany": 10, "Portugal": 5}
        by_itself = structured(await agent.call_tool("import", {"content": table, "join": "countries"}))
        assert "joined 2 of 2 rows to countries by column 'country'" in by_itself["notes"], by_itself
