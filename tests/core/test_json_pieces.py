"""``mapsrv.core.json_pieces``: JSON parsed and written in pieces is the same JSON as in one call
(``json``'s own parser and encoder are the reference), and a parse error is still refused."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapsrv.core import codec, json_bytes, json_pieces
from mapsrv.core.json_pieces import SLICE, in_pieces, is_big, loads

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=SLICE * 2 + 2) | st.dictionaries(st.text(), inner, max_size=6),
    max_leaves=200,
)
COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def features(n: int) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"id": f"f{i}", "coords": [[i, -i / 3]] * 3, "label": "ç\x7f" * (i % 3)} for i in range(n)
        ],
    }


@settings(max_examples=100)
@given(VALUES, st.integers(0, 4))
def test_written_in_pieces_is_the_same_text(value: Any, depth: int) -> None:
    assert in_pieces(COMPACT.encode, value, depth) == COMPACT.encode(value)
    assert json.loads(codec.dumps(value)) == json.loads(COMPACT.encode(value))  # the same values
    assert codec.dumps(value) == json_bytes.dumps_finite(value)
    assert json_bytes.dumps(value) == json.dumps(value, separators=(",", ":")).encode()
    assert json_bytes.dumps_text(value) == COMPACT.encode(value)


@settings(max_examples=100)
@given(VALUES, st.integers(0, 4), st.integers(1, 5))
def test_texts_written_in_pieces_are_the_same_text(value: Any, depth: int, text: int) -> None:
    with mock.patch.object(json_pieces, "TEXT", text):  # every text of more than a few characters cut
        assert in_pieces(COMPACT.encode, value, depth) == COMPACT.encode(value)
        assert json_bytes.dumps(value) == json.dumps(value, separators=(",", ":")).encode()
        assert json_bytes.dumps_text(value) == COMPACT.encode(value)
        assert codec.dumps(value) == json_bytes.dumps_finite(value)


def test_an_answers_big_text_is_written_a_slice_at_a_time() -> None:
    calls: list[Any] = []

    def encode(value: Any) -> str:
        calls.append(value)
        return COMPACT.encode(value)

    text = 'é"\n\U0001f600x' * (json_pieces.TEXT // 2)  # escapes, non-ASCII, an astral character
    answer = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
    assert is_big(answer) and not is_big({**answer, "result": {"content": [{"type": "text", "text": "x"}]}})
    assert in_pieces(encode, answer) == COMPACT.encode(answer)
    assert json_bytes.dumps(answer) == json.dumps(answer, separators=(",", ":")).encode()
    pieces = [c for c in calls if isinstance(c, str) and len(c) > 100]
    assert "".join(pieces) == text and max(map(len, pieces)) == json_pieces.TEXT  # never the whole


@settings(max_examples=100)
@given(VALUES, st.integers(0, 4), st.sampled_from(["", " ", "\n\t "]))
def test_read_in_pieces_is_the_same_value(value: Any, depth: int, space: str) -> None:
    text = json.dumps(value, indent=1 if space else None)
    assert loads(space + text + space, depth) == json.loads(text)


def test_a_big_list_is_written_item_by_item() -> None:
    calls: list[Any] = []

    def encode(value: Any) -> str:
        calls.append(value)
        return COMPACT.encode(value)

    value = features(SLICE + 1)
    assert is_big(value) and not is_big(features(SLICE))
    assert in_pieces(encode, value) == COMPACT.encode(value)
    assert value not in calls and value["features"] not in calls  # never the whole, never the list
    slices = [c for c in calls if isinstance(c, list)]
    assert [f for s in slices for f in s] == value["features"]  # each feature in one slice, in order
    assert len(slices[0]) == 1 and len(slices) > 1  # the first alone, to time it


@pytest.mark.parametrize(
    "text", ['{"a" 1}', '{"a":1,}', "[1 2]", '{"a":1} x', "{1:2}", "[", '{"a":[1,]}', ""]
)
def test_bad_json_is_refused_as_json_refuses_it(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    for depth in range(4):
        with pytest.raises(json.JSONDecodeError):
            loads(text, depth)


@settings(max_examples=100)
@given(VALUES)
def test_let_go_empties_the_big_lists_and_leaves_the_rest(value: Any) -> None:
    """``let_go`` empties a big list (at the top, or a dict's member) and touches nothing else:
    what is emptied is exactly what was longer than ``SLICE``."""
    before = json.loads(json.dumps(value))
    json_pieces.let_go(value)
    if isinstance(before, list):
        assert value == ([] if len(before) > SLICE else before)
    elif isinstance(before, dict):
        assert value == {k: [] if isinstance(v, list) and len(v) > SLICE else v for k, v in before.items()}
    else:
        assert value == before


def test_an_events_text_is_the_same_after_its_objects_are_let_go() -> None:
    """The wire's text of a big import (its features' JSON objects freed a slice at a time once
    written) is the text of the objects before they went."""
    from mapsrv.core import Feature
    from mapsrv.core.events import FeaturesUpserted

    event = FeaturesUpserted(
        version=3,
        features=tuple(Feature(f"p{i}", "marker", (i / 100, -i / 100)) for i in range(5 * SLICE)),
        seq=1,
    )
    assert json.loads(codec.wire(event)) == json.loads(json.dumps(codec.event_to_json(event)))
