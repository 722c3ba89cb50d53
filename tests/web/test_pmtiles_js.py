"""The page's own PMTiles reader (static/pmtiles.js) and MVT decoder (static/mvt.js), run in
Node as the ES modules they are, against archives the ``pmtiles`` package wrote, served on
127.0.0.1 with range requests: Hilbert tile ids as the package computes them, a tile found
through a leaf directory (fetched once), gzip'd vector tiles unpacked and decoded into the square
the test's encoder wrote, a tile the archive does not hold, a host that ignores ranges, and a
source layer's colour the same as ``map_image`` gives it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import trio
from pmtiles.tile import zxy_to_tileid
from support import require
from support.pmtiles_archives import (
    EXTENT,
    SQUARE,
    many_tiles_archive,
    serve_archives,
    tile_body,
    tile_point,
    vector_archive,
)
from support.sources import http_answer, serve_source

import mapsrv.web
from mapsrv.image.vector_tiles import layer_color

NAMES = ["squares", "roads", "water", "", "Straße", "🗺 places"]
STATIC = Path(mapsrv.web.__file__).resolve().parent / "static"
TILES = [
    (0, 0, 0),
    (1, 1, 0),
    (3, 5, 2),
    (7, 100, 27),
    (12, 1234, 3000),
    (20, 500000, 700000),
    (26, 12345678, 33333333),
]
SCRIPT = """
import { openArchive, tileId } from '%(static)s/pmtiles.js';
import { decodeTile } from '%(static)s/mvt.js';
import { layerColor } from '%(static)s/archives.js';
const [many, shapes, whole] = process.argv.slice(2);
const text = (bytes) => (bytes ? new TextDecoder().decode(bytes).split(' ', 2).join(' ') : null);
const archive = openArchive(many);
const vector = openArchive(shapes);
const out = {
  ids: %(tiles)s.map(([z, x, y]) => tileId(z, x, y)),
  header: await archive.header,
  tiles: [
    text(await archive.tile(7, 100, 27)),
    text(await archive.tile(7, 101, 27)),
    text(await archive.tile(8, 0, 0)),
  ],
  square: decodeTile(await vector.tile(1, 1, 0)),
  missing: await vector.tile(1, 0, 1),
  colors: %(names)s.map(layerColor),
};
try {
  await openArchive(whole).tile(0, 0, 0);
  out.whole = 'read';
} catch (error) {
  out.whole = error.message;
}
console.log(JSON.stringify(out));
"""


async def whole_file(target: str, stream: trio.SocketStream) -> None:
    await stream.send_all(http_answer("200 OK", vector_archive(), "application/octet-stream"))


async def test_the_pages_reader_reads_what_the_package_wrote(nursery: trio.Nursery, tmp_path: Path) -> None:
    node = shutil.which("node")
    require(node is not None, "node (Debian's nodejs, which npm brings)")
    asked: list[tuple[str, str]] = []
    files = {"/many.pmtiles": many_tiles_archive(), "/shapes.pmtiles": vector_archive("squares")}
    port = await serve_archives(nursery, files, asked)
    ignoring = await serve_source(nursery, whole_file)
    script = tmp_path / "read.mjs"
    script.write_text(
        SCRIPT % {"static": STATIC.as_posix(), "tiles": json.dumps(TILES), "names": json.dumps(NAMES)}
    )
    base = f"http://127.0.0.1:{port}"
    with trio.fail_after(20):
        done = await trio.run_process(
            [
                node,
                str(script),
                base + "/many.pmtiles",
                base + "/shapes.pmtiles",
                f"http://127.0.0.1:{ignoring}/",
            ],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["ids"] == [zxy_to_tileid(*t) for t in TILES], "Hilbert ids as the package has them"
    assert out["header"]["tileType"] == "png" and out["header"]["maxZoom"] == 7
    assert out["tiles"] == [tile_body(zxy_to_tileid(7, x, 27), 0).decode().strip() for x in (100, 101)] + [
        None
    ]
    many = [header for path, header in asked if path == "/many.pmtiles"]
    assert len(many) == 4, f"the first 16 KiB, one leaf directory (then kept), two tiles: {many}"

    (layer,) = out["square"]
    assert layer["name"] == "squares" and layer["extent"] == EXTENT
    (feature,) = layer["features"]
    west, south, east, north = SQUARE
    corners = [
        tile_point(lon, lat, 1, 1, 0)
        for lon, lat in ((west, north), (west, south), (east, south), (east, north))
    ]
    assert feature["type"] == 3 and feature["parts"] == [[list(c) for c in [*corners, corners[0]]]]
    assert out["missing"] is None
    assert "range request" in out["whole"], "a host that ignores ranges is refused"
    hex_colors = ["#{:02x}{:02x}{:02x}".format(*layer_color(name)) for name in NAMES]
    assert out["colors"] == hex_colors, "the page and map_image colour a source layer alike"
    assert len(set(hex_colors)) > 3
