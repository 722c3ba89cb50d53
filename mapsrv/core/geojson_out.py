"""GeoJSON (RFC 7946) out: a map as a FeatureCollection, each feature whole, its data's own
``properties``, ``id`` and members as they came, mapsrv's own fields in the ``mapsrv`` member.
Positions are written ``[lon, lat]`` (mapsrv's points are ``(lat, lon)``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapsrv.core.geometry import parts
from mapsrv.core.model import MapState

__all__ = ["MAPSRV", "geometry_to_geojson", "label_from", "to_geojson"]

MAPSRV = "mapsrv"  # the foreign member of an exported Feature that holds mapsrv's own fields


def _lonlat(point: tuple[float, float]) -> list[float]:
    return [point[1], point[0]]


def _ring(ring: Any) -> list[list[float]]:
    out = [_lonlat(p) for p in ring]
    if out[0] != out[-1]:  # RFC 7946 3.1.6: a ring's last position is its first
        out.append(out[0])
    return out


def geometry_to_geojson(type_: str, coords: Any) -> dict[str, Any]:
    """A geometry (``mapsrv.core.geometry``) as an RFC 7946 geometry: rings closed, holes and
    parts kept, a circle as its centre, a rectangle as its ring."""
    if type_ in ("marker", "circle"):
        return {"type": "Point", "coordinates": _lonlat(coords)}
    if type_ in ("polyline", "multipoint"):
        gtype = "LineString" if type_ == "polyline" else "MultiPoint"
        return {"type": gtype, "coordinates": [_lonlat(p) for p in coords]}
    if type_ == "multipolyline":
        return {"type": "MultiLineString", "coordinates": [[_lonlat(p) for p in line] for line in coords]}
    if type_ in ("polygon", "rectangle"):
        ((_, rings),) = parts(type_, coords)
        return {"type": "Polygon", "coordinates": [_ring(r) for r in rings]}
    if type_ == "multipolygon":
        return {"type": "MultiPolygon", "coordinates": [[_ring(r) for r in polygon] for polygon in coords]}
    return {"type": "GeometryCollection", "geometries": [geometry_to_geojson(t, c) for t, c in coords]}


def to_geojson(state: MapState) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection, a Feature for each feature with its geometry whole (holes,
    parts, members). A Feature's ``id`` is the file's own when it came with one (else mapsrv's),
    its other members come back as they came, and its ``properties`` are exactly its data's;
    mapsrv's own fields (``type``, ``layer``, ``label``, ``popup``, ``style``, ``radius``, and its
    ``id`` when the Feature's is the file's) are the foreign member ``mapsrv``, from which a
    re-import restores the feature. A label the import would read from the data (its ``name``)
    is not written twice."""
    features = []
    for feature in state.features.values():
        properties = {k: list(v) if isinstance(v, tuple) else v for k, v in feature.properties}
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
        out = {
            "type": "Feature",
            "id": fid,
            "geometry": geometry_to_geojson(feature.type, feature.coords),
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
