"""Just enough JSON-RPC to route raw lines: read a message's ``id`` and ``method``, and write
the error replies the gateway itself gives. Messages are relayed as the bytes they arrived as.

An id is keyed by its JSON text (``1`` and ``"1"`` are different requests).

A message over ``LARGE`` bytes is not parsed whole just to route it: parsing 32 MiB costs about
0.1-0.2 s here, twice per call (the request and its answer). Its envelope is read from the plain
members before its first nested value and after its last one, which is where SDKs put
``jsonrpc``, ``id`` and ``method`` (Python's first, the TypeScript SDK's ``id`` last); anything
else falls back to a full parse. So a large message is not checked for JSON validity here (the
server reads it, and answers a malformed one itself), and members between its first and last
nested values are not looked at (a response that also has a ``method`` is invalid JSON-RPC).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Envelope",
    "INTERNAL_ERROR",
    "INVALID_REQUEST",
    "PARSE_ERROR",
    "SERVER_GONE",
    "envelope_of",
    "error_body",
    "error_code",
    "id_from_prefix",
    "peek",
    "restore_id",
    "with_id",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
SERVER_GONE = -32000  # implementation-defined server error: the child is gone or refused


@dataclass(frozen=True)
class Envelope:
    key: str | None  # the id's JSON text; None for a notification
    method: str | None  # None for a response

    @property
    def is_request(self) -> bool:
        return self.key is not None and self.method is not None

    @property
    def is_response(self) -> bool:
        return self.key is not None and self.method is None


LARGE = 64 * 1024


def peek(data: bytes | str) -> Envelope | None:
    """The routing fields of one message, or None when it is not a JSON-RPC object."""
    if len(data) > LARGE and isinstance(data, bytes):
        envelope = _peek_ends(data)
        if envelope is not None:
            return envelope
    try:
        message = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return envelope_of(message)


def envelope_of(message: Any) -> Envelope | None:
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    method = message.get("method")
    if method is not None and not isinstance(method, str):
        return None
    raw_id = message.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (int, str))):
        return None
    if method is None and "id" not in message:
        return None
    return Envelope(None if raw_id is None else json.dumps(raw_id), method)


_SCALAR = rb'(-?\d{1,20}|"[^"\\]{0,256}"|true|false|null)'
_HEAD_MEMBER = re.compile(rb'\s*"([A-Za-z_]{1,16})"\s*:\s*(?:' + _SCALAR + rb"\s*([,}])|([\[{\"]))")
_TAIL_MEMBER = re.compile(rb'([,{])\s*"([A-Za-z_]{1,16})"\s*:\s*' + _SCALAR + rb"\s*$")
_TAIL_WINDOW = 2048


def _peek_ends(data: bytes) -> Envelope | None:
    """The envelope of a large message from its plain leading and trailing members, or None
    when they do not settle it. In valid JSON a member that ends the text just before its last
    ``}`` is a top-level one, as is one that starts just after its first ``{``."""
    start, end = len(data) - len(data.lstrip()), len(data.rstrip()) - 1
    if data[start : start + 1] != b"{" or data[end : end + 1] != b"}":
        return None
    members: dict[bytes, bytes] = {}
    nested: bytes | None = None  # the key of the first member whose value was not read
    whole = False  # every member was read from the front
    pos = start + 1
    while (head := _HEAD_MEMBER.match(data, pos, end + 1)) is not None:
        if head.group(4) is not None:
            nested = head.group(1)
            break
        members[head.group(1)] = head.group(2)
        if head.group(3) == b"}":
            whole = True
            break
        pos = head.end()
    window_start = max(start, end - _TAIL_WINDOW)
    tail_end = end
    while not whole and (tail := _TAIL_MEMBER.search(data, window_start, tail_end)) is not None:
        if tail.group(2) in members:
            return None  # a key twice: let the full parse decide which counts
        members[tail.group(2)] = tail.group(3)
        if tail.group(1) == b"{":
            break
        tail_end = tail.start()
    if members.get(b"jsonrpc") != b'"2.0"' or b"id" not in members:
        return None
    key = _key_of(members[b"id"])
    method = members.get(b"method")
    if key is None or (method is not None and not method.startswith(b'"')):
        return None
    if method is not None:
        try:
            return Envelope(key, method[1:-1].decode())
        except UnicodeDecodeError:
            return None
    return Envelope(key, None) if nested in (b"result", b"error") else None


def _key_of(raw: bytes) -> str | None:
    if raw.startswith(b'"'):
        try:
            return json.dumps(raw[1:-1].decode())
        except UnicodeDecodeError:
            return None
    if raw[:1].isdigit() or raw[:1] == b"-":
        return str(int(raw))
    return None


_ID = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')


def id_from_prefix(prefix: bytes) -> str | None:
    """The id of a message known only by its first bytes (one too long to keep). Responses
    put it first in practice; a nested ``"id"`` before it would mislead, so callers also
    check that the key is one they are waiting for."""
    match = _ID.search(prefix)
    if match is None:
        return None
    try:
        return json.dumps(json.loads(match.group(1)))
    except ValueError:
        return None


def error_body(key: str | None, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    raw_id = "null" if key is None else key
    return b'{"jsonrpc":"2.0","id":%s,"error":%s}' % (raw_id.encode(), json.dumps(error).encode())


def with_id(message: dict[str, Any], new_id: str) -> bytes:
    """A request re-serialised under the gateway's own id (the stateless era's shared children
    see ids that no client chose, so two clients' ids never collide)."""
    return json.dumps({**message, "id": new_id}, ensure_ascii=False, separators=(",", ":")).encode()


def restore_id(answer: bytes, ours: str, theirs: str) -> bytes:
    """The child's answer to ``ours`` under the client's id (``theirs``, as JSON text).

    ``ours`` is an unguessable token that needs no escaping, so when its JSON text occurs once
    in the line that occurrence is the top-level ``id`` (``peek`` already found it there) and
    is spliced; otherwise (a server that echoes the request, or escapes plain ASCII) the answer
    is re-serialised."""
    token = json.dumps(ours).encode()
    if answer.count(token) == 1:
        return answer.replace(token, theirs.encode())
    message = json.loads(answer)
    message["id"] = json.loads(theirs)
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


SMALL = 64 * 1024


def error_code(answer: bytes) -> int | None:
    """The JSON-RPC error code of an answer, or None for a result. Errors are small: a large
    answer is taken for a result without parsing it again."""
    if len(answer) > SMALL:
        return None
    try:
        message = json.loads(answer)
    except ValueError:
        return None
    error = message.get("error") if isinstance(message, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None
