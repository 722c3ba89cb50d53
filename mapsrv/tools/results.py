"""What the tools answer: a short text for the model and structured content for programs (their
output schemas), and the tool error that a mapsrv error becomes."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mapsrv.core.model import MapState
from mapsrv.errors import MapsrvError

__all__ = [
    "FeatureSummary",
    "LayerSummary",
    "MapRef",
    "MapSummary",
    "WriteResult",
    "answer",
    "summarize",
    "tool_error",
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


def answer(text: str, content: BaseModel | dict[str, Any]) -> CallToolResult:
    structured = content.model_dump(mode="json") if isinstance(content, BaseModel) else content
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def tool_error(exc: MapsrvError) -> CallToolResult:
    """mapsrv's own errors reach the model as tool errors with their message, never as JSON-RPC
    failures, so it can read them and fix its call."""
    return CallToolResult(
        is_error=True, content=[TextContent(type="text", text=f"{exc.code}: {exc.message}")]
    )


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
