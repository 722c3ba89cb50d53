"""Agents and people sharing a map, through the SDK's clients over real HTTP: every change is
attributed (each MCP session is its own agent), ``changes`` lists them with people's notes, an
agent's ``undo`` reverts only its own change, and a write based on an old version fails only when
someone else changed the same features since."""

from __future__ import annotations

import json

import trio
from support import start_server
from support.agents import agent, call, failing

from mapsrv.core.changes import person_actor
from mapsrv.core.model import build_feature
from mapsrv.core.ops import ImportFeatures
from mapsrv.server import Server

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


async def person_leaves_a_note(server: Server, map_id: str, text: str) -> None:
    note = build_feature(
        id="note1", type="marker", coords=(38.72, -9.14), layer="notes", label=text[:40], popup=text,
        style={"symbol": "📝"}, limits=server.hub.limits,
    )  # fmt: skip
    await server.hub.apply(map_id, [ImportFeatures((note,))], actor=person_actor(CHROME, "alice-cookie"))


async def test_each_session_is_an_agent_and_undoes_only_its_own_change(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with agent(server.url + "mcp", "claude-ai") as a, agent(server.url + "mcp", "claude-ai") as b:
        map_id = (await call(a, "create_map", title="Lisbon"))["map_id"]
        await call(
            a, "draw", map_id=map_id, items=[{"at": [38.7169, -9.1399], "label": "Hotel", "id": "hotel"}]
        )
        await call(
            b, "draw", map_id=map_id, items=[{"at": [38.7115, -9.1325], "label": "Café", "id": "cafe"}]
        )
        await person_leaves_a_note(server, map_id, "put the hotel here instead, nearer the river")

        seen = await call(a, "changes", map_id=map_id)
        by = [(c["by"]["name"], c.get("mine", False), c["summary"]) for c in seen["changes"]]
        assert [name for name, _, _ in by] == ["claude-ai", "claude-ai", "Chrome on Linux"]
        assert [mine for _, mine, _ in by] == [True, False, False], "two sessions are two agents"
        ids = {c["by"]["id"] for c in seen["changes"]}
        assert len(ids) == 3 and all(i.startswith(("agent:", "person:")) for i in ids)
        assert seen["changes"][0]["added"] == ["hotel"] and seen["changes"][1]["added"] == ["cafe"]
        assert seen["changes"][2]["notes"][0]["text"] == "put the hotel here instead, nearer the river"
        assert "secret" not in json.dumps(seen) and "cookie" not in json.dumps(seen)
        later = await call(b, "changes", map_id=map_id, since=seen["changes"][1]["version"])
        assert [c["by"]["name"] for c in later["changes"]] == ["Chrome on Linux"]

        undone = await call(a, "undo", map_id=map_id)
        assert undone["summary"].startswith("undid ") and "Hotel" in undone["summary"]
        features = (await server.hub.get(map_id)).state.features
        assert "hotel" not in features and {"cafe", "note1"} <= set(features), "only a's change"
        text, _ = await failing(a, "undo", map_id=map_id)
        assert text.startswith("nothing_to_undo: ")
        redone = await call(a, "undo", map_id=map_id, redo=True)
        assert (
            redone["version"] > undone["version"] and "hotel" in (await server.hub.get(map_id)).state.features
        )
        await call(b, "undo", map_id=map_id)
        assert set((await server.hub.get(map_id)).state.features) == {"hotel", "note1"}
        last = (await call(a, "changes", map_id=map_id, since=undone["version"]))["changes"]
        assert [(c["by"]["name"], c.get("mine", False)) for c in last] == [
            ("claude-ai", True),
            ("claude-ai", False),
        ]
        assert last[0].get("redoes") and last[1].get("undoes")


async def test_base_version_conflicts_only_on_the_same_features(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    url = server.url + "mcp"
    async with agent(url, "agent-a") as a, agent(url, "agent-b", mode="2026-07-28") as b:
        items = [
            {"at": [38.7169, -9.1399], "label": "Hotel", "id": "hotel"},
            {"at": [38.71, -9.13], "id": "cafe"},
        ]
        drawn = await call(a, "draw", items=items)
        map_id, base = drawn["map_id"], drawn["version"]
        await call(b, "edit", map_id=map_id, changes=[{"id": "hotel", "label": "Hotel Lisboa"}])

        text, error = await failing(
            a, "edit", map_id=map_id, changes=[{"id": "hotel", "color": "red"}], base_version=base
        )
        assert text.startswith("edit_conflict: edit conflict: since version")
        assert "agent-b" in text and f"base_version={base + 1}" in text
        assert error["code"] == "edit_conflict" and error["current_version"] == base + 1
        assert [c["by"]["name"] for c in error["changes"]] == ["agent-b"]
        assert error["changes"][0]["changed"] == ["hotel"]
        assert dict((await server.hub.get(map_id)).state.features["hotel"].style).get("color") is None

        other = await call(
            a, "edit", map_id=map_id, changes=[{"id": "cafe", "label": "Café"}], base_version=base
        )
        assert other["version"] == base + 2, "another feature: no conflict"
        merged = await call(
            a, "edit", map_id=map_id, changes=[{"id": "hotel", "color": "red"}], base_version=base + 1
        )
        assert merged["version"] == base + 3, "merged: based on the version with b's change"
        # Based on the version of its own last write (what it last saw), an agent's next write
        # goes through. (A change since its base conflicts whoever made it: two tabs of one person
        # are one actor, and must still see each other's edits.)
        removed = await call(a, "remove", map_id=map_id, ids=["cafe"], base_version=merged["version"])
        assert removed["version"] == base + 4
