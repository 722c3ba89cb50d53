"""An ``import`` by path through a relaying ``mapsrv stdio`` (issue 73).

The file is on the person's machine, in the folder their desktop client started ``mapsrv stdio``
in (or one its ``--files-dir`` names). The server the relay carries the session to may run
elsewhere, or may not read that folder. So the relay reads the file itself, by the rules the
server reads a path by (``mapsrv.hub.local_files``: a real path inside an allowed folder, a
regular file), and hands it over as an upload link, never through the model:

1. it asks the server for a link: the call itself, its arguments ``upload: true`` and all the
   others but ``path`` (``map_id``, ``format``, ``layer``, ``simplify``, ``join``, ``snap``...: a
   link takes every argument an import does, ``mapsrv.hub.file_door``);
2. it PUTs the file's bytes to the link;
3. it answers the client's call with what the server answered the PUT (the import's report),
   and the owner's link of the map when the first answer made one.

A refusal at any step is the call's tool error, in the server's words.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import httpx2
import trio
from mcp_types import (
    PROTOCOL_VERSION_META_KEY,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mapsrv.core.json_bytes import dumps_text
from mapsrv.errors import MapsrvError
from mapsrv.hub.local_files import open_file, resolve_path

__all__ = ["PUT_TIMEOUT", "PathImports", "is_path_import"]

PUT_TIMEOUT = 300.0  # seconds for the file to go up and be read
_MOST = 1024 * 2**20  # the relay's own bound on a file; the server's --max-file-size refuses first
_CHUNK = 1 << 20


def is_path_import(message: JSONRPCMessage) -> TypeGuard[JSONRPCRequest]:
    """A call of ``import`` with a ``path`` and no other way of giving the file."""
    if not isinstance(message, JSONRPCRequest) or message.method != "tools/call":
        return False
    params = message.params or {}
    arguments = params.get("arguments")
    return (
        params.get("name") == "import"
        and isinstance(arguments, dict)
        and isinstance(arguments.get("path"), str)
        and not any(arguments.get(key) is not None for key in ("content", "url", "upload"))
    )


@dataclass(frozen=True)
class PathImports:
    """Where a relay reads a path import's file (``folders``), how it sends a request of its own
    and hears the server's reply (``ask``; None: no reply), and where it PUTs the file
    (``server``, with ``auth``)."""

    folders: tuple[Path, ...]
    ask: Callable[[JSONRPCRequest], Awaitable[JSONRPCMessage | None]]
    server: str
    auth: dict[str, str]

    async def answer(self, request: JSONRPCRequest) -> JSONRPCMessage:
        """The answer to the client's ``request`` (a path import): the file read here and sent by
        an upload link."""
        result = await self._result(request)
        if isinstance(result, JSONRPCError):
            return result.model_copy(update={"id": request.id})
        meta = (request.params or {}).get("_meta")
        if isinstance(meta, dict) and meta.get(PROTOCOL_VERSION_META_KEY) in MODERN_PROTOCOL_VERSIONS:
            result = {**result, "resultType": "complete"}  # the 2026-07-28 schema requires it
        return JSONRPCResponse(jsonrpc="2.0", id=request.id, result=result)

    async def _result(self, request: JSONRPCRequest) -> dict[str, Any] | JSONRPCError:
        arguments: dict[str, Any] = (request.params or {})["arguments"]
        given = arguments["path"]
        try:
            real = resolve_path(given, list(self.folders))
            fd, _ = await trio.to_thread.run_sync(open_file, real, given, _MOST)
        except MapsrvError as exc:
            return _tool_error(exc.message)
        try:
            # every argument but the path goes with the link: the server reads the file as asked
            asked = {key: value for key, value in arguments.items() if key != "path" and value is not None}
            params = dict(request.params or {})
            params["arguments"] = {"upload": True, **asked}
            reply = await self.ask(request.model_copy(update={"params": params}))
            if isinstance(reply, JSONRPCError):
                return reply
            if not isinstance(reply, JSONRPCResponse):
                return _tool_error("the server did not answer the request for an upload link; retry")
            if reply.result.get("isError") or not isinstance(reply.result.get("structuredContent"), dict):
                return reply.result
            link: dict[str, Any] = reply.result["structuredContent"]
            put = self.server.rstrip("/") + urlsplit(str(link.get("upload_url", ""))).path
            filename = os.path.basename(given)
            async with httpx2.AsyncClient(timeout=PUT_TIMEOUT, headers=self.auth, trust_env=False) as http:
                sent = await http.put(put, params={"filename": filename}, content=_chunks(fd))
        finally:
            os.close(fd)
        if sent.status_code != 200:
            return _tool_error(_said(sent))
        report: dict[str, Any] = sent.json()
        if "url" in link:  # the map was made for this file: the owner's page, as an import answers it
            report["url"] = link["url"]
        return {"content": [{"type": "text", "text": dumps_text(report)}], "structuredContent": report}


async def _chunks(fd: int) -> AsyncIterator[bytes]:
    while chunk := await trio.to_thread.run_sync(os.read, fd, _CHUNK):
        yield chunk


def _said(response: httpx2.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"the server answered HTTP {response.status_code}"
    return str(message)


def _tool_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}
