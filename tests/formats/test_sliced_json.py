"""formats.sliced_json against json.loads on the same generated documents: the same value for
every valid one, the same error (message and place) for every broken one."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from mapsrv.formats.sliced_json import loads

_TEXTS = ["", "a", "Zürich", "\u0000\u001f", 'quo"te', "back\\slash", "\ud83d\ude00", "日本", "\u2028"]
_NUMBERS: list[Any] = [0, -1, 1.5, 1e308, -2.5e-7, 12345678901234567890, math.inf, -math.inf, math.nan]


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(8 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(_TEXTS)
    if kind == 1:
        return rng.choice(_NUMBERS)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.randrange(-1000, 1000) / 7
    if kind in (4, 5):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {
        rng.choice(["type", "features", "name", "a", "", "é"]): _value(rng, depth + 1)
        for _ in range(rng.randrange(5))
    }


def _document(rng: random.Random) -> str:
    """A FeatureCollection-like object, written with varied spacing, repeated names, and now and
    then a top level that is not an object."""
    top: Any = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [rng.random(), rng.random()]},
             "properties": _value(rng, 2)}
            for _ in range(rng.randrange(6))
        ],
        **{f"k{i}": _value(rng, 1) for i in range(rng.randrange(4))},
    }  # fmt: skip
    if rng.random() < 0.1:
        top = _value(rng, 0)
    text = json.dumps(top, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 0, 2, "\t"]))
    if rng.random() < 0.2:
        text = text.replace('"type"', '"type": 1, "type"', 1)  # a repeated name: the last wins
    space = rng.choice(["", " ", "\n", "\r\n\t "])
    return space + text + space


def _broken(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    how = rng.randrange(4)
    if how == 0:
        return text[:i]
    if how == 1:
        return text[:i] + rng.choice(list(',:[]{}"x 0-\\')) + text[i:]
    if how == 2:
        return text[:i] + text[i + 1 :]
    return text + rng.choice([" x", ",", "}", "]", " {}"])


def _same(data: bytes) -> None:
    try:
        expected: Any = ("value", json.dumps(json.loads(data), sort_keys=False))
    except json.JSONDecodeError as exc:
        expected = ("error", exc.msg, exc.pos)
    except (UnicodeDecodeError, RecursionError) as exc:
        expected = ("error", type(exc).__name__)
    try:
        got: Any = ("value", json.dumps(loads(data), sort_keys=False))
    except json.JSONDecodeError as exc:
        got = ("error", exc.msg, exc.pos)
    except (UnicodeDecodeError, RecursionError) as exc:
        got = ("error", type(exc).__name__)
    assert got == expected, data[:300]


@pytest.mark.parametrize("seed", range(4))
def test_the_same_as_json_loads_on_generated_documents(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        text = _document(rng)
        encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32-le"])
        _same(text.encode(encoding, "surrogatepass"))
        _same(_broken(rng, text).encode("utf-8", "surrogatepass"))


def test_the_same_errors_at_the_edges() -> None:
    deep = '{"features": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    for text in ["", " ", "{", "{}", "{} x", '{"a"}', '{"a":}', '{"a":1,}', '{"a":[1,]}', '{"a":[1 2]}',
                 '{"a":[', '{"a":[]', "{'a': 1}", '{"a":1 "b":2}', '{"a":"\\x"}', "[1,2]", "3", "nul",
                 '{"a": NaN, "b": -Infinity}', '{"a":[1] , "b" : [ ] }', deep]:  # fmt: skip
        _same(text.encode())
    _same(b'{"a": "\xff"}')  # not UTF-8


def test_a_big_collection_is_parsed_an_item_at_a_time() -> None:
    """No decoder call parses more than one feature: the interpreter's lock is handed over between
    them (json.loads holds it for the whole document)."""
    import mapsrv.formats.sliced_json as sliced

    features = [{"type": "Feature", "geometry": None, "properties": {"i": i}} for i in range(1000)]
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    calls = []
    real = sliced._scan

    def counted(text: str, i: int) -> tuple[Any, int]:
        value, end = real(text, i)
        calls.append(end - i)
        return value, end

    sliced._scan = counted
    try:
        assert loads(data) == json.loads(data)
    finally:
        sliced._scan = real
    assert len(calls) == 1 + 1000 and max(calls) < 100  # "type", then each feature alone
