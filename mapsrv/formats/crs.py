"""Where a GIS file's coordinates are: the CRS the file names (a .prj, a GeoPackage's srs,
GeoParquet's metadata) or the one the caller gives, and the transform of every coordinate into
WGS84 longitude and latitude (pyproj, axis order as GIS files write it: x east, y north).

A file that names no CRS is read as degrees only when its numbers are degrees; otherwise it is
refused with the reason and a hint, never drawn in the sea off Africa (British National Grid
metres read as degrees land there, or nowhere).

A file read in a projected CRS (named or given) whose features land mostly outside that CRS's
area of use gets a note saying so, with the systems of the same family (a neighbouring UTM zone,
the next zone of a State Plane series) where they would land inside theirs: read as UTM 17N,
Georgia's counties lie in the Atlantic, and the note asks whether 16N was meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from mapsrv.errors import CrsNeeded, InvalidInput

__all__ = [
    "HINT",
    "Reprojection",
    "candidates",
    "crs_name",
    "geojson_crs",
    "given_crs",
    "neighbours",
    "read_in",
    "reproject_geojson",
    "reprojection",
]

HINT = 'crs: "EPSG:27700" (British National Grid), "EPSG:2154" (Lambert-93) or a UTM zone ("EPSG:32631")'
_WGS84 = CRS.from_epsg(4326)


def given_crs(text: str) -> CRS:
    """The ``crs`` a caller gives: ``EPSG:27700``, ``27700``, a PROJ string or WKT."""
    try:
        return CRS.from_user_input(text.strip())
    except CRSError:
        raise InvalidInput(
            f"crs must be a coordinate reference system, got {text!r:.60}; e.g. {HINT}"
        ) from None


def _crs(found: Any, what: str) -> CRS:
    try:
        return CRS.from_user_input(found)
    except CRSError:
        raise InvalidInput(
            f"{what} names a coordinate reference system that cannot be read ({str(found)[:80]!r});"
            f" give the one it is in: {HINT}"
        ) from None


def crs_name(crs: CRS) -> str:
    code = crs.to_authority(min_confidence=90)
    return f"{code[0]}:{code[1]} ({crs.name})" if code else crs.name


@dataclass
class Reprojection:
    """How one layer's coordinates become WGS84 degrees: through ``transformer``, or as they are
    (``None``: already longitude and latitude; ``checked``: degrees by assumption, so each batch
    is looked at)."""

    what: str
    transformer: Transformer | None
    checked: bool = False
    crs: CRS | None = None  # the projected CRS read from, for the area-of-use check
    inside: int = 0  # points read inside its area of use, and outside
    outside: int = 0
    sample: list[tuple[float, float]] = field(default_factory=list)  # a few points as read (x, y)

    def apply(self, geometries: Any) -> Any:
        """``geometries`` (a shapely array) in WGS84 degrees."""
        if self.checked:
            self._check_degrees(geometries)
        if self.transformer is None:
            return geometries
        # separate x and y arrays in, as pyproj takes them (the stubs know only interleaved pairs)
        return shapely.transform(geometries, self.move, interleaved=False)  # type: ignore[arg-type]

    def move(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Coordinates ``x``, ``y`` (arrays) into longitude and latitude; a projected system's
        are sampled and counted in or out of its area of use on the way (``area_note``)."""
        assert self.transformer is not None
        lon, lat = self.transformer.transform(x, y, errcheck=False)
        if self.crs is not None:
            if len(self.sample) < _SAMPLE:
                step = max(1, len(x) // _SAMPLE)
                self.sample += zip(x[::step].tolist(), y[::step].tolist(), strict=True)
                del self.sample[_SAMPLE:]
            within = _share_within(self.crs, lon, lat)
            inside = round(within * len(lon))
            self.inside += inside
            self.outside += len(lon) - inside
        return lon, lat

    def read_as(self) -> tuple[str, str, tuple[tuple[float, float], ...]] | None:
        """What ``Imported.projections`` keeps of a layer read from a projected system."""
        if self.crs is None or not self.sample:
            return None
        return (self.what, self.crs.to_wkt(), tuple(self.sample))

    def area_note(self) -> str | None:
        """A note when most points lie outside the CRS's area of use, naming the systems of its
        family in whose area they would lie (see the module's docstring); else None."""
        if self.crs is None or self.outside <= self.inside or self.crs.area_of_use is None:
            return None
        area = self.crs.area_of_use.name
        area = area if len(area) <= _AREA else area[: _AREA - 1].rstrip(" ;,-") + "…"
        said = (
            f"{self.what}: read as {crs_name(self.crs)}, {self.outside:,} of {self.inside + self.outside:,}"
            f" points lie outside where that system is used ({area}); check its crs"
        )
        xs, ys = np.array([p[0] for p in self.sample]), np.array([p[1] for p in self.sample])
        meant = [crs_name(c) for c in neighbours(self.crs) if _share_within(c, *read_in(c, xs, ys)) > 0.5]
        return said + (f": did you mean {' or '.join(meant[:3])}?" if meant else "")

    def _check_degrees(self, geometries: Any) -> None:
        coords = shapely.get_coordinates(geometries)
        if not len(coords):
            return
        x, y = coords[:, 0], coords[:, 1]
        if bool(np.all(np.abs(x) <= 180.0 + 1e-9)) and bool(np.all(np.abs(y) <= 90.0 + 1e-9)):
            return
        found = candidates(x, y)
        likely = f"; likely: {', '.join(c['crs'] for c in found[:5])}" if found else ""
        raise CrsNeeded(
            f"{self.what} names no coordinate reference system and its coordinates are not degrees"
            f" (x from {np.nanmin(x):,.6g} to {np.nanmax(x):,.6g}, y from {np.nanmin(y):,.6g} to"
            f" {np.nanmax(y):,.6g}): say which system they are in, e.g. {HINT}{likely}",
            found,
            _sample(x, y),
        )


def _sample(x: Any, y: Any, most: int = 64) -> list[tuple[float, float]]:
    """At most ``most`` of the points, spread through them, finite."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    at = np.unique(np.linspace(0, len(x) - 1, min(most, len(x))).astype(int))
    return list(zip(x[at].tolist(), y[at].tolist(), strict=True))


def reprojection(found: Any, given: CRS | None, what: str, notes: list[str]) -> Reprojection:
    """The way from the CRS the file names (``found``: any form pyproj reads, or None) or the one
    ``given`` (which wins) to WGS84. ``what`` names the layer in errors and ``notes``."""
    if given is not None:
        crs = given
        if found:
            named = _crs(found, what)
            if not named.equals(given, ignore_axis_order=True):
                notes.append(f"{what} says it is in {crs_name(named)}; read as {crs_name(given)} as asked")
    elif found:
        crs = _crs(found, what)
    else:
        notes.append(f"{what} names no coordinate reference system: its degrees were read as WGS84")
        return Reprojection(what, None, checked=True)
    if crs.equals(_WGS84, ignore_axis_order=True):
        return Reprojection(what, None)
    if not crs.is_geographic and not crs.is_projected and not crs.is_compound:
        raise InvalidInput(f"{what} is in {crs_name(crs)}, which is not on the Earth's surface; {HINT}")
    try:
        transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    except CRSError as exc:
        said = f"{what} is in {crs_name(crs)}, which cannot be turned into WGS84: {exc}"
        raise InvalidInput(said) from None
    notes.append(f"{what} reprojected from {crs_name(crs)} to WGS84")
    return Reprojection(what, transformer, crs=crs if crs.is_projected else None)


_SAMPLE = 200  # points kept to try the neighbouring systems with
_AREA = 100  # characters of an area of use's name in a note (a state plane's lists its counties)
_UTM = re.compile(r"^(?P<datum>.*) / UTM zone (?P<zone>\d+)(?P<hemisphere>[NS])$")


def _within(area: Any, lon: Any, lat: Any) -> Any:
    """Which points lie in an area of use (one that crosses the antimeridian included)."""
    north_south = (lat >= area.south - 0.5) & (lat <= area.north + 0.5)
    if area.west <= area.east:
        return north_south & (lon >= area.west - 0.5) & (lon <= area.east + 0.5)
    return north_south & ((lon >= area.west - 0.5) | (lon <= area.east + 0.5))


def neighbours(crs: CRS) -> list[CRS]:
    """The systems of ``crs``'s family one or two steps away: the UTM zones beside a UTM zone (of
    its datum), else the EPSG codes beside its own of the same kind and datum name's start."""
    out: list[CRS] = []
    code = crs.to_epsg(min_confidence=90)
    utm = _UTM.match(crs.name)
    for step in (1, -1, 2, -2):
        try:
            if utm:
                zone = int(utm["zone"]) + step
                if not 1 <= zone <= 60:
                    continue
                found = CRS.from_user_input(f"{utm['datum']} / UTM zone {zone}{utm['hemisphere']}")
            elif code is not None:
                found = CRS.from_epsg(code + step)
                if not found.is_projected or found.name.split(" / ")[0] != crs.name.split(" / ")[0]:
                    continue
            else:
                return out
        except CRSError:
            continue
        out.append(found)
    return out


def read_in(crs: CRS, xs: Any, ys: Any) -> tuple[Any, Any]:
    """``xs``, ``ys`` as ``crs`` reads them: longitudes and latitudes (NaN where it cannot)."""
    try:
        lon, lat = Transformer.from_crs(crs, _WGS84, always_xy=True).transform(xs, ys, errcheck=False)
    except CRSError:
        return np.full(len(xs), np.nan), np.full(len(ys), np.nan)
    return np.asarray(lon), np.asarray(lat)


def _share_within(crs: CRS, lon: Any, lat: Any) -> float:
    """The share of the points (degrees) that lie in ``crs``'s area of use; 0 when it has none."""
    if crs.area_of_use is None or not len(lon):
        return 0.0
    lon, lat = np.asarray(lon), np.asarray(lat)
    return float((_within(crs.area_of_use, lon, lat) & np.isfinite(lon) & np.isfinite(lat)).mean())


def geojson_crs(raw: Any) -> CRS | None:
    """The system a GeoJSON's 2008 ``crs`` member names (``{"type": "name", "properties":
    {"name": "urn:ogc:def:crs:EPSG::2248"}}``, or the older ``EPSG`` type with a ``code``), as GDAL
    and older tools write it; None when there is none or it is WGS84 (RFC 7946's only one)."""
    member = raw.get("crs") if isinstance(raw, dict) else None
    if not isinstance(member, dict) or not isinstance(member.get("properties"), dict):
        return None
    props = member["properties"]
    found = props.get("name") if member.get("type") == "name" else props.get("code")
    if not isinstance(found, (str, int)) or isinstance(found, bool):
        return None
    crs = _crs(f"EPSG:{found}" if isinstance(found, int) else found, "geojson's crs member")
    return None if crs.equals(_WGS84, ignore_axis_order=True) else crs  # CRS84 too


def _positions(coords: Any, depth: int = 0) -> Any:
    """Each position (a list whose first two items are numbers) of a geometry's ``coordinates``."""
    if not isinstance(coords, list) or depth > 4:
        return
    if len(coords) >= 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coords[:2]):
        yield coords
        return
    for item in coords:
        yield from _positions(item, depth + 1)


def _geometries(raw: Any, depth: int = 0) -> Any:
    if not isinstance(raw, dict) or depth > 32:
        return
    kind = raw.get("type")
    if kind == "FeatureCollection" and isinstance(raw.get("features"), list):
        for feature in raw["features"]:
            yield from _geometries(feature, depth + 1)
    elif kind == "Feature":
        yield from _geometries(raw.get("geometry"), depth + 1)
    elif kind == "GeometryCollection" and isinstance(raw.get("geometries"), list):
        for member in raw["geometries"]:
            yield from _geometries(member, depth + 1)
    elif "coordinates" in raw:
        yield raw


def reproject_geojson(raw: Any, crs: CRS, notes: list[str]) -> None:
    """``raw`` (a parsed GeoJSON) with every position moved from ``crs`` into WGS84 longitude and
    latitude, in place, in one pass of PROJ over all of them (``Reprojection.move``)."""
    way = reprojection(crs, None, "geojson", notes)
    positions = [p for geometry in _geometries(raw) for p in _positions(geometry.get("coordinates"))]
    if way.transformer is None or not positions:
        return
    xs = np.fromiter((p[0] for p in positions), float, len(positions))
    ys = np.fromiter((p[1] for p in positions), float, len(positions))
    lon, lat = way.move(xs, ys)
    for position, x, y in zip(positions, np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True):
        position[0], position[1] = x, y
    if said := way.area_note():
        notes.append(said)


# Projected systems people's files are most often in without saying so: national and regional
# grids (their areas of use tell them apart), then the UTM zones of three datums' (one of which
# a file's numbers fit is a zone its area holds: they are offered after the grids) and Web
# Mercator, which holds any numbers within its square.
_GRIDS = (
    27700, 2154, 28992, 2056, 31370, 5514, 2180, 3067, 3006, 25832, 25833, 25830, 31468, 3003, 3035,
    2193, 3577, 7855, 3112, 5070, 2263, 2229, 2240, 2248, 2272, 3857,
)  # fmt: skip
_MOST = 12


def candidates(x: Any, y: Any) -> list[dict[str, str]]:
    """The systems of ``_GRIDS`` whose area of use holds the points ``x``, ``y`` (their box's
    corners and centre, as the system would read them), at most ``_MOST``: what the page offers
    for a file that names none."""
    x, y = x[np.isfinite(x) & np.isfinite(y)], y[np.isfinite(x) & np.isfinite(y)]
    if not len(x):
        return []
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    xs = np.array([x0, x0, x1, x1, (x0 + x1) / 2])
    ys = np.array([y0, y1, y0, y1, (y0 + y1) / 2])
    out = []
    for code in _GRIDS:
        try:
            crs = CRS.from_epsg(code)
            if _share_within(crs, *read_in(crs, xs, ys)) == 1.0:
                out.append({"crs": f"EPSG:{code}", "name": crs.name})
        except CRSError:
            continue
        if len(out) == _MOST:
            break
    return out
