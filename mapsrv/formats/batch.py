"""An imported file as one batch of ops: the layers it brings, its features, and the camera on
them. Shared by the ``import`` tool and the page's import, so both commit the same thing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mapsrv.core.framing import framed
from mapsrv.core.id_ranges import runs
from mapsrv.core.model import DEFAULT_LAYER, Feature, MapState, check_text
from mapsrv.core.ops import AddLayer, FitBounds, ImportFeatures, Op, SetTitle, SetView
from mapsrv.core.pace import paced

if TYPE_CHECKING:
    from mapsrv.formats import Imported

__all__ = ["MAX_IDS", "POINT_ZOOM", "camera", "import_ops", "report"]

MAX_IDS = 20  # ids and unresolved rows listed in an answer; a count says how many there were

POINT_ZOOM = 12  # one point is shown at city zoom, not fitted to a zero-size box


def camera(features: Sequence[Feature]) -> tuple[Op, int]:
    """The view that shows ``features``: the bulk of them when a few lie far from the rest
    (``framed``), and how many it leaves out."""
    ((south, west), (north, east)), left = framed(features)
    if (south, west) == (north, east):
        return SetView((south, west), POINT_ZOOM), left
    return FitBounds(bounds=((south, west), (north, east))), left


def import_ops(
    state: MapState,
    imported: Imported,
    *,
    fit: bool = True,
    max_title: int = 200,
    said: list[str] | None = None,
) -> list[Op]:
    """Ops that add a file's features to ``state``'s map: its title when the map has none yet
    (a GPX's or a KML document's name), the named layers the map does not have yet (a layer a
    feature names without one is created by core, named by its id), the features in one
    ``ImportFeatures``, and the camera on them when ``fit``, which adds to ``said`` (for ``report``)
    how many features far from the rest it leaves out of the view."""
    ops: list[Op] = []
    members = imported.members if imported.members and not state.members else None
    if imported.title.strip() and not state.title:
        ops.append(SetTitle(check_text("title", imported.title.strip()[:max_title], max_title), members))
    elif members is not None:  # the file's own members, kept for the map's GeoJSON export
        ops.append(SetTitle(state.title, members))
    features = imported.features
    used = {f.layer for f in paced(features)}
    ops += [
        AddLayer(lay.id, lay.name) for lay in imported.layers if lay.id in used and lay.id not in state.layers
    ]
    if features:
        ops.append(ImportFeatures(features))
        if fit:
            view, left = camera(features)
            ops.append(view)
            if left and said is not None:
                said.append(
                    f"{left} feature{'s' * (left > 1)} far from the rest left out of the view, which frames"
                    " the others; zoom out (or set_view) to see them"
                )
    return ops


def report(imported: Imported, ids: list[str], said: Sequence[str] = ()) -> dict[str, Any]:
    """What an import added, for its answer: counts by kind, the layers, its ids (ids numbered in
    a row as one run, ``f1-f177``; past ``MAX_IDS`` runs, the first and why), the notes (the
    file's, then ``said`` of its ops by ``import_ops``) and the rows that did not resolve (the
    first ``MAX_IDS``, how many, and why no more)."""
    out: dict[str, Any] = {"format": imported.format, "added": len(imported.features)}
    kinds: dict[str, int] = {}
    for feature in paced(imported.features):
        kinds[feature.type] = kinds.get(feature.type, 0) + 1
    out["kinds"] = kinds
    layers = sorted({f.layer for f in paced(imported.features)})
    if layers != [DEFAULT_LAYER]:
        out["layers"] = layers
    listed = runs(ids)  # an import's ids are numbered in a row: 10,000 of them are "f1-f10000"
    out["ids"] = listed[:MAX_IDS]
    if len(listed) > MAX_IDS:
        out["n_ids"] = len(ids)
        out["ids_cut"] = f"{MAX_IDS} runs of ids listed, to keep the answer small; read the map for the rest"
    notes = [*imported.notes, *said]
    if notes:
        out["notes"] = notes
    if imported.unresolved:
        out["unresolved"] = [{"line": line, "text": text} for line, text in imported.unresolved[:MAX_IDS]]
        out["n_unresolved"] = len(imported.unresolved)
        if len(imported.unresolved) > MAX_IDS:
            out["unresolved_cut"] = f"{MAX_IDS} rows listed, to keep the answer small"
    if imported.stacked:  # rows drawn over each other: which rows, on which outline
        out["stacked"] = [
            {"outline": name, "lines": list(lines[:MAX_IDS]), "rows": list(said[:MAX_IDS])}
            for name, lines, said in imported.stacked[:MAX_IDS]
        ]
        out["n_stacked"] = sum(len(lines) for _, lines, _ in imported.stacked)
    return out
