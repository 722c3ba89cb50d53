"""MCP over real sockets with the SDK's own clients: Streamable HTTP (both protocol eras), legacy
HTTP+SSE and stdio, each driving a realistic session while a browser stream watches."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import httpx
import httpx2
import pytest
import trio
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from support import Browser, EventStream, open_stream, start_server, wait_until
from support.mcp import INITIALIZE as LEGACY_INITIALIZE

from mapsrv.config import Config
from mapsrv.server import Server

PLACES = [
    ("Lisbon", 38.7223, -9.1393),
    ("Porto", 41.1579, -8.6291),
    ("Coimbra", 40.2033, -8.4103),
    ("Évora", 38.5714, -7.9135),
    ("Faro", 37.0194, -7.9304),
]


async def watch(nursery: trio.Nursery, url: str) -> tuple[Browser, EventStream]:
    """Open the map URL an agent handed out, as the user would (the page, then its button), and
    watch its event stream."""
    browser = Browser(url.split("/m/")[0])
    page = await browser.client.get(url)
    assert page.status_code == 200 and 'action="/m/' in page.text
    map_id = url.rsplit("/", 1)[1]
    claimed = await browser.client.post(f"/m/{map_id}/claim")
    assert claimed.status_code == 303
    return browser, await open_stream(nursery, browser.client, f"/m/{map_id}/events")


async def draw_trip(client: Client, nursery: trio.Nursery) -> None:
    """ "Mark these five places and draw the route between them", as an agent would do it: one
    call, then the user watches."""
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert {"create_map", "draw", "read", "edit", "remove"} <= tools
    created = await client.call_tool("create_map", {"title": "Portugal by train"})
    assert not created.is_error, created.content
    ref = created.structured_content
    assert ref is not None and ref["url"].endswith("/m/" + ref["map_id"])
    browser, stream = await watch(nursery, ref["url"])
    stops = [{"at": [lat, lon], "label": name, "layer": "stops"} for name, lat, lon in PLACES]
    route = {"points": [[lat, lon] for _, lat, lon in PLACES], "color": "#c03", "id": "route"}
    drawn = await client.call_tool("draw", {"map_id": ref["map_id"], "items": [*stops, route]})
    assert not drawn.is_error, drawn.content
    ids, version = drawn.structured_content["ids"], drawn.structured_content["version"]
    assert len(ids) == 6 and ids[-1] == "route"
    summary = (await client.call_tool("read", {"map_id": ref["map_id"]})).structured_content
    assert summary["count"] == 6 and summary["version"] == version
    assert list(summary["layers"]) == ["default", "stops"] and summary["layers"]["stops"]["marker"] == 5
    assert summary["bbox"] == [[37.0194, -9.1393], [41.1579, -7.9135]]
    # every change reached the browser, in order, ending at the version the agent was told
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: ev and int(ev[-1][1]) == version)
    seen = {f["id"] for _, _, data in stream.events for f in data.get("features", [])}
    assert seen == set(ids)
    assert [int(i) for _, i, _ in stream.events] == list(range(int(stream.events[0][1]), version + 1))
    upserts = [data for _, _, data in stream.events if data.get("kind") == "upsert"]
    assert len(upserts) == 1, "the whole drawing is one change"
    exported = await client.call_tool("read", {"map_id": ref["map_id"], "format": "geojson"})
    assert len(exported.structured_content["features"]) == 6
    resource = await client.read_resource(f"map://{ref['map_id']}")
    assert '"count":6' in resource.contents[0].text
    await browser.aclose()


async def test_streamable_http_modern(server: Server, nursery: trio.Nursery) -> None:
    async with Client(server.url + "mcp") as client:
        assert client.protocol_version == "2026-07-28"
        await draw_trip(client, nursery)


async def test_streamable_http_legacy_sessions(server: Server, nursery: trio.Nursery) -> None:
    async with Client(server.url + "mcp", mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        await draw_trip(client, nursery)


async def test_legacy_sse_transport(server: Server, nursery: trio.Nursery) -> None:
    async with Client(sse_client(server.url + "sse"), mode="legacy") as client:
        await draw_trip(client, nursery)


async def test_stdio(nursery: trio.Nursery) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mapsrv", "stdio", "--port", "0"], env={**os.environ}
    )
    async with Client(params) as client:
        await draw_trip(client, nursery)


async def test_user_pastes_the_code_from_their_page(server: Server, nursery: trio.Nursery) -> None:
    alice = Browser(server.url)
    map_id = await alice.new_map()
    stream = await open_stream(nursery, alice.client, f"/m/{map_id}/events")
    async with Client(server.url + "mcp") as client:
        result = await client.call_tool(
            "draw", {"map_id": map_id, "items": [{"at": [1, 2], "radius_m": 500}]}
        )
        assert not result.is_error
    with trio.fail_after(5):
        await stream.wait_for(lambda ev: any(e[2].get("kind") == "upsert" for e in ev))
    await alice.aclose()


def error_text(result: Any) -> str:
    assert result.is_error, result
    return str(result.content[0].text)


async def test_bad_calls_get_clear_tool_errors(server: Server) -> None:
    async with Client(server.url + "mcp") as client:
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        m = {"map_id": map_id}
        assert "Unknown tool" in error_text(await client.call_tool("explode", {}))
        typed = error_text(await client.call_tool("set_view", {**m, "zoom": "x"}))
        assert typed.startswith("invalid: zoom must be a number, got 'x'")
        far = error_text(await client.call_tool("draw", {**m, "items": [{"at": [123, 45]}]}))
        assert far == (
            "invalid: items[0].at latitude must be between -90 and 90, got 123;"
            " this looks like [lon, lat]: swap them to [45, 123]"
        )
        named = error_text(await client.call_tool("draw", {**m, "items": [{"at": [1, 2], "name": "x"}]}))
        assert named.startswith("invalid: items[0] has no field 'name' (did you mean 'label'?); use one of:")
        unknown = error_text(await client.call_tool("read", {"map_id": "nope"}))
        assert unknown.startswith("not_found: map 'nope' not found")
        stale = error_text(await client.call_tool("set_title", {**m, "title": "x", "expected_version": 5}))
        assert "conflict: map is at version 0, not 5" in stale
        missing = error_text(await client.call_tool("remove", {**m, "ids": ["f9"]}))
        assert "feature 'f9' not found" in missing
        ok = await client.call_tool("set_title", {**m, "title": "fine", "expected_version": 0})
        assert ok.structured_content["version"] == 1


async def test_broken_frames_hosts_and_origins(server: Server) -> None:
    url = server.url + "mcp"
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        broken = await http.post(url, content=b'{"jsonrpc": "2.0", "method": ', headers=headers)
        assert broken.status_code == 400
        assert broken.json()["error"]["code"] == -32700
        wrong_host = await http.post(url, content=b"{}", headers={**headers, "host": "evil.example"})
        assert wrong_host.status_code == 421
        wrong_origin = await http.post(
            url, content=b"{}", headers={**headers, "origin": "https://evil.example"}
        )
        assert wrong_origin.status_code == 403
        sse_origin = await http.get(server.url + "sse", headers={"origin": "https://evil.example"})
        assert sse_origin.status_code == 403
        past = Config().max_body_size // 2 + 1  # items of two bytes: one byte past the default limit
        huge = await http.post(url, content=b"[" + b"1," * past + b"1]", headers=headers)
        assert huge.status_code == 413
    async with Client(url) as client:  # and everyone else is still served
        assert not (await client.call_tool("create_map", {})).is_error


async def test_api_keys_and_per_key_maps(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=("alice:alice-secret-1", "bob:bob-secret-2"))
    url = server.url + "mcp"

    def client_with(headers: dict[str, str]) -> Client:
        return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)))

    async with httpx.AsyncClient() as http:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "alice-secret-"}):
            response = await http.post(url, json={}, headers=headers)
            assert response.status_code == 401
            assert "API key" in response.json()["error"]["message"]
        assert (await http.get(server.url + "sse")).status_code == 401
    async with client_with({"authorization": "Bearer alice-secret-1"}) as alice:
        map_id = (await alice.call_tool("create_map", {"title": "alice's"})).structured_content["map_id"]
        assert not (await alice.call_tool("read", {"map_id": map_id})).is_error
    async with client_with({"x-api-key": "bob-secret-2"}) as bob:
        hidden = error_text(await bob.call_tool("read", {"map_id": map_id}))
        assert hidden.startswith("not_found")
        write = error_text(await bob.call_tool("set_title", {"map_id": map_id, "title": "mine now"}))
        assert write.startswith("not_found")
    assert (await server.hub.get(map_id)).state.title == "alice's"


async def test_session_cap_answers_503_with_retry_after(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, max_mcp_sessions=2)
    url = server.url + "mcp"
    async with Client(url, mode="legacy") as first, Client(url, mode="legacy") as second:
        assert not (await first.call_tool("create_map", {})).is_error
        assert not (await second.call_tool("create_map", {})).is_error
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                url, json=LEGACY_INITIALIZE, headers={"accept": "application/json, text/event-stream"}
            )
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
    # the modern, stateless era is not capped: it holds no session
    async with Client(url) as third:
        assert not (await third.call_tool("create_map", {})).is_error


async def test_tool_calls_are_answered_with_one_json_body(server: Server) -> None:
    # JSON, not a one-event SSE stream per POST (cheaper; see docs/benchmarks.md)
    url = server.url + "mcp"
    headers = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        opened = await http.post(url, json=LEGACY_INITIALIZE, headers=headers)
        headers |= {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "create_map"}}
        response = await http.post(url, json=call, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    created = response.json()["result"]["structuredContent"]
    assert (await server.hub.get(created["map_id"])).state.version == 0


@pytest.mark.parametrize("path", ["/mcp", "/sse", "/messages/"])
async def test_mcp_paths_check_hosts(server: Server, path: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url.rstrip("/") + path, headers={"host": "rebind.example"})
        assert response.status_code == 421


async def test_idle_sessions_are_reaped(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, mcp_session_idle_timeout=0.3)
    url = server.url + "mcp"
    headers = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        opened = await http.post(url, json=LEGACY_INITIALIZE, headers=headers)
        session = opened.headers["mcp-session-id"]
        assert server.mcp.statistics().http_sessions == 1
        await wait_until(lambda: server.mcp.statistics().http_sessions == 0)
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        gone = await http.post(
            url,
            json=ping,
            headers={**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
        )
        assert gone.status_code == 404


async def test_parallel_calls_drawing_on_a_new_layer_all_succeed(server: Server) -> None:
    async with Client(server.url + "mcp") as client:
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        results: list[Any] = []

        async def mark(i: int) -> None:
            args = {"map_id": map_id, "items": [{"at": [i, i]}], "layer": "stops"}
            results.append(await client.call_tool("draw", args))

        async with trio.open_nursery() as nursery:
            for i in range(6):
                nursery.start_soon(mark, i)
        assert [r.is_error for r in results] == [False] * 6, [r.content for r in results if r.is_error]
        point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2, 1]}, "properties": {}}
        imported = await client.call_tool(
            "draw",
            {
                "map_id": map_id,
                "items": [],
                "layer": "imported",
                "geojson": {"type": "FeatureCollection", "features": [point]},
            },
        )
        assert not imported.is_error, imported.content
        summary = (await client.call_tool("read", {"map_id": map_id})).structured_content
        assert list(summary["layers"]) == ["default", "stops", "imported"]
        assert summary["count"] == 7


async def test_reading_an_unknown_map_resource_is_a_clear_error(server: Server, caplog) -> None:
    async with Client(server.url + "mcp") as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("map://no-such-map-id-0123456789")
    assert caught.value.error.code == -32002 and "not found" in caught.value.error.message
    assert "no-such-map-id" not in caplog.text, "a map id (a capability) reached the logs"


async def test_every_tool_over_http_each_write_seen_by_the_next_read(server: Server) -> None:
    async with Client(server.url + "mcp") as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        called: set[str] = set()

        async def call(tool: str, /, **args: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, args)
            assert not result.is_error, (tool, result.content)
            called.add(tool)
            return dict(result.structured_content)

        async def write(tool: str, /, **args: Any) -> dict[str, Any]:
            """A write, then a fresh read: the map is at the version the write reported."""
            out = await call(tool, **args)
            summary = await call("read", map_id=out["map_id"])
            assert summary["version"] == out["version"] == (await server.hub.get(out["map_id"])).state.version
            return summary

        map_id = (await call("create_map", title="every tool"))["map_id"]
        m = {"map_id": map_id}
        assert (await write("set_title", **m, title="renamed"))["title"] == "renamed"
        view = (await write("set_view", **m, at=[38.7, -9.1], zoom=12))["view"]
        assert view == {"center": [38.7, -9.1], "zoom": 12, "animate": True}
        items = [
            {"at": [1, 2], "id": "m", "label": "m"},
            {"points": [[0, 0], [1, 1]], "id": "l"},
            {"type": "polygon", "points": [[0, 0], [0, 3], [3, 3]], "id": "p", "fill_opacity": 0.2},
            {"at": [5, 5], "radius_m": 100, "id": "c"},
            {"bounds": [[-4, -5], [-1, -2]], "id": "r"},
        ]
        drawn = await write("draw", **m, items=items)
        assert drawn["count"] == 5 and drawn["bbox"] == [[-4, -5], [5, 5]]
        # the camera shows the whole circle, not just its centre
        assert drawn["view"]["bounds"] == [[-4, -5], [pytest.approx(5.0009, abs=1e-4)] * 2]
        moved = await write("edit", **m, changes=[{"id": "m", "at": [7, 8], "label": "moved"}])
        assert {row["id"]: row["at"] for row in moved["latest"]}["m"] == [7, 8]
        layered = await write("set_layer", **m, layer="extra", name="Extra", visible=False)
        assert layered["layers"]["extra"] == {"name": "Extra", "visible": False}
        await write("edit", **m, changes=[{"id": "c", "layer": "extra"}])
        removed = await write("remove", **m, layer="extra")
        assert list(removed["layers"]) == ["default"] and removed["count"] == 4
        exported = await call("read", **m, format="geojson")
        assert len(exported["features"]) == 4
        assert (await write("remove", **m, everything=True))["count"] == 0
        restored = await write("draw", **m, items=[], geojson=exported, layer="back")
        assert restored["count"] == 4 and restored["layers"]["back"]["marker"] == 1
        mine = (await call("changes", **m, since=restored["version"] - 1))["changes"]
        assert [c["mine"] for c in mine] == [True] and len(mine[0]["added"]) == 4
        assert (await write("undo", **m))["count"] == 0
        assert (await write("undo", **m, redo=True))["count"] == 4
        styled = (await write("style_layer", **m, layer="back", kind="heatmap"))["layers"]["back"]
        assert styled["style"] == {"kind": "heatmap", "radius": 25} and styled["shown"] == 4
        # tiles from the server's own tile server (its host is the one the page's CSP allows)
        tiles = (await write("add_layer", **m, layer="tiles", type="xyz", url=server.config.tile_url))[
            "layers"
        ]
        assert tiles["tiles"]["source"]["url"] == server.config.tile_url
        assert (await call("find_places", query="Lisboa"))["places"][0]["name"] == "Lisbon"
        assert (await call("nearest_place", lat=38.72, lon=-9.14))["place"]["name"] == "Lisbon"
        assert 270 < (await call("measure", points=["Lisbon", "Porto"]))["distance"] < 285
        pictured = await client.call_tool("map_image", {**m, "width": 200, "height": 150})
        assert not pictured.is_error and [c.type for c in pictured.content] == ["image", "text"]
        assert "4 features" in pictured.content[1].text, "the image shows the map after the redo"
        called.add("map_image")
        sheet = "name,lat,lon\nAlfama,38.7118,-9.1300\nBelém,38.6916,-9.2160\n"
        imported = await client.call_tool("import", {**m, "content": sheet, "fit": False})
        assert not imported.is_error, imported.content
        assert imported.structured_content is not None and imported.structured_content["added"] == 2
        assert (await call("read", **m))["count"] == 6, "the import is seen by the next read"
        called.add("import")
        chosen = await call("select", **m, within=[[38.6, -9.3], [38.8, -9.0]])
        assert chosen["count"] == 2 and {f["label"] for f in chosen["features"]} == {"Alfama", "Belém"}
        belem = next(f["id"] for f in chosen["features"] if f["label"] == "Belém")
        ringed = await write("derive", **m, op="buffer", ids=[belem], km=1)
        assert ringed["count"] == 7, "the buffer is a new feature, seen by the next read"
        # A keyless 2026-07-28 client is nobody in particular: no list, no deleting (test_map_lists)
        assert "API key" in (await call("list_maps"))["note"]
        refused = await client.call_tool("delete_map", m)
        assert refused.is_error and refused.content[0].text.startswith("forbidden:")  # type: ignore[union-attr]
        called.add("delete_map")
        assert called == tools and len(tools) == 21


async def test_tool_errors_name_what_is_wrong(server: Server) -> None:
    async with Client(server.url + "mcp") as client:
        map_id = (await client.call_tool("create_map", {})).structured_content["map_id"]
        m = {"map_id": map_id}
        unknown = error_text(await client.call_tool("draw", {"map_id": "nope", "items": [{"at": [1, 1]}]}))
        assert unknown.startswith("not_found: map 'nope' not found: check the map_id")
        too_far = error_text(await client.call_tool("set_view", {**m, "at": [1, 200], "zoom": 3}))
        assert too_far.startswith("invalid: at longitude must be between -180 and 180, got 200;")
        colour = error_text(await client.call_tool("draw", {**m, "items": [{"at": [1, 1], "color": "#12"}]}))
        assert colour.startswith("invalid: items[0].color must be #rgb, #rrggbb or a CSS colour name")
        ghost = error_text(await client.call_tool("edit", {**m, "changes": [{"id": "ghost", "label": "x"}]}))
        assert ghost.startswith("not_found: feature 'ghost' not found")
        layer = error_text(await client.call_tool("remove", {**m, "layer": "nolayer"}))
        assert layer.startswith("not_found: layer 'nolayer' not found")
        assert (await server.hub.get(map_id)).state.version == 0


async def test_the_map_resource_read_again_after_a_change_answers_the_new_state(server: Server) -> None:
    """``map://<id>`` is read fresh on every read: never the state the first read saw."""
    async with Client(server.url + "mcp") as client:
        ref = (await client.call_tool("create_map", {"title": "before"})).structured_content
        uri = f"map://{ref['map_id']}"
        first = json.loads((await client.read_resource(uri)).contents[0].text)
        drawn = await client.call_tool(
            "draw", {"map_id": ref["map_id"], "title": "after", "items": [{"at": [1, 2], "label": "x"}]}
        )
        assert not drawn.is_error, drawn.content
        again = json.loads((await client.read_resource(uri)).contents[0].text)
    assert (first["title"], first["count"]) == ("before", 0)
    assert (again["title"], again["count"], again["version"]) == (
        "after",
        1,
        drawn.structured_content["version"],
    )
