"""``json.loads`` of a file in pieces, so that a worker thread reading a big GeoJSON lets the event
loop run while it does.

``json.loads`` is one C call: it holds the interpreter's lock until the whole document is parsed
(a 6 MB FeatureCollection of 23,000 features: 210-280 ms), and the event loop, which needs that
lock for every step, stands still as long: every watcher of every map waits. Here the top-level
object is walked in Python and each of its values parsed by the standard library's own decoder
(its ``scan_once``, ``scanstring``), an array's items one at a time: the lock is held for
one feature at most, and handed over between them (every ``sys.getswitchinterval()``, 5 ms).

The result is ``json.loads``'s, and so are its errors (``JSONDecodeError`` at the same place):
``tests/formats/test_sliced_json.py`` runs both on the same generated documents, valid and
broken. Any other document (an array, a number at the top) is handed to ``json.loads`` whole.

Before any of it is parsed, its objects, arrays and strings are counted (every ``{``, ``[`` and
pair of ``"``): what a parsed document costs beyond its text is theirs. Natural Earth's 1:10m
countries take 82 MB of Python objects for 24 MB of text, 148 bytes for each of its 557,000 arrays
and objects; but 63 MB of ``{}`` would take 3 GB. Each object or array counts ``NODE_COST`` bytes
(an empty one takes 65-73, a small object's table 200), each string ``STRING_COST`` (a short one
takes 60, a key with its share of its object's table up to 85): measured with tracemalloc on
CPython 3.11, parsed here a feature at a time (``tests/formats/test_decoded_budgets.py``). A
document counted past ``NODE_BUDGET`` is refused; numbers cost at most 9 times their text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mapsrv.errors import PayloadTooLarge

__all__ = ["NODE_BUDGET", "NODE_COST", "STRING_COST", "check_nodes", "loads"]

NODE_BUDGET = 512 << 20  # bytes a document's objects, arrays and strings may take parsed
NODE_COST = 208  # bytes counted for an object or an array
STRING_COST = 96  # bytes counted for a string, a key included

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACE = " \t\n\r"
_DECODER = json.JSONDecoder()
_scan = _DECODER.scan_once  # type: ignore[attr-defined]  # (value, end), or StopIteration(at)
_string = json.decoder.scanstring  # type: ignore[attr-defined]  # a string's rest: (text, end)


def check_nodes(data: bytes, what: str) -> None:
    """Refuse a document whose objects, arrays and strings would take more than ``NODE_BUDGET``
    parsed, before it is; ``what`` names it in the error ("geojson")."""
    nodes, strings = data.count(b"{") + data.count(b"["), data.count(b'"') // 2
    cost = nodes * NODE_COST + strings * STRING_COST
    if cost > NODE_BUDGET:
        raise PayloadTooLarge(
            f"{what} would take about {cost >> 20:,} MiB parsed ({nodes:,} objects and arrays, {strings:,}"
            f" strings), more than {NODE_BUDGET >> 20} MiB; split the file, or simplify its lines"
        )


def loads(data: bytes, what: str = "geojson") -> Any:
    """``json.loads(data)``, its top-level object's values and their arrays' items one call each;
    a document of too many objects and arrays (``check_nodes``) is refused first."""
    check_nodes(data, what)
    text = data.decode(json.detect_encoding(data), "surrogatepass")
    start = _skip(text, 0)
    if not text.startswith("{", start):
        return _DECODER.decode(text)
    value, end = _object(text, start)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _object(text: str, i: int) -> tuple[dict[str, Any], int]:
    """The object at ``text[i] == "{"`` and the index past it, as the standard decoder parses it
    (a repeated name keeps its last value)."""
    found: dict[str, Any] = {}
    i = _skip(text, i + 1)
    if text.startswith("}", i):
        return found, i + 1
    while True:
        if not text.startswith('"', i):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
        name, i = _string(text, i + 1)
        i = _skip(text, i)
        if not text.startswith(":", i):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
        i = _skip(text, i + 1)
        if text.startswith("[", i):
            found[name], i = _array(text, i)
        else:
            found[name], i = _value(text, i)
        i = _skip(text, i)
        if text.startswith("}", i):
            return found, i + 1
        if not text.startswith(",", i):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = _skip(text, i + 1)


def _array(text: str, i: int) -> tuple[list[Any], int]:
    """The array at ``text[i] == "["`` and the index past it, an item per decoder call."""
    items: list[Any] = []
    add = items.append
    i = _skip(text, i + 1)
    if text.startswith("]", i):
        return items, i + 1
    while True:
        try:
            item, i = _scan(text, i)
        except StopIteration as none:
            raise json.JSONDecodeError("Expecting value", text, none.value) from None
        add(item)
        if text[i : i + 1] in _SPACE:
            i = _skip(text, i)
        following = text[i : i + 1]
        if following == ",":
            i += 1
            if text[i : i + 1] in _SPACE:
                i = _skip(text, i)
        elif following == "]":
            return items, i + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)


def _value(text: str, i: int) -> tuple[Any, int]:
    try:
        return _scan(text, i)  # type: ignore[no-any-return]
    except StopIteration as none:
        raise json.JSONDecodeError("Expecting value", text, none.value) from None


def _skip(text: str, i: int) -> int:
    return _WHITESPACE.match(text, i).end()  # type: ignore[union-attr]
