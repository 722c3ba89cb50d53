"""Files in and out: the ``import`` tool (GPX, KML, KMZ, CSV, GeoJSON, and GIS people's zipped
Shapefiles, GeoPackages, FlatGeobufs and GeoParquets, as one batch) and the exports ``read``
answers with ``format``.

A file is read in a worker thread whatever its size: parsing a 50,000-point GPX track is pure
CPU that would otherwise stop every stream of the process. A CSV's place names are resolved by
the offline gazetteer in that same thread (its index is built there the first time).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal
from urllib.parse import urlencode

from mcp.types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    TextContent,
    TextResourceContents,
)
from pydantic import Field

from mapsrv.core.model import MapState, check_id
from mapsrv.errors import InvalidInput, PayloadTooLarge
from mapsrv.formats import BINARY_FORMATS, Imported, Join, export_file
from mapsrv.formats.batch import import_ops, report
from mapsrv.hub import MapEntry
from mapsrv.hub.imports import read_upload
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import answer, compact
from mapsrv.mcp.tools.route_plans import check_mode
from mapsrv.mcp.tools.schema import OptionalMapId
from mapsrv.mcp.tools.snapping import TIMES_SAID, check_snap, climbs, points_as_track, snap_tracks
from mapsrv.workers import checked, run

__all__ = ["MAX_FILE", "MAX_INLINE", "export", "import_file"]

MAX_FILE = 16 * 2**20  # bytes of a decoded file; over HTTP the body limit (4 MiB) refuses first
# An export inlined in a tool answer: hosts cap a tool result near 1 MB, and every byte is read
# into the model's context; a bigger file is answered with its download link only.
MAX_INLINE = 512 * 1024
# The first bytes of every binary file mapsrv reads, in base64: a zip (a KMZ, a zipped Shapefile),
# SQLite (a GeoPackage), FlatGeobuf, Parquet
_BINARY_B64 = ("UEsDB", "UEsFBg", "U1FMaXRlIGZvcm1hdCAz", "ZmdiA2Zn", "UEFSMQ")

_BINARY_NAMES = {"kmz": "KMZ", "shp": "zipped Shapefile", "gpkg": "GeoPackage", "fgb": "FlatGeobuf"}
_BINARY_NAMES["parquet"] = "GeoParquet"

Format = Literal["gpx", "kml", "kmz", "csv", "geojson", "shp", "gpkg", "fgb", "parquet"]
By = Literal["car", "bike", "foot"]


def _decode(content: str, fmt: str | None) -> bytes:
    """The file's bytes: a binary file (a KMZ, a GIS file) comes base64-encoded, and is known by
    its first bytes."""
    if fmt not in BINARY_FORMATS and not content.lstrip().startswith(_BINARY_B64):
        data = content.encode()
    else:
        try:
            data = base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            what = _BINARY_NAMES.get(fmt or "", "binary file")
            raise InvalidInput(
                f"content must be base64 for a {what}, got {content[:20]!r}...: {exc};"
                " send its bytes base64-encoded, or a text file as it is"
            ) from None
    if len(data) > MAX_FILE:
        raise PayloadTooLarge(
            f"file must be at most {MAX_FILE // 2**20} MiB, got {len(data) / 2**20:.1f} MiB;"
            " split it, or import it in the page (which takes bigger files)"
        )
    return data


async def import_file(
    tc: ToolContext,
    content: Annotated[str, Field(description="text, or base64")],
    map_id: OptionalMapId = None,
    format: Annotated[Format | None, Field(description="detected if left out")] = None,
    layer: Annotated[str | None, Field(description="put all in this layer")] = None,
    simplify: Annotated[float | None, Field(gt=0, le=10_000, description="metres, thins long tracks")] = None,
    fit: bool = True,
    join: Annotated[Join | None, Field(description="CSV rows to country or region outlines")] = None,
    key: Annotated[str | None, Field(description="join column; detected if left out")] = None,
    country: Annotated[str | None, Field(description="regions of this country")] = None,
    snap: Annotated[By | None, Field(description="GPS tracks onto the roads (router)")] = None,
    file_layer: str | None = None,
    crs: str | None = None,
) -> CallToolResult:
    """Add a file to a map, all or none; an untitled map takes its name. GIS: any projection.
    CSV: lat/lon, WKT or place-name columns; join: rows naming countries or states become
    outlines."""
    data = _decode(content, format)
    if layer is not None:
        check_id("layer", layer)
    imported = await read_upload(
        data,
        format,
        tc.hub.limits,
        layer=layer,
        simplify=simplify,
        join=join,
        key=key,
        country=country,
        file_layer=file_layer,
        crs=crs,
        areas=tc.places.join_area,
        read_limits=tc.hub.read_limits,
        owner=tc.principal or tc.actor.id,
    )
    if snap is not None:
        mode = check_mode("snap", snap)
        imported = points_as_track(imported, tc.hub.limits)
        router = check_snap(tc.router, imported, mode)
        imported = await snap_tracks(router, imported, mode, tc.hub.limits)
    url = None
    if map_id is None:
        entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, maker=tc.actor.id)
        map_id, url = entry.id, tc.links(entry)[0]
    else:
        entry = await tc.entry(map_id)
    state = entry.state  # the ops (and the camera over every point) of 100,000 rows: seconds
    ops = await run("encode", lambda: import_ops(state, imported, fit=fit, max_title=tc.hub.limits.max_title))
    out = await tc.write(map_id, ops, None)  # an import adds: nothing of the map's to conflict with
    ids = out.pop("ids", [])
    out |= await run("encode", _added, imported, ids)  # 100,000 features gone through: off the loop
    if snap is not None:
        out["times"] = TIMES_SAID
    if url is not None:
        out["url"] = url
    return answer(out)


def _added(imported: Imported, ids: list[str]) -> dict[str, object]:
    """What an import added (``report``) and the climbs of its lines with heights."""
    out = report(imported, ids)
    climbed = climbs(imported, ids)
    if climbed:
        out["climbs"] = climbed
    return out


async def export(
    tc: ToolContext, entry: MapEntry, state: MapState, fmt: str, layer: str | None = None
) -> CallToolResult:
    """``state``'s features as a file: an embedded resource (its text, or its bytes for a binary
    format, and its media type) and one line saying what it holds, what the format could not
    hold, and where people can download it (the whole map, or ``layer``)."""
    exported = await run("encode", export_file, checked(state), fmt)  # stops if the client leaves
    body, media, extension = exported.body, exported.media_type, exported.extension
    link = tc.links(entry)[1] + f"/export.{extension}"  # the view link's: shareable, reveals no edit id
    if layer is not None:
        link += "?" + urlencode({"layer": layer})
    head = {"map_id": state.id, "version": state.version, "format": fmt, "features": len(state.features)}
    head["bytes"] = len(body)
    head["download"] = link
    if exported.notes:
        head["notes"] = list(exported.notes)
    carried = len(body) * 4 // 3 if fmt in BINARY_FORMATS else len(body)  # base64 for a binary file
    if carried > MAX_INLINE:
        head["inline"] = False
        head["note"] = (
            f"the file is {len(body) // 1024} KB, more than a tool answer should carry"
            f" ({MAX_INLINE // 1024} KB): give the user the download link, or read with filters"
        )
        return answer(head)
    uri = f"map://{state.id}/export.{extension}"
    resource: TextResourceContents | BlobResourceContents
    if fmt in BINARY_FORMATS:
        resource = BlobResourceContents(uri=uri, mime_type=media, blob=base64.b64encode(body).decode())
    else:
        resource = TextResourceContents(uri=uri, mime_type=media, text=body.decode())
    return CallToolResult(
        content=[
            TextContent(type="text", text=compact(head)),
            EmbeddedResource(type="resource", resource=resource),
        ],
        structured_content=head,
    )
