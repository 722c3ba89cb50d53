"""The style vocabulary: colours (CSS names and hex), line weight and dashes, fills, and the
symbol a marker shows (numbered stops, letters, an emoji). The page (static/map.js) draws each."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from mapsrv.core.values import check_number
from mapsrv.errors import InvalidInput

__all__ = ["COLOR_FORMS", "CSS_COLORS", "STYLE_KEYS", "check_color", "check_style", "check_symbol"]

_HEX_RE = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_DASH_RE = re.compile(r"[0-9]{1,3}(?: [0-9]{1,3}){0,7}")
STYLE_KEYS = ("color", "weight", "opacity", "fill_color", "fill_opacity", "dash", "symbol")
# The CSS named colours (CSS Color 4), so a name the page cannot draw is refused, not ignored.
CSS_COLORS = frozenset(
    """aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue blueviolet
    brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk crimson cyan darkblue
    darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki darkmagenta darkolivegreen darkorange
    darkorchid darkred darksalmon darkseagreen darkslateblue darkslategray darkslategrey darkturquoise
    darkviolet deeppink deepskyblue dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia
    gainsboro ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo
    ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen lightskyblue
    lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen magenta maroon
    mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen mediumslateblue
    mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream mistyrose moccasin
    navajowhite navy oldlace olive olivedrab orange orangered orchid palegoldenrod palegreen
    paleturquoise palevioletred papayawhip peachpuff peru pink plum powderblue purple rebeccapurple red
    rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue
    slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet wheat white
    whitesmoke yellow yellowgreen""".split()
)
COLOR_FORMS = "#rgb, #rrggbb or a CSS colour name (red, navy, teal, orange, ...)"
MAX_SYMBOL = 8  # code points: one emoji with its modifiers and joiners


def check_color(name: str, value: Any) -> str:
    """A CSS colour the page can draw: ``#rgb``, ``#rrggbb`` or a CSS name (any case)."""
    if isinstance(value, str) and (_HEX_RE.fullmatch(value) or value.lower() in CSS_COLORS):
        return value
    hint = "e.g. 'red' or '#cc0033'"
    if isinstance(value, str):
        close = difflib.get_close_matches(value.lower().replace(" ", ""), CSS_COLORS, n=1, cutoff=0.75)
        if close:
            hint = f"did you mean {close[0]!r}?"
    raise InvalidInput(f"{name} must be {COLOR_FORMS}, got {value!r:.40}; {hint}")


def check_symbol(value: Any) -> str:
    """What a marker shows inside its dot: 1-3 letters or digits ("1", "A", "P2"), or one emoji."""
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SYMBOL
        and value.isprintable()
        and not any(c.isspace() for c in value)
        and ((value.isalnum() and len(value) <= 3) or not value.isascii())
    )
    if not ok:
        raise InvalidInput(
            f"style symbol must be 1-3 letters or digits, or one emoji, got {value!r:.40};"
            " e.g. '1' for the first stop of a route, 'A', or '🏨'"
        )
    return str(value)


def check_style(value: Any) -> tuple[tuple[str, Any], ...]:
    """A style mapping, as sorted pairs so that equal styles compare equal."""
    if value is None or (type(value) is dict and not value):
        return ()
    if not isinstance(value, Mapping):
        raise InvalidInput(f'style must be an object, got {type(value).__name__}; e.g. {{"color": "red"}}')
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if key in ("color", "fill_color"):
            item = check_color(f"style {key}", item)
        elif key == "weight":
            item = check_number("style weight", item, 0, 20)
        elif key in ("opacity", "fill_opacity"):
            item = check_number(f"style {key}", item, 0, 1)
        elif key == "dash":
            if not isinstance(item, str) or not _DASH_RE.fullmatch(item):
                raise InvalidInput(
                    f"style dash must be numbers separated by spaces, got {item!r:.40};"
                    " e.g. '6 4' (6 px dash, 4 px gap)"
                )
        elif key == "symbol":
            item = check_symbol(item)
        else:
            raise InvalidInput(
                f"style key must be one of {', '.join(STYLE_KEYS)}, got {key!r:.40}"
                f" (unknown style key); remove it or use one of those"
            )
        out[key] = item
    return tuple(sorted(out.items()))
