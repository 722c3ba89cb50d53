"""What an imported extract covers (issue 77): its box, kept in its index's ``meta`` at import
(``box``: west,south,east,north in degrees; the extract's header box, as ``osmium extract`` and
Geofabrik write one, else its rows' own), and what an answer says when a question reaches past
it: a search near a point outside every imported region, or whose circle runs past a region's
edge, is answered from what the index holds, and says so, so an agent does not take "2 cafés near
Kallio" for all there are when the extract holds only Kallio's southern tip.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from mapsrv.places.offline_files import list_regions

__all__ = ["Box", "coverage_meta", "coverage_note", "extract_box", "region_boxes"]

Box = tuple[float, float, float, float]  # west, south, east, north


def extract_box(file: Path) -> Box | None:
    """The box an extract's header says it covers, or None when it says none."""
    import osmium  # only the import needs it

    reader = osmium.io.Reader(str(file), osmium.osm.osm_entity_bits.NOTHING)
    try:
        box = reader.header().box()
    finally:
        reader.close()
    if not box.valid():
        return None
    low, high = box.bottom_left, box.top_right
    return (low.lon, low.lat, high.lon, high.lat)


def coverage_meta(db: sqlite3.Connection, file: Path) -> dict[str, str]:
    """The ``meta`` row of what ``file`` covers: its header's box, else its rows'."""
    box = extract_box(file)
    if box is None:
        row = db.execute("SELECT min(lon), min(lat), max(lon), max(lat) FROM entries").fetchone()
        if row is None or row[0] is None:
            return {}
        box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    return {"box": ",".join(f"{v:.7f}" for v in box)}


def region_boxes(directory: Path) -> list[tuple[str, Box]]:
    """Each imported region's box (regions imported before boxes were kept have none)."""
    return [(info.region, info.box) for info in list_regions(directory) if info.box is not None]


def _km_to_edge(lat: float, lon: float, box: Box) -> float:
    """How far (km) ``lat``, ``lon`` lies inside ``box`` from its nearest edge (negative outside)."""
    west, south, east, north = box
    per_lon = 111.195 * math.cos(math.radians(lat))
    inside = min(
        (lat - south) * 111.195, (north - lat) * 111.195, (lon - west) * per_lon, (east - lon) * per_lon
    )
    return inside


def coverage_note(
    lat: float,
    lon: float,
    reach_km: float,
    boxes: list[tuple[str, Box]],
    what: str = "near",
    area: tuple[str, Box] | None = None,
) -> str | None:
    """What an answer about places within ``reach_km`` of a point (``what``: "near", "the point")
    says of the imported regions' coverage: nothing when a region holds the whole circle (or none
    is imported). ``area``: the named place ``near`` was (its name and box), when the regions
    hold only part of it ("covers only 20 % of Kallio, its southern part")."""
    if not boxes:
        return None
    said = [_area_note(area, boxes)] if area is not None else []
    inside = [(region, _km_to_edge(lat, lon, box)) for region, box in boxes]
    holding = [(region, edge) for region, edge in inside if edge >= 0]
    if not holding:
        region, edge = max(inside, key=lambda held: held[1])
        if -edge < reach_km:  # the circle reaches into it
            said.append(
                f"{what} is {-edge:.1f} km outside the imported region {region}: of the {reach_km:g} km"
                " around it, only what lies in the region is in the index; streets and shops past its edge"
                " are not"
            )
        else:
            names = ", ".join(region for region, _ in boxes)
            said.append(
                f"{what} is outside the imported regions ({names}): streets, addresses and shops there are"
                " not in this server's index; what is found comes from the built-in cities (and a geocoder,"
                " when the server has one)"
            )
    else:
        region, edge = max(holding, key=lambda held: held[1])
        if edge < reach_km:
            said.append(
                f"{what} is {edge:.1f} km from the edge of the imported region {region}: places past it are"
                " not in the index, so this answer may lack some"
            )
    return "; ".join(note for note in said if note) or None


def _area_note(area: tuple[str, Box], boxes: list[tuple[str, Box]]) -> str:
    """What share of a named area's box the regions hold, and which part, when not all of it."""
    name, (west, south, east, north) = area
    whole = max((east - west) * (north - south), 1e-12)
    best = ("", 0.0, (0.0, 0.0, 0.0, 0.0))
    for region, (w, s, e, n) in boxes:
        cut = (max(w, west), max(s, south), min(e, east), min(n, north))
        share = max(0.0, cut[2] - cut[0]) * max(0.0, cut[3] - cut[1]) / whole
        if share > best[1]:
            best = (region, share, cut)
    region, share, (w, s, e, n) = best
    if share >= 0.99 or not region:
        return ""
    ns = "southern" if n < north - 1e-9 and s <= south + 1e-9 else "northern" if s > south + 1e-9 else ""
    we = "western" if e < east - 1e-9 and w <= west + 1e-9 else "eastern" if w > west + 1e-9 else ""
    part = "-".join(word for word in (ns, we) if word) or "middle"
    return (
        f"the imported region {region} covers only {max(1, round(100 * share))} % of {name} (its {part}"
        " part): places in the rest of it are not in the index"
    )
