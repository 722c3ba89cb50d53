"""``select`` and ``derive`` through the real server: the SDK's client over Streamable HTTP draws
stores and a zone, selects what is inside (checked against a ray casting written here), the
nearest (checked against geographiclib), draws a buffer whose area geographiclib confirms, undoes
it, and is refused another key's map with the same NotFound as an unknown id."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import httpx
import httpx2
import trio
from geographiclib.geodesic import Geodesic
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import start_server
from support.agents import call, failing
from support.mcp import MCP_ACCEPT
from support.openid import open_provider
from support.processes import free_port

from mapsrv.server import Server
from mapsrv.spatial.index import MARK_LAYER

WGS84 = Geodesic.WGS84
ZONE = [[38.70, -9.20], [38.78, -9.16], [38.76, -9.08], [38.69, -9.10]]


def keyed(server: Server, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=10)
    return Client(streamable_http_client(server.url + "mcp", http_client=http))


def inside(point: list[float], ring: list[list[float]]) -> bool:
    lat, lon = point
    hit = False
    for (lat1, lon1), (lat2, lon2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (lat1 > lat) != (lat2 > lat) and lon < lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1):
            hit = not hit
    return hit


def stores(n: int) -> list[dict[str, Any]]:
    rng = random.Random(46)
    return [
        {"at": [rng.uniform(38.65, 38.80), rng.uniform(-9.25, -9.05)], "label": f"store {i}", "id": f"s{i}"}
        for i in range(n)
    ]


async def test_select_inside_and_nearest_then_derive_a_buffer_and_undo_it(server: Server) -> None:
    items = stores(60)
    async with Client(server.url + "mcp") as agent:
        drawn = await call(agent, "draw", items=[*items, {"points": ZONE, "type": "polygon", "id": "zone"}])
        map_id = drawn["map_id"]
        chosen = await call(agent, "select", map_id=map_id, within="zone")
        expected = {item["id"] for item in items if inside(item["at"], ZONE)}
        assert {f["id"] for f in chosen["features"]} == expected and chosen["count"] == len(expected)
        assert all(f["type"] == "marker" and f["label"].startswith("store") for f in chosen["features"])

        accident = [38.72, -9.14]
        near = await call(agent, "select", map_id=map_id, near=accident, nearest=3, layer="default")
        by_distance = sorted(
            items,
            key=lambda i: WGS84.Inverse(*accident, *i["at"])["s12"] if i else 0,  # type: ignore[misc]
        )
        markers = [f for f in near["features"]]
        assert markers[0]["id"] == "zone" and markers[0]["km"] == 0  # the accident is inside the zone
        assert [f["id"] for f in markers[1:]] == [i["id"] for i in by_distance[:2]]
        for found, item in zip(markers[1:], by_distance, strict=False):
            assert math.isclose(
                found["km"], WGS84.Inverse(*accident, *item["at"])["s12"] / 1000, abs_tol=0.001
            )

        buffered = await call(agent, "derive", map_id=map_id, op="buffer", ids=["s0"], km=2, layer="zones")
        assert len(buffered["ids"]) == 1
        read = await call(agent, "read", map_id=map_id, layer="zones")
        assert [f["id"] for f in read["features"]] == buffered["ids"]
        ring = (await server.hub.get(map_id)).state.features[buffered["ids"][0]].coords
        polygon = WGS84.Polygon()
        for lat, lon in ring:
            polygon.AddPoint(lat, lon)
        assert math.isclose(abs(polygon.Compute(False, True)[2]) / 1e6, math.pi * 4, rel_tol=0.01)
        assert math.isclose(buffered["area_km2"], math.pi * 4, rel_tol=0.01)

        await call(agent, "undo", map_id=map_id)
        entry = await server.hub.get(map_id)
        assert buffered["ids"][0] not in entry.state.features and len(entry.state.features) == 61

        empty = await call(agent, "derive", map_id=map_id, op="intersection", ids=["zone", "zone"])
        assert empty.get("empty") is None  # a shape with itself is itself
        message, _ = await failing(agent, "derive", map_id=map_id, op="buffer", ids=["s0"], km=40_000)
        assert "km must be more than 0 and at most 2000" in message and "got 40000" in message
        message, _ = await failing(agent, "select", map_id=map_id, near=accident)
        assert "near needs km or nearest" in message


async def test_an_empty_result_draws_nothing(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        items = [{"bounds": [[0, 0], [1, 1]], "id": "a"}, {"bounds": [[5, 5], [6, 6]], "id": "b"}]
        map_id = (await call(agent, "draw", items=items))["map_id"]
        version = (await server.hub.get(map_id)).state.version
        empty = await call(agent, "derive", map_id=map_id, op="intersection", ids=["a", "b"])
        assert empty["empty"] is True and "nothing drawn" in empty["note"]
        assert (await server.hub.get(map_id)).state.version == version


async def test_another_keys_map_is_not_found_like_an_unknown_one(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=("alice:alice-secret-1", "bob:bob-secret-2"))
    async with keyed(server, "alice-secret-1") as alice:
        map_id = (await call(alice, "draw", items=[{"at": [1, 1], "id": "p"}]))["map_id"]
    async with keyed(server, "bob-secret-2") as bob:
        for tool, arguments in (
            ("select", {"near": [1, 1], "km": 5}),
            ("derive", {"op": "buffer", "ids": ["p"], "km": 1}),
        ):
            theirs, _ = await failing(bob, tool, map_id=map_id, **arguments)
            unknown, _ = await failing(bob, tool, map_id="x" * 22, **arguments)
            assert theirs.replace(map_id, "x" * 22) == unknown and "not found" in theirs
            assert '"p"' not in theirs
    assert len((await server.hub.get(map_id)).state.features) == 1


async def test_a_token_that_may_only_read_selects_but_may_not_mark(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await start_server(nursery, oidc_issuer=f"http://127.0.0.1:{port}")
    resource = server.url + "mcp"
    async with open_provider(port, resource) as provider:
        writer = provider.mint({"sub": "ana", "scope": "maps:read maps:write"})
        reader = provider.mint({"sub": "ana", "scope": "maps:read"})
        async with keyed(server, writer) as ana:
            map_id = (await call(ana, "draw", items=[{"at": [1, 1], "id": "p"}]))["map_id"]
        async with keyed(server, reader) as reading:
            found = await call(reading, "select", map_id=map_id, near=[1, 1], km=5)
            assert [f["id"] for f in found["features"]] == ["p"]
        for mark in (True, False):  # clearing a mark writes too
            call_ = {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "tools/call",
                "params": {
                    "name": "select",
                    "arguments": {"map_id": map_id, "near": [1, 1], "km": 5, "mark": mark},
                },
            }
            headers = {
                **MCP_ACCEPT,
                "authorization": f"Bearer {reader}",
                "mcp-protocol-version": "2026-07-28",
            }
            async with httpx.AsyncClient(timeout=10) as raw:
                answer = await raw.post(resource, json=call_, headers=headers)
            assert answer.status_code == 403, answer.text
            assert "the tool 'select' with 'mark' changes maps" in answer.json()["error"]["message"]
    assert MARK_LAYER not in (await server.hub.get(map_id)).state.layers


async def test_an_answer_lists_at_most_200_with_the_count_and_short_labels(server: Server) -> None:
    items = [{"at": [i / 100, 0.5], "label": "x" * 100} for i in range(250)]
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=items))["map_id"]
        chosen = await call(agent, "select", map_id=map_id, within=[[-1, 0], [3, 1]])
        assert chosen["count"] == 250 and len(chosen["features"]) == 200
        assert chosen["features"][0]["label"] == "x" * 40
        nearest = await call(agent, "select", map_id=map_id, near=[0, 0.5], nearest=200)
        assert len(nearest["features"]) == 200 and nearest["features"][0]["km"] == 0


async def test_select_pages_on_with_a_cursor_and_marks_all_it_found(server: Server) -> None:
    items = [{"at": [i / 100, 0.5], "id": f"p{i}"} for i in range(209)]
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=items))["map_id"]
        first = await call(agent, "select", map_id=map_id, within=[[-1, 0], [3, 1]], mark=True)
        second = await call(agent, "select", map_id=map_id, within=[[-1, 0], [3, 1]], cursor=first["cursor"])
        message, _ = await failing(
            agent, "select", map_id=map_id, within=[[-1, 0], [2, 1]], cursor=first["cursor"]
        )
        read = await call(agent, "read", map_id=map_id, format="geojson")
    assert first["count"] == 209 and len(first["features"]) == 200 and "209" in first["note"]
    assert len(second["features"]) == 9 and "cursor" not in second
    assert {f["id"] for f in first["features"] + second["features"]} == {f"p{i}" for i in range(209)}
    assert first["marked"] == 209
    rings = [f for f in read["features"] if f["mapsrv"]["layer"] == MARK_LAYER]
    assert len(rings) == 209, "every feature found is marked, not the first page alone"
    assert "cursor is from another search" in message


async def test_the_fix_offered_for_a_swapped_box_is_the_box_meant(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=[{"at": [0.5, 0.5], "id": "in"}]))["map_id"]
        message, _ = await failing(
            agent, "select", map_id=map_id, within=[[1, 1], [0, 0]]
        )  # north-east first
        offered = json.loads(message.split("): ")[1].split(" (")[0])
        chosen = await call(agent, "select", map_id=map_id, within=offered)
    assert offered == [[0, 0], [1, 1]] and [f["id"] for f in chosen["features"]] == ["in"]


async def test_within_a_country_or_state_is_within_its_outline_not_its_box(server: Server) -> None:
    """Badajoz (Spain) lies inside the box of Portugal's cities but outside Portugal: the outline
    (Natural Earth, as ``import``'s join draws it) decides, not the box. A state the same way."""
    towns = {
        "lisbon": [38.72, -9.14],
        "porto": [41.15, -8.61],
        "badajoz": [38.88, -6.97],
        "sacramento": [38.58, -121.49],
        "reno": [39.53, -119.81],  # Nevada, inside California's box of cities
    }
    items = [{"at": at, "id": name, "label": name} for name, at in towns.items()]
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=items))["map_id"]
        portugal = await call(agent, "select", map_id=map_id, within="Portugal")
        assert {f["id"] for f in portugal["features"]} == {"lisbon", "porto"}, "Badajoz is in Spain"
        california = await call(agent, "select", map_id=map_id, within="California")
        assert {f["id"] for f in california["features"]} == {"sacramento"}, "Reno is in Nevada"
