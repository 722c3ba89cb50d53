"""Tool calls that mapsrv answers itself (``mapsrv.mcp.direct``), 2026-07-28 ones and those in a
2025-11-25 Streamable HTTP session (``mapsrv.mcp.session_requests``), get the answer the SDK's
pipeline gives, to the byte: every tool, its tool errors and an unknown map, through a real server
and real sockets, the same request sent once on each path. Every request the direct path hands on
(another method, a check it fails, a later round, an unknown tool, another key's session) is
answered by the SDK exactly as before; the direct path really answers the common ones, and a
call's agent is the same on both (one path's change is undone through the other)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import trio
from mcp import Client
from support import start_server, wait_until
from support.agents import call
from support.mcp import MCP_ACCEPT

from mapsrv.mcp.tools import TOOLS

VERSION = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "differ", "version": "1"},
}
KEY = "k-direct-47"


def request(name: str, arguments: Any, *, request_id: Any = 7, **params: Any) -> dict[str, Any]:
    body = {"name": name, "arguments": arguments, "_meta": ENVELOPE, **params}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": body}


def headers(name: str = "", **more: str) -> dict[str, str]:
    found = {**MCP_ACCEPT, "content-type": "application/json", "mcp-protocol-version": VERSION}
    found |= {"mcp-method": "tools/call", "authorization": f"Bearer {KEY}"}
    if name:
        found["mcp-name"] = name
    return found | more


class Paths:
    """One server, and a way to send one request through either path."""

    def __init__(self, server: Any, http: httpx.AsyncClient) -> None:
        self.server, self.http, self.url = server, http, server.url + "mcp"
        self.direct = server.mcp.direct
        assert self.direct is not None, "mcp_direct_calls is on by default"

    def _answered(self) -> int:
        return int(self.direct.answered + self.server.mcp.in_sessions.answered)

    async def send(
        self, body: bytes, sent: Mapping[str, str], *, direct: bool
    ) -> tuple[httpx.Response, bool]:
        """The answer, and whether the direct path gave it."""
        before = self._answered()
        self.server.mcp.direct = self.direct if direct else None
        try:
            answer = await self.http.post(self.url, content=body, headers=dict(sent))
        finally:
            self.server.mcp.direct = self.direct
        return answer, self._answered() > before

    async def both(self, body: Any, sent: Mapping[str, str]) -> tuple[httpx.Response, bool]:
        """The same request on both paths: the same status, type and bytes. The direct answer,
        and whether the direct path gave it."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        mine, answered = await self.send(raw, sent, direct=True)
        sdks, _ = await self.send(raw, sent, direct=False)
        assert (mine.status_code, _head(mine)) == (sdks.status_code, _head(sdks)), (mine.text, sdks.text)
        assert mine.content == sdks.content
        return mine, answered

    async def call(self, name: str, arguments: Any, *, direct: bool = True) -> dict[str, Any]:
        answer, answered = await self.send(
            json.dumps(request(name, arguments)).encode(), headers(name), direct=direct
        )
        assert answer.status_code == 200 and answered == direct, answer.text
        result: dict[str, Any] = answer.json()["result"]
        return result

    async def made(self, name: str, arguments: Any, *, direct: bool = True) -> str:
        """The id of the map a call made (or drew on)."""
        result = await self.call(name, arguments, direct=direct)
        assert not result.get("isError"), result
        return str(result["structuredContent"]["map_id"])


def _head(answer: httpx.Response) -> tuple[str | None, ...]:
    return tuple(
        answer.headers.get(name) for name in ("content-type", "mcp-session-id", "x-content-type-options")
    )


async def open_paths(nursery: trio.Nursery, http: httpx.AsyncClient) -> Paths:
    server = await start_server(nursery, api_keys=[f"differ:{KEY}"])
    return Paths(server, http)


MARKERS = [
    {"at": [38.72, -9.14], "label": "Lisbon"},
    {"at": [41.15, -8.61], "label": "Porto"},
    {"at": [40.42, -3.7], "label": "Madrid"},
]
CITIES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [marker["at"][1], marker["at"][0]]},
            "properties": {"name": marker["label"], "pop": pop, "note": None},
        }
        for marker, pop in zip(MARKERS, (545_000, 232_000, 3_300_000), strict=True)
    ],
}
AREA = {
    "type": "polygon",
    "points": [[38.0, -10.0], [42.0, -10.0], [42.0, -8.0], [38.0, -8.0]],
    "label": "west",
}


def reads(map_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Calls that change nothing, and tool errors: the same map answers both paths alike."""
    return [
        ("read", {"map_id": map_id}),
        ("read", {"map_id": map_id, "geojson": True}),
        ("read", {"map_id": map_id, "kind": "marker", "limit": 1}),
        ("list_maps", {}),
        ("changes", {"map_id": map_id}),
        ("find_places", {"query": "Lisbon"}),
        ("nearest_place", {"lat": 38.7, "lon": -9.1}),
        ("measure", {"points": [[38.72, -9.14], [40.42, -3.7]]}),
        ("measure", {"map_id": map_id, "ids": ["f1", "f2"]}),
        ("select", {"map_id": map_id, "near": [38.7, -9.1], "km": 400}),
        ("map_image", {"map_id": map_id, "width": 64, "height": 48}),
        # tool errors: an unknown argument, a wrong type, a missing one, an unknown map, a bad point
        ("read", {"map_id": map_id, "colour": "red"}),
        ("read", {"map_id": 12}),
        ("edit", {"map_id": map_id}),
        ("read", {"map_id": "nosuchmap"}),
        ("draw", {"map_id": map_id, "items": [{"at": [95, 0]}]}),
    ]


async def test_reading_tools_answer_to_the_byte(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        map_id = await paths.made("draw", {"title": "Iberia", "items": [AREA], "geojson": CITIES})
        calls = reads(map_id)
        for name, arguments in calls:
            answer, answered = await paths.both(request(name, arguments), headers(name))
            assert answered, f"{name} went to the SDK"
            assert answer.json()["result"]["resultType"] == "complete"
        errors = [await paths.call("read", {"map_id": map_id, "colour": "red"})]
        assert errors[0]["isError"] is True and "colour" in errors[0]["content"][0]["text"]
        # operators see which path answered (each SDK half of a comparison, by the direct path
        # turned off, counts as neither)
        metrics = (await http.get(paths.server.url + "metrics")).text
        direct = f'mapsrv_mcp_stateless_requests_total{{path="direct"}} {float(paths.direct.answered)}'
        assert direct in metrics and paths.direct.answered == len(calls) + 2, metrics


async def test_writing_tools_answer_alike_on_twin_maps(nursery: trio.Nursery) -> None:
    """A write changes what the next one sees, so each path writes its own twin map: the
    answers are the same but for the map's id."""
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        twins = []
        for direct in (True, False):
            twins.append(await paths.made("create_map", {"title": "twin"}, direct=direct))

        for (name, mine), (_, theirs) in zip(steps(twins[0]), steps(twins[1]), strict=True):
            answered = await paths.call(name, mine, direct=True)
            expected = await paths.call(name, theirs, direct=False)
            assert same_but_ids(answered, twins[0]) == same_but_ids(expected, twins[1]), name


async def test_every_answer_that_changes_a_map_carries_its_view_link(nursery: trio.Nursery) -> None:
    """Issue 73: the agent can always hand the person the link to watch what it did (the view
    link: it reveals no edit id), whichever tool changed the map."""
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        made = await call(agent, "create_map", title="twin")
        checked = []
        for name, arguments in steps(made["map_id"]):
            result = await agent.call_tool(name, arguments)
            if result.is_error or name == "delete_map":
                continue
            assert result.structured_content is not None, name
            answered = result.structured_content
            assert answered.get("view_url") == made["view_url"], (name, answered)
            checked.append(name)
    assert set(checked) >= {"draw", "edit", "set_title", "set_view", "set_layer", "style_layer", "select"}
    assert set(checked) >= {"derive", "import", "undo", "remove"}


def steps(map_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Writes (and the errors of writes) on one map, in order."""
    return [
        ("draw", {"map_id": map_id, "items": [], "geojson": CITIES, "layer": "cities"}),
        ("draw", {"map_id": map_id, "items": [AREA]}),
        ("edit", {"map_id": map_id, "changes": [{"id": "f1", "label": "Lisboa"}]}),
        ("set_title", {"map_id": map_id, "title": "Iberian cities"}),
        ("set_view", {"map_id": map_id, "at": [40, -5], "zoom": 5}),
        ("set_layer", {"map_id": map_id, "layer": "cities", "visible": False}),
        ("style_layer", {"map_id": map_id, "layer": "cities", "by": "pop"}),
        ("select", {"map_id": map_id, "within": "f4", "mark": True}),
        ("derive", {"map_id": map_id, "op": "hull", "ids": ["f1", "f2", "f3"]}),
        ("import", {"map_id": map_id, "content": "lat,lon,name\n38.5,-9.0,Setubal\n"}),
        (
            "add_layer",
            {"map_id": map_id, "layer": "sea", "type": "tiles", "url": "http://127.0.0.1:9/{z}/{x}/{y}.png"},
        ),
        ("undo", {"map_id": map_id}),
        ("remove", {"map_id": map_id, "ids": ["f2"]}),
        ("edit", {"map_id": map_id, "changes": [], "expected_version": 1}),
        ("delete_map", {"map_id": map_id}),
    ]


async def test_a_question_for_the_person_is_asked_to_the_byte(nursery: trio.Nursery) -> None:
    """A client that can show a form, and a lone name that could be three places: both paths
    answer ``input_required`` with the same question (the second round is the SDK's)."""
    asking = {**ENVELOPE, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        body = request("draw", {"title": "trip", "items": [{"at": "Salamanca"}]})
        body["params"]["_meta"] = asking
        asked, answered = await paths.both(body, headers("draw"))
        assert answered, asked.text
        result = asked.json()["result"]
        assert result["resultType"] == "input_required" and "Salamanca" in asked.text, result


def same_but_ids(result: dict[str, Any], map_id: str) -> str:
    """``result`` as JSON with its map's id and view link's token (each map's own) named alike."""
    text = json.dumps(result).replace(map_id, "MAP")
    return re.sub(r"/v/[A-Za-z0-9_-]+", "/v/VIEW", text)


async def test_a_change_made_on_one_path_is_undone_on_the_other(nursery: trio.Nursery) -> None:
    """The agent a request is (its key, address and client name) is the same on both paths."""
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        map_id = await paths.made("draw", {"title": "agents", "items": MARKERS[:1]})
        await paths.call("draw", {"map_id": map_id, "items": MARKERS[1:2]}, direct=True)
        undone = await paths.call("undo", {"map_id": map_id}, direct=False)
        assert not undone.get("isError"), undone
        left = await paths.call("read", {"map_id": map_id}, direct=False)
        assert [f["label"] for f in left["structuredContent"]["latest"]] == ["Lisbon"]
        await paths.call("draw", {"map_id": map_id, "items": MARKERS[2:]}, direct=False)
        undone = await paths.call("undo", {"map_id": map_id}, direct=True)
        assert not undone.get("isError"), undone
        authors = await paths.call("changes", {"map_id": map_id}, direct=True)
        assert "differ" in json.dumps(authors)


async def test_one_keys_map_is_not_found_by_another_key_on_the_direct_path(nursery: trio.Nursery) -> None:
    """The direct path acts for the request's key: a map made with one key is the same unknown
    map to another, for reading, writing and deleting alike, and still the first key's."""
    other = "k-direct-other"
    async with httpx.AsyncClient(timeout=30) as http:
        server = await start_server(nursery, api_keys=[f"differ:{KEY}", f"stranger:{other}"])
        paths = Paths(server, http)
        map_id = await paths.made("draw", {"title": "mine", "items": MARKERS})
        for name, arguments in (
            ("read", {"map_id": map_id}),
            ("draw", {"map_id": map_id, "items": MARKERS[:1]}),
            ("delete_map", {"map_id": map_id}),
        ):
            body = json.dumps(request(name, arguments)).encode()
            sent = headers(name, authorization=f"Bearer {other}")
            refused, answered = await paths.send(body, sent, direct=True)
            assert answered and refused.status_code == 200, refused.text
            result = refused.json()["result"]
            assert result["isError"] is True and result["content"][0]["text"].startswith("not_found:"), result
        kept = await paths.call("read", {"map_id": map_id})
        assert kept["structuredContent"]["count"] == len(MARKERS)


def _handed_on() -> list[tuple[str, Any, dict[str, str]]]:
    call = request("read", {"map_id": "x"})
    return [
        ("another method", {**call, "method": "tools/list", "params": {"_meta": ENVELOPE}},
         headers() | {"mcp-method": "tools/list"}),
        ("an unknown tool", request("paint", {}), headers("paint")),
        ("arguments not an object", request("read", ["x"]), headers("read")),
        ("no _meta", {**call, "params": {"name": "read", "arguments": {}}}, headers("read")),
        ("a name header that disagrees", call, headers("draw")),
        ("no method header", call, {k: v for k, v in headers("read").items() if k != "mcp-method"}),
        ("an unknown version", call, headers("read", **{"mcp-protocol-version": "2099-01-01"})),
        ("a later round", request("read", {"map_id": "x"}, inputResponses={}), headers("read")),
        ("sealed state", request("read", {"map_id": "x"}, requestState="abc"), headers("read")),
        ("a param header", call, headers("read", **{"mcp-param-map-id": "x"})),
        ("a float id", request("read", {"map_id": "x"}, request_id=1.5), headers("read")),
        ("a true id", request("read", {"map_id": "x"}, request_id=True), headers("read")),
        ("a null id", request("read", {"map_id": "x"}, request_id=None), headers("read")),
        ("another jsonrpc", {**call, "jsonrpc": "1.0"}, headers("read")),
        ("a member too many", {**call, "extra": 1}, headers("read")),
        ("a notification", {k: v for k, v in call.items() if k != "id"}, headers("read")),
        ("a batch", [call, call], headers("read")),
        ("not JSON", b'{"jsonrpc": "2.0", "id": 1, "method"', headers("read")),
        ("deep JSON", b"[" * 100_000, headers("read")),
        ("a byte order mark", "\ufeff".encode() + json.dumps(call).encode(), headers("read")),
        ("not UTF-8", json.dumps(call).encode().replace(b'"x"', b'"\xff"'), headers("read")),
        ("not JSON by type", call, headers("read", **{"content-type": "text/plain"})),
        ("no JSON accepted", call, headers("read", accept="text/event-stream")),
        ("params not an object", {**call, "params": ["read"]}, headers("read")),
    ]  # fmt: skip


@pytest.mark.parametrize(("what", "body", "sent"), _handed_on(), ids=[case[0] for case in _handed_on()])
async def test_what_the_direct_path_hands_on_the_sdk_answers_as_before(
    nursery: trio.Nursery, what: str, body: Any, sent: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        _, answered = await paths.both(body, sent)
        assert not answered, f"the direct path answered {what}"


@pytest.mark.parametrize("repeated", ["mcp-name", "mcp-method", "mcp-protocol-version", "Mcp-Name"])
async def test_a_duplicated_routing_header_goes_to_the_sdk(nursery: trio.Nursery, repeated: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        sent = httpx.Headers(headers("read"))
        sent = httpx.Headers([*sent.multi_items(), (repeated, sent[repeated])])
        body = json.dumps(request("read", {"map_id": "x"})).encode()
        for direct in (True, False):
            before = paths.direct.answered
            paths.server.mcp.direct = paths.direct if direct else None
            try:
                answer = await http.post(paths.url, content=body, headers=sent)
            finally:
                paths.server.mcp.direct = paths.direct
            assert answer.status_code == 400 and "more than once" in answer.text, answer.text
            assert paths.direct.answered == before


async def test_a_body_over_the_limit_is_refused_as_before(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        server = await start_server(nursery, api_keys=[f"differ:{KEY}"], max_body_size=4096)
        paths = Paths(server, http)
        big = request("draw", {"items": [{"at": [1, 2], "label": "x" * 5000}]})
        answer, answered = await paths.both(big, headers("draw"))
        assert answer.status_code == 413 and not answered, answer.text


def test_every_tool_is_compared() -> None:
    compared = {name for name, _ in (*reads("m"), *steps("m"))} | {"create_map"}
    assert compared == {spec.name for spec in TOOLS}


# --- 2025-11-25 sessions ---------------------------------------------------------------------

SESSION_ERA = "2025-11-25"


async def open_session(
    paths: Paths, *, name: str = "differ", key: str = KEY, capabilities: dict[str, Any] | None = None
) -> dict[str, str]:
    """A session opened and initialized as a client does: the headers of a call in it."""
    sent = {**MCP_ACCEPT, "content-type": "application/json", "authorization": f"Bearer {key}"}
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": SESSION_ERA,
            "capabilities": capabilities or {},
            "clientInfo": {"name": name, "version": "1"},
        },
    }
    opened = await paths.http.post(paths.url, json=hello, headers=sent)
    assert opened.status_code == 200, opened.text
    sent |= {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": SESSION_ERA}
    done = await paths.http.post(
        paths.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=sent
    )
    assert done.status_code == 202, done.text
    return sent


def in_session(name: str, arguments: Any, *, request_id: Any = 7, **params: Any) -> dict[str, Any]:
    body = {"name": name, "arguments": arguments, **params}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": body}


async def session_call(
    paths: Paths, sent: Mapping[str, str], name: str, arguments: Any, *, direct: bool = True
) -> dict[str, Any]:
    answer, answered = await paths.send(json.dumps(in_session(name, arguments)).encode(), sent, direct=direct)
    assert answer.status_code == 200 and answered == direct, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


async def test_calls_in_a_session_answer_to_the_byte(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        sent = await open_session(paths)
        drawn = await session_call(
            paths, sent, "draw", {"title": "Iberia", "items": [AREA], "geojson": CITIES}
        )
        map_id = drawn["structuredContent"]["map_id"]
        for name, arguments in reads(map_id):
            answer, answered = await paths.both(in_session(name, arguments), sent)
            assert answered, f"{name} in a session went to the SDK"
            assert answer.headers["mcp-session-id"] == sent["mcp-session-id"]
            assert "resultType" not in answer.json()["result"], "a 2025-11-25 answer has no resultType"
        # a string id, and a JSON content type with a charset, are answered too
        for body, more in (
            (in_session("read", {"map_id": map_id}, request_id="r-1"), {}),
            (in_session("read", {"map_id": map_id}), {"content-type": "application/json; charset=utf-8"}),
        ):
            _, answered = await paths.both(body, {**sent, **more})
            assert answered, body
        metrics = (await http.get(paths.server.url + "metrics")).text
        posts = paths.server.mcp.in_sessions.answered
        assert f'mapsrv_mcp_session_posts_total{{path="direct"}} {float(posts)}' in metrics, metrics
        assert posts == len(reads(map_id)) + 3


# Answers the direct path writes with the text already made in place of the structured content
# (``mapsrv.mcp.answer_bytes``), and those it writes whole: text that ``ensure_ascii`` escapes
# (accents, CJK, an emoji, DEL) and what pydantic-core writes otherwise (a position under 1e-4, a
# digit before "e-" in a label), and what both escape.
SCRIPTS = [
    {"at": [47.37, 8.54], "label": "Zürich"},
    {"at": [35.68, 139.69], "label": "東京"},
    {"at": [48.86, 2.35], "label": "Paris 🗺"},
    {"at": [52.52, 13.4], "label": "del\x7fhere"},
    {"at": [1e-05, -3e-05], "label": 'A4e-9 tab\there q"uote\\'},
]


async def test_labels_in_any_script_answer_to_the_byte_on_both_eras(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        ascii_only = await paths.made("draw", {"title": "Plain", "items": [MARKERS[0]]})
        for item in SCRIPTS:
            map_id = await paths.made("draw", {"title": item["label"], "items": [item, MARKERS[0]]})
            answer, answered = await paths.both(request("read", {"map_id": map_id}), headers("read"))
            assert (
                answered
                and answer.json()["result"]["structuredContent"]["latest"][0]["label"] == item["label"]
            )
        sent = await open_session(paths)
        for item in [*SCRIPTS, {"label": "Plain"}]:
            map_id = ascii_only if item["label"] == "Plain" else await paths.made("draw", {"items": [item]})
            answer, answered = await paths.both(in_session("read", {"map_id": map_id}), sent)
            assert answered and answer.json()["result"]["structuredContent"]["map_id"] == map_id


async def test_writes_in_a_session_answer_alike_on_twin_maps(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        sent = await open_session(paths)
        twins = []
        for direct in (True, False):
            made = await session_call(paths, sent, "create_map", {"title": "twin"}, direct=direct)
            twins.append(made["structuredContent"]["map_id"])
        for (name, mine), (_, theirs) in zip(steps(twins[0]), steps(twins[1]), strict=True):
            answered = await session_call(paths, sent, name, mine, direct=True)
            expected = await session_call(paths, sent, name, theirs, direct=False)
            assert same_but_ids(answered, twins[0]) == same_but_ids(expected, twins[1]), name


async def test_a_session_is_one_agent_on_both_paths_and_another_session_is_another(
    nursery: trio.Nursery,
) -> None:
    """A change made through one path is undone through the other in the same session; a second
    session with the same key and client name is another agent, with nothing of the first's to
    undo."""
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        first, second = await open_session(paths), await open_session(paths)
        made = await session_call(paths, first, "draw", {"title": "agents", "items": MARKERS[:1]})
        map_id = made["structuredContent"]["map_id"]
        await session_call(paths, first, "draw", {"map_id": map_id, "items": MARKERS[1:2]}, direct=True)
        for direct in (True, False):
            refused = await session_call(paths, second, "undo", {"map_id": map_id}, direct=direct)
            assert refused.get("isError") is True, refused
        undone = await session_call(paths, first, "undo", {"map_id": map_id}, direct=False)
        assert not undone.get("isError"), undone
        await session_call(paths, first, "draw", {"map_id": map_id, "items": MARKERS[2:]}, direct=False)
        undone = await session_call(paths, first, "undo", {"map_id": map_id}, direct=True)
        assert not undone.get("isError"), undone
        left = await session_call(paths, first, "read", {"map_id": map_id})
        assert [f["label"] for f in left["structuredContent"]["latest"]] == ["Lisbon"]
        # the direct path names the session's agent by its client's name, as the SDK's does
        history = await session_call(paths, first, "changes", {"map_id": map_id})
        assert {c["by"].get("name") for c in history["structuredContent"]["changes"]} == {"differ"}


async def test_another_keys_session_is_not_found_on_the_direct_path(nursery: trio.Nursery) -> None:
    """A session is its opener's: a call in it with another API key gets the SDK's 404, as an
    unknown session, and runs nothing."""
    other = "k-direct-other"
    async with httpx.AsyncClient(timeout=30) as http:
        server = await start_server(nursery, api_keys=[f"differ:{KEY}", f"stranger:{other}"])
        paths = Paths(server, http)
        sent = await open_session(paths)
        made = await session_call(paths, sent, "draw", {"title": "mine", "items": MARKERS})
        map_id = made["structuredContent"]["map_id"]
        stolen = {**sent, "authorization": f"Bearer {other}"}
        body = json.dumps(in_session("delete_map", {"map_id": map_id})).encode()
        refused, answered = await paths.send(body, stolen, direct=True)
        assert refused.status_code == 404 and not answered, refused.text
        kept = await session_call(paths, sent, "read", {"map_id": map_id})
        assert kept["structuredContent"]["count"] == len(MARKERS)


def _handed_on_in_session() -> list[tuple[str, Any, dict[str, str | None]]]:
    call = in_session("read", {"map_id": "x"})
    return [
        ("another method", {**call, "method": "tools/list", "params": {}}, {}),
        ("an unknown tool", in_session("paint", {}), {}),
        ("arguments not an object", in_session("read", ["x"]), {}),
        ("a modern envelope", in_session("read", {"map_id": "x"}, _meta=ENVELOPE), {}),
        ("a modern version header", call, {"mcp-protocol-version": VERSION}),
        ("a later round", in_session("read", {"map_id": "x"}, inputResponses={}), {}),
        ("a float id", in_session("read", {"map_id": "x"}, request_id=1.5), {}),
        ("a null id", in_session("read", {"map_id": "x"}, request_id=None), {}),
        ("a member too many", {**call, "extra": 1}, {}),
        ("a notification", {k: v for k, v in call.items() if k != "id"}, {}),
        ("a batch", [call, call], {}),
        ("not JSON", b'{"jsonrpc": "2.0", "id": 1, "method"', {}),
        # json.loads takes both; the session transport's parser (pydantic-core's) refuses them
        ("a lone surrogate", json.dumps(in_session("read", {"map_id": "\ud800"})).encode(), {}),
        ("a byte order mark", "\ufeff".encode() + json.dumps(call).encode(), {}),
        ("a content type in capitals", call, {"content-type": "Application/JSON"}),
        ("not JSON by type", call, {"content-type": "text/plain"}),
        ("an empty content type", call, {"content-type": ""}),
        ("no content type", call, {"content-type": None}),
        ("no JSON accepted", call, {"accept": "text/event-stream"}),
        ("an unknown session", call, {"mcp-session-id": "0" * 32}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "body", "more"), _handed_on_in_session(), ids=[case[0] for case in _handed_on_in_session()]
)
async def test_what_a_session_hands_on_the_sdk_answers_as_before(
    nursery: trio.Nursery, what: str, body: Any, more: dict[str, str | None]
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        sent = await open_session(paths)
        headers = {name: value for name, value in {**sent, **more}.items() if value is not None}
        _, answered = await paths.both(body, headers)
        assert not answered, f"the direct path answered {what}"


async def test_a_call_in_a_session_keeps_it_alive_as_the_sdk_does(nursery: trio.Nursery) -> None:
    """A directly answered call restarts the session's idle countdown from its answer (the SDK's
    transport would have, serving it), and leaves it stopped while a GET stream holds it."""
    async with httpx.AsyncClient(timeout=30) as http:
        paths = await open_paths(nursery, http)
        sent = await open_session(paths)
        session = paths.server.mcp.book.sessions[sent["mcp-session-id"]]
        transport = paths.server.mcp.sessions._server_instances[sent["mcp-session-id"]]
        idle = paths.server.mcp.config.mcp_session_idle_timeout
        # the SDK answers initialized (202) before it is done with it: then its countdown runs
        await wait_until(lambda: transport.idle_scope.deadline != math.inf, timeout=5)
        before, started = transport.idle_scope.deadline, trio.current_time()
        assert not session.answered
        await session_call(paths, sent, "list_maps", {})
        assert session.answered and session.deadline >= started + idle
        assert transport.idle_scope.deadline > before and transport.idle_scope.deadline >= started + idle
        get = {k: v for k, v in sent.items() if k != "content-type"} | {"accept": "text/event-stream"}
        async with http.stream("GET", paths.url, headers=get) as stream:
            assert stream.status_code == 200
            await wait_until(lambda: transport.idle_scope.deadline == math.inf, timeout=5)
            await session_call(paths, sent, "list_maps", {})
            assert transport.idle_scope.deadline == math.inf, "a call ended the GET stream's hold"


async def test_a_body_over_the_limit_in_a_session_is_refused_as_before(nursery: trio.Nursery) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        server = await start_server(nursery, api_keys=[f"differ:{KEY}"], max_body_size=4096)
        paths = Paths(server, http)
        sent = await open_session(paths)
        big = in_session("draw", {"items": [{"at": [1, 2], "label": "x" * 5000}]})
        answer, answered = await paths.both(big, sent)
        assert answer.status_code == 413 and not answered, answer.text


async def test_the_session_book_follows_what_the_sdk_answers_in_a_session(nursery: trio.Nursery) -> None:
    """With the direct path on or off, a request the SDK answers in a session is its first real
    request (the book keeps it past its handshake deadline), and each POST is counted once by who
    answered it."""
    async with httpx.AsyncClient(timeout=30) as http:
        server = await start_server(nursery, api_keys=[f"differ:{KEY}"])
        paths = Paths(server, http)
        counts = server.mcp.in_sessions
        for direct in (True, False):
            sent = await open_session(paths)
            session = server.mcp.book.sessions[sent["mcp-session-id"]]
            assert not session.answered, "a notification alone answers nothing"
            before = (counts.answered, counts.handed_on)
            listed = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}).encode()
            answer, answered = await paths.send(listed, sent, direct=direct)
            assert answer.status_code == 200 and not answered, answer.text
            # (the book hears of it once the SDK is done with the request)
            await wait_until(lambda s=session: s.answered, timeout=5)
            assert (counts.answered, counts.handed_on) == (before[0], before[1] + 1)
            metrics = (await http.get(server.url + "metrics")).text
            assert f'mapsrv_mcp_session_posts_total{{path="sdk"}} {float(counts.handed_on)}' in metrics
            closed = await http.delete(paths.url, headers=sent)
            assert closed.status_code == 200, closed.text
            assert (counts.answered, counts.handed_on) == (before[0], before[1] + 1), "a DELETE is no POST"
