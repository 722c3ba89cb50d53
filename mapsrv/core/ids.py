"""Map ids, view keys and user ids: capabilities, 128 random bits each (``hub.new_token`` makes
them). What one looks like, and how a map is named where its id must not appear (logs, traces)."""

from __future__ import annotations

import hashlib
import re

__all__ = ["looks_like_token", "map_ref"]

# token_urlsafe(16) is 22 characters; a little room either side for ids made by older versions
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,64}")


def looks_like_token(value: str) -> bool:
    """Whether ``value`` has the shape of an id, key or user token (checked before any look-up,
    so a path or cookie of another shape never reaches the hub)."""
    return _TOKEN.fullmatch(value) is not None


def map_ref(map_id: str) -> str:
    """A stable, non-secret name for a map in logs and traces."""
    return hashlib.sha256(map_id.encode()).hexdigest()[:12]
