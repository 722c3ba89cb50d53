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
import itertools
import os
import secrets
from dataclasses import replace
from functools import partial
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

import trio
from mcp.types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from pydantic import Field

from mapsrv.core.model import MapState
from mapsrv.errors import InvalidInput, NotFound, PayloadTooLarge
from mapsrv.formats import BINARY_FORMATS, export_file
from mapsrv.formats.detect import BINARY_MAGIC, base64_prefix
from mapsrv.http.fetch import fetch_source
from mapsrv.hub import MapEntry
from mapsrv.hub.file_door import FileAsk, add_file, check_router, read_file
from mapsrv.hub.local_files import spooled_path
from mapsrv.hub.reader import spool_file
from mapsrv.hub.upload_slots import upload_slots
from mapsrv.mcp.tools.asking import ASK_TIMEOUT
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.results import answer, compact
from mapsrv.mcp.tools.schema import OptionalMapId
from mapsrv.workers import checked, run

__all__ = ["MAX_FILE", "MAX_INLINE", "export", "import_file", "linked"]

ToolJoin = Literal["countries", "regions", "layer"]

MAX_FILE = 16 * 2**20  # bytes of a decoded file; over HTTP the body limit (4 MiB) refuses first
# The most a tool answer carries, text and structured content together (issue 73): every byte is
# read into the model's context (a 730-feature GeoPackage read as GeoJSON was 2.2 MB of it); a
# bigger file is answered with its counts and a link (an MCP resource_link to its download).
MAX_INLINE = 64 * 1024
# The first bytes of every binary file mapsrv reads, in base64: a zip (a KMZ, a zipped Shapefile),
# SQLite (a GeoPackage), FlatGeobuf, Parquet ("PAR1" then 0x15 is "UEFSMRU": only "UEFSM" is fixed)
_BINARY_B64 = tuple(base64_prefix(magic) for magic in BINARY_MAGIC)

_B64_SLICE = 1 << 18  # characters of base64 decoded in one call (a multiple of 4)

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
            data = _b64decode("".join(content.split()))
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


def _b64decode(text: str) -> bytes:
    """``base64.b64decode(text, validate=True)``, a slice at a time: one call holds the
    interpreter (a 2.8 MB argument 9 ms, and the event loop waited on it). Whole quads before the
    first ``=`` decode alone, as they do within the whole; the rest, with the last whole quad
    before it, in one call (padding alone is not what it is after data)."""
    plain = text.find("=")
    plain = len(text) if plain < 0 else plain
    plain -= plain % 4 + 4
    if plain <= _B64_SLICE:
        return base64.b64decode(text, validate=True)
    cuts = [*range(0, plain, _B64_SLICE), plain]
    pieces = [base64.b64decode(text[a:b], validate=True) for a, b in itertools.pairwise(cuts)]
    return b"".join([*pieces, base64.b64decode(text[plain:], validate=True)])


async def import_file(
    tc: ToolContext,
    content: Annotated[str | None, Field(description="text, or base64")] = None,
    map_id: OptionalMapId = None,
    format: Annotated[Format | None, Field(description="else detected")] = None,
    layer: Annotated[str | None, Field(description="all in this layer")] = None,
    simplify: Annotated[float | None, Field(gt=0, le=10_000, description="metres")] = None,
    fit: bool = True,
    join: Annotated[ToolJoin | None, Field(description="CSV rows to outlines/layer")] = None,
    key: str | None = None,
    country: Annotated[str | None, Field(description="regions of this country")] = None,
    snap: Annotated[By | None, Field(description="tracks onto roads")] = None,
    file_layer: str | None = None,
    crs: str | None = None,
    path: str | None = None,
    url: str | None = None,
    upload: Annotated[bool | str | None, Field(description="true, then its handle")] = None,
) -> CallToolResult:
    """Add a file to a map, all or none: by path, url, upload (a link for a person) or content.
    Any projection. CSV: lat/lon, WKT or place names; join: countries or states as outlines."""
    ask = FileAsk(
        format=format, layer=layer, simplify=simplify, join=join, key=key, country=country,
        file_layer=file_layer, crs=crs, snap=snap, fit=fit,
    )  # fmt: skip
    upload = None if upload is False else upload
    if join == "layer" and map_id is None:
        raise InvalidInput(
            "join 'layer' adds a table's columns to a layer of a map, got no map_id;"
            " give map_id and layer (the layer's id), and key (the table's column) unless it can be found"
        )
    sources = (("content", content), ("path", path), ("url", url), ("upload", upload))
    given = [name for name, value in sources if value is not None]
    if len(given) != 1:
        said = f"got {' and '.join(given)}" if given else "got none"
        raise InvalidInput(
            f"give the file one way, {said}: path (a file on this machine), url, upload: true (a link"
            " for the person to drop it on), or content (small files: every byte goes through you)"
        )
    if upload is True:  # what was asked goes with the link: the file is read as asked when it comes
        check_router(ask, tc.router)
        return await _open_upload(tc, map_id, ask.as_query())
    if upload is not None:
        if given_too := list(ask.as_query()):
            raise InvalidInput(
                f"upload: <handle> takes no file arguments, got {' and '.join(given_too)};"
                " give them with upload: true, or in the link's page"
            )
        return await _redeem_upload(tc, str(upload), map_id)
    owner = tc.principal or tc.actor.id
    read = partial(read_file, tc.hub, owner=owner, areas=tc.places.join_area, router=tc.router)
    if path is not None:
        async with spooled_path(path, tc.hub.files_dirs, tc.hub.max_file_size) as spool:
            imported = await read(spool, replace(ask, filename=os.path.basename(path)))
    elif url is not None:
        # streamed to disk as it comes, up to the page's limit (not add_layer's), then read
        policy = replace(tc.sources, max_size=tc.hub.max_file_size)
        async with spool_file("url") as spool:
            async with await trio.open_file(spool, "wb") as sink:
                await fetch_source(policy, url, sink=sink.write)
            imported = await read(spool, replace(ask, filename=urlsplit(url).path.rpartition("/")[2] or None))
    else:
        content = content or ""
        small = len(content) < _B64_SLICE  # a big one decoded off the loop
        data = _decode(content, format) if small else await run("encode", _decode, content, format)
        imported = await read(data, ask)
    page = None
    if map_id is None:
        entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, maker=tc.actor.id)
        page = tc.links(entry)[0]
    else:
        entry = await tc.entry(map_id)
    out = await add_file(tc.hub, entry, imported, ask, tc.actor)
    out["view_url"] = tc.links(entry)[1]
    if page is not None:
        out["url"] = page
    return answer(out)


async def _open_upload(tc: ToolContext, map_id: str | None, asked: dict[str, str]) -> CallToolResult:
    """A link for the file (``mapsrv.hub.upload_slots``), bound to the map (a new one when
    ``map_id`` is left out) and to this caller, and the handle that redeems it."""
    slots, owner = upload_slots(tc.hub), tc.principal or tc.actor.id
    slots.check_room(owner)  # before a map is made for nothing
    page = None
    if map_id is None:
        entry = await tc.hub.create_map(owner=tc.person, principal=tc.principal, maker=tc.actor.id)
        page = tc.links(entry)[0]
    else:
        entry = await tc.entry(map_id)
    slot = await slots.open(entry.id, owner, tc.actor, base_url=tc.base_url, defaults=asked)
    link = f"{slot.base_url}/u/{slot.token}"
    out: dict[str, object] = {"map_id": entry.id, "upload_url": link}
    out |= {"handle": slot.handle, "expires_in": round(slots.expiry), "max_bytes": tc.hub.max_file_size}
    if page is not None:
        out["url"] = page
    out["view_url"] = tc.links(entry)[1]
    next_step = f"then call import with upload: {slot.handle!r} to hear what it added"
    sender = tc.page_sender()
    if sender is not None:  # the client can send its person to the page: one call, the file's answer
        elicitation = "upload-" + secrets.token_urlsafe(12)
        action = "cancel"
        with trio.move_on_after(ASK_TIMEOUT):
            where = f"the map {entry.state.title!r}" if entry.state.title else "your map"
            action = await sender.open(
                f"Open this page and drop the file on it: it will be added to {where}"
                f" (the link works once, for {round(slots.expiry / 60)} minutes).",
                link,
                elicitation,
            )
        if action == "accept":
            await slots.wait_for_file(slot)
            if slot.answer is not None:
                await sender.done(elicitation)
                return answer(dict(slot.answer))
            if slot.refused:  # the link takes another file until it expires
                out["refused"] = slot.refused
            out["note"] = f"the person opened the link; the file has not come yet: {next_step}"
            return answer(out)
        out["note"] = f"the person did not open the link ({action}): give them upload_url, {next_step}"
        return answer(out)
    out["next"] = (
        "give the person upload_url to open and drop the file on (or PUT the file's bytes to it),"
        f" {next_step}"
    )
    return answer(out)


async def _redeem_upload(tc: ToolContext, handle: str, map_id: str | None) -> CallToolResult:
    """What the upload of ``handle`` added, once its file has come (waiting up to ``slots.wait``
    seconds for it); else that it still waits, with its link again."""
    slots = upload_slots(tc.hub)
    slot = await slots.redeem(handle, tc.principal or tc.actor.id)
    if map_id is not None and map_id != slot.map_id:
        raise InvalidInput(
            f"upload {handle!r} is for map {slot.map_id!r}, got map_id {map_id[:64]!r}; leave map_id out"
        )
    await slots.wait_for_file(slot)
    if slot.answer is not None:
        return answer(dict(slot.answer))
    if slots.expired(slot):
        raise NotFound(
            f"upload {handle!r} expired before a file came: ask for a new link with upload: true"
            + (f" (its last file was refused: {slot.refused})" if slot.refused else "")
        )
    out: dict[str, object] = {"map_id": slot.map_id, "waiting": True, "handle": slot.handle}
    out |= {
        "upload_url": f"{slot.base_url}/u/{slot.token}",
        "expires_in": round(slot.expires - slots.clock()),
    }
    if slot.refused:
        out["refused"] = slot.refused
    state = "is arriving" if slot.state == "receiving" else "has not come yet"
    out["note"] = f"the file {state}: call import with upload: {slot.handle!r} again to keep waiting"
    return answer(out)


def linked(head: dict[str, object], link: str, name: str, media: str, size: int) -> CallToolResult:
    """An answer too big to carry (``MAX_INLINE``): ``head`` (its counts) and where to download the
    whole, as text and as an MCP ``resource_link``; the file itself never enters the context."""
    head = head | {"inline": False, "download": link}
    head["note"] = (
        f"the file is {size // 1024:,} KB, more than a tool answer should carry ({MAX_INLINE // 1024} KB):"
        " give the user the download link, fetch it yourself, or read with filters"
    )
    return CallToolResult(
        content=[
            TextContent(type="text", text=compact(head)),
            ResourceLink(type="resource_link", uri=link, name=name, mime_type=media, size=size),
        ],
        structured_content=head,
    )


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
    if carried + len(compact(head)) > MAX_INLINE:
        return linked(head, link, f"export.{extension}", media, len(body))
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
