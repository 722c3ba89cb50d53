"""What reading a file produces, and the one place its features are built.

Every reader hands each feature's geometry, whole, to a :class:`Collector`, which builds it
through core's ``build_feature`` (the rules every feature obeys), counts it against ``Limits`` as
it goes (a file over a cap stops at once, naming the cap), thins it when asked (each line and
ring of it, its per-point values kept with their points), and keeps the notes a
person must read: what was skipped, shortened or left out, counted rather than listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from mapsrv.core.geometry import count
from mapsrv.core.model import (
    DEFAULT_LAYER,
    MAX_PROPERTIES,
    Feature,
    Layer,
    Limits,
    build_feature,
    check_members,
    check_nested,
    per_point,
)
from mapsrv.core.values import ID_RE
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.noise import clamp_noise
from mapsrv.formats.simplify import simplify

__all__ = ["CHECK_EVERY", "MAX_LISTED", "Collector", "Imported", "layer_id"]

MAX_LISTED = 10  # rows or elements named in one note; a count says how many more
CHECK_EVERY = (
    16  # features built between two calls of its check (~1 ms of reading: a worker gives the loop way there)
)
_MAX_KEY = 64
_MAX_ITEM = 64  # characters of one string in a per-point list (core's rule)
_MAX_NAMES = 4_096  # property names remembered per file (a hostile one may make each row's new)
_SLUG = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class Imported:
    """One file, read: its features (ids left empty, generated when applied), the layers they
    go in that a map must have first, and what a person must know about the reading."""

    format: str
    features: tuple[Feature, ...]
    layers: tuple[Layer, ...] = ()
    notes: tuple[str, ...] = ()
    unresolved: tuple[tuple[int, str], ...] = ()  # a CSV's rows whose place did not resolve: (line, text)
    # a joined table's rows that share an outline at one time: (outline, lines, what the rows said)
    stacked: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...] = ()
    # a joined table: to what, by which column, its columns, its rows and how many matched
    joined: dict[str, Any] | None = None
    title: str = ""  # the file's own name for itself (GPX metadata, KML Document), when it has one
    # the file's own members beside its title (a GeoJSON FeatureCollection's foreign members)
    members: tuple[tuple[str, Any], ...] = ()
    # each layer read from a projected system: (what, the system as WKT, a sample of its points
    # as read), for the check that needs the world's land (``mapsrv.hub.projections``)
    projections: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...] = ()


def layer_id(name: str) -> str:
    """A layer id from a human name: ``"Day 1 / Lunch"`` gives ``day-1-lunch``."""
    slug = _SLUG.sub("-", name.strip().lower()).strip("-.:")
    return slug[:_MAX_KEY].rstrip("-") or "layer"


class Collector:
    """Builds one file's features as a reader finds them. ``where`` names the element or row a
    shape came from, so an error or a note can point at it."""

    def __init__(
        self,
        fmt: str,
        limits: Limits,
        *,
        layer: str | None = None,
        tolerance: float | None = None,
        check: Callable[[], None] | None = None,
    ):
        self.fmt = fmt
        self.check = check  # called every CHECK_EVERY features: raises to stop (its client left)
        self.limits = limits
        self.layer_given = layer is not None
        self.default_layer = layer if layer is not None else DEFAULT_LAYER
        self.tolerance = tolerance
        self.title = ""
        self.members: dict[str, Any] = {}
        self.unresolved: list[tuple[int, str]] = []
        self.stacked: list[tuple[str, tuple[int, ...], tuple[str, ...]]] = []
        self.joined: dict[str, Any] | None = None
        self._features: list[Feature] = []
        self._layers: dict[str, Layer] = {}
        self._layer_by_name: dict[str, str] = {}
        self._points = 0
        self._notes: list[str] = []
        self._skipped: dict[str, list[str]] = {}
        self._reasons: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self.projections: list[tuple[str, str, tuple[tuple[float, float], ...]]] = []
        self._thinned = [0, 0, 0]  # shapes, points before, points after
        self._clamped = 0  # coordinates within NOISE past a limit, set to it
        self._keys: dict[str, str] = {}  # property names as core takes them

    def layer(self, name: str) -> str:
        """The id of the layer named ``name`` (made on first use); the given layer when the
        caller chose one. Past the layer cap, the rest go to the default layer, with a note."""
        if self.layer_given or not name.strip():
            return self.default_layer
        found = self._layer_by_name.get(name)
        if found is not None:
            return found
        if len(self._layers) >= self.limits.max_layers - 1:
            self._layer_by_name[name] = self.default_layer
            self.count(
                f"folders put in the default layer (a map holds at most {self.limits.max_layers} layers)"
            )
            return self.default_layer
        base = layer_id(name)
        if base == DEFAULT_LAYER:
            return DEFAULT_LAYER
        lid, n = base, 1
        while lid in self._layers or lid == DEFAULT_LAYER:
            n += 1
            lid = f"{base[: _MAX_KEY - 4]}-{n}"
        assert ID_RE.fullmatch(lid)
        self._layers[lid] = Layer(lid, name.strip()[: self.limits.max_label])
        self._layer_by_name[name] = lid
        return lid

    def add(
        self,
        where: str,
        type_: str,
        coords: Any,
        *,
        label: str = "",
        popup: str = "",
        style: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        radius: float | None = None,
        layer: str | None = None,
        members: Mapping[str, Any] | None = None,
        series: str = "",
    ) -> None:
        """Build one feature. Raises (naming ``where``) when it breaks a rule or a cap."""
        props = dict(properties or {})
        coords = coords if series else self._thin(type_, coords, props)  # its lists are by time
        points = _count(type_, coords)
        self._check_points(where, points)
        if len(self._features) >= self.limits.max_features:
            raise PayloadTooLarge(
                f"{self.fmt} must hold at most {self.limits.max_features} features (max_features),"
                f" got more at {where}; split the file"
            )
        if len(label) > self.limits.max_label:
            label = label[: self.limits.max_label]
            self.count(f"labels shortened to {self.limits.max_label} characters")
        if len(popup) > self.limits.max_popup:
            popup = popup[: self.limits.max_popup]
            self.count(f"descriptions shortened to {self.limits.max_popup} characters")
        by_time = len(props.get(series) or ()) if series else 0  # a series' lists are one a time
        properties = self._properties(props, max(points, by_time))
        build = partial(
            build_feature,
            id="",
            type=type_,
            radius=radius,
            layer=self.default_layer if layer is None else layer,
            label=label,
            popup=popup,
            style=style,
            properties=properties,
            members=self._properties(dict(members), 0) if members else None,
            series=series,
            limits=self.limits,
        )
        try:
            feature = build(coords=coords)
        except InvalidInput as first:
            # Noise is looked for only in a refused shape: a pass over every point of every
            # file would cost each import what only a few files need.
            clamped, n = clamp_noise(coords, single=type_ in ("marker", "circle"))
            if not n:
                raise type(first)(f"{where}: {first.message}") from None
            try:
                feature = build(coords=clamped)
            except InvalidInput as exc:
                raise type(exc)(f"{where}: {exc.message}") from None
            self._clamped += n
        self._features.append(feature)
        if self.check is not None and not len(self._features) % CHECK_EVERY:
            self.check()

    @property
    def added(self) -> int:
        """Features built so far."""
        return len(self._features)

    def skip(self, kind: str, where: str, reason: str = "") -> None:
        """Note that ``where`` was left out, for the reason ``kind`` ("rows without a position");
        ``reason`` says more (the first one is kept)."""
        self._skipped.setdefault(kind, []).append(where)
        self._reasons.setdefault(kind, reason)

    def count(self, what: str, n: int = 1) -> None:
        """Count ``n`` more of something a person should know ("labels shortened to 200
        characters"); the note is ``what`` and the count."""
        self._counts[what] = self._counts.get(what, 0) + n

    def note(self, text: str) -> None:
        self._notes.append(text)

    def result(self) -> Imported:
        notes = list(self._notes)
        for kind, wheres in self._skipped.items():
            listed = ", ".join(wheres[:MAX_LISTED])
            more = f" and {len(wheres) - MAX_LISTED} more" if len(wheres) > MAX_LISTED else ""
            reason = f" (the first: {self._reasons[kind]})" if self._reasons[kind] else ""
            notes.append(f"skipped {kind}: {listed}{more}{reason}")
        notes += [f"{what}: {n}" for what, n in self._counts.items()]
        shapes, before, after = self._thinned
        if shapes:
            notes.append(
                f"simplified {shapes} line{'s' * (shapes > 1)} or shape{'s' * (shapes > 1)}"
                f" from {before} to {after} points (tolerance {self.tolerance:g} m)"
            )
        if self._clamped:
            n = self._clamped
            noun, verb = ("coordinates", "were") if n > 1 else ("coordinate", "was")
            notes.append(f"{n} {noun} within 1e-9° of ±90 or ±180 (float noise) {verb} clamped to the limit")
        used = {f.layer for f in self._features}
        return Imported(
            format=self.fmt,
            features=tuple(self._features),
            layers=tuple(layer for lid, layer in self._layers.items() if lid in used),
            notes=tuple(notes),
            unresolved=tuple(self.unresolved),
            stacked=tuple(self.stacked),
            joined=self.joined,
            title=self.title[: self.limits.max_title],
            members=check_members(self._properties(self.members, 0), self.limits) if self.members else (),
            projections=tuple(self.projections),
        )

    def _check_points(self, where: str, n: int) -> None:
        if n > self.limits.max_points:
            raise PayloadTooLarge(
                f"{where} must have at most {self.limits.max_points} points (max_points), got {n};"
                " pass simplify (metres, e.g. 5) to thin it, or split it"
            )
        self._points += n
        if self._points > self.limits.max_total_points:
            raise PayloadTooLarge(
                f"{self.fmt} must hold at most {self.limits.max_total_points} points in all"
                f" (max_total_points), got more by {where}; pass simplify (metres, e.g. 5) or split the file"
            )

    def _thin(self, type_: str, coords: Any, props: dict[str, Any]) -> Any:
        """``coords`` thinned to the tolerance, line by line and ring by ring (every part of a
        multi type or a collection), and each per-point list kept aligned with its points."""
        if self.tolerance is None or type_ in ("marker", "circle", "rectangle", "multipoint"):
            return coords
        thinner = _Thinner(self.tolerance)
        try:
            thinned = thinner.geometry(type_, coords)
        except (TypeError, ValueError, IndexError, KeyError):
            return coords  # not points: build_feature names what is wrong
        if len(thinner.kept) == thinner.seen:
            return coords
        for key, value in props.items():
            if (type(value) is list or type(value) is tuple) and len(value) == thinner.seen:
                props[key] = [value[i] for i in thinner.kept]
        self._thinned[0] += 1
        self._thinned[1] += thinner.seen
        self._thinned[2] += len(thinner.kept)
        return thinned

    def _properties(self, props: dict[str, Any], points: int) -> dict[str, Any]:
        """Attributes as core takes them: long text shortened, keys past the cap dropped, with a
        note each time rather than refusing a whole file for one long cell."""
        out: dict[str, Any] = {}
        for key, value in props.items():  # null and "" are values a file gave: kept
            name = self._keys.get(key)
            if name is None:  # a file names the same few keys on every row: each is made once
                name = "".join(c for c in key if c.isprintable())[:_MAX_KEY] or "property"
                if len(self._keys) < _MAX_NAMES:
                    self._keys[key] = name
            if len(out) == MAX_PROPERTIES:
                self.count(
                    f"features with properties past the first {MAX_PROPERTIES} (MAX_PROPERTIES) left out"
                )
                break
            if isinstance(value, tuple) or (type(value) is list and points and per_point(value, points)):
                if len(value) > points:
                    continue
                if any(isinstance(v, str) and len(v) > _MAX_ITEM for v in value):
                    value = [v[:_MAX_ITEM] if isinstance(v, str) else v for v in value]
                    self.count(f"per-point texts shortened to {_MAX_ITEM} characters")
            elif isinstance(value, (dict, list)):
                value = self._nested(name, value)
            elif isinstance(value, str) and len(value) > self.limits.max_popup:
                value = value[: self.limits.max_popup]
                self.count(f"attribute values shortened to {self.limits.max_popup} characters")
            out[name] = value
        return out

    def _nested(self, name: str, value: Any) -> Any:
        """A nested object or array as it came; past ``MAX_DEPTH`` or the text cap, its JSON
        text, shortened, with a note."""
        try:
            return check_nested(name, value, self.limits.max_popup)
        except InvalidInput:  # PayloadTooLarge too
            self.count(
                f"nested values too deep, too big or not finite kept as JSON text"
                f" (at most {self.limits.max_popup} characters)"
            )
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)[
                : self.limits.max_popup
            ]


class _Thinner:
    """Thins a geometry's lines and rings in the order of its points, keeping the index (among
    all its points) of every point it keeps, for the per-point lists."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.kept: list[int] = []
        self.seen = 0

    def points(self, points: Sequence[Any], closed: bool) -> list[Any]:
        start, n = self.seen, len(points)
        self.seen += n
        kept = range(n) if n <= 3 else simplify(points, self.tolerance, closed=closed)
        self.kept += [start + i for i in kept]
        return [points[i] for i in kept]

    def geometry(self, type_: str, coords: Any) -> Any:
        if type_ == "marker":
            self.kept.append(self.seen)
            self.seen += 1
            return coords
        if type_ == "multipoint":
            return self._all(coords)
        if type_ == "polyline":
            return self.points(coords, closed=False)
        if type_ == "polygon":
            flat = not isinstance(coords[0][0], (list, tuple))
            return self.points(coords, closed=True) if flat else [self.points(r, closed=True) for r in coords]
        if type_ == "multipolyline":
            return [self.points(line, closed=False) for line in coords]
        if type_ == "multipolygon":
            return [[self.points(r, closed=True) for r in polygon] for polygon in coords]
        if type_ == "collection":
            members = [(m["type"], m["coords"]) if isinstance(m, Mapping) else m for m in coords]
            return [{"type": t, "coords": self.geometry(t, c)} for t, c in members]
        raise TypeError(type_)

    def _all(self, points: Sequence[Any]) -> list[Any]:
        """Every point (a multipoint's are not a line to thin)."""
        self.kept += range(self.seen, self.seen + len(points))
        self.seen += len(points)
        return list(points)


def _count(type_: str, coords: Any) -> int:
    """The points a geometry holds, for the caps; 1 when it is not one (build_feature says why)."""
    try:
        return count(type_, coords)
    except (TypeError, IndexError, KeyError, ValueError):
        return 1
