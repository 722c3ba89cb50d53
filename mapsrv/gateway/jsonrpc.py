"""Just enough JSON-RPC to route raw lines: read a message's ``id`` and ``method``, and write
the error replies the gateway itself gives. Messages are relayed as the bytes they arrived as.

An id is keyed by its JSON text (``1`` and ``"1"`` are different requests).
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


def peek(data: bytes | str) -> Envelope | None:
    """The routing fields of one message, or None when it is not a JSON-RPC object."""
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
