"""GeoJSON (RFC 7946) out: a map as a FeatureCollection, each feature whole, its data's own
``properties``, ``id`` and members as they came, mapsrv's own fields in the ``mapsrv`` member.
Positions are written ``[lon, lat]`` (mapsrv's points are ``(lat, lon)``), ``[lon, lat, height]``
where the feature holds a height for the point (``mapsrv.core.heights``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mapsrv.core.geometry import parts
from mapsrv.core.heights import ELE, ELEVATIONS, heights
from mapsrv.core.model import MapState
from mapsrv.core.nested import misread_lists

__all__ = ["MAPSRV", "geometry_to_geojson", "label_from", "to_geojson"]

MAPSRV = "mapsrv"  # the foreign member of an exported Feature that holds mapsrv's own fields


class _Positions:
    """Positions as GeoJSON writes them, each with its height when the feature has heights."""

    def __init__(self, zs: list[float | None] | None) -> None:
        self.zs: Iterator[float | None] | None = iter(zs) if zs else None

    def one(self, point: tuple[float, float]) -> list[float]:
        z = next(self.zs, None) if self.zs is not None else None
        return [point[1], point[0]] if z is None else [point[1], point[0], z]

    def ring(self, ring: Any) -> list[list[float]]:
        out = [self.one(p) for p in ring]
        if out[0][:2] != out[-1][:2]:  # RFC 7946 3.1.6: a ring's last position is its first
            out.append(out[0])
        return out

    def geometry(self, type_: str, coords: Any) -> dict[str, Any]:
        if type_ in ("marker", "circle"):
            return {"type": "Point", "coordinates": self.one(coords)}
        if type_ in ("polyline", "multipoint"):
            gtype = "LineString" if type_ == "polyline" else "MultiPoint"
            return {"type": gtype, "coordinates": [self.one(p) for p in coords]}
        if type_ == "multipolyline":
            return {
                "type": "MultiLineString",
                "coordinates": [[self.one(p) for p in line] for line in coords],
            }
        if type_ in ("polygon", "rectangle"):
            ((_, rings),) = parts(type_, coords)
            return {"type": "Polygon", "coordinates": [self.ring(r) for r in rings]}
        if type_ == "multipolygon":
            return {
                "type": "MultiPolygon",
                "coordinates": [[self.ring(r) for r in polygon] for polygon in coords],
            }
        return {"type": "GeometryCollection", "geometries": [self.geometry(t, c) for t, c in coords]}


def geometry_to_geojson(type_: str, coords: Any, zs: list[float | None] | None = None) -> dict[str, Any]:
    """A geometry (``mapsrv.core.geometry``) as an RFC 7946 geometry: rings closed, holes and
    parts kept, a circle as its centre, a rectangle as its ring; with ``zs`` (one per point, in
    the order of ``geometry.points``), each position's height where it has one."""
    return _Positions(zs).geometry(type_, coords)


def to_geojson(state: MapState) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection, a Feature for each feature with its geometry whole (holes,
    parts, members). A Feature's ``id`` is the file's own when it came with one (else mapsrv's),
    its other members come back as they came, and its ``properties`` are exactly its data's;
    mapsrv's own fields (``type``, ``layer``, ``label``, ``popup``, ``style``, ``radius``, and its
    ``id`` when the Feature's is the file's; ``lists``, the arrays that are one value each where
    they could read as one a point) are the foreign member ``mapsrv``, from which a
    re-import restores the feature. A label the import would read from the data (its ``name``)
    is not written twice."""
    features = []
    for feature in state.features.values():
        properties: dict[str, Any] = {}
        listed = False  # one pass over the properties: a big map's export makes one per feature
        for k, v in feature.properties:
            properties[k] = list(v) if type(v) is tuple else v
            listed = listed or type(v) is list
        members = dict(feature.members)
        fid = members.pop("id", feature.id)
        own: dict[str, Any] = {"type": feature.type, "layer": feature.layer}
        if fid != feature.id:
            own["id"] = feature.id
        if feature.label != label_from(properties):
            own["label"] = feature.label
        if feature.popup:
            own["popup"] = feature.popup
        if feature.style:
            own["style"] = dict(feature.style)
        if feature.radius is not None:
            own["radius"] = feature.radius
        if feature.series:  # a place's rows by time: its lists are one value a time
            own["series"] = feature.series
        elif listed and (lists := misread_lists(feature.properties, feature.point_count())):
            own["lists"] = lists  # arrays that are one value each, not one a point
        held = ELE in properties or ELEVATIONS in properties
        zs = heights(feature.type, feature.coords, feature.properties) if held else None
        out = {
            "type": "Feature",
            "id": fid,
            "geometry": geometry_to_geojson(feature.type, feature.coords, zs),
            "properties": properties,
        }
        out.update((k, v) for k, v in members.items() if k not in out)
        out[MAPSRV] = own
        features.append(out)
    out = {"type": "FeatureCollection", "name": state.title}
    out.update((k, v) for k, v in state.members if k not in ("type", "name", "features"))
    out["features"] = features
    return out


def label_from(props: Mapping[str, Any]) -> str:
    """The label a feature's data gives it: its ``label``, ``name`` or ``title`` text."""
    for key in ("label", "name", "title"):
        if isinstance(value := props.get(key), str):
            return value
    return ""
