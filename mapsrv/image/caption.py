"""What ``map_image`` says of its image beside it: the map, its version, what is drawn and what
is not (features hidden by a style, those outside the frame, points clustered), each time
window shown, the box and zoom, the size and the basemap."""

from __future__ import annotations

from collections.abc import Sequence

from mapsrv.core import Feature, MapState
from mapsrv.core.layer_style import window_text
from mapsrv.image.paths import feature_bounds
from mapsrv.image.projection import ImageView

__all__ = ["CLUSTER_FROM", "caption_of"]

CLUSTER_FROM = 5_000  # points on the map from which they are drawn as clusters


def _outside(view: ImageView, chosen: Sequence[Feature]) -> int:
    """How many of the features drawn lie wholly outside the image (their boxes, kept per ring
    by ``paths.extent``, miss it)."""
    south, west, north, east = view.bounds()
    out = 0
    for feature in chosen:
        if feature.type == "marker":
            lat, lon = feature.coords
            out += not (south <= lat <= north and west <= lon <= east)
        elif (box := feature_bounds((feature,))) is not None:
            s, w, n, e = box
            out += n < south or s > north or e < west or w > east
    return out


def caption_of(
    state: MapState,
    view: ImageView,
    chosen: Sequence[Feature],
    count: int,
    labelled: int,
    clustered: bool,
    basemap: str,
    heated: int = 0,
) -> str:
    s, w, n, e = view.bounds()
    title = f"{state.title!r}" if state.title else "untitled map"
    what = (
        f"{count} of {len(state.features)} features" if count != len(state.features) else f"{count} features"
    )
    if heated:
        what += f" ({heated} as a heatmap)"
    clustering = f", points clustered ({CLUSTER_FROM:,} or more)" if clustered else ""
    for layer in state.layers.values():  # what a time window shows: "layer 'default' at 2007"
        if layer.visible and layer.style and (when := window_text(layer.style.get("time"))):
            clustering += f", layer {layer.name!r} at {when}"
    if outside := _outside(view, chosen):
        clustering += f", {outside} outside the frame (pass bbox or zoom out to see them)"
    zoom = round(view.zoom, 2)
    return (
        f"{title} at version {state.version}: {what}{clustering}, {labelled} labels shown; "
        f"bbox [{s:.4f}, {w:.4f}, {n:.4f}, {e:.4f}] (south, west, north, east), zoom {zoom:g}, "
        f"{view.width}x{view.height} px, basemap: {basemap}"
    )
