"""``request_checks.params_valid`` gives the SDK's own verdict on a ``tools/call``'s parameters
(``validate_client_request``) for generated parameters (a name of any type, arguments of any
kind, envelopes with keys missing, of the wrong types, or extra), the first time and when it is
remembered, and whatever the arguments' values; ``modern_call`` is what the SDK's envelope
ladder, that check and its ``Connection`` make of a modern call with any routing headers;
``takes_json`` is the SDK's ``Accept`` check. Pure code: the SDK's functions are the witness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mcp.server.connection import Connection
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import InboundLadderRejection, classify_inbound_request
from mcp_types import methods
from pydantic import ValidationError
from starlette.requests import Request

from mapsrv.mcp import request_checks
from mapsrv.mcp.request_checks import modern_call, params_valid, takes_json

VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18"]
RESERVED = "io.modelcontextprotocol/"

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
)
client_info = st.fixed_dictionaries(
    {"name": st.text(max_size=6) | st.integers(), "version": st.text(max_size=4)}
)
meta_values = {
    f"{RESERVED}protocolVersion": st.sampled_from(VERSIONS) | scalars,
    f"{RESERVED}clientCapabilities": st.just({})
    | st.fixed_dictionaries({"elicitation": st.just({})})
    | scalars,
    f"{RESERVED}clientInfo": client_info | scalars,
    "progressToken": st.text(max_size=4) | st.integers() | st.floats(allow_nan=False),
    "other": json_values,
}
metas = st.builds(
    lambda chosen, values: {key: values[key] for key in chosen},
    st.sets(st.sampled_from(sorted(meta_values)), max_size=len(meta_values)),
    st.fixed_dictionaries(meta_values),
)
arguments = (
    st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3) | scalars | st.lists(scalars)
)
params = st.builds(
    lambda name, args, meta, extra, has_args: {
        "name": name,
        **({"arguments": args} if has_args else {}),
        **({"_meta": meta} if meta is not None else {}),
        **extra,
    },
    st.sampled_from(["read", "draw"]) | scalars,
    arguments,
    metas | st.none() | scalars,
    st.dictionaries(st.sampled_from(["task", "other"]), json_values, max_size=1),
    st.booleans(),
)


def sdk_verdict(version: str, given: dict[str, Any]) -> bool:
    try:
        methods.validate_client_request("tools/call", version, given)
    except (KeyError, ValidationError):
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(VERSIONS), params, st.dictionaries(st.text(max_size=4), json_values, max_size=2))
@example(
    "2026-07-28",
    {"name": "read", "arguments": {"map_id": "m"}, "_meta": {f"{RESERVED}protocolVersion": "2026-07-28"}},
    {"x": 1},
)
@example("2025-11-25", {"name": "read", "arguments": None}, {})
@example("2025-11-25", {"name": 1, "arguments": {}}, {})
def test_the_sdks_verdict_first_and_remembered(version: str, given: dict[str, Any], other: Any) -> None:
    expected = sdk_verdict(version, given)
    assert params_valid(version, given) is expected
    assert params_valid(version, given) is expected  # remembered
    if type(given.get("arguments")) is dict:  # other arguments, the same rest: the same verdict
        again = {**given, "arguments": other}
        assert sdk_verdict(version, again) is expected
        assert params_valid(version, again) is expected


routing = st.fixed_dictionaries(
    {},
    optional={
        "mcp-protocol-version": st.sampled_from(VERSIONS) | st.text(max_size=4),
        "mcp-method": st.sampled_from(["tools/call", "tools/list"]) | st.text(max_size=4),
        "mcp-name": st.sampled_from(["read", "draw", "=?base64?cmVhZA==?="]) | st.text(max_size=4),
    },
)


def sdk_call(decoded: dict[str, Any], headers: dict[str, str]) -> tuple[str, str | None, Any] | None:
    """What the SDK's modern entry makes of a ``tools/call``: its ladder, its parameter check for
    the envelope's version, and the connection its envelope makes (the client's name, its
    capabilities); None when it refuses."""
    verdict = classify_inbound_request(decoded, headers=headers)
    if isinstance(verdict, InboundLadderRejection):
        return None
    if not sdk_verdict(verdict.protocol_version, decoded["params"]):
        return None
    connection = Connection.from_envelope(
        verdict.protocol_version, verdict.client_info, verdict.client_capabilities
    )
    client = connection.client_params
    return (
        verdict.protocol_version,
        client.client_info.name if client else None,
        connection.client_capabilities,
    )


@settings(max_examples=1500, deadline=None)
@given(params, routing, st.dictionaries(st.text(max_size=4), json_values, max_size=2))
@example(
    {
        "name": "read",
        "arguments": {"map_id": "m"},
        "_meta": {
            f"{RESERVED}protocolVersion": "2026-07-28",
            f"{RESERVED}clientCapabilities": {},
            f"{RESERVED}clientInfo": {"name": "agent", "version": "1"},
        },
    },
    {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "read"},
    {"x": 1},
)
def test_a_modern_call_is_what_the_sdk_makes_of_it(
    given: dict[str, Any], headers: dict[str, str], other: Any
) -> None:
    """Any parameters with any routing headers: refused where the SDK refuses, else its version,
    the client's name and capabilities, the first time and remembered; other arguments, or other
    headers, are judged again, never taken from another call's verdict."""
    decoded = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": given}
    expected = sdk_call(decoded, headers)
    for _ in range(2):  # made, then remembered
        made = modern_call(decoded, headers)
        assert (made.version, made.reported, made.capabilities) == expected if made else expected is None
    if type(given.get("arguments")) is dict:  # other arguments, the same rest: the same verdict
        again = {**decoded, "params": {**given, "arguments": other}}
        made = modern_call(again, headers)
        assert (made.version, made.reported, made.capabilities) == expected if made else expected is None
    for name in headers:  # one header less: its own verdict
        fewer = {key: value for key, value in headers.items() if key != name}
        made, expected = modern_call(decoded, fewer), sdk_call(decoded, fewer)
        assert (made.version, made.reported, made.capabilities) == expected if made else expected is None


def test_a_modern_calls_verdict_is_kept_by_its_headers_and_method() -> None:
    """The same parameters under another version header, name header or method are another
    call: a verdict kept for one is never the other's (the SDK takes one and refuses the
    other)."""
    meta = {f"{RESERVED}protocolVersion": "2026-07-28", f"{RESERVED}clientCapabilities": {}}
    decoded = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read", "_meta": meta}}
    right = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "read"}
    assert modern_call(decoded, right) is not None
    for name, wrong in (("mcp-protocol-version", "2025-11-25"), ("mcp-name", "draw"), ("mcp-method", "x")):
        assert modern_call(decoded, {**right, name: wrong}) is None
        assert sdk_call(decoded, {**right, name: wrong}) is None
    assert modern_call({**decoded, "method": "x"}, right) is None  # its header says tools/call
    assert modern_call(decoded, right) is not None


@pytest.mark.parametrize(
    "accept",
    [
        "application/json, text/event-stream",
        "application/json",
        "APPLICATION/JSON;q=0.9",
        "*/*",
        "application/*",
        "text/event-stream",
        "text/html, application/xml",
        "",
    ],
)
def test_takes_json_is_the_sdks_check(accept: str) -> None:
    headers = [(b"accept", accept.encode()), (b"accept", b"application/json")]
    expected = check_accept_headers(Request({"type": "http", "headers": headers}))[0]
    assert takes_json(accept) is expected
    assert takes_json(accept) is expected


def test_long_parameters_are_judged_and_not_kept() -> None:
    """A client padding its parameters (any key but the arguments passes the SDK's check) gets the
    SDK's verdict each time, and nothing of its padding is kept; a short envelope is kept."""
    envelope = {f"{RESERVED}protocolVersion": "2026-07-28", f"{RESERVED}clientCapabilities": {}}
    request_checks._known.clear()
    for n in range(300):
        padded = {"name": "read", "arguments": {}, "_meta": envelope, "pad": f"{n}" + "x" * 5_000}
        assert params_valid("2026-07-28", padded) is sdk_verdict("2026-07-28", padded)
    assert not request_checks._known
    short = {"name": "read", "arguments": {}, "_meta": envelope}
    assert params_valid("2026-07-28", short) is sdk_verdict("2026-07-28", short)
    assert len(request_checks._known) == 1


def test_nesting_deeper_than_json_dumps_takes_is_judged() -> None:
    """Values nested past what ``json.dumps`` can write here (a big body's JSON is read in a
    worker, and the checks run deeper in the loop's stack) get the SDK's verdicts, not an error."""
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(3_000):
        inner["a"] = {}
        inner = inner["a"]
    capabilities = {"experimental": {"x": deep}}
    envelope = {f"{RESERVED}protocolVersion": "2026-07-28", f"{RESERVED}clientCapabilities": capabilities}
    given = {"name": "read", "arguments": {}, "_meta": {**envelope, "other": deep}}
    assert params_valid("2026-07-28", given) is sdk_verdict("2026-07-28", given)
    meta = {**given["_meta"], f"{RESERVED}clientInfo": {"name": "deep", "version": "1"}}
    decoded = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**given, "_meta": meta}}
    headers = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "read"}
    made = modern_call(decoded, headers)
    expected = sdk_call(decoded, headers)
    assert (made.version, made.reported, made.capabilities) == expected if made else expected is None


# values json.loads gives that a careless JSON writer makes alike: NaN and null, 1 and 1.0 and
# true, -0.0 and 0.0, a lone surrogate (no UTF-8 for it), an escape and its character
confusable = st.sampled_from(
    [None, float("nan"), float("inf"), float("-inf"), 0, 0.0, -0.0, False, 1, 1.0, True, 10**20]
) | st.sampled_from(["", "1", "null", "NaN", "\ud800", "é", "\\u00e9", '"', "\x00"])
rests = st.recursive(
    confusable,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "é"]), inner, max_size=2)
    ),
    max_leaves=4,
)


@settings(max_examples=1500, deadline=None)
@given(rests, rests)
def test_what_a_verdict_is_kept_by_tells_values_apart_as_json_dumps_does(one: Any, two: Any) -> None:
    """Two parameters are kept by one key only if ``json.dumps`` writes them alike; those it
    cannot key (a lone surrogate) are judged afresh."""
    first = request_checks._rest_of({"name": "read", "arguments": {}, "_meta": one})
    second = request_checks._rest_of({"name": "read", "_meta": two})
    if first is None or second is None:
        assert "\ud800" in json.dumps([one, two], ensure_ascii=False)
        return
    written = [json.dumps({"name": "read", "_meta": value}) for value in (one, two)]
    assert (first == second) is (written[0] == written[1])


def test_a_verdict_kept_for_null_is_not_nans() -> None:
    """The SDK takes a progress token of null and refuses NaN or an infinity (json.loads reads
    both): each gets its own verdict, whichever came first."""
    envelope = {f"{RESERVED}protocolVersion": "2026-07-28", f"{RESERVED}clientCapabilities": {}}
    headers = {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "read"}
    request_checks._known.clear()
    request_checks._calls.clear()
    tokens = [None, float("nan"), None, float("inf"), float("-inf"), "\ud800", None]
    verdicts = []
    for token in tokens:
        given = {"name": "read", "arguments": {}, "_meta": {**envelope, "progressToken": token}}
        expected = sdk_verdict("2026-07-28", given)
        assert params_valid("2026-07-28", given) is expected
        decoded = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": given}
        assert (modern_call(decoded, headers) is not None) is (sdk_call(decoded, headers) is not None)
        verdicts.append(expected)
    assert verdicts == [True, False, True, False, False, True, True]
