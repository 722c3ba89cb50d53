"""The SDK's own checks of a request, as mapsrv's direct path (``mapsrv.mcp.direct``) asks them:
what its ``Accept`` allows, whether a ``tools/call``'s parameters are valid, and what a modern
call's ``_meta`` envelope says of its client. Each is the SDK's function, asked once per value a
client repeats on every call and then remembered (a few hundred values at most); a modern call's
three are asked together (``modern_call``), of the headers read in one pass (``headers_read``).
tests/mcp/test_request_checks.py, tests/mcp/test_result_layout.py and tests/mcp/test_direct.py
hold them to the SDK's."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PARAM_HEADER_PREFIX,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
)
from mcp.types import ClientCapabilities, Implementation
from mcp_types import methods as _methods
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from mapsrv.http.types import Scope

__all__ = ["ModernCall", "headers_read", "modern_call", "params_valid", "takes_json"]

_Model = TypeVar("_Model", bound=BaseModel)
_Key = TypeVar("_Key")
_Value = TypeVar("_Value")
_MOST_KNOWN = 256  # verdicts kept (a client sends the same envelope each time): then forgotten
_LONGEST_KNOWN = 4096  # bytes of what a verdict is kept by (an envelope is ~200)
_known: dict[tuple[str, bool, bytes], bool] = {}
# the headers the SDK's envelope ladder reads (by lowercase name), and all that a modern call's checks read
_ROUTING = tuple(name.lower() for name in (MCP_PROTOCOL_VERSION_HEADER, MCP_METHOD_HEADER, MCP_NAME_HEADER))
_READ = frozenset(name.encode() for name in ("content-type", "accept", *_ROUTING))
_PARAM_HEADER = MCP_PARAM_HEADER_PREFIX.lower().encode()


@dataclass(frozen=True, slots=True)
class ModernCall:
    """What the SDK makes of a 2026-07-28 ``tools/call`` it takes: the envelope's version, and
    what the envelope says of the client, as ``Connection.from_envelope`` reads it: the client's
    name (given only when its info and its capabilities are both well-formed) and its
    capabilities (a mis-shaped value counts as not given, as there). Shared by the calls, which
    only read it."""

    version: str
    reported: str | None  # the client's name
    capabilities: ClientCapabilities | None


_calls: dict[tuple[Any, ...], ModernCall | Literal[False]] = {}


def modern_call(decoded: dict[str, Any], headers: Mapping[str, str]) -> ModernCall | None:
    """What the SDK makes of ``decoded``, a request (a ``tools/call``, its ``params`` an object)
    sent with ``headers`` (by lowercase name, the first of each): None where its envelope ladder
    (``classify_inbound_request``: the routing headers against the body, the ``_meta``
    envelope) or its parameter check (``validate_client_request``, as ``params_valid``) refuses
    it, else the call's version and its client's identity (``ModernCall``). Remembered
    by all that the three read: the method, the parameters but the arguments' values
    (``_rest_of``) and the three routing headers (one key written a call, where each check
    writing its own took 3 % of a small call's server CPU)."""
    params = decoded["params"]
    decide = partial(_decide, decoded, headers)
    rest = _rest_of(params)
    if rest is None:
        made = decide()
    else:
        routing = (headers.get(name) for name in _ROUTING)
        key = (decoded.get("method"), rest, params.get("arguments") is None, *routing)
        made = _remembered(_calls, key, decide, rest)
    return made if isinstance(made, ModernCall) else None


def _decide(decoded: dict[str, Any], headers: Mapping[str, str]) -> ModernCall | Literal[False]:
    """``modern_call`` asked of the SDK: False where it refuses (kept, unlike None)."""
    verdict = classify_inbound_request(decoded, headers=headers)
    if isinstance(verdict, InboundLadderRejection):
        return False
    if not _validates(verdict.protocol_version, decoded["params"]):
        return False
    return ModernCall(verdict.protocol_version, *_identity(verdict.client_info, verdict.client_capabilities))


def params_valid(version: str, params: dict[str, Any]) -> bool:
    """Whether the SDK's ``validate_client_request`` takes these ``tools/call`` parameters for
    ``version``: its verdict, remembered by everything it reads but the arguments' values (the
    arguments are any object, or null: the schema's ``additionalProperties``), the envelope in
    ``_meta`` included, which a client sends alike on every call (its validation was 3 µs of each).
    tests/mcp/test_request_checks.py holds it to the SDK's function for generated parameters."""
    rest = _rest_of(params)
    if rest is None:
        return _validates(version, params)
    key = (version, params.get("arguments") is None, rest)
    return _remembered(_known, key, partial(_validates, version, params), rest)


def _rest_of(params: dict[str, Any]) -> bytes | None:
    """What a verdict on ``params`` is remembered by: the parameters but the arguments, as JSON
    (the arguments are any object, or null, to the SDK's checks). None where they are judged
    afresh: arguments of another type, or what this JSON cannot write (a lone surrogate, values
    nested past its depth; ``json.loads`` took them).

    Written by pydantic-core (0.9 µs for a modern call's envelope, where ``json.dumps`` took
    3.0): two parameters that differ are two texts, so a verdict is never taken for another's.
    NaN and the infinities are written as such (asked for: its ``null`` mode would write them as
    ``None`` is), ``1`` and ``1.0`` and ``true`` apart; tests/mcp/test_request_checks.py holds it
    to ``json.dumps`` for generated parameters."""
    arguments = params.get("arguments")
    if arguments is not None and type(arguments) is not dict:
        return None
    rest = {key: value for key, value in params.items() if key != "arguments"}
    try:
        return to_json(rest, inf_nan_mode="constants")
    except ValueError:  # PydanticSerializationError: a surrogate, the depth
        return None


def _validates(version: str, params: dict[str, Any]) -> bool:
    try:
        _methods.validate_client_request("tools/call", version, params)
    except (KeyError, ValidationError):
        return False
    return True


def _remembered(known: dict[_Key, _Value], key: _Key, make: Callable[[], _Value], text: bytes) -> _Value:
    """``known[key]``, made the first time; ``known`` is emptied once it holds ``_MOST_KNOWN``.
    A key whose ``text`` is longer than ``_LONGEST_KNOWN`` is not kept: a client padding its
    parameters would otherwise pin up to its bodies' size per entry."""
    if len(text) > _LONGEST_KNOWN:
        return make()
    found = known.get(key)
    if found is None:
        if len(known) >= _MOST_KNOWN:
            known.clear()
        found = known[key] = make()
    return found


def _identity(client_info: Any, client_capabilities: Any) -> tuple[str | None, ClientCapabilities | None]:
    """What ``Connection.from_envelope`` makes of the envelope, without making the connection."""
    info = _typed(Implementation, client_info)
    capabilities = _typed(ClientCapabilities, client_capabilities)
    return (info.name if info is not None and capabilities is not None else None), capabilities


def _typed(model: type[_Model], raw: Any) -> _Model | None:
    try:
        return model.model_validate(raw, by_name=False)
    except ValidationError:
        return None


@dataclass(frozen=True, slots=True)
class _Accepting:
    """What ``check_accept_headers`` reads of a request: its ``Accept`` header."""

    headers: Mapping[str, str]


@functools.lru_cache(maxsize=64)
def takes_json(accept: str) -> bool:
    """Whether the SDK's transport takes a request with this ``Accept`` (its first) for one that
    accepts a JSON answer: its own check, asked once per value (a request object and a parse of
    the header each time were 2 µs of every call)."""
    return check_accept_headers(_Accepting({"accept": accept}))[0]  # type: ignore[arg-type]


def headers_read(scope: Scope) -> tuple[dict[str, str], bool] | None:
    """The headers a modern call's checks read, by lowercase name (the first of a repeated one,
    as Starlette reads them), and whether any names an ``Mcp-Param-*`` (the SDK then compares
    them with the arguments); None if a routing header comes twice
    (``find_duplicated_routing_header``: the SDK refuses the call). One pass over the raw
    headers, where decoding them all and looking through them three times was 2 % of a small
    call."""
    headers: dict[str, str] = {}
    param_named = False
    for raw, value in scope["headers"]:
        name = raw.lower()
        if name in _READ:
            key = name.decode()
            if key not in headers:
                headers[key] = value.decode("latin-1")
            elif key in _ROUTING:
                return None
        elif name.startswith(_PARAM_HEADER):
            param_named = True
    return headers, param_named
