"""Reading a map without changing it: the ``read`` tool and the ``map://{map_id}`` resource.

By default ``read`` answers a summary within a byte budget whatever the map's size (counts per
layer and kind, the bounding box, the latest and the labelled features, a cursor); filters and the
cursor page through the features in detail, and ``geojson`` exports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from mcp.types import CallToolResult
from pydantic import Field

from mapsrv.core.geojson import to_geojson
from mapsrv.core.geometry import kind_name, parts
from mapsrv.core.kept import Kept
from mapsrv.core.model import Bounds as Box
from mapsrv.core.model import Feature, MapState, check_bounds
from mapsrv.core.routes import route_facts
from mapsrv.core.series import props_at
from mapsrv.errors import InvalidInput
from mapsrv.hub import MapEntry
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.files import MAX_INLINE, export, linked
from mapsrv.mcp.tools.places import Resolver
from mapsrv.mcp.tools.results import again, answer, compact, written_answer
from mapsrv.mcp.tools.schema import MAX_READ, Bounds, MapId
from mapsrv.mcp.tools.styling import styled_layer
from mapsrv.workers import checked, over_map, run

__all__ = [
    "SUMMARIES_KEPT",
    "SUMMARY_BUDGET",
    "bbox_of",
    "read",
    "read_map",
    "round5",
    "summary",
    "summary_off_loop",
]

SUMMARY_BUDGET = 1_700  # bytes of labelled-feature rows: a summary answer (JSON + its text) <= 6 KB
PAGE_BUDGET = 12_000  # bytes of feature rows in a page
_LATEST = 5
SUMMARIES_KEPT = 256  # maps whose last summary is kept to be answered again (``_Summaries``)
Kind = Literal[
    "marker",
    "line",
    "polygon",
    "circle",
    "rectangle",
    "multipoint",
    "multiline",
    "multipolygon",
    "collection",
]


def _kind(feature: Feature) -> str:
    return kind_name(feature.type)


def _point(point: Sequence[float]) -> list[float]:
    """One position as a list, each float rounded to 5 decimals (about 1 m)."""
    return [round5(v) if isinstance(v, float) else v for v in point]


def round5(value: float) -> float:
    """``round(value, 5)``, the same float, without its decimal conversion (0.3 µs) when
    ``value`` has 5 decimals or fewer, as an agent's positions mostly do: ``value * 1e5`` is then
    whole and dividing it back gives ``value`` exactly, so ``value`` is the float nearest that
    5-decimal number, which is what ``round`` returns. tests/mcp/tools/test_round5.py holds it
    to ``round`` bit for bit."""
    scaled = value * 100000.0
    if scaled.is_integer() and scaled / 100000.0 == value:
        return value
    return round(value, 5)


def _brief(feature: Feature) -> dict[str, Any]:
    row: dict[str, Any] = {"id": feature.id, "type": _kind(feature)}
    if feature.label:
        row["label"] = feature.label
    points = feature.points()
    row["at"] = _point(points[0])
    facts = route_facts(feature)
    if facts is not None:
        row["route"] = facts.words()
    return row


def _detail(feature: Feature) -> dict[str, Any]:
    row = _brief(feature)
    row["layer"] = feature.layer
    if feature.popup:
        row["popup"] = feature.popup[:80] + ("..." if len(feature.popup) > 80 else "")
    points = feature.points()
    if feature.type not in ("marker", "circle"):
        del row["at"]
        found = list(parts(feature.type, feature.coords))
        holes = sum(len(rings) - 1 for kind, rings in found if kind == "polygon")
        if len(found) > 1:
            row["parts"] = len(found)
        if holes:
            row["holes"] = holes
        if len(points) <= 20:
            row["points"] = [_point(p) for p in points]
        else:
            row["n_points"] = len(points)
            row["points"] = [_point(points[0]), _point(points[-1])]
    if feature.radius is not None:
        row["radius_m"] = feature.radius
    if feature.style:
        row["style"] = dict(feature.style)
    shown = feature.properties
    if feature.series and isinstance(times := dict(shown).get(feature.series), (tuple, list)):
        # a place's rows by time (``mapsrv.core.series``): its latest row, and which times it holds
        row["series"] = {
            "property": feature.series,
            "times": len(times),
            "first": times[0],
            "last": times[-1],
        }
        shown = tuple(props_at(feature, None).items())
    if shown:
        # Per-point lists (a track's times) would swamp a page: their length stands for them.
        row["properties"] = {
            k: f"{len(v)} values" if isinstance(v, tuple) else v[:80] if isinstance(v, str) else v
            for k, v in shown[:10]
        }
    return row


def _fill(rows: Iterable[dict[str, Any]], budget: int, cap: int) -> tuple[list[dict[str, Any]], int]:
    """As many rows as fit in ``budget`` bytes (at most ``cap``, at least one, so that a cursor
    always moves on); and how many were taken."""
    out: list[dict[str, Any]] = []
    used = 0
    for row in rows:
        size = len(compact(row)) + 1
        if len(out) >= cap or (out and used + size > budget):
            break
        out.append(row)
        used += size
    return out, len(out)


def summary(state: MapState, url: str) -> dict[str, Any]:
    """The whole map in a bounded answer."""
    features = list(state.features.values())
    layers: dict[str, dict[str, Any]] = {
        lid: {"name": layer.name, "visible": layer.visible}
        if layer.name != lid
        else {"visible": layer.visible}
        for lid, layer in state.layers.items()
    }
    for feature in features:
        counts, kind = layers[feature.layer], _kind(feature)
        counts[kind] = counts.get(kind, 0) + 1
    for lid, layer in state.layers.items():
        if layer.style is not None:
            layers[lid].update(styled_layer(state, lid))
        if layer.source is not None:
            layers[lid]["source"] = layer.source
    box = state.bbox()
    latest = [_brief(f) for f in features[-_LATEST:]]
    latest_ids = {row["id"] for row in latest}
    named, _ = _fill(
        (_brief(f) for f in features if f.label and f.id not in latest_ids), SUMMARY_BUDGET, MAX_READ
    )
    out: dict[str, Any] = {
        "map_id": state.id,
        "title": state.title,
        "version": state.version,
        "url": url,
        "count": len(features),
        "bbox": [_point(box[0]), _point(box[1])] if box else None,
        "view": state.view.to_json() if state.view else None,
        "layers": layers,
        "latest": latest,
        "named": named,
    }
    if len(features) > len(latest) + len(named):
        out["next"] = "0"
        out["cut"] = (
            f"a summary lists the latest {_LATEST} and the labelled features that fit"
            f" {SUMMARY_BUDGET:,} bytes; pass next as cursor for every feature, page by page"
        )
    return out


async def _matching(
    state: MapState, layer: str | None, kind: str | None, text: str | None, box: Box | None
) -> list[Feature]:
    """The features the filters select, in map order; a big map's in a worker thread, letting the
    loop go first: on 23,000 polygons a box tests every point (37 ms), a text every label (32 ms)."""
    return await over_map(_every_match, state, layer, kind, text, box)


def _every_match(
    state: MapState, layer: str | None, kind: str | None, text: str | None, box: Box | None
) -> list[Feature]:
    return [f for f in state.features.values() if _matches(f, layer, kind, text, box)]


def _matches(feature: Feature, layer: str | None, kind: str | None, text: str | None, box: Any) -> bool:
    if layer is not None and feature.layer != layer:
        return False
    if kind is not None and _kind(feature) != kind:
        return False
    if text is not None:
        needle = text.casefold()
        if not any(needle in s.casefold() for s in (feature.id, feature.label, feature.popup)):
            return False
    if box is not None:
        (s, w), (n, e) = box
        return any(s <= lat <= n and w <= lon <= e for lat, lon in feature.points())
    return True


async def bbox_of(tc: ToolContext, bbox: Any, map_id: str | None = None) -> Box | None:
    """A bbox argument: [[south, west], [north, east]], or a place name (a city: 20 km around it)."""
    if not isinstance(bbox, str):
        return None if bbox is None else check_bounds("bbox", bbox)
    place = (await Resolver.open(tc, bbox, map_id)).place("bbox", bbox)
    if place.bounds is None:  # a city: 20 km around it
        lat, lon = place.latlon
        return ((lat - 0.2, lon - 0.3), (lat + 0.2, lon + 0.3))
    return place.bounds


def _offset(cursor: str | None, count: int) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > count:
        raise InvalidInput(
            f"cursor must be a 'next' value from an earlier read, got {cursor!r:.40}; read again"
        )
    return int(cursor)


async def read(
    tc: ToolContext,
    map_id: MapId,
    layer: str | None = None,
    kind: Kind | None = None,
    text: Annotated[str | None, Field(description="in id, label or popup")] = None,
    bbox: Bounds = None,
    cursor: Annotated[str | None, Field(description="'next' from the last read")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_READ)] = 50,
    geojson: Annotated[bool, Field(description="the features as GeoJSON, [lon, lat]")] = False,
    format: Annotated[
        Literal["geojson", "gpx", "kml", "csv", "shp", "gpkg", "fgb", "parquet"] | None,
        Field(description="as a file"),
    ] = None,
) -> CallToolResult:
    """What is on a map, and who has it open: a short summary, or with filters or a cursor a page
    of features in detail."""
    entry = await tc.entry(map_id)
    state = entry.state
    box = await bbox_of(tc, bbox, entry.id)
    paged = any(v is not None for v in (layer, kind, text, box, cursor))
    geojson = format == "geojson" or (geojson and format is None)  # format, when given, says
    if not paged and not geojson and format is None:
        return (await _summary_of(tc, entry, state)).answer
    if not paged:  # the whole map as a file: no pass to select its features, no copy of them
        return await _as_file(tc, entry, state, format, layer)
    matched = await _matching(state, layer, kind, text, box)
    start = _offset(cursor, len(matched))
    if geojson or format is not None:
        # a file holds every feature the filters select; a page only when a cursor asks for one
        chosen = matched[start : start + limit] if cursor is not None else matched
        state = dataclasses.replace(state, features={f.id: f for f in chosen})
        return await _as_file(tc, entry, state, format, layer)
    rows, taken = _fill((_detail(f) for f in matched[start:]), PAGE_BUDGET, limit)
    out: dict[str, Any] = {
        "map_id": state.id,
        "version": state.version,
        "count": len(matched),
        "features": rows,
    }
    if start + taken < len(matched):
        out["next"] = str(start + taken)
        out["cut"] = (
            f"stopped at limit {limit}"
            if taken == limit
            else f"stopped at {taken} features: pages are kept under {PAGE_BUDGET // 1000} KB of rows"
        ) + "; pass next as cursor for the rest"
    return answer(out)


async def _as_file(
    tc: ToolContext, entry: MapEntry, state: MapState, format: str | None, layer: str | None
) -> CallToolResult:
    """``state``'s features as GeoJSON in the answer (``format`` None or "geojson"), or as a file;
    GeoJSON past ``MAX_INLINE`` (text and structured content together) as its counts and a link."""
    if format not in (None, "geojson"):
        return await export(tc, entry, state, format, layer)
    whole = checked(state)  # stops if the client leaves
    collection, text = await run("encode", _encoded, whole)  # 593 countries: ~0.7 s
    if 2 * len(text) <= MAX_INLINE:  # the text and its copy as structured content
        return written_answer(collection, text)
    link = tc.links(entry)[1] + "/export.geojson"  # the view link's: shareable, reveals no edit id
    if layer is not None:
        link += "?" + urlencode({"layer": layer})
    head = {
        "map_id": state.id,
        "version": state.version,
        "format": "geojson",
        "features": len(state.features),
    }
    size = head["bytes"] = len(text.encode())
    return linked(head, link, "export.geojson", "application/geo+json", size)


def _encoded(state: MapState) -> tuple[dict[str, Any], str]:
    collection = to_geojson(state)
    return collection, compact(collection)


async def read_map(tc: ToolContext, map_id: str) -> str:
    """The ``map://{map_id}`` resource: the map's summary, as JSON text."""
    entry = await tc.entry(map_id)
    return (await _summary_of(tc, entry, entry.state)).text


@dataclasses.dataclass(frozen=True, slots=True)
class _Summarised:
    """A summary ``read`` answered of a state: the link and the presence it was made with, the
    answer and its text (its content's JSON)."""

    url: str
    present: tuple[str, ...]
    answer: CallToolResult
    text: str


# the last summary of each of the maps read last, by map id, while its state lives (a few kB each)
_SUMMARIES: Kept[str, MapState, _Summarised] = Kept(SUMMARIES_KEPT)


async def _summary_of(tc: ToolContext, entry: MapEntry, state: MapState) -> _Summarised:
    """The summary of ``state`` (the map's now) with who is on it, as an answer: made once for a
    state, a link and a presence, then answered again while they hold (and the map is among the
    ``SUMMARIES_KEPT`` read last). An agent reads an unchanged map again and again (after a
    person's look, before each change it plans); on a 100,000-feature map the summary counts
    every feature in a worker, and on a small one making it, its text and its answer was a fifth
    of a ``read``'s server CPU (docs/benchmarks.md, "Issue 74"). The answer is shared by the
    calls answered with it: nothing changes an answer once made (``results.written_answer``)."""
    url = tc.links(entry)[0]
    present = _present(tc, entry)
    last = _SUMMARIES.get(entry.id, state)
    if last is not None and last.url == url and last.present == present:
        again(last.answer, last.text)
        return last
    content = await summary_off_loop(state, url)
    if present:
        content["present"] = list(present)
    text = compact(content)
    made = _Summarised(url, present, written_answer(content, text), text)
    if entry.state is state:  # not a state a write replaced while a worker summarised it
        _SUMMARIES.put(entry.id, state, made)
    return made


def _present(tc: ToolContext, entry: MapEntry) -> tuple[str, ...]:
    """Who is on the map now ("Ana (editor)", and "+3 more"), in the summary's words."""
    listed, more = tc.hub.present(entry)
    said = [f"{member['name']} ({member['role']})" for member in listed]
    return (*said, f"+{more} more") if listed and more else tuple(said)


async def summary_off_loop(state: MapState, url: str) -> dict[str, Any]:
    """``summary``, in a worker thread for a big map (it counts every feature, and each styled
    layer's classes)."""
    return await over_map(summary, state, url)
