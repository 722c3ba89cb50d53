"""The rules a layer's style by value applies to one feature (``mapsrv.core.layer_style``
checks a style and computes it): its number or text, whether the filter and the time window show
it, its colour, size and label, and a layer's counts per class. The page applies the same rules
(static/style.js).

Values: a number is a JSON number or a string that reads as one ("12.5"); a value's text (for
categories, filters and labels) is a string as it is, true/false, and a whole number without
".0". A graduated value below the first break is in the first class, above the last in the last.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from mapsrv.core.classify import class_of
from mapsrv.core.model import Feature
from mapsrv.core.times import time_ms

__all__ = [
    "OTHER",
    "color_of",
    "in_time",
    "label_of",
    "match_filter",
    "number",
    "shown",
    "size_of",
    "style_counts",
    "text_of",
]

OTHER = "#999999"
_NUMERIC_RE = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_FIELD_RE = re.compile(r"\{([^{}]{1,64})\}")


def number(value: Any) -> float | None:
    """A property's value as a finite number, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        if not _NUMERIC_RE.fullmatch(value):  # as the page's: no "inf", "1_000" or "0x10"
            return None
        out = float(value)
    else:
        return None
    return out if math.isfinite(out) else None


def text_of(value: Any) -> str:
    """A property's value as text: for categories, filters and labels."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(text_of(v) for v in value)
    return str(value)


def _props(feature: Feature) -> dict[str, Any]:
    return dict(feature.properties)


def label_of(template: str, props: Mapping[str, Any], label: str = "") -> str:
    """``template`` with each ``{prop}`` replaced by that property's text ("" when missing).
    ``{name}`` and ``{label}`` without such a property are the feature's own label: an import
    moves a GeoJSON ``name`` (a KML ``<name>``, a GPX ``<name>``) into the label."""

    def field(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in props and key in ("name", "label"):
            return label
        return text_of(props.get(key))

    return _FIELD_RE.sub(field, template)


def match_filter(flt: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """Whether a feature's properties pass a filter. Compared as numbers when both sides are
    numbers, else as text; a missing property passes only ``!=``."""
    value = props.get(flt["property"])
    op, wanted = flt["op"], flt["value"]
    if value is None:
        return bool(op == "!=")
    if op == "in":
        return text_of(value) in {text_of(w) for w in wanted}
    if op == "contains":
        return text_of(wanted) in text_of(value)
    a, b = number(value), number(wanted)
    left: Any = a if a is not None and b is not None else text_of(value)
    right: Any = b if a is not None and b is not None else text_of(wanted)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def in_time(window: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """Whether a feature's time (a value, or any of a per-point list) is inside the window, its
    ends included (``mapsrv.core.times`` reads them all); a feature without a time is outside."""
    value = props.get(window["property"])
    times = value if isinstance(value, tuple | list) else (value,)
    start = time_ms(window.get("from"))
    end = time_ms(window.get("to"))
    for item in times:
        moment = time_ms(item)
        if moment is not None and (start is None or moment >= start) and (end is None or moment <= end):
            return True
    return False


def shown(style: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """Whether the style's filter and time window let a feature show."""
    flt = style.get("filter")
    if flt is not None and not match_filter(flt, props):
        return False
    window = style.get("time")
    return window is None or in_time(window, props)


def color_of(style: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    """The colour the style gives a feature (None: the style sets no colour, as a heatmap)."""
    kind = style["kind"]
    if kind == "graduated":
        value = number(props.get(style["by"]))
        index = None if value is None else class_of(value, style["breaks"])
        return style.get("other", OTHER) if index is None else str(style["colors"][index])
    if kind == "categorical":
        found = style["categories"].get(text_of(props.get(style["by"])))
        return str(found) if found is not None else str(style.get("other", OTHER))
    if kind == "proportional":
        return str(style["color"])
    return None


def size_of(style: Mapping[str, Any], props: Mapping[str, Any]) -> float | None:
    """A proportional circle's radius in px: min_size + (max_size - min_size) *
    sqrt(|value| / max_value), at most max_size; None without a number."""
    value = number(props.get(style["by"]))
    if value is None:
        return None
    top = style["max_value"]
    share = min(abs(value) / top, 1.0) if top > 0 else 1.0
    return float(style["min_size"] + (style["max_size"] - style["min_size"]) * math.sqrt(share))


def style_counts(style: Mapping[str, Any], features: Iterable[Feature]) -> dict[str, Any]:
    """How many of a layer's features fall in each class now (not stored: features change)."""
    kind = style["kind"]
    hidden = other = 0
    per: Counter[Any] = Counter()
    for feature in features:
        props = _props(feature)
        if not shown(style, props):
            hidden += 1
            continue
        if kind == "graduated":
            value = number(props.get(style["by"]))
            index = None if value is None else class_of(value, style["breaks"])
            per[index] += 1
        elif kind == "categorical":
            key = text_of(props.get(style["by"]))
            per[key if key in style["categories"] else None] += 1
        elif kind == "proportional":
            per[None if number(props.get(style["by"])) is None else 0] += 1
        else:
            per[0] += 1
    other = per.pop(None, 0)
    out: dict[str, Any] = {}
    if kind == "graduated":
        edges, colors = style["breaks"], style["colors"]
        out["classes"] = [
            {"from": edges[i], "to": edges[i + 1], "color": colors[i], "count": per[i]}
            for i in range(len(colors))
        ]
    elif kind == "categorical":
        out["classes"] = [{"value": v, "color": c, "count": per[v]} for v, c in style["categories"].items()]
    else:
        out["shown"] = per[0]
    if other:
        out["other"] = other
    if hidden:
        out["hidden"] = hidden
    return out
