"""Numbers as people read them, wherever a label or a legend prints a value: thousands separators
and a few significant digits (6,873, not 6873.262326000001), or the format a label template asks
for (``{gdp:,.0f}``); and the round values a proportional symbols legend shows.

``format_number`` is the one place the server formats a value for people (``map_image``'s labels
and legend, ``read``); the page's is ``formatNumber`` in static/numbers.js, which follows the same
rules. A format spec is a small part of Python's format mini-language:

- ``""`` (none): 4 significant digits, every whole digit kept, thousands separated: ``6,873``,
  ``12.35``, ``0.01235``, ``1,234,567``.
- ``+``: a sign on positive numbers too; ``,``: thousands separated.
- ``.N`` alone: N significant digits (no exponent): ``{v:.2}`` of 6,873.26 is ``6900``,
  ``{v:,.2}`` is ``6,900``.
- ``f`` (``.N`` decimals, 6 by default), ``d`` (a whole number), ``%`` (times 100, ``.N`` decimals,
  6 by default, then ``%``): ``{gdp:,.0f}`` is ``6,873``, ``{share:.1%}`` is ``12.3%``.

Rounding is Python's: to the nearest, a value exactly halfway to the even digit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from mapsrv.errors import InvalidInput

__all__ = ["SIGNIFICANT", "SPEC_EXAMPLES", "SPEC_FORMS", "check_spec", "format_number", "reference_values"]

SIGNIFICANT = 4  # digits a value keeps when nothing asks for more (its whole digits are all kept)
TINY = 1e-9  # below this (and not 0), a value is written with an exponent: 1.234e-10, 1e-12
_SPEC_RE = re.compile(r"(?P<sign>\+)?(?P<group>,)?(?:\.(?P<precision>[0-9]{1,2}))?(?P<type>[fd%])?")
SPEC_FORMS = "[+][,][.N][f|d|%]"
SPEC_EXAMPLES = "e.g. ',.0f', '.1%', ',d' or '.3'"


def check_spec(spec: str) -> str:
    """``spec`` when it is a format spec ``format_number`` knows (else InvalidInput)."""
    match = _SPEC_RE.fullmatch(spec)
    if match is None or (match["type"] == "d" and match["precision"] is not None):
        raise InvalidInput(f"format spec must be {SPEC_FORMS}, got {spec!r:.20}; {SPEC_EXAMPLES}")
    return spec


def format_number(value: float, spec: str = "") -> str:
    """``value`` for people, by ``spec`` (see the module's docstring)."""
    match = _SPEC_RE.fullmatch(check_spec(spec))
    assert match is not None
    value = float(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else "-∞" if value < 0 else "NaN"
    kind, precision = match["type"], match["precision"]
    grouped = bool(match["group"]) or (kind is None and precision is None)
    if kind == "%":
        text = _fixed(value * 100, 6 if precision is None else int(precision)) + "%"
    elif kind == "f":
        text = _fixed(value, 6 if precision is None else int(precision))
    elif kind == "d":
        text = _fixed(value, 0)
    else:
        digits = SIGNIFICANT if precision is None else max(1, int(precision))
        text = _significant(value, digits, whole=precision is None)
    if text.lstrip("-").strip("0.%") == "" and text.startswith("-"):
        text = text[1:]  # no "-0"
    if grouped and "e" not in text:
        text = _group(text)
    if match["sign"] and not text.startswith("-"):
        text = "+" + text
    return text


def _fixed(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _significant(value: float, digits: int, whole: bool) -> str:
    """``value`` to ``digits`` significant digits, trailing zeros dropped; ``whole``: every
    digit before the point kept however many that is."""
    if value == 0:
        return "0"
    if abs(value) < TINY:
        return f"{value:.{digits}g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    if decimals < 0:
        return f"{value:.0f}" if whole else f"{round(value, decimals):.0f}"
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _group(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    body = text[len(sign) :]
    whole, dot, rest = body.partition(".")
    digits = whole.rstrip("%")
    tail = whole[len(digits) :]
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return sign + ",".join(groups) + tail + dot + rest


# --- a proportional symbols legend's values --------------------------------------------------------

_NICE = (1.0, 2.0, 5.0)
SIZES = 3  # circles in the legend at most


def _nice_below(x: float) -> float:
    """The largest of 1, 2, 5, 10, 20, 50 ... (times any power of ten) that is at most ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    best = power
    for step in _NICE:
        if step * power <= x * (1 + 1e-12):
            best = step * power
    return best


def _nice_above(x: float) -> float:
    """The smallest of 1, 2, 5, 10 ... that is at least ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    for step in (*_NICE, 10.0):
        if step * power >= x * (1 - 1e-12):
            return step * power
    return 10 * power


def _round_down(x: float, low: float) -> float:
    """``x`` rounded down to as few significant digits as keep it at least ``low``."""
    for digits in range(1, 16):
        power = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
        down = math.floor(x / power) * power
        if down >= low:
            return float(down)
    return x


def reference_values(values: Iterable[float]) -> list[float]:
    """Up to three round values for a proportional symbols legend, largest first, taken from the
    data: the roundest value (1, 2 or 5 times a power of ten) at most the largest size, then about
    a fifth and a fiftieth of it rounded the same way, none below the smallest size in the data
    (sizes are absolute values; zeros draw no circle): values from 1,200 to 63,000 show 50,000,
    10,000 and 2,000."""
    sizes = [abs(v) for v in values if v and math.isfinite(v)]
    if not sizes:
        return []
    low, high = min(sizes), max(sizes)
    top = _nice_below(high)
    if top < low:
        top = _round_down(high, low)
    out = [top]
    for share in (5, 50):
        want = top / share
        pick = _nice_below(want * 1.5)  # the 1-2-5 value nearest a fifth (a fiftieth), about
        if pick < low:
            pick = _nice_above(low)
        if pick * 2 <= out[-1] and pick >= low:
            out.append(pick)
    return [float(v) if not float(v).is_integer() else float(int(v)) for v in out[:SIZES]]
