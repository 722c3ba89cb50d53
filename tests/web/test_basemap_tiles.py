"""The street basemap served (issue 79): a real server over a places directory holding an imported
region's basemap (built from support/street_extract.py's Helsinki), asked as a browser asks; and
what each ``--basemap`` choice tells the page."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
import trio
from support import start_server
from support.pmtiles_archives import serve_archives
from support.street_extract import write_street_extract
from support.waiting import wait_until

from mapsrv.config import Config, ConfigError
from mapsrv.image.street_style import STYLE_FILE
from mapsrv.places.street_tiles import build_basemap, tiles_over


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("basemap")
    write_street_extract(folder / "helsinki.osm.pbf")
    return build_basemap(folder / "helsinki.osm.pbf", folder / "helsinki.basemap.pmtiles").path


def _places(tmp_path: Path, archive: Path) -> Path:
    places = tmp_path / "places"
    places.mkdir()
    shutil.copy(archive, places / archive.name)
    return places


async def _page(client: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]], str]:
    """The page's tile URL, the basemaps it is told of, and its CSP's img-src."""
    page = await client.get("/", follow_redirects=True)
    assert page.status_code == 200
    tiles = html.unescape(re.search(r'data-tile-url="([^"]*)"', page.text)[1])  # type: ignore[index]
    told = json.loads(html.unescape(re.search(r'data-basemaps="([^"]*)"', page.text)[1]))  # type: ignore[index]
    img = re.search(r"img-src ([^;]*)", page.headers["content-security-policy"])[1]  # type: ignore[index]
    return tiles, told, img


async def test_a_regions_tiles_are_served_as_a_browser_asks(
    nursery: trio.Nursery, tmp_path: Path, archive: Path
) -> None:
    server = await start_server(nursery, places_dir=str(_places(tmp_path, archive)))
    async with httpx.AsyncClient(base_url=server.url) as client:
        tiles, told, _ = await _page(client)
        assert tiles.startswith("https://tile.openstreetmap.org/"), "auto: the tile server first"
        assert [b["name"] for b in told] == ["helsinki"]
        street = told[0]
        assert street["url"] == "/basemap/helsinki/{z}/{x}/{y}.mvt"
        assert (street["minzoom"], street["maxzoom"]) == (10, 16)
        assert street["bounds"] == pytest.approx([24.93, 60.158, 24.96, 60.175])
        x, y = next(iter(tiles_over((24.94, 60.166, 24.941, 60.167), 16)))
        url = street["url"].format(z=16, x=x, y=y)
        packed = await client.get(url, headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200
        assert packed.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert packed.headers["content-encoding"] == "gzip"
        assert "max-age" in packed.headers["cache-control"]
        assert packed.headers["access-control-allow-origin"] == "*"
        layers = mapbox_vector_tile.decode(packed.content)  # httpx took the gzip off
        assert {"roads", "buildings", "earth"} <= set(layers)
        plain = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == packed.content
        etag = packed.headers["etag"]
        again = await client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        outside = await client.get(street["url"].format(z=16, x=0, y=0))
        assert outside.status_code == 204 and outside.content == b""
        for path, status in (
            ("/basemap/lisbon/16/0/0.mvt", 404),
            (f"/basemap/helsinki/16/{2**16}/0.mvt", 400),
            ("/basemap/helsinki/16/1/1.png", 404),
            ("/basemap/helsinki/x/1/1.mvt", 404),
        ):
            refused = await client.get(path)
            assert refused.status_code == status, path
        assert (await client.post(url)).status_code == 405
        style = await client.get("/static/street-style.json")
        assert style.status_code == 200 and style.json() == json.loads(STYLE_FILE.read_text())
        assert style.headers["access-control-allow-origin"] == "*" and "etag" in style.headers
        assert (await client.get("/basemap/style.json")).status_code == 404


async def test_each_basemap_choice_tells_the_page_what_to_draw(
    nursery: trio.Nursery, tmp_path: Path, archive: Path
) -> None:
    places = str(_places(tmp_path, archive))
    osm = await start_server(nursery, places_dir=places, basemap="osm")
    extract = await start_server(nursery, places_dir=places, basemap="extract")
    none = await start_server(nursery, places_dir=places, basemap="none")
    named = await start_server(nursery, places_dir=str(tmp_path / "empty"), basemap=str(archive))
    async with httpx.AsyncClient(base_url=osm.url) as client:
        tiles, told, img = await _page(client)
        assert tiles and told == [] and "tile.openstreetmap.org" in img
        x, y = next(iter(tiles_over((24.94, 60.166, 24.941, 60.167), 16)))
        assert (await client.get(f"/basemap/helsinki/16/{x}/{y}.mvt")).status_code == 404
    async with httpx.AsyncClient(base_url=extract.url) as client:
        tiles, told, img = await _page(client)
        assert tiles == "" and [b["name"] for b in told] == ["helsinki"]
        assert "openstreetmap" not in img, "a tile server the page never loads is not in its CSP"
    async with httpx.AsyncClient(base_url=none.url) as client:
        tiles, told, _ = await _page(client)
        assert tiles == "" and told == []
    async with httpx.AsyncClient(base_url=named.url) as client:
        tiles, told, _ = await _page(client)
        assert tiles == "" and [b["name"] for b in told] == ["helsinki-basemap"]
        got = await client.get(told[0]["url"].format(z=16, x=x, y=y))
        assert got.status_code == 200 and "roads" in mapbox_vector_tile.decode(got.content)


async def test_a_region_imported_while_the_server_runs_is_drawn_without_a_restart(
    nursery: trio.Nursery, tmp_path: Path, archive: Path
) -> None:
    places = tmp_path / "places"
    places.mkdir()
    server = await start_server(nursery, places_dir=str(places))
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await _page(client))[1] == []
        shutil.copy(archive, places / archive.name)

        async def told() -> list[dict[str, Any]]:
            return (await _page(client))[1]

        await wait_until(told, 10, "the new region's basemap on the page")
        (places / archive.name).unlink()
        await wait_until(lambda: _not(told), 10, "the removed region's basemap gone from the page")


async def _not(told: Any) -> bool:
    return not await told()


@pytest.mark.parametrize("value", ["streets", "ftp://example.org/a.pmtiles", "osm.png"])
def test_a_basemap_setting_that_is_none_of_the_choices_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="Config 'basemap' has value"):
        Config(basemap=value).check()


async def test_an_archive_by_url_is_read_with_range_requests_and_served_as_ours(
    nursery: trio.Nursery, tmp_path: Path, archive: Path
) -> None:
    asked: list[tuple[str, str]] = []
    port = await serve_archives(
        nursery, {"/maps/helsinki.pmtiles": await trio.Path(archive).read_bytes()}, asked
    )
    url = f"http://127.0.0.1:{port}/maps/helsinki.pmtiles"
    server = await start_server(nursery, places_dir=str(tmp_path / "none"), basemap=url)
    async with httpx.AsyncClient(base_url=server.url) as client:
        tiles, told, img = await _page(client)
        assert tiles == "" and [b["name"] for b in told] == ["helsinki"]
        assert f"127.0.0.1:{port}" not in img, "the page asks mapsrv, never the archive's host"
        x, y = next(iter(tiles_over((24.94, 60.166, 24.941, 60.167), 16)))
        got = await client.get(told[0]["url"].format(z=16, x=x, y=y))
        assert got.status_code == 200 and "roads" in mapbox_vector_tile.decode(got.content)
    assert asked and all(r.startswith("Range: bytes=") or r.startswith("range: bytes=") for _, r in asked)


async def test_an_archive_url_that_is_not_one_is_said_in_ready(nursery: trio.Nursery, tmp_path: Path) -> None:
    port = await serve_archives(nursery, {"/x.pmtiles": b"<html>not an archive</html>" * 10})
    server = await start_server(
        nursery, places_dir=str(tmp_path), basemap=f"http://127.0.0.1:{port}/x.pmtiles"
    )
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await _page(client))[1] == []
        ready = (await client.get("/ready")).json()
    assert "x.pmtiles" in " ".join(ready["basemaps"]["failures"])
