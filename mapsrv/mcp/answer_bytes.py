"""A tool call's JSON-RPC answer as the bytes the SDK writes, for mapsrv's direct path
(``mapsrv.mcp.direct``), with its structured content's JSON written once.

Most answers are ``results.answer``'s: structured content, and the same content's compact JSON as
their one text. Written whole, the content is encoded twice (the text already holds it) and
looked through twice more for what may be big (``json_pieces.is_big``): together a tenth of a
small stateless call's server CPU. When the text is known to be that JSON
(``results.written_json``), the answer is written with a mark in the content's place and the text
is put there instead: the same bytes, checked for every tool in both eras by
tests/mcp/test_direct.py. It is used only where it gives exactly what the encoder would:

- a 2026-07-28 answer is ``json.dumps`` with ``ensure_ascii``: the text is put as it is when it
  holds only ASCII and no DEL (``ensure_ascii`` escapes those; the rest is written alike either
  way);
- an answer in a session is pydantic-core's JSON: the text (``json.dumps``'s) is put as it is when
  it holds none of what pydantic-core writes otherwise (``json_bytes.maybe_other``, and a ``null``
  key, which may have been a None one).

The text itself is written apart (a string, escaped as the encoder escapes strings), so that only
the few hundred bytes around the two are written and looked through together. The marks are
random per process and each must be found exactly once (a request id or a text holding one,
made by someone who knew it, is written the long way).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from pydantic_core import to_json

from mapsrv.core import json_bytes
from mapsrv.mcp.result_layout import TextLayout

__all__ = ["modern", "in_session"]

_MARK = secrets.token_hex(16)  # stands for the structured content while the rest is written
_MARK_JSON = f'"{_MARK}"'.encode()
_TEXT = secrets.token_hex(16)  # ... and for its text
_TEXT_JSON = f'"{_TEXT}"'.encode()
_ID = secrets.token_hex(16)  # ... and for the request's id, in an answer written once for a layout
_MARKS = (_ID, _TEXT, _MARK)  # a skeleton's gaps: the id, the text, the structured content


def modern(
    request_id: int | str,
    member: dict[str, Any],
    text: str,
    structured: Any,
    layout: TextLayout | None = None,
) -> bytes | None:
    """The 2026-07-28 answer: ``json.dumps(..., separators=(",", ":"))``'s bytes of the response
    with ``member`` (its ``result`` or ``error``), ``text`` being ``structured``'s JSON; None if
    it cannot be written so (the caller writes it whole, in a worker if it is big). A member that
    ``layout`` filled in (``TextLayout.one_text``) is put together from what was written of the
    first such answer (``_skeleton``): nothing of it is written again."""
    if not text.isascii() or "\x7f" in text:
        return None
    raw = text.encode()
    if layout is not None:
        laid = _laid_out(layout, request_id, member, text, raw, structured)
        if laid is not None:
            return laid
    return _spliced(json_bytes.dumps, _json_string, request_id, member, text, raw, structured)


def _laid_out(
    layout: TextLayout, request_id: int | str, member: dict[str, Any], text: str, raw: bytes, structured: Any
) -> bytes | None:
    """``modern``'s bytes for a member ``layout`` filled in, or None for any other."""
    result = member.get("result")
    if type(result) is not dict or structured is None or result.get("structuredContent") is not structured:
        return None
    if not layout.one_text(result) or result["content"][0]["text"] != text:
        return None
    is_error = result["isError"]
    skeleton = layout.skeletons.get(is_error)
    if skeleton is None:
        skeleton = layout.skeletons[is_error] = _skeleton(result)
    if not skeleton:
        return None
    written_id = str(request_id).encode() if type(request_id) is int else _json_string(request_id)  # type: ignore[arg-type]
    parts = (written_id, _json_string(text), raw)  # in ``_MARKS``' order
    pieces, order = skeleton
    return b"".join(
        (pieces[0], parts[order[0]], pieces[1], parts[order[1]], pieces[2], parts[order[2]], pieces[3])
    )


def _skeleton(result: dict[str, Any]) -> tuple[tuple[bytes, ...], tuple[int, ...]] | tuple[()]:
    """The answer of ``result`` (laid out: ``TextLayout.one_text``) as ``json.dumps`` writes it,
    with marks for its request id, its text and its structured content: the bytes between them,
    and which mark each gap is for (its place in ``_MARKS``), in order; ``()`` if a mark is not
    found exactly once (the server's own stamp would have to hold one)."""
    out = json_bytes.dumps({"jsonrpc": "2.0", "id": _ID, "result": _marked(result)})
    found = []
    for n, mark in enumerate(_MARKS):
        written = f'"{mark}"'.encode()
        if out.count(written) != 1:
            return ()
        found.append((out.index(written), len(written), n))
    found.sort()
    pieces, at = [], 0
    for start, length, _ in found:
        pieces.append(out[at:start])
        at = start + length
    pieces.append(out[at:])
    return tuple(pieces), tuple(n for _, _, n in found)


def in_session(request_id: int | str, member: dict[str, Any], text: str | None, structured: Any) -> bytes:
    """The answer in a session, as the SDK's transport writes it (pydantic-core's ``to_json``)."""
    if text is not None:
        try:
            raw = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: refused below, as before
            raw = b"\x7f"
        if not json_bytes.maybe_other(raw) and b'"null":' not in raw:  # a None key: "None" there
            spliced = _spliced(to_json, to_json, request_id, member, text, raw, structured)
            if spliced is not None:
                return spliced
    return to_json({"jsonrpc": "2.0", "id": request_id, **member})


def _json_string(text: str) -> bytes:
    """``text`` as ``json.dumps`` writes a string (with ``ensure_ascii``): its own string encoder,
    without the call's way through ``JSONEncoder`` (a third of the time on a 1 kB text)."""
    return encode_basestring_ascii(text).encode()


def _spliced(
    write: Callable[[Any], bytes],
    write_text: Callable[[str], bytes],
    request_id: int | str,
    member: dict[str, Any],
    text: str,
    raw: bytes,
    structured: Any,
) -> bytes | None:
    """``write`` of the response with ``raw`` in place of its structured content, which must be
    ``structured`` itself (a result laid out by ``result_layout.TextLayout``, not dumped again),
    and ``write_text(text)`` in place of its one text: the rest, a few hundred bytes, is all
    that is written (and looked through for what the encoders write otherwise) here."""
    result = member.get("result")
    if type(result) is not dict or result.get("structuredContent") is not structured or structured is None:
        return None
    content = result.get("content")
    if type(content) is not list or len(content) != 1 or type(content[0]) is not dict:
        return None
    if content[0].get("text") != text:
        return None
    out = write({"jsonrpc": "2.0", "id": request_id, "result": _marked(result)})
    if out.count(_MARK_JSON) != 1 or out.count(_TEXT_JSON) != 1:
        return None
    return out.replace(_TEXT_JSON, write_text(text)).replace(_MARK_JSON, raw)


def _marked(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (one text, and structured content) with marks for its text and its structured
    content."""
    return {**result, "content": [{**result["content"][0], "text": _TEXT}], "structuredContent": _MARK}
