"""Where a GIS file's coordinates are: the CRS the file names (a .prj, a GeoPackage's srs,
GeoParquet's metadata) or the one the caller gives, and the transform of every coordinate into
WGS84 longitude and latitude (pyproj, axis order as GIS files write it: x east, y north).

A file that names no CRS is read as degrees only when its numbers are degrees; otherwise it is
refused with the reason and a hint, never drawn in the sea off Africa (British National Grid
metres read as degrees land there, or nowhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from mapsrv.errors import InvalidInput

__all__ = ["HINT", "Reprojection", "given_crs", "reprojection"]

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


def _name(crs: CRS) -> str:
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

    def apply(self, geometries: Any) -> Any:
        """``geometries`` (a shapely array) in WGS84 degrees."""
        if self.checked:
            self._check_degrees(geometries)
        if self.transformer is None:
            return geometries
        # separate x and y arrays in, as pyproj takes them (the stubs know only interleaved pairs)
        return shapely.transform(geometries, self._transform, interleaved=False)  # type: ignore[arg-type]

    def _transform(self, x: Any, y: Any) -> tuple[Any, Any]:
        assert self.transformer is not None
        return self.transformer.transform(x, y, errcheck=False)

    def _check_degrees(self, geometries: Any) -> None:
        coords = shapely.get_coordinates(geometries)
        if not len(coords):
            return
        x, y = coords[:, 0], coords[:, 1]
        if bool(np.all(np.abs(x) <= 180.0 + 1e-9)) and bool(np.all(np.abs(y) <= 90.0 + 1e-9)):
            return
        raise InvalidInput(
            f"{self.what} names no coordinate reference system and its coordinates are not degrees"
            f" (x from {np.nanmin(x):,.6g} to {np.nanmax(x):,.6g}, y from {np.nanmin(y):,.6g} to"
            f" {np.nanmax(y):,.6g}): say which system they are in, e.g. {HINT}"
        )


def reprojection(found: Any, given: CRS | None, what: str, notes: list[str]) -> Reprojection:
    """The way from the CRS the file names (``found``: any form pyproj reads, or None) or the one
    ``given`` (which wins) to WGS84. ``what`` names the layer in errors and ``notes``."""
    if given is not None:
        crs = given
        if found:
            named = _crs(found, what)
            if not named.equals(given, ignore_axis_order=True):
                notes.append(f"{what} says it is in {_name(named)}; read as {_name(given)} as asked")
    elif found:
        crs = _crs(found, what)
    else:
        notes.append(f"{what} names no coordinate reference system: its degrees were read as WGS84")
        return Reprojection(what, None, checked=True)
    if crs.equals(_WGS84, ignore_axis_order=True):
        return Reprojection(what, None)
    if not crs.is_geographic and not crs.is_projected and not crs.is_compound:
        raise InvalidInput(f"{what} is in {_name(crs)}, which is not on the Earth's surface; {HINT}")
    try:
        transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    except CRSError as exc:
        raise InvalidInput(f"{what} is in {_name(crs)}, which cannot be turned into WGS84: {exc}") from None
    notes.append(f"{what} reprojected from {_name(crs)} to WGS84")
    return Reprojection(what, transformer)
