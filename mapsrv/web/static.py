"""Static files: the page's own (``mapsrv/web/static``, package data), Leaflet's (from the
xstatic-leaflet package) and the offline world map's outlines (``mapsrv.places.world``).

They are served from memory by a raw ASGI handler (``StaticFiles``), not by the Quart app: a page
asks for about 40 of them at once (its ES modules, their ``modulepreload``), and through Quart each
cost ~3 ms of the one event loop (its request and response objects, the file opened and read in a
worker thread every time), so the last module arrived 180 ms after the first. From memory each
costs a small fraction of that. A file is read, hashed and gzipped once, off the loop, on its first
request, and read again when its modification time or size changes (a developer's edit shows on
reload).

- Answers carry a strong ``ETag`` (a hash of the bytes): a reload revalidates with
  ``If-None-Match`` and gets a bodiless 304. The page's own files are ``no-cache`` (they change
  with each release); Leaflet's and the outlines', which do not, are cached for a day.
- Text (scripts, styles, JSON) goes gzipped to a client that accepts it: a remote viewer's first
  load is a third of the bytes.
- Every static file is public and answers any origin (``Access-Control-Allow-Origin: *``): the MCP
  App runs in a host's sandboxed, opaque-origin iframe and loads its ES modules (fetched in CORS
  mode) from here.

The page's templates (``index.html``, ``claim.html``, ``gone.html``) live apart, in
``mapsrv/web/templates`` (rendered by ``mapsrv.http.templates``). Only files listed when the
server starts are served, by exact path, so no spelling of a path (``./index.html``, ``../``)
reaches anything else; a template's name is refused outright.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import trio
import xstatic.pkg.leaflet

from mapsrv.errors import HttpError, InvalidInput, MapsrvError
from mapsrv.http.compression import LEVEL, MIN_SIZE, accepts_gzip
from mapsrv.http.responses import send_error
from mapsrv.http.types import Receive, Scope, Send, header
from mapsrv.image.street_style import STYLE_FILE
from mapsrv.places.world import DIRECTORY, FILES

__all__ = [
    "CLAIM_TEMPLATE",
    "GONE_TEMPLATE",
    "MAPS_TEMPLATE",
    "PREFIX",
    "SIGNED_OUT_TEMPLATE",
    "SIGNIN_FAILED_TEMPLATE",
    "STATIC_DIR",
    "STREET_STYLE",
    "TEMPLATE",
    "TEMPLATES",
    "StaticFiles",
    "find_static_dir",
    "etag_matches",
    "served_files",
]

TEMPLATE = "index.html"
CLAIM_TEMPLATE = "claim.html"  # an agent-made map nobody has opened yet
GONE_TEMPLATE = "gone.html"  # a map that does not exist (any more), for a browser
MAPS_TEMPLATE = "maps.html"  # a person's maps (``mapsrv.web.maps``)
SIGNIN_FAILED_TEMPLATE = "signin_failed.html"  # a sign-in that did not work (``mapsrv.web.signin_pages``)
SIGNED_OUT_TEMPLATE = "signed_out.html"  # after sign-out (``mapsrv.web.signout``)
TEMPLATES = frozenset(
    {TEMPLATE, CLAIM_TEMPLATE, GONE_TEMPLATE, MAPS_TEMPLATE, SIGNIN_FAILED_TEMPLATE, SIGNED_OUT_TEMPLATE}
)

STATIC_DIR = Path(__file__).resolve().parent / "static"  # package data (setup.cfg)
PREFIX = "/static/"
STREET_STYLE = PREFIX + "street-style.json"  # the street basemap's style (mapsrv/image/street_style.json)
_LEAFLET_DIR = Path(xstatic.pkg.leaflet.BASE_DIR)
_OURS = "no-cache"  # changes with a release: always revalidated (a 304 when unchanged)
_THEIRS = "public, max-age=86400"  # Leaflet's and the outlines': fixed for a package's version
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
}
_TEXT = ("text/", "application/json", "image/svg+xml")


def find_static_dir() -> Path:
    """The page's served files, inside the package wherever it is installed; raises when an
    install lost them (the Dockerfile's build check calls this)."""
    if not (STATIC_DIR / "render.js").is_file():
        raise RuntimeError(f"mapsrv's static files are missing from {STATIC_DIR}")
    return STATIC_DIR


def served_files(static_dir: Path) -> frozenset[str]:
    return frozenset(p.name for p in static_dir.iterdir() if p.is_file())  # templates live apart


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int]  # the file's modification time (ns) and size when it was read
    body: bytes
    gzipped: bytes | None  # None: not text, or too small to be worth it
    etag: bytes
    headers: list[tuple[bytes, bytes]]  # all but the length and the encoding


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


def _load(path: Path, cache: str, common: list[tuple[bytes, bytes]]) -> _Loaded:
    """Runs in a worker thread: the read, the hash and the gzip of one file."""
    stamp = _stamp(path)
    body = path.read_bytes()
    media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    text = media.startswith(_TEXT)
    gzipped = gzip.compress(body, LEVEL, mtime=0) if text and len(body) >= MIN_SIZE else None
    etag = b'"%s"' % hashlib.blake2b(body, digest_size=12).hexdigest().encode()
    headers = [*common, (b"content-type", media.encode()), (b"cache-control", cache.encode())]
    headers.append((b"etag", etag))
    if gzipped is not None:
        headers.append((b"vary", b"accept-encoding"))
    return _Loaded(stamp, body, gzipped, etag, headers)


def etag_matches(if_none_match: str, etag: bytes) -> bool:
    """RFC 9110 13.1.2: ``*`` or any listed tag, compared weakly (a ``W/`` prefix ignored)."""
    tag = etag.decode()
    for item in if_none_match.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == tag:
            return True
    return False


class StaticFiles:
    """The raw ASGI handler of ``/static/...``: every file it may serve is listed when it is
    made; each is loaded on its first request and kept in memory."""

    def __init__(self, headers: list[tuple[str, str]], static_dir: Path | None = None) -> None:
        ours = static_dir if static_dir is not None else find_static_dir()
        self._files: dict[str, tuple[Path, str]] = {PREFIX + n: (ours / n, _OURS) for n in served_files(ours)}
        for path in _LEAFLET_DIR.rglob("*"):
            if path.is_file():
                self._files[f"{PREFIX}leaflet/{path.relative_to(_LEAFLET_DIR).as_posix()}"] = (path, _THEIRS)
        for name in FILES.values():
            self._files[f"{PREFIX}world/{name}"] = (DIRECTORY / name, _THEIRS)
        self._files[STREET_STYLE] = (STYLE_FILE, _OURS)  # the street basemap's (streets.js, map_image)
        self._common = [
            (b"access-control-allow-origin", b"*"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers),
        ]
        self._loaded: dict[str, _Loaded] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            loaded = await self._find(scope)
        except MapsrvError as exc:
            await send_error(send, exc)
            return
        if etag_matches(header(scope, b"if-none-match") or "", loaded.etag):
            await send({"type": "http.response.start", "status": 304, "headers": loaded.headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers, body = loaded.headers, loaded.body
        if loaded.gzipped is not None and accepts_gzip(header(scope, b"accept-encoding") or ""):
            headers, body = [*headers, (b"content-encoding", b"gzip")], loaded.gzipped
        headers = [*headers, (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _find(self, scope: Scope) -> _Loaded:
        path = scope["path"]
        found = self._files.get(path)
        if found is None:
            if posixpath.normpath(path.removeprefix(PREFIX)) in TEMPLATES:
                raise InvalidInput("not a static file")
            raise HttpError(404, "not found")
        if scope["method"] not in ("GET", "HEAD"):
            raise HttpError(405, "method not allowed", headers=(("Allow", "GET, HEAD"),))
        file, cache = found
        loaded = self._loaded.get(path)
        # A stat of a package file is a microsecond or two: cheaper on the loop than a thread hop.
        if loaded is None or loaded.stamp != _stamp(file):
            loaded = await trio.to_thread.run_sync(_load, file, cache, self._common)
            self._loaded[path] = loaded
        return loaded
