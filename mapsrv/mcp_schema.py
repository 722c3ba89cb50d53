"""What the map tools take and give, as an LLM sees it: the argument types with their
descriptions and ranges (they become the tools' JSON schemas) and the structured results
(their output schemas)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from mapsrv.core.model import MapState

__all__ = [
    "Color",
    "Expected",
    "FeatureId",
    "FeatureSummary",
    "Label",
    "Lat",
    "LayerId",
    "LayerSummary",
    "Lon",
    "MapId",
    "MapRef",
    "MapSummary",
    "Point",
    "Popup",
    "WriteResult",
    "summarize",
]


class MapRef(BaseModel):
    map_id: str = Field(description="pass this as map_id to the other tools")
    url: str = Field(description="the page to give the user; it becomes theirs when they open it")
    view_url: str = Field(description="read-only link anyone can watch")
    title: str
    version: int


class WriteResult(BaseModel):
    map_id: str
    version: int = Field(description="the map's version after this change")
    feature_ids: list[str] = Field(default_factory=list, description="ids of the features added or changed")


class LayerSummary(BaseModel):
    id: str
    name: str
    visible: bool


class FeatureSummary(BaseModel):
    id: str
    type: str
    layer: str
    label: str = ""
    coords: Any = Field(description="[lat, lon], a list of them, or [[south, west], [north, east]]")
    radius: float | None = None


class MapSummary(BaseModel):
    map_id: str
    title: str
    version: int
    url: str
    view: dict[str, Any] | None
    bbox: list[list[float]] | None = Field(description="[[south, west], [north, east]] of all features")
    layers: list[LayerSummary]
    feature_count: int
    features: list[FeatureSummary]
    truncated: bool = Field(description="true when only the first max_features features are listed")


MapId = Annotated[str, Field(description="the map's id (from create_map, or the code the user pasted)")]
Lat = Annotated[float, Field(ge=-90, le=90, description="latitude in degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="longitude in degrees")]
Point = Annotated[list[float], Field(min_length=2, max_length=2, description="[lat, lon]")]
Label = Annotated[str, Field(max_length=200, description="short text shown next to the feature")]
Popup = Annotated[str, Field(max_length=4000, description="longer text shown when the feature is clicked")]
Color = Annotated[str | None, Field(description="CSS colour: #rgb, #rrggbb or a name like 'red'")]
FeatureId = Annotated[
    str | None, Field(description="your own id (letters, digits, _.:-); generated when omitted")
]
LayerId = Annotated[
    str | None, Field(description="layer to draw on (default: 'default'); created when missing")
]
Expected = Annotated[
    int | None, Field(description="fail with a conflict unless the map is still at this version")
]


def summarize(state: MapState, url: str, max_features: int) -> MapSummary:
    features = list(state.features.values())
    bbox = state.bbox()
    return MapSummary(
        map_id=state.id,
        title=state.title,
        version=state.version,
        url=url,
        view=state.view.to_json() if state.view else None,
        bbox=[list(bbox[0]), list(bbox[1])] if bbox else None,
        layers=[LayerSummary(**layer.to_json()) for layer in state.layers.values()],
        feature_count=len(features),
        features=[
            FeatureSummary(
                id=f.id,
                type=f.type,
                layer=f.layer,
                label=f.label,
                coords=f.to_json()["coords"],
                radius=f.radius,
            )
            for f in features[:max_features]
        ],
        truncated=len(features) > max_features,
    )
