"""A projection checked against the world's land: a GIS file read from a projected system whose
points mostly lie at sea, where a neighbouring system of its family (the next UTM zone, the
next State Plane zone) would put nearly all of them on land, gets a note naming that system.

Read as UTM zone 17N, Georgia's counties (16N) land in the Atlantic off the Carolinas: each zone
reads the same numbers into its own band, so its area of use (``mapsrv.formats.crs``) cannot tell
a zone one off; the land can. The reader process keeps a sample of each layer's points as read
(``Imported.projections``); the land is the offline regions' (``mapsrv.places.borders``, with
their territorial sea). Data at sea for a reason (a shipping lane mid-ocean) is left alone: only
a neighbour that puts it on land makes a note, and the note asks rather than changes anything
(a lane off a coast whose neighbour zone is land gets the question too).

A file that names no system and whose numbers are UTM metres gets, among the systems the page
offers (``utm_candidates``), the zones in which its points lie on land, each named with where
(Georgia's counties: "NAD83 / UTM zone 16N, in Georgia (US)", and the zones beside it, in
Alabama and South Carolina): the numbers alone fit every zone, the person knows the place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mapsrv.places.borders import country_at, region_at

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["ON_LAND", "sea_notes", "utm_candidates"]

ON_LAND = 0.9  # the share of points a neighbouring system must put on land
_AT_SEA = 0.6  # ... while the system read puts fewer than this share there


def _on_land(crs: CRS, xs: Any, ys: Any) -> float:
    """The share of the points (as read) that ``crs`` puts on land, or within its coasts' reach."""
    from mapsrv.formats.crs import read_in

    lon, lat = read_in(crs, xs, ys)
    return sum(
        1 for x, y in zip(lon.tolist(), lat.tolist(), strict=True) if abs(y) <= 90 and country_at(x, y)
    ) / len(xs)


def sea_notes(projections: Iterable[tuple[str, str, tuple[tuple[float, float], ...]]]) -> list[str]:
    """A note for each layer (``Imported.projections``) that lies at sea in the system it was
    read from but on land in a neighbouring one; runs in a worker thread (PROJ, and the regions
    read the first time)."""
    from pyproj import CRS

    from mapsrv.formats.crs import crs_name, neighbours

    out = []
    for what, wkt, sample in projections:
        crs = CRS.from_wkt(wkt)
        xs, ys = np.array([p[0] for p in sample]), np.array([p[1] for p in sample])
        share = _on_land(crs, xs, ys)
        if share >= _AT_SEA:
            continue
        for other in neighbours(crs):
            if _on_land(other, xs, ys) >= ON_LAND:
                out.append(
                    f"{what}: read as {crs_name(crs)}, {1 - share:.0%} of its points lie at sea; in"
                    f" {crs_name(other)} they would lie on land: if they belong on land, give that as crs"
                )
                break
    return out


_EASTING = (-500_000.0, 1_500_000.0)  # a UTM file's eastings, a state past its zone's edges
_MIDDLE = (160_000.0, 840_000.0)  # ... whose middle is within its zone
_NORTHING = (0.0, 10_000_000.0)
_NAD83 = frozenset({"US", "CA", "MX"})  # where a UTM file is NAD83 (EPSG:269xx), zones 1-23 north
_MOST_ZONES = 12  # the US alone spans zones 10-19


def utm_candidates(sample: list[tuple[float, float]]) -> list[dict[str, str]]:
    """The UTM zones in which the points (``x``, ``y`` as the file has them) lie on land, most on
    land first, each ``{"crs": "EPSG:26916", "name": "NAD83 / UTM zone 16N, in Georgia (US)"}``
    (NAD83's zone in North America, else WGS 84's); none when they are not UTM metres. Every
    zone reads the numbers alike but for its central meridian, so each hemisphere's are read once
    and moved 6° a zone. Runs in a worker thread (PROJ, and the regions read the first time)."""
    from pyproj import CRS

    from mapsrv.formats.crs import read_in

    xs, ys = np.array([p[0] for p in sample]), np.array([p[1] for p in sample])
    if not len(xs) or not (
        _EASTING[0] <= xs.min()
        and xs.max() <= _EASTING[1]
        and _MIDDLE[0] <= np.median(xs) <= _MIDDLE[1]
        and _NORTHING[0] <= ys.min()
        and ys.max() <= _NORTHING[1]
    ):
        return []
    found: list[tuple[float, int, bool]] = []
    for north, first in ((True, 32601), (False, 32701)):
        lon, lat = read_in(CRS.from_epsg(first), xs, ys)
        for zone in range(1, 61):
            moved = (lon + 6.0 * (zone - 1) + 180.0) % 360.0 - 180.0
            share = sum(
                1 for x, y in zip(moved.tolist(), lat.tolist(), strict=True) if country_at(x, y)
            ) / len(xs)
            if share >= ON_LAND:
                found.append((share, zone, north))
    out = []
    for _, zone, north in sorted(found, key=lambda f: -f[0])[:_MOST_ZONES]:
        lon, lat = read_in(CRS.from_epsg((32600 if north else 32700) + zone), xs, ys)
        region, country = region_at(float(np.median(lon)), float(np.median(lat)))
        code = (
            26900 + zone if north and zone <= 23 and country in _NAD83 else (32600 if north else 32700) + zone
        )
        where = f", in {region} ({country})" if region else ""
        out.append({"crs": f"EPSG:{code}", "name": f"{CRS.from_epsg(code).name}{where}"})
    return out
