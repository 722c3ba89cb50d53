"""The errors mapsrv reports, drawn once.

    MapsrvError                 500  -32603  internal
    ├── InvalidInput            400  -32602  invalid       a value breaks a rule; the message names it
    │   ├── NothingToUndo       409  -32602  nothing_to_undo  an actor's undo (or redo) stack is empty
    │   ├── CrsNeeded           400  -32602  needs_crs     a GIS file's numbers are in a system it does not
    │   │                                                  name; carries the likely ones (``candidates``)
    │   ├── PayloadTooLarge     413  -32602  too_large     a body, string or collection past its cap
    │   │   └── BodyTooLarge    413  -32602  too_large     a request body past --max-body-size (closes)
    │   └── ParseError          400  -32700  parse_error   a body that is not JSON(-RPC) at all
    ├── NotFound                404  -32002  not_found     unknown, expired or foreign map/feature
    │   └── Gone                410  -32002  gone          a map its owner deleted (its links say so)
    ├── VersionConflict         409  -32010  conflict      expected_version is stale; carries current
    ├── EditConflict            409  -32010  edit_conflict someone else changed the same features since
    │                                                      base_version (or since the change to undo);
    │                                                      carries current and those changes
    ├── Unauthorized            401  -32001  unauthorized  missing or wrong API key
    ├── Forbidden               403  -32003  forbidden     a write from a foreign Origin
    ├── Unavailable             503  -32011  unavailable   over capacity or draining; carries retry_after
    │   └── SourceDown          503  -32011  unavailable   a source from elsewhere known to be unreachable,
    │                                                      answered at once until its retry; carries
    │                                                      the host as given and why (``detail``)
    ├── TooManyRequests         429  -32029  rate_limited  one client or key past its share; carries
    │                                                      retry_after
    └── HttpError               any  -32600  http          a refusal of the request itself: unknown
                                                           host, no such route, wrong method

Every error knows its HTTP status, its JSON-RPC code and the response headers it needs
(``Retry-After``, ``WWW-Authenticate``), so the web and MCP layers report the same failure the same
way: ``mapsrv.http.responses`` is the one place that turns an error into a response. Messages are short,
lowercase, and name the bad value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BodyTooLarge",
    "CrsNeeded",
    "EditConflict",
    "Forbidden",
    "Gone",
    "HttpError",
    "InvalidInput",
    "MapsrvError",
    "NotFound",
    "NothingToUndo",
    "ParseError",
    "PayloadTooLarge",
    "SourceDown",
    "StyleKeyMisfit",
    "Unauthorized",
    "TooManyRequests",
    "Unavailable",
    "VersionConflict",
]


class MapsrvError(Exception):
    status = 500
    jsonrpc_code = -32603
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def headers(self) -> list[tuple[str, str]]:
        """Response headers this error needs besides its body."""
        return []


class InvalidInput(MapsrvError):
    status = 400
    jsonrpc_code = -32602
    code = "invalid"


class StyleKeyMisfit(InvalidInput):
    """A key ``kind`` does not take; ``known`` those it does, in the caller's words (a tool lists
    only its own arguments: ``mapsrv.core.layer_style.style_keys``)."""

    def __init__(self, kind: str, key: str, known: Sequence[str]) -> None:
        self.kind = kind
        super().__init__(
            f"style key must apply to a {kind} style ({', '.join(known)}), got {key!r:.40};"
            " leave it out or pick another kind"
        )
        self.key = key


class CrsNeeded(InvalidInput):
    """A GIS file whose coordinates are not degrees and name no system: the page offers
    ``candidates`` (each ``{"crs": "EPSG:27700", "name": ...}``, the systems whose area of use
    would hold them) to choose from."""

    code = "needs_crs"

    def __init__(
        self, message: str, candidates: list[dict[str, str]], sample: list[tuple[float, float]] | None = None
    ) -> None:
        super().__init__(message)
        self.candidates = candidates[:20]
        self.sample = sample or []  # some of its points as the file has them: the land tells UTM zones apart

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "candidates": self.candidates}


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "too_large"


class BodyTooLarge(PayloadTooLarge):
    """The one answer to a request body past ``--max-body-size``, on every route. The unread rest
    of the body is still on the wire, so the connection cannot carry another request."""

    def __init__(self, limit: int, *, file: bool = False) -> None:
        if file:  # an import's file, whose limit is its own
            super().__init__(
                f"file is larger than {limit} bytes ({limit / 2**20:.0f} MiB), the most this server"
                " imports (MAPSRV_MAX_FILE_SIZE): split it, or export less from where it came"
            )
        else:
            super().__init__(
                f"request body is larger than {limit} bytes, the most this server takes"
                " (MAPSRV_MAX_BODY_SIZE): send less per call"
            )
        self.limit = limit

    def headers(self) -> list[tuple[str, str]]:
        return [("Connection", "close")]


class ParseError(InvalidInput):
    jsonrpc_code = -32700
    code = "parse_error"


class NotFound(MapsrvError):
    status = 404
    jsonrpc_code = -32002
    code = "not_found"


class Gone(NotFound):
    status = 410
    code = "gone"

    def __init__(self, message: str = "this map was deleted by its owner") -> None:
        super().__init__(message)


class VersionConflict(MapsrvError):
    status = 409
    jsonrpc_code = -32010
    code = "conflict"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"map is at version {current}, not {expected}: read it again and retry"
            f" with expected_version={current}"
        )
        self.expected = expected
        self.current = current

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "current_version": self.current}


class EditConflict(MapsrvError):
    """A write based on ``base_version`` (or an undo) touches features or layers that someone else
    changed since. ``changes`` are those changes, each as ``hub.changes_since`` lists them."""

    status = 409
    jsonrpc_code = -32010
    code = "edit_conflict"

    def __init__(self, message: str, current: int, changes: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.current = current
        self.changes = changes

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "current_version": self.current, "changes": self.changes}


class NothingToUndo(InvalidInput):
    status = 409
    code = "nothing_to_undo"


class Unauthorized(MapsrvError):
    status = 401
    jsonrpc_code = -32001
    code = "unauthorized"

    def headers(self) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", 'Bearer realm="mapsrv"')]


class Forbidden(MapsrvError):
    status = 403
    jsonrpc_code = -32003
    code = "forbidden"


class Unavailable(MapsrvError):
    status = 503
    jsonrpc_code = -32011
    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> list[tuple[str, str]]:
        return [("Retry-After", str(self.retry_after))]


class SourceDown(Unavailable):
    def __init__(self, name: str, detail: str, retry_after: int = 1) -> None:
        super().__init__(f"source {name!r:.80} is {detail}; try again then", retry_after)
        self.name, self.detail = name, detail


class TooManyRequests(MapsrvError):
    status = 429
    jsonrpc_code = -32029
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "retry_after": self.retry_after}

    def headers(self) -> list[tuple[str, str]]:
        return [("Retry-After", str(self.retry_after))]


class HttpError(MapsrvError):
    jsonrpc_code = -32600
    code = "http"

    def __init__(
        self, status: int, message: str, *, code: str = "http", headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self._headers = headers

    def headers(self) -> list[tuple[str, str]]:
        return list(self._headers)
