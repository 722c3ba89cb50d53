"""GPX 1.0 and 1.1 in, GPX 1.1 out.

In: each waypoint is a marker (name, desc or cmt, and its time, elevation, symbol and type as
properties); each route is a line and each track one feature, a line for one segment and a
multi-line for several, whose per-point ``times`` (ISO 8601 text, as the file has it) and
``elevations`` (and a route's point ``names``) are properties aligned with its points, across
its segments in order. A track keeps its ``track`` number. Extensions (heart rate, cadence) are
not read.

Out: markers as waypoints, and a multipoint's points as waypoints of its name (each with its
time and elevation); lines as tracks (routes when they came from one, or when a router drew them
along the roads: their ``type`` is car, bike or foot), a multi-line as one track of several
segments; and polygons, rectangles and circles as tracks whose segments are their rings, closed
(first point repeated; a circle as a 64-point ring): GPX has no areas, and a track is what every
device draws as a line, where a route is a list of points to navigate through. A collection is
its points as waypoints and its lines and rings as one track. Reading it back (gpxpy, Garmin
BaseCamp) gives every point with its time and elevation exactly: numbers are written as
Python's shortest round-trip form.

Not gpxpy: its parser takes 1.2 s of CPU for a 50,000-point track, 2.2-2.8 s with a Garmin
watch's extensions (tests/formats/formats_benchmark.py), before any mapsrv work, where the
budget is 1 s for the whole import. This reader is one walk over ElementTree's C parser: 0.6 s
for the plain track, 0.8 s with extensions, everything included (0.37 s of it is the parse,
0.2 s core's checks of every point). gpxpy is what the tests read our output with.
"""

from __future__ import annotations

import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from mapsrv.core.geometry import parts
from mapsrv.core.model import Feature, MapState
from mapsrv.core.routes import route_facts
from mapsrv.errors import InvalidInput
from mapsrv.formats.collect import Collector
from mapsrv.formats.geometry import shapes
from mapsrv.formats.safexml import check_root, decode_xml, element, local_name, parse, text_of

__all__ = ["gpx_notes", "read_gpx", "write_gpx"]

_MAX_TIME = 64  # characters: a per-point value's cap in core
_FIELD_NAMES = ("ele", "time", "name", "cmt", "desc", "sym", "type")
_Points = tuple[list[tuple[float, float]], list[str | None], list[float | None], list[str | None]]


class _Reader:
    """One walk over the document: waypoints, routes and tracks in the order the file has them.
    The loop over a segment's points is the hot path (50,000 of them in a day's ride): it reads
    raw text into flat lists, and the lists are converted afterwards in one pass each."""

    def __init__(self, collector: Collector, namespace: str) -> None:
        self.out = collector
        self.ns = namespace
        self.fields = {namespace + name: name for name in _FIELD_NAMES}
        self.bad_times = self.bad_elevations = 0

    def read(self, root: ET.Element) -> None:
        ns, counts = self.ns, {"wpt": 0, "rte": 0, "trk": 0}
        for child in root:
            kind = child.tag[len(ns) :] if child.tag.startswith(ns) else ""
            if kind in counts:
                counts[kind] += 1
                read = self._wpt if kind == "wpt" else self._rte if kind == "rte" else self._trk
                read(child, counts[kind])
            elif kind == "metadata" or (kind == "name" and not self.out.title):
                self.out.title = self._fields(child).get("name", "") if kind == "metadata" else text_of(child)
        if self.bad_times:
            self.out.count("point times left out (not ISO 8601 dates)", self.bad_times)
        if self.bad_elevations:
            self.out.count("point elevations left out (not numbers)", self.bad_elevations)

    def _fields(self, el: ET.Element) -> dict[str, str]:
        """The text of ``el``'s own simple children (not of its extensions)."""
        out: dict[str, str] = {}
        for child in el:
            name = self.fields.get(child.tag)
            if name is not None and name not in out:
                out[name] = text_of(child)
        return out

    def _points(self, parent: ET.Element, tag: str, where: str) -> _Points:
        points: list[tuple[float, float]] = []
        raw_times: list[str | None] = []
        raw_elevations: list[str | None] = []
        raw_names: list[str | None] = []
        tag, ele, time, name = (self.ns + t for t in (tag, "ele", "time", "name"))
        for point in parent:
            if point.tag != tag:
                continue
            attributes = point.attrib
            try:
                points.append((float(attributes["lat"]), float(attributes["lon"])))
            except (KeyError, ValueError):
                raise _bad_point(point, f"{where} point {len(points) + 1}") from None
            e = t = n = None
            for child in point:
                child_tag = child.tag
                if child_tag == ele:
                    e = child.text
                elif child_tag == time:
                    t = child.text
                elif child_tag == name:
                    n = child.text
            raw_elevations.append(e)
            raw_times.append(t)
            raw_names.append(n)
        times = [None if t is None else self._time(t) for t in raw_times]
        elevations = [None if e is None else self._elevation(e) for e in raw_elevations]
        names = [None if n is None else n.strip() or None for n in raw_names]
        return points, times, elevations, names

    def _elevation(self, text: str) -> float | None:
        try:
            value = float(text)
        except ValueError:
            self.bad_elevations += 1
            return None
        if not math.isfinite(value):
            self.bad_elevations += 1
            return None
        return value

    def _time(self, text: str) -> str | None:
        value = text.strip()
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            self.bad_times += 1
            return None
        if len(value) > _MAX_TIME:
            self.bad_times += 1
            return None
        return value

    def _trk(self, el: ET.Element, number: int) -> None:
        """One track, one feature: a line for one segment, a multi-line for several, whose
        per-point times and elevations run across its segments in order."""
        fields = self._fields(el)
        label = fields.get("name", "")
        where = f"gpx track {number}" + (f" ({label!r:.40})" if label else "")
        lines: list[list[tuple[float, float]]] = []
        times: list[str | None] = []
        elevations: list[float | None] = []
        segments = [s for s in el if s.tag == self.ns + "trkseg"]
        for segment, part in enumerate(segments, 1):
            points, part_times, part_elevations, _ = self._points(part, "trkpt", f"{where} segment {segment}")
            if len(points) < 2:
                if points:
                    self.out.skip("track segments with a single point", f"{where} segment {segment}")
                continue
            lines.append(points)
            times += part_times
            elevations += part_elevations
        if not lines:
            return
        props: dict[str, Any] = {"track": number}
        self._line(where, lines[0] if len(lines) == 1 else lines, label, fields, props, times, elevations)

    def _rte(self, el: ET.Element, number: int) -> None:
        fields = self._fields(el)
        label = fields.get("name", "")
        where = f"gpx route {number}" + (f" ({label!r:.40})" if label else "")
        points, times, elevations, names = self._points(el, "rtept", where)
        if len(points) < 2:
            if points:
                self.out.skip("routes with a single point", where)
            return
        props: dict[str, Any] = {"route": number}
        if any(names):
            props["names"] = names
        self._line(where, points, label, fields, props, times, elevations)

    def _line(
        self,
        where: str,
        points: list[tuple[float, float]] | list[list[tuple[float, float]]],
        label: str,
        fields: dict[str, str],
        props: dict[str, Any],
        times: list[str | None],
        elevations: list[float | None],
    ) -> None:
        if any(t is not None for t in times):
            props["times"] = times
        if any(e is not None for e in elevations):
            props["elevations"] = elevations
        for key in ("cmt", "type"):
            if fields.get(key):
                props[key] = fields[key]
        kind = "multipolyline" if isinstance(points[0], list) else "polyline"
        self.out.add(where, kind, points, label=label, popup=fields.get("desc", ""), properties=props)

    def _wpt(self, el: ET.Element, number: int) -> None:
        fields = self._fields(el)
        label = fields.get("name", "")
        where = f"gpx waypoint {number}" + (f" ({label!r:.40})" if label else "")
        try:
            point = (float(el.attrib["lat"]), float(el.attrib["lon"]))
        except (KeyError, ValueError):
            raise _bad_point(el, where) from None
        props: dict[str, Any] = {k: fields[k] for k in ("sym", "type") if fields.get(k)}
        elevation = self._elevation(fields["ele"]) if "ele" in fields else None
        if elevation is not None:
            props["ele"] = elevation
        time = self._time(fields["time"]) if "time" in fields else None
        if time is not None:
            props["time"] = time
        popup = fields.get("desc") or fields.get("cmt", "")
        if fields.get("desc") and fields.get("cmt"):
            props["cmt"] = fields["cmt"]
        self.out.add(where, "marker", point, label=label, popup=popup, properties=props)


def _bad_point(el: ET.Element, where: str) -> InvalidInput:
    lat, lon = el.get("lat"), el.get("lon")
    if lat is None or lon is None:
        return InvalidInput(f"{where} must have lat and lon attributes, got {dict(el.attrib)!r:.80}")
    return InvalidInput(f"{where} lat and lon must be numbers, got lat={lat!r:.30} lon={lon!r:.30}")


def read_gpx(data: bytes, collector: Collector) -> None:
    """Read a GPX file's waypoints, routes and tracks into ``collector``."""
    text = decode_xml(data, "gpx")
    check_root(text, "gpx", "gpx")
    root = parse(text, "gpx")
    if local_name(root.tag) != "gpx":
        raise InvalidInput(
            f"gpx must have a <gpx> root element, got <{local_name(root.tag)}>; is this a GPX file?"
        )
    _Reader(collector, root.tag[: -len("gpx")]).read(root)


# Writing ------------------------------------------------------------------------------------

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx version="1.1" creator="mapsrv" xmlns="http://www.topografix.com/GPX/1/1"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xsi:schemaLocation="http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
)


def _number(value: Any) -> str:
    """A finite number as the shortest text that reads back as the same float; "" otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return ""
    return repr(float(value))


def _time(value: Any) -> str:
    """An ISO 8601 time as it was read; "" for anything else (a CSV's "time" column may say
    "morning", which a GPX reader would refuse)."""
    if not isinstance(value, str):
        return ""
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return ""
    return value


def _item(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, (list, tuple)) and i < len(values) else None


def _point(tag: str, lat: float, lon: float, ele: Any, time: Any, name: Any = None) -> str:
    inner = element("ele", _number(ele)) + element("time", _time(time))
    inner += element("name", name) if isinstance(name, str) else ""
    return f'<{tag} lat="{lat!r}" lon="{lon!r}">{inner}</{tag}>\n'


def _waypoint(feature: Feature, point: tuple[float, float], i: int) -> str:
    """A marker, or one point of a multipoint or a collection (``i`` its index among the
    feature's points, where its time and elevation are)."""
    props = dict(feature.properties)
    lat, lon = point
    ele, time = props.get("ele"), props.get("time")
    if feature.type != "marker":
        ele, time = _item(props.get("elevations"), i), _item(props.get("times"), i)
    inner = element("ele", _number(ele))
    inner += element("time", _time(time))
    inner += element("name", feature.label)
    inner += element("cmt", props["cmt"]) if isinstance(props.get("cmt"), str) else ""
    inner += element("desc", feature.popup)
    for key in ("sym", "type"):
        inner += element(key, props[key]) if isinstance(props.get(key), str) else ""
    return f'<wpt lat="{lat!r}" lon="{lon!r}">{inner}</wpt>\n'


def _head(feature: Feature) -> str:
    """A route's or track's own fields, in the schema's order (name, cmt, desc, type)."""
    props = dict(feature.properties)
    out = element("name", feature.label)
    out += element("cmt", props["cmt"]) if isinstance(props.get("cmt"), str) else ""
    out += element("desc", feature.popup)
    facts = route_facts(feature)
    kind = props.get("type") if isinstance(props.get("type"), str) else facts.by if facts else None
    return out + (element("type", kind) if kind else "")


def _points(tag: str, feature: Feature, line: Sequence[tuple[float, float]], start: int) -> Iterable[str]:
    """A line's points, each with its time, elevation and name (the feature's per-point lists
    from index ``start``)."""
    props = dict(feature.properties)
    times, elevations, names = props.get("times"), props.get("elevations"), props.get("names")
    for i, (lat, lon) in enumerate(line, start):
        yield _point(tag, lat, lon, _item(elevations, i), _item(times, i), _item(names, i))


def _segments(feature: Feature) -> Iterable[list[str]]:
    """A feature's lines, and each ring of its polygons closed, as track segments."""
    for kind, value, start in shapes(feature):
        if kind == "line":
            yield list(_points("trkpt", feature, value, start))
        elif kind == "polygon":
            for ring in value:
                points = list(_points("trkpt", feature, ring, start))
                start += len(ring)
                yield [*points, points[0]] if ring[0] != ring[-1] else points


def _tracks(features: list[Feature]) -> Iterable[list[Feature]]:
    """Features grouped into tracks: one track each, except the lines that a map made before a
    track was kept whole holds for the segments of one track (numbered ``track`` and
    ``segment``), which go back into one ``<trk>``, one after the other."""
    group: list[Feature] = []
    last: tuple[Any, ...] | None = None
    for feature in features:
        props = dict(feature.properties)
        track, segment = props.get("track"), props.get("segment")
        key = (track, feature.label, feature.layer)
        numbered = feature.type == "polyline" and isinstance(track, int) and isinstance(segment, int)
        if group and numbered and last is not None and last[:3] == key and segment > last[3]:
            group.append(feature)
        else:
            if group:
                yield group
            group = [feature]
        last = (*key, segment) if numbered else None
    if group:
        yield group


def _is_route(feature: Feature) -> bool:
    return feature.type == "polyline" and (
        isinstance(dict(feature.properties).get("route"), int) or route_facts(feature) is not None
    )


def gpx_notes(state: MapState) -> list[str]:
    """What GPX cannot hold of the map as it is, said in the export's answer."""
    areas = multipoints = collections = 0
    for feature in state.features.values():
        found = {kind for kind, _ in parts(feature.type, feature.coords)}
        areas += "polygon" in found or feature.type == "circle"
        multipoints += feature.type == "multipoint"
        collections += feature.type == "collection" and "point" in found and len(found) > 1
    notes = []
    if areas:
        notes.append(f"{areas} areas written as tracks, each ring a closed segment: GPX has no areas")
    if multipoints:
        notes.append(f"{multipoints} multipoints written as waypoints, one per point: GPX has no groups")
    if collections:
        notes.append(f"{collections} collections written as waypoints and a track: GPX has no collections")
    return notes


def write_gpx(state: MapState) -> bytes:
    """The map as a GPX 1.1 document (see the module's docstring for what becomes what)."""
    features = list(state.features.values())
    out = [_HEAD]
    if state.title:
        out.append(f"<metadata>{element('name', state.title)}</metadata>\n")
    for feature in features:
        out += [_waypoint(feature, p, i) for kind, p, i in shapes(feature) if kind == "point"]
    routes = [f for f in features if _is_route(f)]
    for feature in routes:
        out.append(f"<rte>{_head(feature)}\n")
        out += _points("rtept", feature, feature.coords, 0)
        out.append("</rte>\n")
    taken = {id(f) for f in routes}
    drawn = [f for f in features if id(f) not in taken and any(k != "point" for k, _, _ in shapes(f))]
    for group in _tracks(drawn):
        out.append(f"<trk>{_head(group[0])}\n")
        for feature in group:
            for segment in _segments(feature):
                out.append("<trkseg>\n")
                out += segment
                out.append("</trkseg>\n")
        out.append("</trk>\n")
    out.append("</gpx>\n")
    return "".join(out).encode()
