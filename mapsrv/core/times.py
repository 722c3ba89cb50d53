"""Times as a style's time window reads them, in milliseconds since 1970 UTC, by one grammar
that the page's ``static/times.js`` follows to the millisecond, so a feature at a window's end
is inside it in the page, in ``map_image`` and in the counts alike.

- A whole number from 1 to 9999 is a year (``2007``: 2007-01-01T00:00Z), as a table's year
  column holds it; any other number is seconds since 1970, or milliseconds from 1e11 on.
- Text is ISO 8601's calendar forms: ``2007``, ``2007-06``, ``2007-06-30``, then a time with
  ``T`` or a space (``2007-06-30 20:20``, seconds and a fraction optional), then ``Z`` or an
  offset (``+02:00``, ``+0200``). No zone is UTC. A fraction counts to the millisecond
  (truncated); anything else (``June 2007``, ``2007/06/30``) is no time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["is_year", "time_ms", "time_values"]

_ISO_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?",
    re.ASCII,  # as JavaScript's \d: no other script's digits
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_FROM = 1e11  # a number this large or larger is milliseconds (1e11 s is the year 5138)


def is_year(value: Any) -> bool:
    """Whether a number is a year: whole, from 1 to 9999."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
        and 1 <= value <= 9999
    )


def _ms(moment: datetime) -> float:
    delta = moment - _EPOCH
    return float((delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000)


def _offset(zone: str | None) -> timedelta:
    if not zone or zone in "Zz":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    span = timedelta(hours=hours, minutes=minutes)
    return span if zone[0] == "+" else -span


def time_ms(value: Any) -> float | None:
    """``value`` (a number or text, see the module's docstring) in ms since 1970 UTC, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        if is_year(value):
            return _ms(datetime(int(value), 1, 1, tzinfo=UTC))
        return float(value) * 1000 if abs(value) < _MS_FROM else float(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _ISO_RE.fullmatch(value.strip(" \t\n\r"))
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=UTC,
        )  # fmt: skip
        offset = _offset(zone)
    except ValueError:  # 2007-02-30, 25:00, an offset of 99 hours
        return None
    if abs(offset) > timedelta(hours=18):
        return None
    try:
        base = moment - offset
    except OverflowError:  # before the year 1 or after 9999 in UTC
        return None
    return _ms(base) + int((fraction or "")[:3].ljust(3, "0"))


def time_values(prop: str, features: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What a time window can run over: how many different times the features' ``prop`` holds
    (a value, or a per-point list), and the first and last as written."""
    seen: dict[float, Any] = {}
    for props in features:
        value = props.get(prop)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            moment = time_ms(item)
            if moment is not None:
                seen.setdefault(moment, item)
    if not seen:
        return {"count": 0, "note": f"no feature has a time in {prop!r:.64}: each is outside every window"}
    return {"count": len(seen), "first": seen[min(seen)], "last": seen[max(seen)]}
