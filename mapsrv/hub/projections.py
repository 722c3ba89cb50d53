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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from mapsrv.places.borders import country_at

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["ON_LAND", "sea_notes"]

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
