"""The direct path's results laid out without the sieve (``mapsrv.mcp.result_layout``) are the
exact path's, keys in order, for every protocol version; a result of any other shape takes the
exact path; and a modern call's envelope names its agent as the SDK's ``Connection`` does
(``mapsrv.mcp.request_checks.modern_call``). Pure code: the SDK's own functions are the witness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.server.connection import Connection
from mcp.types import CallToolResult, EmbeddedResource, ImageContent, TextContent, TextResourceContents
from mcp_types import methods
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from mapsrv.mcp.request_checks import modern_call
from mapsrv.mcp.result_layout import ResultShapes, Shaped, TextLayout

STAMP = {"name": "mapsrv", "version": "0"}
VERSIONS = [*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS]


def text(value: str) -> TextContent:
    return TextContent(type="text", text=value)


A_FILE = TextResourceContents(uri="file:///a.txt", text="a", mime_type="text/plain")
PLAIN = [
    CallToolResult(content=[text('{"map_id":"m1","n":2}')], structured_content={"map_id": "m1", "n": 2}),
    CallToolResult(content=[text("E_NOT_FOUND: no map m9")], is_error=True),
    CallToolResult(content=[text('{"a":1}')], structured_content={"a": 1}, is_error=False),
    CallToolResult(content=[text("a"), text("b"), text("")], structured_content={}),
    CallToolResult(content=[], structured_content={"at": [38.7, -9.1], "deep": {"k": [None, True]}}),
]
OTHER = [
    CallToolResult(content=[ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png")]),
    CallToolResult(content=[text("a")], _meta={"x": 1}),
    CallToolResult(content=[text("a")], result_type="complete"),
    CallToolResult(content=[TextContent(type="text", text="a", annotations={"priority": 0.5})]),
    CallToolResult(
        content=[
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(uri="file:///a.txt", text="a", mime_type="text/plain"),
            )
        ]
    ),
]


def ordered(shaped: Shaped) -> str:
    return json.dumps(shaped)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_has_a_layout_and_it_gives_the_exact_answer(version: str) -> None:
    shapes = ResultShapes(STAMP)
    layout = TextLayout.learn(lambda result: shapes.exact(version, result))
    assert layout is not None, f"no layout for {version}: every plain call takes the slow way"
    for result in PLAIN:
        assert TextLayout.fits(result)
        assert ordered(shapes(version, result)) == ordered(shapes.exact(version, result))
        assert ordered((200, {"result": layout.fill(result)})) == ordered(shapes.exact(version, result))


@pytest.mark.parametrize("result", OTHER, ids=["image", "meta", "result type set", "annotations", "resource"])
def test_any_other_result_takes_the_exact_path(result: CallToolResult) -> None:
    assert not TextLayout.fits(result)
    shapes = ResultShapes(STAMP)
    for version in VERSIONS:
        assert ordered(shapes(version, result)) == ordered(shapes.exact(version, result))


def test_no_layout_when_the_exact_path_lays_one_variant_out_otherwise() -> None:
    """An SDK whose sieve laid out errors otherwise (here: ``isError`` first) gets no layout,
    rather than a layout right for some results only."""
    shapes = ResultShapes(STAMP)
    version = MODERN_PROTOCOL_VERSIONS[-1]

    def errors_first(result: Any) -> Shaped:
        status, member = shapes.exact(version, result)
        if result.is_error:
            body = member["result"]
            member = {"result": {"isError": body.pop("isError"), **body}}
        return status, member

    assert TextLayout.learn(lambda result: shapes.exact(version, result)) is not None
    assert TextLayout.learn(errors_first) is None


ENVELOPES = [
    ({"name": "claude-code", "version": "2.1"}, {}),
    ({"name": "claude-code", "version": "2.1"}, {"elicitation": {"form": {}}}),
    ({"name": "no version"}, {}),
    ({"version": "no name"}, {}),
    ("not an object", {}),
    (None, {"sampling": {}}),
    ({"name": "caps not an object", "version": "1"}, "yes"),
    ({"name": "caps missing", "version": "1"}, None),
    ({"name": "x", "version": "1", "title": "X", "extra": [1]}, {"experimental": {"a": {}}}),
]


@pytest.mark.parametrize("info, capabilities", ENVELOPES)
def test_a_calls_identity_is_what_the_sdk_connection_makes_of_it(info: Any, capabilities: Any) -> None:
    version = MODERN_PROTOCOL_VERSIONS[-1]
    connection = Connection.from_envelope(version, info, capabilities)
    params = connection.client_params
    meta = {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        **({"io.modelcontextprotocol/clientInfo": info} if info is not None else {}),
    }
    decoded = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read", "_meta": meta}}
    headers = {"mcp-protocol-version": version, "mcp-method": "tools/call", "mcp-name": "read"}
    try:  # the SDK answers a call whose envelope its parameter check refuses itself
        methods.validate_client_request("tools/call", version, decoded["params"])
    except ValidationError:
        taken = False
    else:
        taken = True
    for _ in range(2):  # made, then remembered
        made = modern_call(decoded, headers)
        assert (made is not None) is taken
        if made is not None:
            assert made.reported == (params.client_info.name if params is not None else None)
            assert made.capabilities == connection.client_capabilities


def test_a_plain_result_is_laid_out_without_the_exact_path_once_learned() -> None:
    """The point of the layout: after learning it (the probes, once per version), a plain result
    never goes through the sieve again; any other result always does."""
    calls: list[str] = []

    class Counted(ResultShapes):
        def exact(self, version: str, result: Any) -> Shaped:
            calls.append(version)
            return super().exact(version, result)

    shapes = Counted(STAMP)
    for version in VERSIONS:
        shapes(version, PLAIN[0])
    learned = len(calls)
    assert learned >= len(VERSIONS)  # the probes
    for version in VERSIONS:
        for result in PLAIN:
            shapes(version, result)
    assert len(calls) == learned
    shapes(VERSIONS[-1], OTHER[0])
    assert len(calls) == learned + 1
