"""Files that reach mapsrv without passing through the model (issue 73): ``import`` by ``path`` on
real ``mapsrv serve`` and ``mapsrv stdio`` processes, by ``url`` from a local HTTP server, each
call's arguments under 1 KB; and every way out of the allowed folders refused, naming the flag."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import shapely
import trio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import ResourceLink
from support.gis_files import shapefile_zip
from support.processes import open_server
from support.sources import http_answer, serve_source


def points_geojson(n: int) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [(i % 3600) / 10 - 180, (i // 3600) / 10 - 80]},
            "properties": {"name": f"stop {i}", "note": "a longer note to make the file a few MB" * 2},
        }
        for i in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def stops_zip() -> bytes:
    table = pa.table(
        {"name": ["a", "b", "c"], "geometry": shapely.to_wkb(shapely.points([(2, 48), (2.1, 48), (2.2, 48)]))}
    )
    return shapefile_zip({"stops": (table, "EPSG:4326", "Point")})


def said(result: object) -> str:
    return " ".join(getattr(c, "text", "") for c in getattr(result, "content", []))


async def test_an_agent_imports_big_files_by_path_with_arguments_of_a_few_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    big = points_geojson(30_000)
    assert len(big) > 5 << 20
    (folder / "stops.geojson").write_bytes(big)
    (folder / "stops.zip").write_bytes(stops_zip())
    async with open_server("--store", "memory://", "--files-dir", str(folder)) as server:
        async with Client(server.url + "mcp") as agent:
            arguments = {"path": str(folder / "stops.geojson")}
            assert len(json.dumps(arguments)) < 1024
            first = await agent.call_tool("import", arguments)
            assert not first.is_error, said(first)
            answer = first.structured_content or {}
            assert answer["added"] == 30_000
            assert answer["view_url"].startswith(server.url.rstrip("/") + "/v/")
            second = await agent.call_tool("import", {"map_id": answer["map_id"], "path": "stops.zip"})
            assert not second.is_error, said(second)
            assert (second.structured_content or {})["added"] == 3  # relative to the allowed folder


async def test_every_way_out_of_the_allowed_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("name,lat,lon\nhidden,1,2\n")
    (folder / "escape.csv").symlink_to(secret)
    os.mkfifo(folder / "pipe.csv")
    (folder / "sub").mkdir()
    async with open_server("--store", "memory://", "--files-dir", str(folder)) as server:
        async with Client(server.url + "mcp") as agent:
            cases = [
                (str(secret), "outside the folders this server may read"),
                (str(folder / "escape.csv"), "outside the folders this server may read"),
                (str(folder / ".." / "secret.csv"), "outside the folders this server may read"),
                ("../secret.csv", "outside the folders this server may read"),
                ("/proc/self/environ", "outside the folders this server may read"),
                (str(folder / "pipe.csv"), "not a regular file"),
                (str(folder / "sub"), "is a folder"),
                (str(folder / "missing.csv"), "names no file"),
            ]
            for path, expected in cases:
                with trio.fail_after(10):  # a FIFO opened for reading would block for ever
                    refused = await agent.call_tool("import", {"path": path})
                assert refused.is_error, path
                assert expected in said(refused), (path, said(refused))
                assert "hidden" not in said(refused)
            (folder / "notes.txt").write_text("just a line\npassword=hunter2\n")
            unread = await agent.call_tool("import", {"path": "notes.txt"})
            assert unread.is_error and "hunter2" not in said(unread), said(unread)  # no more than line 1
            both = await agent.call_tool("import", {"path": "x.csv", "content": "a,b\n"})
            assert both.is_error and "give the file one way" in said(both)
    async with open_server("--store", "memory://") as server, Client(server.url + "mcp") as agent:
        off = await agent.call_tool("import", {"path": str(secret)})
        assert off.is_error and "--files-dir" in said(off), said(off)


async def test_mapsrv_stdio_reads_the_folder_it_was_started_in(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "ride.geojson").write_bytes(points_geojson(10))
    (tmp_path / "outside.geojson").write_bytes(points_geojson(3))
    command = ["-m", "mapsrv", "stdio", "--server", "none", "--port", "0", "--store", "memory://"]
    parameters = StdioServerParameters(
        command=sys.executable,
        args=command,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        cwd=str(work),
    )
    with (tmp_path / "stdio.log").open("w") as errlog:
        async with Client(stdio_client(parameters, errlog=errlog)) as agent:  # type: ignore[arg-type]
            read = await agent.call_tool("import", {"path": "ride.geojson"})
            assert not read.is_error, said(read)
            assert (read.structured_content or {})["added"] == 10
            outside = await agent.call_tool("import", {"path": str(tmp_path / "outside.geojson")})
            assert outside.is_error and "outside the folders" in said(outside)


@pytest.mark.parametrize("listed", [True, False])
async def test_an_import_by_url_from_a_listed_source(nursery: trio.Nursery, listed: bool) -> None:
    body = points_geojson(100)

    async def answer(target: str, stream: trio.SocketStream) -> None:
        await stream.send_all(http_answer("200 OK", body, "application/geo+json"))

    port = await serve_source(nursery, answer)
    sources = ("--allowed-sources", "127.0.0.1") if listed else ()
    async with open_server("--store", "memory://", *sources) as server, Client(server.url + "mcp") as agent:
        got = await agent.call_tool("import", {"url": f"http://127.0.0.1:{port}/stops.geojson"})
        if listed:
            assert not got.is_error, said(got)
            assert (got.structured_content or {})["added"] == 100
        else:
            assert got.is_error and "--allowed-sources" in said(got), said(got)


async def test_a_big_read_answers_its_counts_and_a_link_not_the_file(tmp_path: Path) -> None:
    (tmp_path / "stops.geojson").write_bytes(points_geojson(10_000))
    async with (
        open_server("--store", "memory://", "--files-dir", str(tmp_path)) as server,
        Client(server.url + "mcp") as agent,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        imported = await agent.call_tool("import", {"path": "stops.geojson"})
        map_id = (imported.structured_content or {})["map_id"]
        for arguments in ({"geojson": True}, {"format": "geojson"}, {"format": "gpkg"}):
            result = await agent.call_tool("read", {"map_id": map_id, **arguments})
            carried = len(said(result)) + len(json.dumps(result.structured_content))
            assert carried < 64 * 1024, (arguments, carried)
            (link,) = [c for c in result.content if isinstance(c, ResourceLink)]
            fetched = await http.get(str(link.uri))
            assert fetched.status_code == 200 and len(fetched.content) == link.size
            if "gpkg" not in arguments.values():
                assert len(fetched.json()["features"]) == 10_000
        small = await agent.call_tool("read", {"map_id": map_id, "kind": "marker", "limit": 5})
        assert not any(isinstance(c, ResourceLink) for c in small.content)  # a page is its own answer


async def test_an_import_by_url_takes_files_up_to_the_pages_limit_as_they_stream(
    nursery: trio.Nursery,
) -> None:
    """A URL import is held to ``--max-file-size`` (the page's limit, not add_layer's), counted
    as the body streams to disk: a body without a declared length is refused once it passes."""
    big = points_geojson(12_000)  # about 2.5 MB
    assert 2 * 2**20 < len(big) < 3 * 2**20, len(big)

    async def answer(target: str, stream: trio.SocketStream) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/geo+json\r\nconnection: close\r\n\r\n"
        await stream.send_all(head + big)  # no content-length: only the stream's count can stop it

    port = await serve_source(nursery, answer)
    url = f"http://127.0.0.1:{port}/stops.geojson"
    async with open_server(
        "--store", "memory://", "--allowed-sources", "127.0.0.1", "--max-file-size", "2MiB"
    ) as server:
        async with Client(server.url + "mcp") as agent:
            refused = await agent.call_tool("import", {"url": url})
            assert refused.is_error and "at most 2 MiB" in said(refused), said(refused)
    async with open_server(
        "--store", "memory://", "--allowed-sources", "127.0.0.1", "--max-file-size", "4MiB"
    ) as server:
        async with Client(server.url + "mcp") as agent:
            got = await agent.call_tool("import", {"url": url})
            assert not got.is_error, said(got)
            assert (got.structured_content or {})["added"] == 12_000
