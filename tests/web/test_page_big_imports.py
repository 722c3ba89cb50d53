"""Big files through the page's import (issue 61, item 4): a GeoPackage past the old 16 MiB limit
sent over a real socket is spooled to disk as it arrives, read from there in batches with its
progress answered line by line, and its spool folder is gone afterwards; a file past the limit, or
a client that leaves halfway, leaves nothing stored and nothing on disk. Then the page shows
"Reading big.gpkg… N %" in Chromium."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from support import Browser, start_server, wait_until
from support.chromium import TILES, Chromium, Tab, in_chromium, new_context
from support.gis_files import geopackage, noted_points
from support.raw_http import RawConnection

from mapsrv.web import upload

ROWS = 40_000  # 8,192 rows a batch: five batches, each a progress line


@pytest.fixture(scope="module")
def big_gpkg() -> bytes:
    """40,000 points with 500-character notes: a 23 MiB GeoPackage GDAL wrote."""
    data = geopackage({"big": (noted_points(ROWS, 500), "EPSG:4326", "Point")})
    assert len(data) > 16 << 20, "bigger than the old default limit"
    return data


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads are spooled (``tempfile``'s folder, the server's ``TMPDIR``), watched; the
    progress lines come every 10 ms, so that a read of a second has several."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(upload, "EVERY", 0.01)
    return folder


async def _lines(response: object) -> AsyncIterator[dict[str, object]]:
    async for line in response.aiter_lines():  # type: ignore[attr-defined]
        if line:
            yield json.loads(line)


async def _import_head(owner: Browser, map_id: str, declared: int) -> RawConnection:
    """A raw connection that has sent the head of ``owner``'s import of a file of ``declared``
    bytes into ``map_id``, and none of its body yet."""
    host = owner.client.base_url.netloc.decode()
    cookie = "; ".join(f"{name}={value}" for name, value in owner.client.cookies.items())
    raw = await RawConnection.open("127.0.0.1", int(host.rsplit(":", 1)[1]))
    await raw.send(
        f"POST /m/{map_id}/import?filename=x.gpkg HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"
        f"Cookie: {cookie}\r\nContent-Length: {declared}\r\n\r\n".encode()
    )
    return raw


def _spooled(folder: Path) -> list[int]:
    """The size of each upload spooled in ``folder`` now."""
    return [p.stat().st_size for p in folder.glob("mapsrv-upload-*/upload")]


async def _until_empty(folder: Path) -> None:
    await wait_until(lambda: not any(folder.iterdir()), timeout=10)


async def test_a_gpkg_past_the_old_limit_is_spooled_read_with_progress_and_removed(
    nursery: trio.Nursery, big_gpkg: bytes, spool: Path
) -> None:
    server = await start_server(nursery)  # the default max_file_size
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        url = f"/m/{map_id}/import?filename=big.gpkg&progress=1"
        seen: list[float] = []
        spooled: list[int] = []
        last: dict[str, object] = {}
        async with owner.client.stream("POST", url, content=big_gpkg, timeout=120) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            async for line in _lines(response):
                if "progress" in line:
                    if not seen:  # while the read runs, the file is on disk, whole
                        spooled = _spooled(spool)
                    seen.append(float(line["progress"]))  # type: ignore[arg-type]
                else:
                    last = line
        assert last.get("added") == ROWS, last
        assert spooled == [len(big_gpkg)]
        assert seen == sorted(seen) and any(0 < s < 1 for s in seen) and seen[-1] == 1.0, seen
        await _until_empty(spool)
        state = (await server.hub.get(map_id)).state
        assert len(state.features) == ROWS
        note = next(iter(state.features.values())).properties
        assert len(dict(note)["note"]) == 500

        # The JSON answer, without progress, as before: the API's clients see no change
        again = await owner.client.post(
            f"/m/{map_id}/import?filename=big.gpkg&preview=1", content=big_gpkg, timeout=120
        )
        assert again.status_code == 200 and again.json()["added"] == ROWS
        await _until_empty(spool)
    finally:
        await owner.aclose()


async def test_past_the_limit_nothing_is_stored_and_nothing_left_on_disk(
    nursery: trio.Nursery, big_gpkg: bytes, spool: Path
) -> None:
    limit = 4 << 20
    server = await start_server(nursery, max_file_size=limit)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused as it comes
            for start in range(0, len(big_gpkg), 1 << 20):
                yield big_gpkg[start : start + (1 << 20)]

        refused = await owner.client.post(
            f"/m/{map_id}/import?filename=big.gpkg&progress=1", content=chunks()
        )
        assert refused.status_code == 413
        message = refused.json()["error"]["message"]
        assert f"larger than {limit} bytes (4 MiB)" in message and "MAPSRV_MAX_FILE_SIZE" in message
        await _until_empty(spool)

        # A client that sends half its file and leaves: its spool goes too
        raw = await _import_head(owner, map_id, limit - 1)
        await raw.send(big_gpkg[: 2 << 20])
        await wait_until(lambda: _spooled(spool), timeout=10)
        await raw.stream.aclose()
        await _until_empty(spool)
        assert (await server.hub.get(map_id)).state.features == {}
    finally:
        await owner.aclose()


async def test_a_file_declared_past_the_limit_is_refused_before_its_body_is_sent(
    nursery: trio.Nursery, spool: Path
) -> None:
    """A Content-Length past the limit is answered 413 from the head alone: a client that waits
    to be told before it sends 300 MiB is told, and the server spools none of it."""
    limit = 4 << 20
    server = await start_server(nursery, max_file_size=limit)
    owner = Browser(server.url)
    try:
        map_id = await owner.new_map()
        raw = await _import_head(owner, map_id, 300 << 20)
        try:
            with trio.fail_after(5):
                answer = await raw.read_response()
        except trio.TooSlowError:
            raise AssertionError("no answer within 5 s of the head: the server waits for the body") from None
        assert answer.status == 413, answer.body
        message = json.loads(answer.body)["error"]["message"]
        assert f"larger than {limit} bytes (4 MiB)" in message and "MAPSRV_MAX_FILE_SIZE" in message
        assert _spooled(spool) == [], "nothing spooled"
        await raw.aclose()
        assert (await server.hub.get(map_id)).state.features == {}
    finally:
        await owner.aclose()


@pytest.mark.browser
async def test_the_page_shows_the_reads_percentage(
    nursery: trio.Nursery, big_gpkg: bytes, spool: Path, tmp_path: Path
) -> None:
    server = await start_server(nursery, tile_url=TILES)
    path = tmp_path / "big.gpkg"
    path.write_bytes(big_gpkg)

    def body(chromium: Chromium) -> None:
        context = new_context(chromium, server, viewport={"width": 1280, "height": 800})
        tab = Tab.open(context)
        page = tab.page
        page.evaluate(
            """() => {
              window.titles = [];
              const title = document.getElementById('import-title');
              new MutationObserver(() => window.titles.push(title.textContent))
                .observe(title, { childList: true, characterData: true, subtree: true });
            }"""
        )
        page.locator("#import-open").wait_for()
        with page.expect_file_chooser() as chooser:
            page.locator("#import-open").click()
        chooser.value.set_files(str(path))
        page.locator("#import").get_by_text(f"GeoPackage: {ROWS} markers").wait_for(timeout=120_000)
        titles = page.evaluate("window.titles")
        reading = [t for t in titles if t.startswith("Reading big.gpkg… ") and t.endswith(" %")]
        assert reading, titles
        assert any(t != "Reading big.gpkg… 100 %" for t in reading), reading
        tab.check_clean()

    await in_chromium(body)
    await _until_empty(spool)
