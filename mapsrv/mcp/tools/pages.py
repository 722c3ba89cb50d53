"""Cursors for the tools whose answers are cut into pages (``find_places``, ``select``).

A cursor is opaque to the agent: the offset of the next page and a fingerprint of the call that
made it, so a cursor given to another search is refused by name rather than paging on through
something else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from mapsrv.errors import InvalidInput

__all__ = ["cursor_for", "read_cursor"]


def cursor_for(offset: int, asked: Any) -> str:
    """The cursor of the page from ``offset`` on of the call whose arguments are ``asked``."""
    raw = json.dumps([offset, _fingerprint(asked)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str | None, asked: Any) -> int:
    """The offset ``cursor`` pages on from (0 for none); refused when it was made by another call."""
    if cursor is None or cursor == "":
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        offset, fingerprint = json.loads(raw)
        valid = isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise InvalidInput(f"cursor {cursor!r:.40} is not one a previous answer gave; leave it out to start")
    if fingerprint != _fingerprint(asked):
        raise InvalidInput(
            "cursor is from another search (its query, place or filters differ); repeat this one"
            " without cursor, or give the same arguments as the call that answered it"
        )
    return int(offset)


def _fingerprint(asked: Any) -> str:
    text = json.dumps(asked, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
