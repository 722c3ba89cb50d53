"""Styles by value: a layer's features coloured, sized or labelled from their properties.

A layer's ``style`` is a JSON object (the layer JSON in docs/protocol.md): ``kind`` graduated
(a number in classes), categorical (a value to a colour), proportional (circles sized by a
number) or heatmap, with an optional label template, filter and time window. ``check_layer_style``
validates what a caller asked for and computes what follows from the layer's features when the
style is set (breaks, colours, categories, ``max_value``); features added later are classified by
what is stored, by the rules of ``mapsrv.core.style_rules`` (re-exported here), which the page
(static/style.js) and the image (``mapsrv.image.styling``) apply too.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from mapsrv.core.classify import METHODS, breaks, manual_breaks
from mapsrv.core.colorbrewer import MAX_CLASSES, MIN_CLASSES, QUALITATIVE, RAMPS, palette
from mapsrv.core.layer_properties import numbers_of, property_names, require_property, values_of
from mapsrv.core.model import Feature
from mapsrv.core.numbers import SPEC_EXAMPLES, SPEC_FORMS, reference_values
from mapsrv.core.series import at_time, props_at, rows_of
from mapsrv.core.style import check_color
from mapsrv.core.style_checks import (
    FILTER_OPS,
    check_classes,
    check_filter,
    check_property,
    check_time,
)
from mapsrv.core.style_rules import (
    OTHER,
    color_of,
    field_of,
    in_time,
    label_of,
    legend_spec,
    match_filter,
    number,
    over_text,
    shown,
    size_of,
    style_counts,
    text_of,
    window_text,
)
from mapsrv.core.values import check_number
from mapsrv.errors import InvalidInput, StyleKeyMisfit

__all__ = [
    "FILTER_OPS",
    "KINDS",
    "check_layer_style",
    "color_of",
    "in_time",
    "label_of",
    "match_filter",
    "legend_spec",
    "number",
    "over_text",
    "shown",
    "size_of",
    "style_counts",
    "style_keys",
    "text_of",
    "window_text",
]

KINDS = ("graduated", "categorical", "proportional", "heatmap")
MAX_CATEGORIES = 50
MAX_TEMPLATE = 200
_COMMON = {"kind", "by", "label", "filter", "time", "over"}
OVER = ("shown", "all")  # classes over the features the filter and window show, or over all
_COLOR_BY = {"color_by", "categories", "ramp", "other"}  # a proportional style coloured by categories
_KEYS: dict[str, set[str]] = {  # heat: a heat map of the layer's points under them too
    "graduated": _COMMON | {"method", "classes", "ramp", "colors", "breaks", "other", "heat"},
    "categorical": _COMMON | {"categories", "ramp", "other", "heat"},
    "proportional": _COMMON
    | {"min_size", "max_size", "max_value", "color", "legend_values", "heat"}
    | _COLOR_BY,
    "heatmap": _COMMON | {"radius", "weight"},
}
_ALL_KEYS = sorted(set().union(*_KEYS.values()))
MAX_LEGEND_VALUES = 5
_FIELD_RE = re.compile(r"\{([^{}]*)\}")


def style_keys(kind: str) -> frozenset[str]:
    """The keys a style of ``kind`` takes."""
    return frozenset(_KEYS[kind])


def _guess_kind(raw: Mapping[str, Any], features: Sequence[Feature]) -> str:
    if "by" not in raw:
        return "heatmap" if "weight" in raw or "radius" in raw else "graduated"
    if {"min_size", "max_size", "max_value", "legend_values"} & set(raw):
        return "proportional"
    if {"method", "classes", "breaks", "colors"} & set(raw):
        return "graduated"
    values = values_of(features, str(raw["by"]))
    text = sum(1 for v in values if number(v) is None)
    # text in most values: categories; a few ("n/a" in a table of numbers) are drawn as other
    return "categorical" if "categories" in raw or (values and text * 2 >= len(values)) else "graduated"


def check_layer_style(raw: Any, features: Sequence[Feature], layer: str = "") -> dict[str, Any]:
    """A style as it is stored, from what a caller asked (``raw``) and the layer's features now
    (a place's rows by time count as rows: its values at every time; ``mapsrv.core.series``)."""
    shapes, features = features, [row for f in features for row in rows_of(f)]
    if not isinstance(raw, Mapping):
        raise InvalidInput(f'style must be an object, got {type(raw).__name__}; e.g. {{"by": "population"}}')
    kind = raw.get("kind") or _guess_kind(raw, features)
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r:.40}; pick one of those")
    if kind == "proportional" and raw.get("colors") is not None and raw.get("color") is None:
        raw = {**raw, "color": _one_color(raw["colors"]), "colors": None}  # the tool has colors only
    unknown = [k for k in raw if k not in _KEYS[kind] and raw[k] is not None]
    if unknown:
        raise StyleKeyMisfit(kind, unknown[0], [k for k in _ALL_KEYS if k in _KEYS[kind]])
    out: dict[str, Any] = {"kind": kind}
    if kind != "heatmap" or raw.get("by") is not None:
        if raw.get("by") is None:
            raise InvalidInput(f"by must name the property a {kind} style reads, got none; e.g. 'population'")
        out["by"] = check_property("by", raw["by"])
    window: dict[str, Any] = {}  # the filter and the time window: classes are over what they show
    if raw.get("filter") is not None:
        window["filter"] = check_filter(raw["filter"])
        if features:
            require_property(features, window["filter"]["property"], "filter property", layer)
    if raw.get("time") is not None:
        window["time"] = check_time(raw["time"])
        by = window["time"]["property"]  # a place's rows by time are shown by its own times
        if held := next((f.series for f in shapes if f.series and f.series != by), ""):
            raise InvalidInput(
                f"time property must be {held!r:.40}, the times the places of layer {layer!r:.64} hold their"
                f" rows by, got {by!r:.40}; pass property {held!r:.40}"
            )
    pool = _over(raw.get("over"), shapes, window, layer)
    if kind == "graduated":
        _graduated(raw, pool, layer, out)
    elif kind == "categorical":  # every value's colour, which stays as the window moves
        _categorical(raw, features, layer, out, out["by"])
    elif kind == "proportional":
        _proportional(raw, pool, layer, out)
        if raw.get("color_by") is not None:  # sized by one property, coloured by another's categories
            out["color_by"] = check_property("color_by", raw["color_by"])
            _categorical(raw, features, layer, out, out["color_by"])
    else:
        out["radius"] = check_number("radius", raw.get("radius", 25), 1, 200)
        weight = raw.get("weight", out.get("by"))
        if weight is not None:
            out["weight"] = out["by"] = check_property("weight", weight)
            if features:
                numbers_of(features, out["weight"], layer, "weight")
    if raw.get("heat") not in (None, False, True):
        raise InvalidInput(
            f"heat must be true or false, got {raw['heat']!r:.40}; true draws a heat map under"
        )
    if raw.get("heat"):
        out["heat"] = True
    if raw.get("label") is not None:
        out["label"] = _check_label(raw["label"], features, layer)
    out.update(window)
    if window and kind in ("graduated", "proportional"):
        out["over"] = raw.get("over") or "shown"
    return out


def _one_color(colors: Any) -> Any:
    """Proportional circles' one colour, given as ``colors`` (the argument ``style_layer`` has)."""
    if not isinstance(colors, (list, tuple)) or len(colors) != 1:
        raise InvalidInput(
            f'colors must be one colour for proportional circles, got {colors!r:.60}; e.g. ["#3182bd"]'
        )
    return colors[0]


def _over(over: Any, features: Sequence[Feature], window: Mapping[str, Any], layer: str) -> Sequence[Feature]:
    """The features a style's classes (or sizes) are computed over: those its filter and time
    window show (``over`` "shown", the default: the breaks of 2007 are 2007's), or all of them."""
    if over is not None and over not in OVER:
        raise InvalidInput(f"over must be one of {', '.join(OVER)}, got {over!r:.40}; pick one of those")
    if over == "all" or not features:
        return [row for f in features for row in rows_of(f)]
    if not window:  # a place's row at its latest time, as drawn
        return [at_time(f, None) for f in features]
    found = [
        at_time(f, window.get("time")) for f in features if shown(window, props_at(f, window.get("time")))
    ]
    if not found:
        what = " and ".join(k if k == "filter" else "time window" for k in window)
        verb = "show" if len(window) > 1 else "shows"
        raise InvalidInput(
            f"the {what} {verb} none of the {len(features)} features of layer {layer!r:.64}, and classes"
            " are computed over what is shown; widen it, or pass over 'all' for classes over every feature"
        )
    return found


def _check_label(template: Any, features: Sequence[Feature], layer: str) -> str:
    """A label template: each ``{prop}`` or ``{prop:spec}`` names a property some feature has
    (or the feature's own name or label), its spec one ``format_number`` knows."""
    if not isinstance(template, str) or not 0 < len(template) <= MAX_TEMPLATE:
        raise InvalidInput(
            f"label must be a template of 1-{MAX_TEMPLATE} characters, got {template!r:.40};"
            " e.g. '{name} ({population:,.0f})'"
        )
    names = set(property_names(features))
    for field in _FIELD_RE.findall(template):
        key, spec = field_of(field, names)
        if ":" in field and not spec and field not in names:
            prop, _, bad = field.rpartition(":")
            if prop in names or not features:
                raise InvalidInput(
                    f"label field {{{field:.64}}} has format spec {bad!r:.20}; it must be {SPEC_FORMS},"
                    f" {SPEC_EXAMPLES}"
                )
        if features and key not in names and key not in ("name", "label"):
            require_property(features, key, f"label field {{{field:.64}}}", layer)
    return template


def _graduated(raw: Mapping[str, Any], features: Sequence[Feature], layer: str, out: dict[str, Any]) -> None:
    given = raw.get("breaks")
    method = raw.get("method", "manual" if given is not None else "quantiles")
    if method not in METHODS:
        raise InvalidInput(
            f"method must be one of {', '.join(METHODS)}, got {method!r:.40}; pick one of those"
        )
    if (given is not None) != (method == "manual"):
        raise InvalidInput(
            f"breaks go with method manual, got method {method!r} and"
            f" {'breaks' if given is not None else 'no breaks'}; give breaks (e.g. [0, 10, 100])"
            " with method manual, or leave breaks out to compute them"
        )
    if method == "std_mean" and raw.get("classes") is not None:
        raise InvalidInput(
            f"classes must be left out for method std_mean, got {raw['classes']!r:.20}; its classes"
            " are at -2, -1, +1 and +2 standard deviations from the mean"
        )
    ramp = raw.get("ramp", "YlOrRd")
    if ramp in QUALITATIVE:
        raise InvalidInput(
            f"ramp must be sequential or diverging for classes, got {ramp!r} (for categories); e.g. YlOrRd"
        )
    colors = raw.get("colors")
    if given is not None:
        edges = manual_breaks(_manual_numbers(features, out["by"], layer), _check_breaks(given))
        if len(edges) > len(given) and colors is not None:
            raise InvalidInput(
                f"breaks must reach the largest value, got breaks up to {given[-1]:g} and values up to"
                f" {edges[-1]:g}; end the breaks at {edges[-1]:g} or above, or give"
                f" {len(edges) - 1} colors"
            )
        if len(edges) - 1 > MAX_CLASSES:
            raise InvalidInput(
                f"breaks must make at most {MAX_CLASSES} classes, got {len(edges) - 1} (values reach"
                f" {edges[-1]:g}, above the last break); end the breaks at {edges[-1]:g} or above"
            )
    else:
        classes = check_classes(raw.get("classes", len(colors) if isinstance(colors, (list, tuple)) else 5))
        edges = breaks(numbers_of(features, out["by"], layer), str(method), classes)
    n = len(edges) - 1
    if colors is not None:
        if not isinstance(colors, (list, tuple)) or len(colors) != n:
            raise InvalidInput(
                f"colors must list one colour per class ({n}), got {colors!r:.60}; give {n} colours or a ramp"
            )
        colors = [check_color(f"colors[{i}]", c) for i, c in enumerate(colors)]
    else:
        colors = palette(ramp, max(n, MIN_CLASSES))[-n:] if n < MIN_CLASSES else palette(ramp, n)
    out.update(method=method, breaks=edges, colors=colors, ramp=ramp)
    out["other"] = check_color("other", raw.get("other", OTHER))


def _check_breaks(edges: Any) -> list[float]:
    if not isinstance(edges, (list, tuple)) or not 2 <= len(edges) <= MAX_CLASSES + 1:
        raise InvalidInput(
            f"breaks must be 2 to {MAX_CLASSES + 1} ascending numbers (the lowest edge, then each"
            f" class's upper bound), got {edges!r:.60}; e.g. [0, 10, 100]"
        )
    checked = [check_number(f"breaks[{i}]", e, -math.inf, math.inf) for i, e in enumerate(edges)]
    if any(b < a for a, b in itertools.pairwise(checked)):
        raise InvalidInput(f"breaks must be ascending, got {checked!r:.60}; sort them")
    return checked


def _manual_numbers(features: Sequence[Feature], by: str, layer: str) -> list[float]:
    """Breaks one gives need no values (an empty layer may be styled ahead), but a property that
    no feature has, or only as text, is refused as for computed breaks."""
    if not features:
        return []
    return numbers_of(features, by, layer)


def _categorical(
    raw: Mapping[str, Any], features: Sequence[Feature], layer: str, out: dict[str, Any], by: str
) -> None:
    ramp = raw.get("ramp", "Set2")
    given = raw.get("categories")
    if given is not None:
        if not isinstance(given, Mapping) or not 0 < len(given) <= MAX_CATEGORIES:
            raise InvalidInput(
                f"categories must map 1-{MAX_CATEGORIES} values to colours, got {given!r:.60};"
                ' e.g. {"cafe": "#1b9e77", "bar": "orange"}'
            )
        categories = {str(k)[:200]: check_color(f"categories[{k!r:.30}]", c) for k, c in given.items()}
    else:
        name = "by" if by == out["by"] else "color_by"
        counts = Counter(text_of(v) for v in require_property(features, by, name, layer))
        # the commonest values, as many as the ramp has colours; the rest are drawn as "other"
        colours = max(RAMPS[ramp]) if isinstance(ramp, str) and ramp in RAMPS else MAX_CLASSES
        top = sorted(counts, key=lambda v: (-counts[v], v))[: min(MAX_CLASSES, colours)]
        colors = palette(ramp, max(len(top), MIN_CLASSES))
        categories = dict(zip(top, colors, strict=False))
    out.update(categories=categories, ramp=ramp)
    out["other"] = check_color("other", raw.get("other", OTHER))


def _proportional(
    raw: Mapping[str, Any], features: Sequence[Feature], layer: str, out: dict[str, Any]
) -> None:
    low = check_number("min_size", raw.get("min_size", 4), 1, 100)
    high = check_number("max_size", raw.get("max_size", 40), 1, 100)
    if low > high:
        raise InvalidInput(f"min_size must be at most max_size, got {low:g} (max_size {high:g}); swap them")
    ahead = raw.get("max_value") is not None and not features  # an empty layer, styled ahead
    values = [] if ahead else numbers_of(features, out["by"], layer)
    if raw.get("max_value") is not None:
        top = check_number("max_value", raw["max_value"], 0, math.inf)
    else:
        top = max(abs(v) for v in values)
    if raw.get("legend_values") is not None:
        shown = _legend_values(raw["legend_values"])
    else:  # round values from the data's own range, none above what max_value draws largest
        shown = reference_values(v for v in values if abs(v) <= top) or [top]
    out.update(min_size=low, max_size=high, max_value=top, legend_values=shown)
    out["color"] = check_color("color", raw.get("color", "#3182bd"))


def _legend_values(value: Any) -> list[float]:
    if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_LEGEND_VALUES:
        raise InvalidInput(
            f"legend_values must list 1-{MAX_LEGEND_VALUES} numbers, got {value!r:.60};"
            " e.g. [50000, 10000, 1000]"
        )
    checked = [check_number(f"legend_values[{i}]", v, 0, math.inf) for i, v in enumerate(value)]
    return sorted(checked, reverse=True)
