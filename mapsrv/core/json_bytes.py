"""Compact JSON exactly as ``json.dumps`` writes it, at the speed of pydantic-core's encoder.

The SDK writes a 2026-07-28 answer with ``json.dumps(body, separators=(",", ":"))``, and mapsrv's
direct path writes the same bytes (tests/mcp/test_direct.py). ``json.dumps`` was a tenth of a
small tool call's server CPU (docs/benchmarks.md "Round five"); pydantic-core's ``to_json`` takes
about a third of its time and writes the same text for the JSON types, with these exceptions
(found by the property test in tests/core/test_json_bytes.py):

- a float below 1e-4 in magnitude: ``repr`` writes ``1e-05`` and ``1.5e-07``, pydantic-core
  ``0.00001`` and ``1.5e-7``;
- DEL (0x7f), which ``json.dumps`` escapes as ``\\u007f`` under ``ensure_ascii`` and pydantic-core
  writes as it is;
- a ``None`` key (``"null"`` against ``"None"``);
- a lone surrogate, which pydantic-core refuses.

``dumps`` takes pydantic-core's bytes unless they hold something that may be one of these (or only
looks like one, inside a string: then ``json.dumps`` writes it, a little slower, never different).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from threading import get_ident
from typing import Any

from mapsrv.core.json_pieces import in_pieces, is_big

__all__ = ["dumps", "dumps_finite", "dumps_text", "maybe_other"]

_DIGITS = frozenset(b"0123456789")
# Writing in pieces lets a worker thread give the interpreter back to the event loop between
# them; on the loop's own thread (the main one, where mapsrv runs trio) it gives way to nothing the
# loop waits for, and looking for a big list first (``is_big``) was 3 % of a small tool call's
# server CPU: there a value is written in one call. A loop run in another thread writes in
# pieces, as before.
_LOOP_THREAD = threading.main_thread().ident
_ASCII = json.JSONEncoder(separators=(",", ":"))
_UNICODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_FINITE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> bytes:
    """``json.dumps(value, separators=(",", ":")).encode()``: the same bytes, non-ASCII escaped;
    in a worker thread, a big list in it item by item (``json_pieces``, ``_LOOP_THREAD``)."""
    if get_ident() != _LOOP_THREAD and is_big(value):
        return in_pieces(lambda v: _dumps(v).decode(), value).encode()
    return _dumps(value)


@functools.cache
def _pydantic() -> tuple[Callable[..., bytes], type[Exception]]:
    """pydantic-core's encoder and its refusal, imported at the first use: a file's reader
    process, which never writes JSON this way, is 6 MB smaller without it (issue 78)."""
    from pydantic_core import PydanticSerializationError, to_json

    return to_json, PydanticSerializationError


def _dumps(value: Any) -> bytes:
    to_json, refused = _pydantic()
    try:
        out = to_json(value, ensure_ascii=True)
    except refused:
        out = None
    if out is None or maybe_other(out):
        return _ASCII.encode(value).encode()
    return out


def dumps_text(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``: the same text; in a worker
    thread, a big list in it item by item (``json_pieces``, ``_LOOP_THREAD``)."""
    return _whole_or_in_pieces(_dumps_text, value)


def _dumps_text(value: Any) -> str:
    return _text(value, {}, maybe_other, _UNICODE)


def dumps_finite(value: Any) -> str:
    """Compact JSON of the same values as ``json.dumps(value, ensure_ascii=False,
    allow_nan=False)``, refusing NaN and infinities with its ``ValueError`` (they are not JSON):
    the events' and the stores' text (``mapsrv.core.codec``), which is parsed, never compared as
    bytes. Unlike ``dumps_text``, a float below 1e-4 may be written in its other form (``1e-7``,
    ``0.00001``: the same number), so a country file's outlines, where one such coordinate is
    enough to send ``dumps_text`` the slow way, take a third of the time. In a worker thread, a
    big list in it item by item (``json_pieces``, ``_LOOP_THREAD``)."""
    return _whole_or_in_pieces(_dumps_finite, value)


def _whole_or_in_pieces(encode: Callable[[Any], str], value: Any) -> str:
    """``encode(value)`` in one call on the loop's thread, else in pieces (``_LOOP_THREAD``)."""
    return encode(value) if get_ident() == _LOOP_THREAD else in_pieces(encode, value)


def _dumps_finite(value: Any) -> str:
    return _text(value, {"inf_nan_mode": "constants"}, _not_finite, _FINITE)


def _not_finite(out: bytes) -> bool:
    """Whether pydantic-core wrote a NaN or an infinity (``json`` refuses them) or a None key."""
    return b"NaN" in out or b"Infinity" in out or b'"None":' in out


def _text(
    value: Any, options: dict[str, Any], differs: Callable[[bytes], bool], fallback: json.JSONEncoder
) -> str:
    """pydantic-core's text of ``value`` unless ``differs`` finds in it what ``fallback`` (the
    standard library's encoder: it raises for NaN when told to) writes otherwise."""
    to_json, refused = _pydantic()
    try:
        out = to_json(value, **options)
    except refused:
        out = None
    if out is None or differs(out):
        return fallback.encode(value)
    return out.decode()


def maybe_other(out: bytes) -> bool:
    """Whether ``out`` may differ from ``json.dumps``'s text: it holds the decimal form of a float
    below 1e-4, DEL, a None key or a negative exponent (a digit, then ``e-``). Substring searches,
    not a regular expression: one with these alternatives took 13 µs on a 1 kB answer, these 3."""
    if b"0.0000" in out or b"\x7f" in out or b'"None":' in out:
        return True
    at = out.find(b"e-")
    while at >= 0:
        if at and out[at - 1] in _DIGITS:
            return True
        at = out.find(b"e-", at + 2)
    return False
