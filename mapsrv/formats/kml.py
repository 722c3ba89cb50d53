"""KML in and out (Google My Maps, Google Earth).

In: each Placemark is one feature, its geometry whole: a Point, LineString, LinearRing or
Polygon (its holes kept), gx:Track (a line whose per-point ``times`` and ``elevations`` are
properties), or a MultiGeometry (or gx:MultiTrack): a multipoint, multi-line or multipolygon
when its parts are all of a kind, a collection when they are mixed, the part itself when it has
one; its name is the label (and the ``name`` property, unless its ExtendedData has one), its
description the popup, its ExtendedData (Data and SchemaData, typed as ``kmldata`` says) its
properties, and its shared or own Style the
feature's style (see ``kmlstyle``). Folders become layers (nested ones named by their path)
unless the caller gives a layer, and so do Documents inside the document. Overlays, 3D models
and network links are counted and left out.

Out: one Document per layer inside the document (hidden layers hidden), each with the typed
Schema of its own features' properties (GDAL and QGIS read a Folder's placemarks against no
schema in a KMZ: none of their attributes), one shared Style per distinct style, each feature a
Placemark with its properties as SchemaData (a ``name`` equal to the label is the <name>
already; one named like GDAL's own fields renamed, ``kmldata``) and its geometry whole: a polygon's holes as
innerBoundaryIs, a multi type or a collection as a MultiGeometry; a rectangle or a circle is a
Polygon (a circle as a 64-point ring), a line's elevations its coordinates' altitudes.

Not fastkml 1.4 or kml2geojson 6.0: on a 3.9 MiB My Maps-like file (3,000 placemarks and a
50,000-point line; tests/formats/formats_benchmark.py) they take 1.3 s and 0.9 s of CPU just to
parse it, where this whole import takes 0.56 s (ElementTree's parse 0.03 s of it). fastkml also
switches to lxml with ``huge_tree=True`` (no limits) whenever lxml happens to be installed, and
warns at import when it is not; kml2geojson reads with minidom (a DOM of the whole file) and
keeps no DTD out; both leave styles and folders to be mapped again from their own objects.
What mapsrv needs of KML is small enough to read here.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from mapsrv.core.heights import heights
from mapsrv.core.model import Feature, MapState
from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import Collector
from mapsrv.formats.geometry import closed, shapes
from mapsrv.formats.kmldata import (
    SCHEMA_ID,
    DataTypes,
    extended_xml,
    field_types,
    kml_names,
    read_extended,
    schema_xml,
)
from mapsrv.formats.kmlstyle import KmlStyle, read_style, style_for, style_xml
from mapsrv.formats.safexml import (
    check_root,
    decode_xml,
    element,
    local_name,
    parse,
    text_of,
)

__all__ = ["read_kml", "write_kml"]

_SKIPPED = {  # features of a document that are not placemarks
    "GroundOverlay": "image overlays",
    "ScreenOverlay": "screen overlays",
    "PhotoOverlay": "photo overlays",
    "NetworkLink": "network links (not fetched)",
}
_COMMA_SPACE = re.compile(r",\s+")
_MAX_DEPTH = 16  # nested folders named in a layer's path; deeper ones join their parent's layer
_MAX_PARTS_DEPTH = 8  # MultiGeometry within MultiGeometry
_Shape = tuple[str, Any, dict[str, Any]]  # feature type, coords, per-shape properties


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if local_name(c.tag) == name), None)


class _Reader:
    """One walk over the document in its order: styles first (a placemark may use one defined
    after it), then folders and placemarks, with an explicit stack rather than recursion (a
    hostile file can nest folders as deep as its size allows)."""

    def __init__(self, collector: Collector) -> None:
        self.out = collector
        self.styles: dict[str, KmlStyle] = {}
        self.style_maps: dict[str, str] = {}
        self.placemarks = 0

    def read(self, root: ET.Element) -> None:
        namespace = root.tag[: -len("kml")]
        self.types = DataTypes(root)
        for el in root.iter(namespace + "Style"):
            if el.get("id"):
                self.styles[str(el.get("id"))] = read_style(el)
        for el in root.iter(namespace + "StyleMap"):
            if el.get("id"):
                self._style_map(el)
        stack: list[tuple[Iterator[ET.Element], tuple[str, ...]]] = [(iter(root), ())]
        while stack:
            children, path = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                continue
            name = local_name(child.tag)
            if name == "Placemark":
                self._placemark(child, path)
            elif name == "Folder" or (name == "Document" and len(stack) > 1):
                # a Document inside the document is a layer too (GDAL's and mapsrv's own KML)
                folder = text_of(_child(child, "name")) or name
                stack.append((iter(child), (*path, folder) if len(path) < _MAX_DEPTH else path))
            elif name == "Document":
                self.out.title = self.out.title or text_of(_child(child, "name"))
                stack.append((iter(child), path))
            elif name in _SKIPPED:
                self.out.count(f"{_SKIPPED[name]} left out")

    def _style_map(self, el: ET.Element) -> None:
        for pair in el:
            if local_name(pair.tag) == "Pair" and text_of(_child(pair, "key")) == "normal":
                self.style_maps[str(el.get("id"))] = text_of(_child(pair, "styleUrl"))
                inline = _child(pair, "Style")
                if inline is not None:  # a Pair may hold its Style itself
                    self.styles[f"{el.get('id')}#normal"] = read_style(inline)
                    self.style_maps[str(el.get("id"))] = f"#{el.get('id')}#normal"

    def _placemark(self, el: ET.Element, path: tuple[str, ...]) -> None:
        self.placemarks += 1
        label = popup = url = ""
        own: KmlStyle | None = None
        props: dict[str, Any] = {}
        shapes: list[_Shape] = []
        where = f"kml placemark {self.placemarks}"
        for child in el:
            name = local_name(child.tag)
            if name == "name":
                label = text_of(child)
                where = f"kml placemark {self.placemarks} ({label!r:.40})"
            elif name == "description":
                popup = text_of(child)
            elif name == "styleUrl":
                url = text_of(child)
            elif name == "Style":
                own = read_style(child)
            elif name == "ExtendedData":
                props.update(read_extended(child, self.types))
            elif name == "TimeStamp" and text_of(_child(child, "when")):
                props["time"] = text_of(_child(child, "when"))
            else:
                shapes += self._geometry(child, where)
        if not shapes:
            self.out.skip("placemarks without a point, line or polygon", where)
            return
        if label:
            props.setdefault("name", label)  # the placemark's name is the data's too, as in GDAL
        shared = self._style(url)
        style = shared.merged(own) if shared and own else own or shared
        if style is not None and style.icon_image and any(kind == "marker" for kind, _, _ in shapes):
            self.out.count("marker icons drawn as coloured dots (icon images are not imported)")
        kind, coords, extra = _whole(shapes)
        self.out.add(
            where,
            kind,
            coords,
            label=label,
            popup=popup,
            style=style_for(kind, style) if style else None,
            properties={**props, **extra},
            layer=self.out.layer(" / ".join(path)) if path else None,
        )

    def _geometry(self, el: ET.Element, where: str, depth: int = 0) -> list[_Shape]:
        """The simple shapes of a geometry element, in order: a MultiGeometry's (or a
        gx:MultiTrack's) parts, each a marker, a line or a polygon (its rings: outer, holes)."""
        name = local_name(el.tag)
        if name == "Point":
            points, heights = _coordinates(_child(el, "coordinates"), where)
            return [("marker", points[0], _heights(heights[:1]))] if points else []
        if name == "LineString":
            points, heights = _coordinates(_child(el, "coordinates"), where)
            return [("polyline", points, _heights(heights))]
        if name == "LinearRing":
            ring, heights = _ring(el, where)
            return [("polygon", [ring], _heights(heights))]
        if name == "Polygon":
            rings: list[list[tuple[float, float]]] = []
            heights = []
            for boundary in el:  # the outer ring, then every inner one (a hole), as written
                inner = local_name(boundary.tag) == "innerBoundaryIs"
                if inner and not rings:
                    continue
                if inner or local_name(boundary.tag) == "outerBoundaryIs":
                    for linear in (c for c in boundary if local_name(c.tag) == "LinearRing"):
                        ring, ring_heights = _ring(linear, where)
                        rings.append(ring)
                        heights += ring_heights
            return [("polygon", rings, _heights(heights))] if rings else []
        if name in ("MultiGeometry", "MultiTrack"):
            if depth >= _MAX_PARTS_DEPTH:
                raise InvalidInput(
                    f"{where} nests MultiGeometry more than {_MAX_PARTS_DEPTH} deep; flatten it"
                )
            return [shape for child in el for shape in self._geometry(child, where, depth + 1)]
        if name == "Track":
            return _track(el, where)
        if name == "Model":
            self.out.count("3D models left out")
        return []

    def _style(self, url: str) -> KmlStyle | None:
        if not url:
            return None
        if not url.startswith("#"):
            self.out.count("style references to other files not followed")
            return None
        key = url[1:]
        if key in self.style_maps:
            key = self.style_maps[key].lstrip("#")
        return self.styles.get(key)


def _coordinates(el: ET.Element | None, where: str) -> tuple[list[tuple[float, float]], list[float | None]]:
    """``lon,lat[,alt]`` tuples as (lat, lon) points and their altitudes."""
    points: list[tuple[float, float]] = []
    heights: list[float | None] = []
    if el is None or not el.text:
        return points, heights
    for item in _COMMA_SPACE.sub(",", el.text).split():
        parts = item.split(",")
        try:
            points.append((float(parts[1]), float(parts[0])))
        except (ValueError, IndexError):
            raise InvalidInput(
                f"{where} coordinates must be lon,lat[,alt] tuples separated by spaces, got {item!r:.40}"
            ) from None
        heights.append(_height(parts[2]) if len(parts) > 2 else None)
    return points, heights


def _track(el: ET.Element, where: str) -> list[_Shape]:
    """A gx:Track: its ``when`` times and ``gx:coord`` positions (``lon lat alt``), in order."""
    times: list[str | None] = []
    points: list[tuple[float, float]] = []
    heights: list[float | None] = []
    for child in el:
        name = local_name(child.tag)
        if name == "when":
            times.append(text_of(child)[:64] or None)
        elif name == "coord":
            parts = text_of(child).split()
            try:
                points.append((float(parts[1]), float(parts[0])))
            except (ValueError, IndexError):
                raise InvalidInput(
                    f"{where} gx:coord must be 'lon lat alt', got {text_of(child)!r:.40}"
                ) from None
            heights.append(_height(parts[2]) if len(parts) > 2 else None)
    extra: dict[str, Any] = {}
    if len(times) == len(points) and any(times):
        extra["times"] = times
    if any(h is not None for h in heights):
        extra["elevations"] = heights
    return [("polyline", points, extra)]


def _ring(el: ET.Element, where: str) -> tuple[list[tuple[float, float]], list[float | None]]:
    """A LinearRing's points and heights, unclosed."""
    points, heights = _coordinates(_child(el, "coordinates"), where)
    if len(points) > 3 and points[0] == points[-1]:
        return points[:-1], heights[:-1]
    return points, heights


def _heights(heights: list[float | None]) -> dict[str, Any]:
    """A shape's altitudes as its ``elevations``, unless they are all 0 or missing (as My Maps
    writes every point: ``lon,lat,0``)."""
    return {"elevations": heights} if any(heights) else {}


_MULTI = {"marker": "multipoint", "polyline": "multipolyline", "polygon": "multipolygon"}


def _whole(shapes: list[_Shape]) -> tuple[str, Any, dict[str, Any]]:
    """A placemark's shapes as its one geometry: the shape itself when there is one, a
    multipoint, multi-line or multipolygon when they are all of a kind, else a collection; with
    their per-point values (heights, a track's times) run together, in the order of the points."""
    kinds = {kind for kind, _, _ in shapes}
    if len(shapes) == 1:
        kind, coords, _ = shapes[0]
        if kind == "polygon":
            coords = coords[0] if len(coords) == 1 else coords
    elif len(kinds) == 1:
        kind, coords = _MULTI[shapes[0][0]], [coords for _, coords, _ in shapes]
    else:
        kind, coords = "collection", [{"type": k, "coords": c} for k, c, _ in shapes]
    extra: dict[str, Any] = {}
    for key in ("times", "elevations"):
        if any(key in e for _, _, e in shapes):
            extra[key] = [v for k, c, e in shapes for v in e.get(key) or [None] * _size(k, c)]
    if kind == "marker":
        extra = {"ele": extra["elevations"][0]} if extra.get("elevations") else {}
    return kind, coords, extra


def _size(kind: str, coords: Any) -> int:
    return 1 if kind == "marker" else len(coords) if kind == "polyline" else sum(map(len, coords))


def _height(text: str) -> float | None:
    """An altitude, or None for one that is not a finite number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_kml(data: bytes, collector: Collector) -> None:
    """Read a KML document's placemarks, folders and styles into ``collector``."""
    text = decode_xml(data, "kml")
    check_root(text, "kml", "kml")
    root = parse(text, "kml")
    if local_name(root.tag) != "kml":
        raise InvalidInput(
            f"kml must have a <kml> root element, got <{local_name(root.tag)}>; is this a KML file?"
        )
    _Reader(collector).read(root)


# Writing ------------------------------------------------------------------------------------

_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>'


def _coords(points: Any, heights: Any = None) -> str:
    if isinstance(heights, (list, tuple)) and len(heights) == len(points):
        return " ".join(
            f"{lon!r},{lat!r},{h!r}"
            if isinstance(h, (int, float)) and not isinstance(h, bool)
            else f"{lon!r},{lat!r}"
            for (lat, lon), h in zip(points, heights, strict=True)
        )
    return " ".join(f"{lon!r},{lat!r}" for lat, lon in points)


def _part_xml(kind: str, value: Any, heights: Any) -> str:
    """A point, line or polygon (its heights, one per point, its altitudes when given)."""
    if kind == "point":
        return f"<Point><coordinates>{_coords([value], heights)}</coordinates></Point>"
    if kind == "line":
        return f"<LineString><coordinates>{_coords(value, heights)}</coordinates></LineString>"
    rings, at = [], 0
    for ring in value:
        whole = closed(ring)
        zs = None if heights is None else [*heights[at : at + len(ring)], heights[at]][: len(whole)]
        at += len(ring)
        rings.append(f"<LinearRing><coordinates>{_coords(whole, zs)}</coordinates></LinearRing>")
    outer, *holes = rings
    inner = "".join(f"<innerBoundaryIs>{ring}</innerBoundaryIs>" for ring in holes)
    return f"<Polygon><outerBoundaryIs>{outer}</outerBoundaryIs>{inner}</Polygon>"


def _geometry_xml(feature: Feature) -> str:
    """The feature's geometry, whole: a Point, LineString or Polygon (its holes inner
    boundaries), or a MultiGeometry of them for a multi type or a collection; its heights
    (``mapsrv.core.heights``) its altitudes."""
    zs = heights(feature.type, feature.coords, feature.properties)
    parts = shapes(feature)
    ends = [start for _, _, start in parts[1:]] + [
        len(zs or ())
    ]  # each part's heights end where the next's start
    found = [
        _part_xml(kind, value, None if zs is None else zs[start:end])
        for (kind, value, start), end in zip(parts, ends, strict=True)
    ]
    if len(found) == 1 and feature.type not in ("multipoint", "multipolyline", "multipolygon", "collection"):
        return found[0]
    return f"<MultiGeometry>{''.join(found)}</MultiGeometry>"


def write_kml(state: MapState) -> bytes:
    """The map as a KML 2.2 document (see the module's docstring)."""
    styles: dict[str, str] = {}
    layers: dict[str, list[Feature]] = {layer_id: [] for layer_id in state.layers}
    for feature in state.features.values():
        layers.setdefault(feature.layer, []).append(feature)
    names = kml_names(state.features.values())
    parts = [_HEAD, element("name", state.title), "\n"]
    containers: list[str] = []
    for n, (layer_id, features) in enumerate((i for i in layers.items() if i[1]), 1):
        schema = f"{SCHEMA_ID}-{n}"
        layer = state.layers.get(layer_id)
        name = layer.name if layer else layer_id
        hidden = "<visibility>0</visibility>" if layer is not None and not layer.visible else ""
        containers.append(f"<Document>{element('name', name)}{hidden}\n")
        containers.append(schema_xml(field_types(features, names), schema))
        for feature in features:
            look = style_xml(feature)
            style_id = styles.setdefault(look, f"s{len(styles) + 1}") if look else ""
            containers.append(
                "<Placemark>"
                + element("name", feature.label)
                + element("description", feature.popup)
                + (f"<styleUrl>#{style_id}</styleUrl>" if style_id else "")
                + extended_xml(feature, schema, names)
                + _geometry_xml(feature)
                + "</Placemark>\n"
            )
        containers.append("</Document>\n")
    parts += [f'<Style id="{style_id}">{look}</Style>\n' for look, style_id in styles.items()]
    parts += containers
    parts.append("</Document>\n</kml>\n")
    return "".join(parts).encode()
