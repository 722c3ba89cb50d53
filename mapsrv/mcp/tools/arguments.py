"""A tool's arguments: the model built from its signature, its JSON schema, and validation whose
errors teach.

The SDK would validate arguments with pydantic and answer with pydantic's text (and silently drop
an unknown argument such as ``name`` for ``label``). mapsrv validates them itself, so that every
error names the argument, the value given, the valid range or form and what to do, and an unknown
argument is refused with the list of known ones.
"""

from __future__ import annotations

import difflib
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from mapsrv.errors import InvalidInput
from mapsrv.mcp.tools.schema import lean

__all__ = ["Arguments", "explain", "suggest", "unknown"]

# Words models reach for, and the argument they meant.
_SYNONYMS = {
    "name": "label",
    "text": "label",
    "tooltip": "label",
    "description": "popup",
    "colour": "color",
    "kind": "type",
    "coords": "at",
    "coordinates": "at",
    "center": "at",
    "location": "at",
    "place": "at",
    "radius": "radius_m",
    "features": "items",
    "path": "points",
    "feature_ids": "ids",
    "feature_id": "id",
}


def suggest(name: str, known: list[str]) -> str:
    """``" (did you mean 'label'?)"`` for a likely intended argument, else ``""``."""
    meant = _SYNONYMS.get(name.lower())
    if meant not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        meant = close[0] if close else None
    return f" (did you mean {meant!r}?)" if meant else ""


def unknown(where: str, name: str, known: list[str]) -> InvalidInput:
    """An unknown argument or field, refused with the known ones."""
    return InvalidInput(
        f"{where} has no argument {name!r:.40}{suggest(name, known)}; use one of: {', '.join(known)}"
    )


_FORMS = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
}


def explain(error: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """One pydantic error as mapsrv says it: ``field must be FORM, got VALUE; what to do``."""
    loc = [str(part) for part in error["loc"]]
    field = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
    prop = schema.get("properties", {}).get(loc[0], {})
    about = prop.get("description", "")
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"{field} is required, got none; add it" + (f" ({about})" if about else "")
    if kind in _FORMS:
        form = _FORMS[kind]
    elif kind == "literal_error":
        form = f"one of {ctx.get('expected', '')}"
    elif kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length", ctx.get("max_length"))
        form = f"{bound} {limit} {'characters' if prop.get('type') == 'string' else 'items'}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        form = str(error["msg"]).lower().replace("input should be ", "")
    else:
        form = str(error["msg"]).lower().replace("input should be ", "")
    hint = f"; {about}" if about else "; fix it and call again"
    return f"{field} must be {form}, got {error.get('input')!r:.60}{hint}"


def _takes_text(annotation: Any) -> bool:
    """Whether an argument is text (a file's content, a search string): JSON-looking text sent
    for it is meant as text, not as a list or object sent as text."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is str or (
        typing.get_origin(annotation) in (typing.Union, types.UnionType)
        and str in typing.get_args(annotation)
    )


@dataclass(frozen=True)
class Arguments:
    """The arguments of ``function(tc, ...)``: their model (unknown ones refused) and schema."""

    tool: str
    model: type[BaseModel]
    schema: dict[str, Any]
    types: dict[str, Any]

    @classmethod
    def of(cls, function: Callable[..., Any], name: str = "") -> Arguments:
        signature = inspect.signature(function, eval_str=True)
        _, *parameters = signature.parameters.values()
        fields: dict[str, Any] = {
            p.name: (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
            for p in parameters
        }
        model = create_model(
            f"{function.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        schema = lean(model.model_json_schema())
        schema["additionalProperties"] = False
        return cls(name or function.__name__, model, schema, {p.name: p.annotation for p in parameters})

    @property
    def names(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments to call the tool with, or an InvalidInput that says how to fix them."""
        for name in raw:
            if name not in self.types:
                raise unknown(self.tool, name, self.names)
        try:
            parsed = self.model.model_validate(self._unquoted(raw))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            text = "; and ".join(explain(error, self.schema) for error in errors[:3])
            raise InvalidInput(text) from None
        return {name: getattr(parsed, name) for name in self.types}

    def _unquoted(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        # Some clients send lists and objects as JSON text ('[[1, 2], [3, 4]]'): read them as the
        # SDK would.
        out = dict(raw)
        for name, value in raw.items():
            if isinstance(value, str) and value[:1] in ("[", "{") and not _takes_text(self.types[name]):
                try:
                    out[name] = json.loads(value)
                except ValueError:
                    pass
        return out
