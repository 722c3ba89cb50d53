"""A tool's result on the wire, as the SDK's runner puts it there, for mapsrv's direct path
(``mapsrv.mcp.direct``, issue 47).

The runner dumps a result (``model_dump``), passes the dump through the version's sieve
(``serialize_server_result``: validated against the version's model and dumped again, which
drops what the version does not know and orders the keys) and, for a 2026-07-28 call, stamps it
(``resultType``, ``serverInfo``). ``ResultShapes.exact`` does just that. Most results are plain:
text and structured content (``mapsrv.mcp.tools.results.answer``), for which the sieve gives every
result the same layout, at about a tenth of a small call's instructions. ``TextLayout`` learns that
layout once per version from ``exact`` itself and fills it in; it is used for a version only when
it gives, for probes of every variant of the shape (an error or not, structured content or not,
one text or two), the same keys in the same order as ``exact``. Any other result (an image, a
resource, annotations, ``_meta``, a field the tool set beyond these) takes ``exact``.
tests/mcp/test_direct.py holds the direct path to the SDK's bytes for every tool, and
tests/mcp/test_result_layout.py the layouts to ``exact``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from mcp_types import CORE_RESULT_TYPES, INTERNAL_ERROR, SERVER_INFO_META_KEY
from mcp_types import methods as _methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

__all__ = ["ResultShapes", "TextLayout", "error_member"]

log = logging.getLogger("mapsrv.mcp")

Result = CallToolResult | InputRequiredResult
Shaped = tuple[int, dict[str, Any]]  # the HTTP status, and the JSON-RPC ``result`` or ``error``

# what a result of the plain shape may have set: the rest keeps its default
_PLAIN = frozenset({"content", "structured_content", "is_error"})
_TEXT = frozenset({"type", "text"})
_TEXT_FIRST = ("text", "type")
_FILLED = frozenset({"content", "isError", "structuredContent"})  # the rest is the same for all


class ResultShapes:
    """Results on the wire for each protocol version, with the server's ``serverInfo`` stamp."""

    def __init__(self, stamp: dict[str, Any]) -> None:
        self.stamp = stamp
        self._layouts: dict[str, TextLayout | None] = {}  # by version, learned on first use

    def layout(self, version: str) -> TextLayout | None:
        """The layout of ``version``'s plain results, once learned."""
        return self._layouts.get(version)

    def __call__(self, version: str, result: Result) -> Shaped:
        """``result`` for ``version``: laid out directly when it is plain, else ``exact``."""
        if version not in self._layouts:
            self._layouts[version] = TextLayout.learn(lambda probe: self.exact(version, probe))
        layout = self._layouts[version]
        if layout is not None and TextLayout.fits(result):
            return 200, {"result": layout.fill(result)}  # type: ignore[arg-type]
        return self.exact(version, result)

    def exact(self, version: str, result: Result) -> Shaped:
        """``result`` as ``ServerRunner._serialize`` shapes it for ``version``: a modern answer's
        claimed ``resultType`` passes the sieve, and it gets ``resultType`` and the stamp."""
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        kind = dumped.get("resultType")
        modern = version in MODERN_PROTOCOL_VERSIONS
        if not modern or not isinstance(kind, str) or kind in CORE_RESULT_TYPES:
            try:
                dumped = _methods.serialize_server_result("tools/call", version, dumped)
            except ValidationError:
                log.exception("handler for 'tools/call' returned an invalid result")
                invalid = {"code": INTERNAL_ERROR, "message": "Handler returned an invalid result"}
                return error_member(INTERNAL_ERROR, invalid)
        if not modern:
            return 200, {"result": dumped}
        if dumped.get("resultType") is None:
            dumped["resultType"] = "complete"
        meta = dumped.get("_meta")
        if meta is None:
            dumped["_meta"] = {SERVER_INFO_META_KEY: self.stamp}
        elif isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None:
            dumped["_meta"] = {**meta, SERVER_INFO_META_KEY: self.stamp}
        return 200, {"result": dumped}


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Where a version puts a plain result's parts: its keys in order, a text item's keys in
    order, and what every such result carries alike (``resultType``, the server's stamp)."""

    keys: tuple[str, ...]
    text_keys: tuple[str, ...]
    alike: dict[str, Any]
    # what ``mapsrv.mcp.answer_bytes`` wrote once of the answers laid out so, by their parts
    skeletons: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def learn(cls, exact: Callable[[Result], Shaped]) -> TextLayout | None:
        """The layout ``exact`` gives plain results, or None if it does not give all of them
        one layout."""
        probes = [
            CallToolResult(content=[TextContent(type="text", text=text) for text in texts], **more)
            for texts in (["a"], ["a", "b"])
            for more in ({}, {"is_error": True}, {"structured_content": {"k": [1, 2.5, None]}})
        ]
        status, member = exact(probes[-1])
        result = member.get("result")
        if status != 200 or not isinstance(result, dict) or not isinstance(result.get("content"), list):
            return None
        text_keys = tuple(result["content"][0])
        if set(text_keys) != _TEXT:
            return None
        layout = cls(tuple(result), text_keys, {k: v for k, v in result.items() if k not in _FILLED})
        for probe in probes:
            if _ordered(exact(probe)) != _ordered((200, {"result": layout.fill(probe)})):
                return None
        return layout

    @staticmethod
    def fits(result: Result) -> bool:
        """Whether ``result`` is plain: texts and structured content, and nothing else set."""
        if type(result) is not CallToolResult or not result.model_fields_set <= _PLAIN or result.model_extra:
            return False
        structured = result.structured_content
        if structured is not None and type(structured) is not dict:
            return False
        return all(
            type(item) is TextContent and item.model_fields_set <= _TEXT and not item.model_extra
            for item in result.content
        )

    def fill(self, result: CallToolResult) -> dict[str, Any]:
        """A plain result, laid out as ``exact`` lays it out."""
        out: dict[str, Any] = {}
        for key in self.keys:
            if key == "content":
                out[key] = [self._text(item) for item in result.content]  # type: ignore[arg-type]
            elif key == "isError":
                out[key] = result.is_error
            elif key == "structuredContent":
                if result.structured_content is not None:
                    out[key] = result.structured_content
            else:
                out[key] = self.alike[key]
        return out

    def one_text(self, out: dict[str, Any]) -> bool:
        """Whether ``out`` is what ``fill`` made of a result with structured content and one
        text: this layout's keys, what every result carries alike (the same objects), one text
        item and a boolean ``isError``; its parts are then the request's alone."""
        if tuple(out) != self.keys or type(out.get("isError")) is not bool:
            return False
        alike = self.alike
        if any(out[key] is not value for key, value in alike.items()):
            return False
        content = out.get("content")
        if type(content) is not list or len(content) != 1 or type(content[0]) is not dict:
            return False
        return tuple(content[0]) == self.text_keys and content[0]["type"] == "text"

    def _text(self, item: TextContent) -> dict[str, Any]:
        if self.text_keys == _TEXT_FIRST:  # as the SDK's sieve orders them: no lookup per key
            return {"text": item.text, "type": "text"}
        parts = {"type": "text", "text": item.text}
        return {key: parts[key] for key in self.text_keys}


def error_member(code: int, error: dict[str, Any]) -> Shaped:
    """A JSON-RPC error, with the HTTP status the SDK gives its code."""
    return ERROR_CODE_HTTP_STATUS.get(code, 200), {"error": error}


def _ordered(answer: Shaped) -> str:
    """An answer as text: two answers are the same, keys in the same order, when these are."""
    return json.dumps(answer)
