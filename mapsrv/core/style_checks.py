"""The checks of a style's parts an agent gives (``mapsrv.core.layer_style``): a property's name,
a number of classes, a filter and a time window, each refused with what was wrong and what to do."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mapsrv.core.colorbrewer import MAX_CLASSES, MIN_CLASSES
from mapsrv.core.times import time_ms
from mapsrv.errors import InvalidInput

__all__ = ["FILTER_OPS", "check_classes", "check_filter", "check_property", "check_time", "instant"]

FILTER_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "contains")
_PROPERTY_RE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


def instant(name: str, value: Any) -> float:
    moment = time_ms(value)
    if moment is None:
        raise InvalidInput(
            f"{name} must be a year, a date or an ISO 8601 time, got {value!r:.40};"
            " e.g. 2007, '2007-06-30' or '2024-05-01T08:00:00Z'"
        )
    return moment


def check_property(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _PROPERTY_RE.fullmatch(value):
        raise InvalidInput(
            f"{name} must be a property name (1-64 characters), got {value!r:.40}; read lists the properties"
        )
    return value


def check_classes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise InvalidInput(
            f"classes must be a whole number from {MIN_CLASSES} to {MAX_CLASSES}, got {value!r:.20}; e.g. 5"
        )
    if not MIN_CLASSES <= value <= MAX_CLASSES:
        raise InvalidInput(
            f"classes must be from {MIN_CLASSES} to {MAX_CLASSES}, got {value:g}; pick a number in that range"
        )
    return int(value)


def check_filter(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) - {"property", "op", "value"} or "property" not in value:
        raise InvalidInput(
            f'filter must be {{"property", "op", "value"}}, got {value!r:.60};'
            ' e.g. {"property": "type", "op": "==", "value": "cafe"}'
        )
    op = value.get("op", "==")
    if op not in FILTER_OPS:
        raise InvalidInput(
            f"filter op must be one of {' '.join(FILTER_OPS)}, got {op!r:.20}; pick one of those"
        )
    wanted = value.get("value")
    scalar = (str, int, float, bool)
    if op == "in":
        if not isinstance(wanted, (list, tuple)) or not 0 < len(wanted) <= 100:
            raise InvalidInput(
                f"filter value must be a list of 1-100 values for 'in', got {wanted!r:.40};"
                " e.g. ['cafe', 'bar']"
            )
        if not all(isinstance(w, scalar) for w in wanted):
            raise InvalidInput(
                f"filter value must list strings or numbers, got {wanted!r:.40}; e.g. ['cafe', 'bar']"
            )
        wanted = list(wanted)
    elif not isinstance(wanted, scalar) or (isinstance(wanted, str) and len(wanted) > 200):
        raise InvalidInput(
            f"filter value must be a string or number (at most 200 characters) for {op!r},"
            f" got {wanted!r:.40}; e.g. 'cafe' or 1000"
        )
    return {"property": check_property("filter property", value["property"]), "op": op, "value": wanted}


def check_time(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) - {"property", "from", "to"}:
        raise InvalidInput(
            f'time must be {{"property", "from", "to"}}, got {value!r:.60};'
            ' e.g. {"property": "time", "from": "2024-05-01T08:00:00Z"}'
        )
    out: dict[str, Any] = {"property": check_property("time property", value.get("property", "time"))}
    for key in ("from", "to"):
        if value.get(key) is not None:
            instant(f"time {key}", value[key])
            out[key] = value[key]
    if "from" in out and "to" in out and instant("time from", out["from"]) > instant("time to", out["to"]):
        raise InvalidInput(
            f"time from must be at most time to, got from {out['from']} after to {out['to']}; swap them"
        )
    return out
