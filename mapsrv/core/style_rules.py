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
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from mapsrv.core.classify import class_of
from mapsrv.core.json_bytes import dumps_text
from mapsrv.core.model import Feature
from mapsrv.core.numbers import check_spec, format_number
from mapsrv.core.series import props_at
from mapsrv.core.times import time_ms
from mapsrv.errors import InvalidInput

__all__ = [
    "OTHER",
    "color_of",
    "field_of",
    "in_time",
    "label_of",
    "match_filter",
    "number",
    "shown",
    "size_of",
    "legend_spec",
    "over_text",
    "style_counts",
    "window_text",
    "text_of",
]

OTHER = "#999999"
_NUMERIC_RE = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_FIELD_RE = re.compile(r"\{([^{}]{1,64})\}")


def number(value: Any) -> float | None:
    """A property's value as a finite number, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        out = float(value) if not isinstance(value, int) or abs(value) < 2**1000 else math.inf
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
    if isinstance(value, (tuple, list)):  # one per point, or a nested array: as the page's textOf
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, dict):  # a nested object: its JSON text, never a number
        return dumps_text(value)
    return str(value)


def _value(properties: tuple[tuple[str, Any], ...], key: Any) -> Any:
    for name, value in properties:
        if name == key:
            return value
    return None


def field_of(field: str, props: Collection[str] | None = None) -> tuple[str, str]:
    """A template field's property and format spec: ``gdp:,.0f`` is ``("gdp", ",.0f")``; a field
    that is itself a property (``addr:street``), or whose part after its last colon is no spec,
    is a property with no spec."""
    key, colon, spec = field.rpartition(":")
    if not colon or not key or (props is not None and field in props):
        return field, ""
    try:
        return key, check_spec(spec)
    except InvalidInput:
        return field, ""


def _label_text(value: Any, spec: str) -> str:
    """A property's value in a label: a number formatted for people (``mapsrv.core.numbers``),
    by the field's spec when it has one (then a number written as text is formatted too)."""
    if isinstance(value, (tuple, list)):  # one per point, or a nested array: as the page's labels
        return ", ".join(_label_text(v, spec) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return format_number(value, spec)
    if spec and isinstance(value, str) and (found := number(value)) is not None:
        return format_number(found, spec)
    return text_of(value)


def label_of(template: str, props: Mapping[str, Any], label: str = "") -> str:
    """``template`` with each ``{prop}`` (or ``{prop:spec}``, ``{gdp:,.0f}``) replaced by that
    property's text, numbers formatted for people ("" when missing). ``{name}`` and ``{label}``
    without such a property are the feature's own label: an import moves a GeoJSON ``name`` (a
    KML ``<name>``, a GPX ``<name>``) into the label."""

    def field(match: re.Match[str]) -> str:
        key, spec = field_of(match.group(1), props)
        if key not in props and key in ("name", "label"):
            return label
        return _label_text(props.get(key), spec)

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
    times = value if isinstance(value, (tuple, list)) else (value,)
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
    if kind == "proportional" and "color_by" in style:  # coloured by another property's categories
        found = style["categories"].get(text_of(props.get(style["color_by"])))
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


def legend_spec(style: Mapping[str, Any]) -> str:
    """The number format of a style's legend: the one its label template gives the property it
    is styled by (``{share:.1%}``: the legend says 16.5 % - 25.9 % as the labels do), else none
    (``format_number``'s own: 4 significant digits). static/legend.js finds it the same way."""
    by, template = style.get("by"), style.get("label")
    if not isinstance(by, str) or not isinstance(template, str):
        return ""
    for field in _FIELD_RE.findall(template):
        key, spec = field_of(field)
        if key == by and spec:
            return spec
    return ""


def window_text(window: Mapping[str, Any] | None) -> str:
    """A time window as people say it: "2007", "1952 to 2007", "from 2024-05-01"; "" for none."""
    window = window or {}
    start, end = window.get("from"), window.get("to")
    if start is not None and start == end:
        return str(start)
    if start is not None and end is not None:
        return f"{start} to {end}"
    return f"from {start}" if start is not None else f"to {end}" if end is not None else ""


def over_text(style: Mapping[str, Any]) -> str | None:
    """What a style's classes are over, as its legend says it (static/legend.js says the same):
    "classes over 2007", "sizes over the filter's", "classes over all features"; None when it
    has no filter or time window."""
    over = style.get("over")
    if over is None:
        return None
    what = "sizes" if style.get("kind") == "proportional" else "classes"
    if over == "all":
        return f"{what} over all features"
    when = window_text(style.get("time"))
    parts = [p for p in (when, "the filter's" if style.get("filter") else "") if p]
    return f"{what} over {' and '.join(parts)}" if parts else f"{what} over those shown"


def style_counts(style: Mapping[str, Any], features: Iterable[Feature]) -> dict[str, Any]:
    """How many of a layer's features fall in each class now (not stored: features change)."""
    kind = style["kind"]
    by = str(style.get("by") or "")
    hidden = other = 0
    per: Counter[Any] = Counter()
    values: list[Any] = []
    if style.get("filter") is None and style.get("time") is None:  # every feature shows
        values = [_value(f.properties, by) if not f.series else props_at(f, None).get(by) for f in features]
    else:
        for feature in features:
            props = props_at(feature, style.get("time"))
            if shown(style, props):
                values.append(props.get(by))
            else:
                hidden += 1
    if kind == "graduated":  # classed at once: 100,000 values in a few ms
        numbers = [n for v in values if (n := number(v)) is not None]
        edges = style["breaks"]
        if numbers and len(edges) >= 2:
            found = np.clip(np.searchsorted(edges, numbers, side="left") - 1, 0, len(edges) - 2)
            per.update(dict(enumerate(np.bincount(found, minlength=len(edges) - 1).tolist())))
        per[None] = len(values) - len(numbers)
        values = []
    for found in values:
        if kind == "categorical":
            key = text_of(found)
            per[key if key in style["categories"] else None] += 1
        elif kind == "proportional":
            per[None if number(found) is None else 0] += 1
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
