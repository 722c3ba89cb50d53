"""A table joined to outlines through the page's import (``POST /m/<id>/import`` with ``join``,
``key`` and ``country``, as the ``import`` tool takes them), over a real socket: the preview says
what it joined (by which column, of which columns, how many rows matched, which did not) and
writes nothing; the commit adds the outlines as one change; a table with no column to join by
answers its columns; a wrong country or a key without a join is refused before the file is read."""

from __future__ import annotations

from urllib.parse import urlencode

import trio
from support import Browser, start_server

TABLE = "country,gdp_per_head\nFrance,44747\nGermany,51384\nAtlantis,1\nJapan,33834\n"
STATES = "state,votes\nCA,55\nTexas,40\nOntario,3\n"


async def test_the_page_imports_a_table_joined_to_countries(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        before = (await server.hub.get(map_id)).state.version

        async def post(data: str, **query: str):  # type: ignore[no-untyped-def]
            return await owner.client.post(f"/m/{map_id}/import?{urlencode(query)}", content=data.encode())

        shown = await post(TABLE, filename="gdp.csv", preview="1", join="countries")
        assert shown.status_code == 200, shown.text
        answer = shown.json()
        assert answer["joined"] == {
            "to": "countries",
            "key": "country",
            "columns": ["country", "gdp_per_head"],
            "rows": 4,
            "matched": 3,
        }
        assert answer["added"] == 3 and answer["n_unresolved"] == 1
        assert answer["unresolved"] == [{"line": 4, "text": "Atlantis (not a country)"}]
        drawn = answer["preview"]["features"]
        assert sorted(f["properties"]["country"] for f in drawn) == ["France", "Germany", "Japan"]
        assert {f["geometry"]["type"] for f in drawn} <= {"Polygon", "MultiPolygon"}
        assert (await server.hub.get(map_id)).state.version == before, "a preview wrote"

        # The person picks another column: the server joins by it, or says it matches nothing.
        other = await post(TABLE, filename="gdp.csv", preview="1", join="countries", key="gdp_per_head")
        assert other.status_code == 400, other.text
        assert "file must hold at least one feature" in other.json()["error"]["message"]

        added = await post(TABLE, filename="gdp.csv", join="countries", key="country")
        assert added.status_code == 200, added.text
        answer = added.json()
        state = (await server.hub.get(map_id)).state
        assert answer["version"] == state.version and answer["added"] == 3
        assert answer["joined"]["matched"] == 3
        outlines = {f.label: f for f in state.features.values()}
        assert set(outlines) == {"France", "Germany", "Japan"}
        assert outlines["Japan"].type == "multipolygon"
        assert dict(outlines["Japan"].properties)["gdp_per_head"] == 33834
        assert (await server.hub.get(map_id)).history.activity()[-1]["version"] == state.version, "one change"
    finally:
        await owner.aclose()


async def test_regions_a_country_and_what_is_refused(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()

        async def post(data: str, **query: str):  # type: ignore[no-untyped-def]
            query = {"filename": "t.csv", "preview": "1", **query}
            return await owner.client.post(f"/m/{map_id}/import?{urlencode(query)}", content=data.encode())

        states = await post(STATES, join="regions", country="US")
        assert states.status_code == 200, states.text
        answer = states.json()
        assert answer["joined"]["key"] == "state" and answer["joined"]["matched"] == 2
        assert answer["unresolved"] == [{"line": 4, "text": "Ontario (not a region of US)"}]
        labels = sorted(f["properties"]["state"] for f in answer["preview"]["features"])
        assert labels == ["CA", "Texas"]

        unknown = await post(STATES, join="regions", country="Atlantis")
        assert unknown.status_code == 400
        assert "country 'Atlantis' is not known" in unknown.json()["error"]["message"]

        alone = await post(STATES, key="state")
        assert alone.status_code == 400
        assert "key and country go with join" in alone.json()["error"]["message"]

        wrong = await post(STATES, join="cities")
        assert wrong.status_code == 400
        assert "join must be one of countries, regions" in wrong.json()["error"]["message"]

        # No column to join by: the answer lists the table's columns for the person to choose
        # (words, not numbers: 4 is Afghanistan's ISO numeric code).
        none = await post("a,b\nfoo,bar\nbaz,qux\n", join="countries")
        assert none.status_code == 400, none.text
        error = none.json()["error"]
        assert error["columns"] == ["a", "b"] and "csv has no column of countries" in error["message"]
        missing = await post(STATES, join="regions", key="province")
        assert missing.json()["error"]["columns"] == ["state", "votes"]
        assert not (await server.hub.get(map_id)).state.features, "a preview or a refusal wrote"
    finally:
        await owner.aclose()
