"""The page's static files from memory (``mapsrv.web.static.StaticFiles``), through a real server:
the bytes on disk, revalidated by ETag, gzipped for a client that takes it, public to any origin,
and nothing but the listed files by exact path."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import httpx
import trio
from support import start_server

from mapsrv.places.world import DIRECTORY
from mapsrv.web.static import STATIC_DIR, StaticFiles

PLAIN = {"Accept-Encoding": "identity"}


async def test_each_file_is_its_bytes_on_disk_with_a_validator_and_gzip(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    leaflet = Path(__import__("xstatic.pkg.leaflet", fromlist=["BASE_DIR"]).BASE_DIR)
    script, style = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
    cases = {
        "/static/map.js": (STATIC_DIR / "map.js", script, "no-cache"),
        "/static/page.css": (STATIC_DIR / "page.css", style, "no-cache"),
        "/static/leaflet/leaflet.js": (leaflet / "leaflet.js", script, "max-age=86400"),
        "/static/leaflet/images/layers.png": (leaflet / "images/layers.png", "image/png", "max-age"),
        "/static/world/countries-110m.json": (DIRECTORY / "countries-110m.json", "application/json", "max"),
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path, (file, media, cache) in cases.items():
            on_disk = file.read_bytes()
            plain = await client.get(path, headers=PLAIN)
            assert plain.status_code == 200, path
            assert plain.content == on_disk, path
            assert plain.headers["content-type"] == media, path
            assert cache in plain.headers["cache-control"], path
            assert plain.headers["access-control-allow-origin"] == "*", path
            assert plain.headers["x-content-type-options"] == "nosniff", path
            assert "content-encoding" not in plain.headers, path
            etag = plain.headers["etag"]

            # a reload: the validator it has, a bodiless 304 (weak and listed forms too)
            for said in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                again = await client.get(path, headers={**PLAIN, "If-None-Match": said})
                assert again.status_code == 304 and again.content == b"", (path, said)
                assert again.headers["etag"] == etag
            changed = await client.get(path, headers={**PLAIN, "If-None-Match": '"not-this-one"'})
            assert changed.status_code == 200 and changed.content == on_disk

            packed = await client.get(path, headers={"Accept-Encoding": "gzip"})
            if media.startswith(("text/", "application/json")):
                assert packed.headers["content-encoding"] == "gzip", path
                assert int(packed.headers["content-length"]) < len(on_disk), path
                assert packed.content == on_disk, path  # httpx took the gzip off
                assert "accept-encoding" in packed.headers["vary"].lower()
            else:
                assert "content-encoding" not in packed.headers, path  # a PNG is packed already

            head = await client.head(path, headers=PLAIN)
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["content-length"]) == len(on_disk)


async def test_only_listed_files_by_exact_path_and_only_read(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path in ("/static/nope.js", "/static/leaflet/../../setup.cfg", "/static/world/countries.json"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
        template = await client.get("/static/index.html")
        assert template.status_code == 400 and "not a static file" in template.text
        assert b"{{" not in template.content
        for method in ("POST", "PUT", "DELETE"):
            refused = await client.request(method, "/static/map.js")
            assert refused.status_code == 405, method
            assert refused.headers["allow"] == "GET, HEAD"


class _Exchange:
    """One request to an ASGI handler: its scope, and what it sent back."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.scope: dict[str, Any] = {"type": "http", "method": "GET", "path": path, "headers": headers or []}
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def header(self, name: bytes) -> bytes | None:
        return dict(self.sent[0]["headers"]).get(name)


async def test_a_file_changed_on_disk_is_served_as_it_is_now(tmp_path: Path) -> None:
    """A developer's edit shows on reload: the file is read again when its time or size changed,
    with a new validator; unchanged, it is not read again."""
    (tmp_path / "a.js").write_text("export const a = 1;\n" * 100)
    files = StaticFiles([("X-Content-Type-Options", "nosniff")], static_dir=tmp_path)
    first = _Exchange("/static/a.js")
    await files(first.scope, first.receive, first.send)
    assert first.status == 200 and first.body == (tmp_path / "a.js").read_bytes()

    (tmp_path / "a.js").write_text("export const a = 2;\n" * 120)
    stamp = (tmp_path / "a.js").stat()
    os.utime(tmp_path / "a.js", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    second = _Exchange("/static/a.js", [(b"if-none-match", first.header(b"etag") or b"")])
    await files(second.scope, second.receive, second.send)
    assert second.status == 200, "the old validator no longer matches"
    assert second.body == (tmp_path / "a.js").read_bytes()
    assert second.header(b"etag") != first.header(b"etag")

    packed = _Exchange("/static/a.js", [(b"accept-encoding", b"gzip, deflate")])
    await files(packed.scope, packed.receive, packed.send)
    assert packed.header(b"content-encoding") == b"gzip"
    assert gzip.decompress(packed.body) == (tmp_path / "a.js").read_bytes()

    (tmp_path / "new.js").write_text("late")
    late = _Exchange("/static/new.js")
    await files(late.scope, late.receive, late.send)
    assert late.status == 404, "only the files there when the server started"
