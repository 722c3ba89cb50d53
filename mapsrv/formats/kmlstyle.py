"""KML styles to mapsrv's style keys and back.

KML colours are ``aabbggrr`` (alpha first, then blue, green, red); mapsrv's are CSS colours with
a separate opacity. What translates: IconStyle colour (a marker's colour), LineStyle colour and
width (a line's or outline's colour, opacity and weight), PolyStyle colour, ``fill`` and
``outline`` (fill colour and opacity; no outline is weight 0). What does not: icon images
(a marker is drawn as a coloured dot), label and balloon styles, icon scale.

Out, a feature without a style gets the page's own defaults (Leaflet's: #3388ff, weight 3, fill
opacity 0.2) so the file looks like the map, where KML's would draw white 1 px lines.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mapsrv.core.geometry import is_area, parts
from mapsrv.core.model import Feature
from mapsrv.formats.safexml import local_name, text_of

__all__ = ["KmlStyle", "kml_color", "read_style", "style_for", "style_xml"]

_DEFAULT_COLOR = "#3388ff"
_DEFAULT_WEIGHT = 3.0
_DEFAULT_FILL_OPACITY = 0.2
_MAX_WEIGHT = 20.0  # core's cap on style weight


@dataclass(frozen=True)
class KmlStyle:
    """The parts of one KML ``<Style>`` that translate; None where the style says nothing."""

    icon_color: tuple[str, float] | None = None
    line_color: tuple[str, float] | None = None
    width: float | None = None
    poly_color: tuple[str, float] | None = None
    fill: bool = True
    outline: bool = True
    icon_image: bool = False

    def merged(self, over: KmlStyle) -> KmlStyle:
        """This style with ``over``'s parts on top (a placemark's own style over a shared one)."""
        return KmlStyle(
            icon_color=over.icon_color or self.icon_color,
            line_color=over.line_color or self.line_color,
            width=over.width if over.width is not None else self.width,
            poly_color=over.poly_color or self.poly_color,
            fill=self.fill and over.fill,
            outline=self.outline and over.outline,
            icon_image=self.icon_image or over.icon_image,
        )


def kml_color(text: str) -> tuple[str, float] | None:
    """``("#rrggbb", opacity)`` from KML's ``aabbggrr``; None when it is not 8 hex digits."""
    value = text.strip().lstrip("#")
    if len(value) != 8:
        return None
    try:
        alpha = int(value[0:2], 16)
        int(value, 16)
    except ValueError:
        return None
    return f"#{value[6:8]}{value[4:6]}{value[2:4]}".lower(), round(alpha / 255, 3)


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if local_name(c.tag) == name), None)


def read_style(el: ET.Element) -> KmlStyle:
    """The translatable parts of a ``<Style>`` element."""
    parts: dict[str, Any] = {}
    for sub in el:
        kind = local_name(sub.tag)
        color = _child(sub, "color")
        parsed = kml_color(text_of(color)) if color is not None else None
        if kind == "IconStyle":
            parts["icon_color"] = parsed
            parts["icon_image"] = _child(sub, "Icon") is not None
        elif kind == "LineStyle":
            parts["line_color"] = parsed
            try:
                width = float(text_of(_child(sub, "width")))
            except ValueError:
                width = math.nan
            if math.isfinite(width):
                parts["width"] = min(max(width, 0.0), _MAX_WEIGHT)
        elif kind == "PolyStyle":
            parts["poly_color"] = parsed
            parts["fill"] = text_of(_child(sub, "fill")) not in ("0", "false")
            parts["outline"] = text_of(_child(sub, "outline")) not in ("0", "false")
    return KmlStyle(**parts)


def style_for(kind: str, style: KmlStyle) -> dict[str, Any]:
    """mapsrv style keys for a feature of type ``kind`` drawn with ``style``: a marker's or a
    multipoint's its icon colour, a line's its line style, an area's its line and fill style (a
    collection takes both: it may hold points, lines and areas)."""
    out: dict[str, Any] = {}
    if kind in ("marker", "multipoint"):
        if style.icon_color:
            out["color"] = style.icon_color[0]
        return out
    if style.line_color:
        out["color"] = style.line_color[0]
        if style.line_color[1] < 1:
            out["opacity"] = style.line_color[1]
    if style.width is not None:
        out["weight"] = style.width
    if is_area(kind) or kind == "collection":
        if not style.outline:
            out["weight"] = 0
        if style.poly_color:
            out["fill_color"] = style.poly_color[0]
            out["fill_opacity"] = style.poly_color[1]
        if not style.fill:
            out["fill_opacity"] = 0
    return out


def _abgr(color: Any, opacity: Any) -> str:
    """KML's ``aabbggrr`` for a CSS colour and an opacity (0 to 1)."""
    from PIL import ImageColor  # here: a file's reader, which never writes KML, is 3 MB smaller

    r, g, b = ImageColor.getrgb(str(color))[:3]
    alpha = 1.0 if not isinstance(opacity, (int, float)) else min(max(float(opacity), 0.0), 1.0)
    return f"{round(alpha * 255):02x}{b:02x}{g:02x}{r:02x}"


def style_xml(feature: Feature) -> str:
    """The inside of a ``<Style>`` for ``feature``: what its style says, the page's defaults
    for the rest; an icon colour for its points, a line style for its lines and outlines, a
    fill for its areas (a collection may have all three)."""
    style: Mapping[str, Any] = dict(feature.style)
    color = style.get("color") or _DEFAULT_COLOR
    kinds = {kind for kind, _ in parts(feature.type, feature.coords)}
    icon = f"<IconStyle><color>{_abgr(color, 1)}</color></IconStyle>" if style.get("color") else ""
    if kinds == {"point"} and feature.type != "circle":
        return icon
    weight = style.get("weight", _DEFAULT_WEIGHT)
    out = icon if "point" in kinds and feature.type == "collection" else ""
    out += (
        f"<LineStyle><color>{_abgr(color, style.get('opacity'))}</color><width>{weight:g}</width></LineStyle>"
    )
    if not is_area(feature.type) and "polygon" not in kinds:
        return out
    fill = style.get("fill_color") or color
    opacity = style.get("fill_opacity", _DEFAULT_FILL_OPACITY)
    return out + f"<PolyStyle><color>{_abgr(fill, opacity)}</color></PolyStyle>"
