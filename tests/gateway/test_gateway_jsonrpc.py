"""Reading a large message's envelope from its ends gives what a full parse gives, or defers to it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mapsrv.gateway.jsonrpc import LARGE, Envelope, envelope_of, peek

BIG = 'x"{}[],:\\' * (LARGE // 8)  # escapes and brackets inside the big string: nothing to trip on

ids = st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=20), st.none(), st.floats(allow_nan=False))
keys = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error", "x"])


def values(key: str, request_id: Any) -> Any:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"arguments": {"text": BIG, "id": 99}},
        "result": {"content": [{"type": "text", "text": BIG, "id": 98}]},
        "error": {"code": -1, "message": BIG},
        "x": [1, {"id": 97}],
    }[key]


@given(order=st.lists(keys, min_size=1, max_size=5, unique=True), request_id=ids, compact=st.booleans())
def test_large_messages_route_as_a_full_parse_would(order: list[str], request_id: Any, compact: bool) -> None:
    if ("result" in order or "error" in order) and "method" in order:
        # invalid JSON-RPC, a response with a method: the ends may not show the method (a run
        # found ['jsonrpc', 'id', 'error', 'method', 'params'], read as the response it starts as)
        order.remove("method")
    message = {key: values(key, request_id) for key in order}
    text = json.dumps(message, separators=(",", ":") if compact else None, ensure_ascii=False).encode()
    assert len(text) > LARGE or "params" not in order
    assert peek(text) == envelope_of(json.loads(text))


def test_the_ends_are_read_without_a_full_parse() -> None:
    python_sdk = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"text":"%s"}}' % (b"y" * LARGE)
    typescript_sdk = b'{"result":{"text":"%s"},"jsonrpc":"2.0","id":"a-1"}' % (b"y" * LARGE)
    broken_middle = python_sdk.replace(b'"text"', b"text")  # not JSON: only the ends are read
    assert peek(python_sdk) == Envelope("7", "tools/call")
    assert peek(typescript_sdk) == Envelope('"a-1"', None)
    assert peek(broken_middle) == Envelope("7", "tools/call")
    assert peek(b"{" + b" " * LARGE + b"}") is None
