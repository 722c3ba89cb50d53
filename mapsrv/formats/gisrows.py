"""A GIS layer's rows into features, one batch at a time: the record batches of GDAL's Arrow
stream (Shapefile, GeoPackage, FlatGeobuf) and of a Parquet file's row groups alike.

Each batch's WKB geometries are decoded at once (shapely), reprojected at once (``crs``), and
turned into mapsrv's geometry whole: a polygon with its holes, a multipolygon with its parts, a
collection with its members. Every column is a property with its type: integers, reals, text and
booleans as they are, dates and times as ISO 8601 text, decimals as reals, lists and structures as
JSON arrays and objects (a list one value however long: ``core.nested.JsonArray``), a map an
object; binary columns are left out with a note. Heights (Z) are kept as the feature's
``ele`` or ``elevations`` (``mapsrv.core.heights``), measures (M) left out with a note. A ``name``
(or ``label``, ``title``...) column gives the label, a ``description`` the popup, as in a CSV.

A dictionary column (a Parquet file's text and WKB, which ``geoparquet`` reads as Arrow
dictionaries) whose rows repeat its values is decoded a distinct value at a time, its rows sharing
it; and a batch's geometries are counted against the map's point cap before any of it is built.

A table mapsrv wrote (``gisout``) has a ``mapsrvtype`` column: its ``label``, ``popup``,
``style``, ``layer`` and ``radius`` columns (``m_label``... when the data had its own) are the
feature's, so circles, rectangles, styles and layers come back as they were.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from mapsrv.core.heights import ELE, height_key, numbers
from mapsrv.core.nested import JsonArray
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats.collect import Collector
from mapsrv.formats.columns import find_columns
from mapsrv.formats.crs import Reprojection
from mapsrv.formats.curves import linear_wkb
from mapsrv.formats.progress import Progress

__all__ = ["OWN", "OWN_PREFIX", "OWN_TYPE", "LayerRows", "shape"]

OWN_TYPE = "mapsrvtype"  # ten characters: a Shapefile keeps it whole
OWN = ("layer", "label", "popup", "style", "radius")
OWN_PREFIX = "m_"
_KINDS = {0: "marker", 1: "polyline", 2: "polyline", 3: "polygon", 4: "multipoint"}
_KINDS |= {5: "multipolyline", 6: "multipolygon", 7: "collection"}
_SINGLE = {"marker": "multipoint", "circle": "multipoint", "polyline": "multipolyline"}
_SINGLE |= {"polygon": "multipolygon", "rectangle": "multipolygon"}
_ONE = {"multipoint": "marker", "multipolyline": "polyline", "multipolygon": "polygon"}
_LEEWAY = 10  # points read per point kept, at most, when the collector may keep fewer than it is given


def _points(geometry: Any) -> list[tuple[float, float]]:
    xy = shapely.get_coordinates(geometry)
    return list(zip(xy[:, 1].tolist(), xy[:, 0].tolist(), strict=True))


def _rings(polygon: Any) -> list[list[tuple[float, float]]]:
    return [_points(polygon.exterior), *(_points(ring) for ring in polygon.interiors)]


def _members(geometry: Any) -> list[Any]:
    """A collection's members, collections inside it flattened (mapsrv holds one level)."""
    out: list[Any] = []
    stack = list(reversed(shapely.get_parts(geometry)))
    while stack:
        member = stack.pop()
        if shapely.get_type_id(member) == 7:
            stack.extend(reversed(shapely.get_parts(member)))
        elif not member.is_empty:
            out.append(member)
    return out


def _ring_heights(polygon: Any) -> list[float]:
    rings = (polygon.exterior, *polygon.interiors)
    return [z for ring in rings for z in shapely.get_coordinates(ring, include_z=True)[:-1, 2].tolist()]


def _zs(geometry: Any) -> list[float]:
    """A 3D geometry's heights in the order of mapsrv's points (a ring's closing point left out)."""
    kind = _KINDS[int(shapely.get_type_id(geometry))]
    if kind == "polygon":
        return _ring_heights(geometry)
    if kind == "multipolygon":
        return [z for polygon in geometry.geoms for z in _ring_heights(polygon)]
    if kind == "collection":
        return [z for member in _members(geometry) for z in _zs(member)]
    found: list[float] = shapely.get_coordinates(geometry, include_z=True)[:, 2].tolist()
    return found


def _heights(geometries: Any) -> Any:
    """Each geometry's heights (``numbers``: None where it has none, or no number), as an array
    of objects; None when no geometry of the batch has any."""
    has_z = shapely.has_z(geometries)
    if not has_z.any():
        return None
    out = np.full(len(geometries), None, dtype=object)
    for i in np.flatnonzero(has_z).tolist():
        out[i] = numbers(_zs(geometries[i]))
    return out


def shape(geometry: Any) -> tuple[str, Any]:
    """A shapely geometry (x longitude, y latitude) as mapsrv's ``(type, coords)``."""
    kind = _KINDS[int(shapely.get_type_id(geometry))]
    if kind == "marker":
        return kind, (geometry.y, geometry.x)
    if kind in ("polyline", "multipoint"):
        return kind, _points(geometry)
    if kind == "polygon":
        return kind, _rings(geometry)
    if kind == "multipolyline":
        return kind, [_points(line) for line in geometry.geoms]
    if kind == "multipolygon":
        return kind, [_rings(polygon) for polygon in geometry.geoms]
    members = []
    for member in _members(geometry):
        mtype, coords = shape(member)
        members.append({"type": mtype, "coords": coords})
    return kind, members


def _values(column: Any, name: str = "", what: str = "") -> list[Any] | None:
    """A column's values as properties take them; None for a column of bytes."""
    kind = column.type
    if pa.types.is_dictionary(kind) and len(column.dictionary) < len(column):
        return _each_once(column, name, what)
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return None
    raw: list[Any]
    try:
        raw = column.to_pylist()
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{what} column {name} is not text in the encoding the file names (its .cpg or code page);"
            " save it as UTF-8 (QGIS: Save As, Encoding UTF-8)"
        ) from None
    except (ValueError, OverflowError, pa.ArrowException):  # a date past year 9999, say
        raw = column.cast(pa.string()).to_pylist()
    if pa.types.is_temporal(kind) and not pa.types.is_duration(kind):
        return [v if v is None or isinstance(v, str) else v.isoformat() for v in raw]
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return [None if v is None or not math.isfinite(v) else float(v) for v in raw]
    if pa.types.is_map(kind):  # pairs: an object when its keys are text
        return [None if v is None else _mapped(v) for v in raw]
    if pa.types.is_nested(kind):  # a list one value, however long (never one a point)
        return [JsonArray(v) if type(v) is list else v for v in raw]
    if pa.types.is_duration(kind):
        return [None if v is None else str(v) for v in raw]
    return raw


def _mapped(pairs: list[tuple[Any, Any]]) -> Any:
    if all(isinstance(k, str) for k, _ in pairs):
        return dict(pairs)
    return JsonArray([list(pair) for pair in pairs])


def _row(start: int, i: int, rows: Any) -> int:
    """The file's row of a batch's geometry ``i``: of its first row when they are shared."""
    return start + (i if rows is None else int(np.argmax(rows == i)))


def _each_once(column: Any, name: str, what: str) -> list[Any] | None:
    """A dictionary column's values, each of its distinct ones made once and shared by its rows
    (a file's 1 MB text named by 8,192 rows is one string, not 8 GB of them)."""
    distinct = _values(column.dictionary, name, what)
    if distinct is None:
        return None
    found: list[Any] = _shared(distinct, column.indices.fill_null(len(distinct)).to_numpy()).tolist()
    return found


def _shared(values: Any, rows: Any) -> Any:
    """``values[rows]`` as objects, the row ``len(values)`` (a null index) None."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    return out[rows]


class LayerRows:
    """One layer's rows into ``out``. ``what`` names the layer in errors ("gpkg layer roads"),
    ``geometry`` its WKB column; ``layer`` the map layer its features go in (None: the
    collector's); ``fields`` the other columns, in order; ``progress`` counts the rows read."""

    def __init__(
        self,
        out: Collector,
        what: str,
        geometry: str,
        reprojection: Reprojection,
        fields: Sequence[str],
        layer: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.out, self.what, self.geometry, self.reprojection = out, what, geometry, reprojection
        self.progress = progress
        self.layer = None if layer is None else out.layer(layer)
        self.index = 0
        self.points = 0  # points read, before any thinning
        self.own = OWN_TYPE in fields
        self.mine = {k: OWN_PREFIX + k if OWN_PREFIX + k in fields else k for k in OWN} if self.own else {}
        taken = {OWN_TYPE, *self.mine.values()}
        self.fields = [f for f in fields if f not in taken]
        columns = find_columns(self.fields, [])
        self.label = None if self.own or columns.label is None else self.fields[columns.label]
        self.popup = None if self.own or columns.popup is None else self.fields[columns.popup]
        self.skipped: set[str] = set()
        self.heights = False  # noted that the layer's heights are kept

    def add(self, batch: Any) -> None:
        """One record batch: its geometries decoded, reprojected and built, row by row."""
        start, n = self.index, batch.num_rows
        self.index += n
        geometries, zs = self._geometries(batch.column(self.geometry), start)
        values: dict[str, list[Any]] = {}
        for name in self.fields:
            found = _values(batch.column(name), name, self.what)
            if found is None:
                if name not in self.skipped:
                    self.skipped.add(name)
                    self.out.note(f"{self.what}: column {name} holds bytes, left out")
                continue
            values[name] = found
        names = batch.schema.names
        mine = {k: _values(batch.column(c), c, self.what) for k, c in self.mine.items() if c in names}
        if self.own:
            mine["type"] = batch.column(OWN_TYPE).to_pylist()
        missing = shapely.is_empty(geometries) | shapely.is_missing(geometries)
        empty = missing.tolist()
        # every point's (lat, lon) at once: most big files are points
        points = np.flatnonzero((shapely.get_type_id(geometries) == 0) & ~missing)
        xy = shapely.get_coordinates(geometries[points])
        at = dict(zip(points.tolist(), zip(xy[:, 1].tolist(), xy[:, 0].tolist(), strict=True), strict=True))
        for i in range(n):
            where = f"{self.what} feature {start + i}"
            if empty[i]:
                self.out.skip("features without a geometry", where)
                continue
            properties = {name: column[i] for name, column in values.items()}
            height = None if zs is None else zs[i]
            if self.own:
                row = {k: v[i] for k, v in mine.items() if v is not None}
                self._add_own(where, geometries[i], properties, row, height)
                continue
            point = at.get(i)
            type_, coords = ("marker", point) if point is not None else shape(geometries[i])
            if height is not None:
                self._height(type_, properties, height)
            label, popup = properties.get(self.label or ""), properties.get(self.popup or "")
            self.out.add(
                where,
                type_,
                coords,
                label=label if isinstance(label, str) else "",
                popup=popup if isinstance(popup, str) else "",
                properties=properties,
                layer=self.layer,
            )
        if self.progress is not None:
            self.progress.advance(n)

    def _geometries(self, column: Any, start: int) -> tuple[Any, list[Any] | None]:
        """The batch's geometries, in degrees, and their heights (a list a row, None for a row
        without; None for a batch without). A dictionary column's distinct geometries are
        decoded, checked and reprojected once, and its rows share them."""
        rows = None
        if pa.types.is_dictionary(column.type) and len(column.dictionary) < len(column):
            rows = column.indices.fill_null(len(column.dictionary)).to_numpy()
            column = column.dictionary
        wkb = column.to_numpy(zero_copy_only=False)
        try:
            geometries = shapely.from_wkb(wkb)
        except (shapely.errors.GEOSException, NotImplementedError):  # GEOS has no curves
            geometries = self._straightened(wkb, start, rows)
        sizes = shapely.get_num_coordinates(geometries)
        self._check_points(sizes if rows is None else np.append(sizes, 0)[rows], start)
        measured = int(shapely.has_m(geometries).sum())
        if measured:
            self.out.count(
                f"{self.what}: measures (M) left out, the map holds positions and heights", measured
            )
        zs = _heights(geometries)
        if zs is not None and not self.heights:
            self.heights = True
            self.out.note(
                f"{self.what}: heights (Z) kept, a point's as its ele, a line's or shape's as its elevations"
            )
        if measured or zs is not None:
            geometries = shapely.force_2d(geometries)
        geometries = self.reprojection.apply(geometries)
        xy, at = shapely.get_coordinates(geometries, return_index=True)
        finite = np.isfinite(xy).all(axis=1)
        if not finite.all():
            i = int(at[int(np.argmin(finite))])
            raise InvalidInput(
                f"{self.what} feature {_row(start, i, rows)} cannot be turned into degrees: its"
                " coordinates are beyond what its coordinate reference system covers; check the file's crs"
            )
        if rows is None:
            return geometries, zs
        return _shared(geometries, rows), (None if zs is None else _shared(zs, rows).tolist())

    def _straightened(self, wkb: Any, start: int, rows: Any) -> Any:
        """A batch shapely refused: its curves made straight (``curves``) and counted in a note,
        or the first geometry that still cannot be read named."""
        straight = 0
        out = []
        for i, one in enumerate(wkb):
            linear = linear_wkb(one)
            if linear is not None:
                straight += 1
                one = linear
            try:
                out.append(shapely.from_wkb(one))
            except (shapely.errors.GEOSException, NotImplementedError) as exc:
                raise InvalidInput(
                    f"{self.what} feature {_row(start, i, rows)}: its geometry cannot be read ({exc});"
                    " export it again as simple features (ogr2ogr -nlt CONVERT_TO_LINEAR)"
                ) from None
        if straight:
            self.out.count(
                f"{self.what}: curves made straight lines (a point every 4° of arc, as GDAL)", straight
            )
        return np.array(out, dtype=object)

    def _check_points(self, sizes: Any, start: int) -> None:
        """Refuse a row past the map's point caps before any of the batch is built: one geometry
        past ``max_total_points``, or all the rows read so far (some leeway when lines are to be
        thinned, or rectangles are 5 points read for 2 kept)."""
        limits = self.out.limits
        if len(sizes) and int(sizes.max()) > limits.max_total_points:
            i = int(np.argmax(sizes))
            raise PayloadTooLarge(
                f"{self.what} feature {start + i} must have at most {limits.max_total_points}"
                f" points (max_total_points), got {int(sizes[i])}; simplify it before importing"
            )
        most = limits.max_total_points * (_LEEWAY if self.own or self.out.tolerance is not None else 1)
        read = self.points + np.cumsum(sizes)
        if len(read) and int(read[-1]) > most:
            i = int(np.argmax(read > most))
            raise PayloadTooLarge(
                f"{self.what} must hold at most {limits.max_total_points} points in all"
                f" (max_total_points), got more by {self.what} feature {start + i}; pass simplify"
                " (metres, e.g. 5) or split the file"
            )
        self.points = int(read[-1]) if len(read) else self.points

    def _height(self, type_: str, properties: dict[str, Any], zs: list[float | None]) -> None:
        """A feature's heights as its ``ele`` or ``elevations`` (``mapsrv.core.heights``),
        unless the file has a column of that name: then the column's values stay."""
        key = height_key(type_)
        if key in properties:
            self.out.count(f"{self.what}: heights (Z) left out where the layer has its own {key} column")
        elif type_ != "rectangle":
            properties[key] = zs[0] if key == ELE else zs

    def _add_own(
        self, where: str, geometry: Any, properties: dict[str, Any], mine: dict[str, Any], zs: Any
    ) -> None:
        """A feature mapsrv wrote: its own type, label, popup, style, layer and radius."""
        type_, coords = shape(geometry)
        wanted = str(mine.get("type"))
        # A Shapefile holds a marker as a multipoint of one beside multipoints, and gives a
        # multipolygon of one part back as a polygon: each is the kind mapsrv wrote
        if _SINGLE.get(wanted) == type_ and len(coords) == 1:
            type_, coords = _ONE[type_], coords[0]
        elif _SINGLE.get(type_) == wanted:
            type_, coords = wanted, [coords]
        radius = mine.get("radius")
        if wanted == "circle" and type_ == "marker":
            type_ = "circle"
        elif wanted == "rectangle" and type_ == "polygon":
            ys = [p[0] for p in coords[0]]
            xs = [p[1] for p in coords[0]]
            type_, coords = "rectangle", ((min(ys), min(xs)), (max(ys), max(xs)))
        if type_ != "circle":
            radius = None
        if zs is not None:
            self._height(type_, properties, zs)
        style = mine.get("style")
        try:
            style = json.loads(style) if isinstance(style, str) and style else None
        except ValueError:
            style = None
        layer = mine.get("layer")
        self.out.add(
            where,
            type_,
            coords,
            label=mine.get("label") or "",
            popup=mine.get("popup") or "",
            style=style if isinstance(style, dict) else None,
            properties=properties,
            radius=radius,
            layer=self.out.layer(layer) if isinstance(layer, str) and layer else self.layer,
        )
