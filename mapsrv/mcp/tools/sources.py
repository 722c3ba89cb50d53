"""Layers from elsewhere: the ``add_layer`` tool. Raster tiles (XYZ, WMS) become the layer's
source, which the page loads straight from their server and ``map_image`` draws. A PMTiles archive
(raster or vector tiles) is checked once, by the server, with a range request for its header
(``mapsrv.http.pmtiles``), and kept with what its header says; the page reads it straight from its
host with range requests, and ``map_image`` draws its raster tiles. A GeoJSON or CSV by URL is
fetched once, by the server, through the guarded fetcher (``mapsrv.http.fetch``), and imported like
``import``."""

from __future__ import annotations

from typing import Literal

from mcp.types import CallToolResult

from mapsrv.core.layer_source import RASTER, check_layer_source
from mapsrv.core.model import check_id
from mapsrv.core.ops import Op, SetLayerSource
from mapsrv.errors import InvalidInput
from mapsrv.formats.batch import import_ops, report
from mapsrv.http.fetch import fetch_source
from mapsrv.http.pmtiles import open_archive
from mapsrv.hub.imports import read_upload
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import answer
from mapsrv.mcp.tools.schema import MapId
from mapsrv.workers import run

__all__ = ["add_layer"]


async def add_layer(
    tc: ToolContext,
    map_id: MapId,
    layer: str,
    type: Literal["xyz", "wms", "pmtiles", "geojson", "csv"],
    url: str,
    layers: str | None = None,
    styles: str | None = None,
    attribution: str | None = None,
    opacity: float | None = None,
) -> CallToolResult:
    """XYZ ({z}/{x}/{y}), WMS or PMTiles tiles from allowed hosts, or a GeoJSON/CSV URL imported."""
    lid = check_id("layer", layer)
    asked: dict[str, object] = {"type": type, "url": url, "layers": layers, "styles": styles}
    asked |= {"attribution": attribution, "opacity": opacity}
    asked = {k: v for k, v in asked.items() if v is not None}
    ops: list[Op] = []
    if type == "pmtiles":
        tc.sources.check_page_url(url)
        archive = await open_archive(tc.sources, url)
        source = check_layer_source(asked | archive.facts())
    else:
        source = check_layer_source(asked)
    if type in RASTER:
        tc.sources.check_page_url(url)
    elif type in ("geojson", "csv"):
        fetched = await fetch_source(tc.sources, url)
        head = fetched.body[:512].lstrip().lower()
        if "html" in fetched.content_type or head.startswith((b"<!doctype", b"<html")):
            answered = fetched.content_type or "html"
            raise InvalidInput(f"url answered {answered!r}, not {type}; give the URL of the file itself")
        imported = await read_upload(
            fetched.body,
            type,
            tc.hub.limits,
            layer=lid,
            read_limits=tc.hub.read_limits,
            owner=tc.principal or tc.actor.id,
        )
        entry = await tc.entry(map_id)
        said: list[str] = []
        state, most = entry.state, tc.hub.limits.max_title  # the ops and the camera off the loop
        ops = await run("encode", lambda: import_ops(state, imported, max_title=most, said=said))
    out = await tc.write(map_id, [*ops, SetLayerSource(lid, source)], None)
    ids = out.pop("ids", [])
    if type in ("geojson", "csv"):
        out |= report(imported, ids, said)
    out["layer"] = {"id": lid, "source": source}
    return answer(out)
