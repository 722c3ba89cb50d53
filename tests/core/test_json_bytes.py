"""``mapsrv.core.json_bytes`` writes what ``json.dumps`` writes, byte for byte: for every JSON
value (floats of every magnitude, every code point, lone surrogates, ``None`` keys), and through
pydantic-core's encoder wherever that gives the same text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from mapsrv.core import json_bytes

SEPARATORS = (",", ":")

every_character = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())
texts = st.text(every_character, max_size=12) | st.sampled_from(["e-", "1e-", "0.0000", "\x7f", "None"])
floats = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-9, max_value=1e-3)
    | st.floats(min_value=1e14, max_value=1e23)
    | st.sampled_from([1e-5, -1e-5, 1.5e-7, 9.999999999999999e-05, 1e-4, 1e16, 1e-300, 5e-324, -0.0])
)
scalars = st.none() | st.booleans() | st.integers() | floats | texts
keys = texts | st.none() | st.integers()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=3000)
@given(values)
@example({"at": [38.72, -9.14], "label": "Lisboa \u2014 S\u00e3o Jorge \U0001f3f0", "n": None})
@example({None: 1, "k": "\ud800"})
def test_the_same_bytes_as_json_dumps(value: Any) -> None:
    assert json_bytes.dumps(value) == json.dumps(value, separators=SEPARATORS).encode()
    assert json_bytes.dumps_text(value) == json.dumps(value, separators=SEPARATORS, ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [1e-5, 1.5e-7, -2.5e-5, "\x7f", {None: 0}],
    ids=["1e-5", "1.5e-7", "-2.5e-5", "DEL", "None key"],
)
def test_what_pydantic_core_writes_otherwise_is_written_by_json_dumps(value: Any) -> None:
    """Each of these pydantic-core writes differently, so each must take ``json.dumps``."""
    assert to_json(value, ensure_ascii=True) != json.dumps(value, separators=SEPARATORS).encode()
    assert json_bytes.dumps(value) == json.dumps(value, separators=SEPARATORS).encode()


def test_a_plain_answer_takes_pydantic_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast way is taken for an answer as a tool gives it (labels in any script, coordinates,
    ids with ``-``): only a number written as ``...e-`` or ``0.0000...`` turns it away."""
    answer = {"map_id": "a-b_c", "label": "S\u00e3o Paulo e-bike", "at": [-23.55, -46.63], "n": 3}
    expected = (
        json.dumps(answer, separators=SEPARATORS).encode(),
        json.dumps(answer, separators=SEPARATORS, ensure_ascii=False),
    )

    class Refusing(json.JSONEncoder):
        def encode(self, o: Any) -> str:
            raise AssertionError("json.dumps's way was taken for a plain answer")

    monkeypatch.setattr(json_bytes, "_ASCII", Refusing())
    monkeypatch.setattr(json_bytes, "_UNICODE", Refusing())
    assert (json_bytes.dumps(answer), json_bytes.dumps_text(answer)) == expected
    assert not json_bytes.maybe_other(to_json(answer, ensure_ascii=True))
    assert json_bytes.maybe_other(to_json({**answer, "tiny": 1e-7}))
    assert json_bytes.maybe_other(to_json({**answer, "small": 2e-5}))


def test_nan_and_infinities_as_json_dumps_writes_them() -> None:
    value = [math.nan, math.inf, -math.inf]
    assert json_bytes.dumps(value) == b"[NaN,Infinity,-Infinity]"


def test_what_json_dumps_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        json_bytes.dumps({"when": object()})


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, ``-0.0`` told from ``0.0`` and a float from an integer."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=1000)
@given(values)
@example([1e-5, 1.5e-7, 5e-324, -0.0, {None: 1.5e-7}])
def test_dumps_finite_writes_the_values_json_dumps_writes(value: Any) -> None:
    """The events' text: read back, the very values ``json.dumps`` writes (a small float may be
    written in its other form, the same number)."""
    ours = json_bytes.dumps_finite(value)
    theirs = json.dumps(value, separators=SEPARATORS, ensure_ascii=False, allow_nan=False)
    assert _same_json(json.loads(ours), json.loads(theirs))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["NaN", "inf", "-inf"])
def test_dumps_finite_refuses_what_is_not_json(bad: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        json_bytes.dumps_finite({"coords": [[1.0, bad]], "label": "NaN Infinity"})
    assert json.loads(json_bytes.dumps_finite({"label": "NaN Infinity"})) == {"label": "NaN Infinity"}
