"""Nested values in a feature's properties: JSON objects and arrays kept as they came, checked
without recursion on their depth, and told apart from the lists of one scalar per point (a
track's ``times``), which mapsrv holds as tuples. A JSON array that comes from a file as one
value (a Parquet list column's cell) is a ``JsonArray`` until it is checked, so that it is never
read as per-point however long it is; a list that could be misread is named in a feature's JSON
(``misread_lists``), so that it comes back a list from the stores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mapsrv.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MAX_DEPTH",
    "JsonArray",
    "as_arrays",
    "check_nested",
    "check_scalar",
    "misread_lists",
    "per_point",
]

MAX_DEPTH = 16  # objects and arrays inside a nested value, outermost included
_SCALARS = (str, int, float, bool, type(None))


def check_scalar(name: str, value: Any, max_text: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}; give null for none")
    if not isinstance(value, _SCALARS):
        raise InvalidInput(
            f"{name} must be a string, number, boolean, null, object or array,"
            f" got {type(value).__name__} {value!r:.40}; give its text instead"
        )
    if isinstance(value, str) and len(value) > max_text:
        raise PayloadTooLarge(f"{name} must be at most {max_text} characters, got {len(value)}; shorten it")
    return value


def per_point(value: Any, points: int) -> bool:
    """Whether a list value is one scalar per point (a track's times), which mapsrv keeps as a
    tuple and thins with its points, rather than a nested JSON array kept as it came."""
    return 0 < len(value) <= max(points, 1) and all(
        isinstance(v, _SCALARS) and not (isinstance(v, str) and len(v) > 64) for v in value
    )


def check_nested(name: str, value: Any, cap: int) -> Any:
    """A nested JSON value (an object or array, any JSON inside) checked without recursion on
    its depth: at most ``MAX_DEPTH`` deep, string keys, finite numbers, and at most ``cap``
    characters as compact JSON (the size limit a text value has)."""
    size = 2
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping) or isinstance(item, (list, tuple)):
            if depth > MAX_DEPTH:
                raise InvalidInput(
                    f"{name} must nest objects and arrays at most {MAX_DEPTH} deep, got deeper; flatten it"
                )
            if isinstance(item, Mapping):
                for key, inner in item.items():
                    if not isinstance(key, str):
                        raise InvalidInput(
                            f"{name} keys must be strings, got {key!r:.40}; write each key as text"
                        )
                    size += len(key) + 4
                    stack.append((inner, depth + 1))
            else:
                size += len(item) + 2
                stack.extend((inner, depth + 1) for inner in item)
        else:
            check_scalar(name, item, cap)
            size += len(item) if isinstance(item, str) else 5 if item is None else len(repr(item))
        if size > cap:
            raise PayloadTooLarge(
                f"{name} must be at most {cap} characters as JSON, got more; keep the parts that matter"
            )
    return value


class JsonArray(list[Any]):
    """A JSON array that is one value (a Parquet list column's cell), never one value a point."""

    __slots__ = ()


def misread_lists(properties: Sequence[tuple[str, Any]], points: int) -> list[str]:
    """The keys of nested lists (held as lists) that ``per_point`` would take for one value a
    point: a feature's JSON names them, so that they come back as they were."""
    return [k for k, v in properties if type(v) is list and per_point(v, points)]


def as_arrays(properties: Mapping[str, Any], keys: Any) -> Mapping[str, Any]:
    """``properties`` with the lists ``keys`` names (a mapsrv export's ``lists``) as arrays that
    are one value each."""
    if not isinstance(keys, list) or not keys:
        return properties
    return {k: JsonArray(v) if type(v) is list and k in keys else v for k, v in properties.items()}
