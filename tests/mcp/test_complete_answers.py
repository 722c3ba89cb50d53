"""Answers an agent acts on without a second call (issue 77), through mapsrv over MCP with the SDK's
client: a big import names every id it made (as runs, ``f1-f177``) and the other tools take the
runs back; ``measure`` names the features it measured; a page of ``read`` cut short says why.
"""

from __future__ import annotations

import re

import trio
from support import start_server
from support.agents import agent, call

ROWS = 177


def every_id(listed: list[str]) -> list[str]:
    """The ids an answer's list stands for, its runs (``f1-f177``) written out, read here by the
    test's own rule rather than mapsrv's."""
    out: list[str] = []
    for item in listed:
        run = re.fullmatch(r"f(\d+)-f(\d+)", item)
        out += [f"f{n}" for n in range(int(run[1]), int(run[2]) + 1)] if run else [item]
    return out


async def test_an_import_of_177_rows_names_every_id_and_other_tools_take_them_back(
    nursery: trio.Nursery,
) -> None:
    server = await start_server(nursery)
    table = "name,lat,lon\n" + "".join(
        f"Stop {n},{60 + n / 1000:.3f},{24.9 + n / 1000:.3f}\n" for n in range(ROWS)
    )
    async with agent(server.url + "mcp", "importer") as client:
        imported = await call(client, "import", content=table)
        map_id = imported["map_id"]
        held = (await server.hub.get(map_id)).state.features
        assert imported["added"] == ROWS and len(held) == ROWS
        assert sorted(every_id(imported["ids"])) == sorted(held), imported["ids"]
        assert len(str(imported["ids"])) < 200, "177 ids in a few bytes"
        measured = await call(client, "measure", map_id=map_id, ids=imported["ids"])
        assert [f["id"] for f in measured["features"]] == list(held), "every feature of the run, in order"
        await call(client, "remove", map_id=map_id, ids=imported["ids"])
        assert not (await server.hub.get(map_id)).state.features, "the run removed every feature"


async def test_measure_names_the_features_it_measured(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    square = [[60.16, 24.93], [60.16, 24.95], [60.17, 24.95], [60.17, 24.93]]
    items = [
        {"type": "polygon", "points": square, "label": "Kaartinkaupunki", "id": "district"},
        {"points": [[60.171, 24.941], [60.1675, 24.953]], "id": "walk"},
    ]
    async with agent(server.url + "mcp", "measurer") as client:
        map_id = (await call(client, "draw", items=items))["map_id"]
        measured = await call(client, "measure", map_id=map_id, ids=["district", "walk"])
        district, walk = measured["features"]
        assert district["id"] == "district" and district.get("label") == "Kaartinkaupunki", district
        assert walk["id"] == "walk" and "label" not in walk, "a feature without a label has none to name"


async def test_a_read_page_cut_short_says_why_and_where_to_go_on(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    items = [{"at": [60 + n / 1000, 24.9], "label": f"Stop {n}", "popup": "x" * 80} for n in range(100)]
    async with agent(server.url + "mcp", "reader") as client:
        map_id = (await call(client, "draw", items=items))["map_id"]
        page = await call(client, "read", map_id=map_id, kind="marker", limit=200)
        taken = len(page["features"])
        assert taken < 100 and page["next"] == str(taken), "the page is cut by its bytes, not its limit"
        why = page.get("cut", "")
        assert f"stopped at {taken} features" in why and "12 KB" in why and "cursor" in why, page
        short = await call(client, "read", map_id=map_id, kind="marker", limit=5)
        assert short["next"] == "5" and short.get("cut", "").startswith("stopped at limit 5"), short
        rest = await call(client, "read", map_id=map_id, kind="marker", cursor=page["next"], limit=200)
        assert taken + len(rest["features"]) == 100 and "cut" not in rest, "the last page is whole"


async def test_a_change_with_more_ids_than_listed_says_why(nursery: trio.Nursery) -> None:
    """``changes`` lists at most MAX_IDS ids of each kind per change: the answer counts them all
    and says why the list stops; a change that lists every id says nothing of it."""
    server = await start_server(nursery)
    table = "name,lat,lon\n" + "".join(f"P{n},{60 + n / 1000:.3f},24.9\n" for n in range(30))
    async with agent(server.url + "mcp", "watcher") as client:
        imported = await call(client, "import", content=table)
        map_id = imported["map_id"]
        after = (await call(client, "changes", map_id=map_id))["version"]
        await call(client, "draw", map_id=map_id, items=[{"at": [61, 25], "label": "one more"}])
        big = await call(client, "changes", map_id=map_id)
        small = await call(client, "changes", map_id=map_id, since=after)
    [change] = [c for c in big["changes"] if c["version"] == imported["version"]]
    assert change["n_added"] == 30 and len(change["added"]) == 20, change
    assert "at most 20 ids of each kind" in big["ids_cut"], big
    assert "ids_cut" not in small and len(small["changes"]) == 1, small
