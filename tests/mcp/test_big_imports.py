"""Big maps on the server side (issue 25): a 10,000-point GeoJSON goes in with one `draw` call
under the default limits, and the answers that grow with the map (state, GeoJSON) come gzipped
to clients that accept it, byte for byte the same once decoded."""

from __future__ import annotations

import gzip
import json

import trio
from mcp import Client
from support import Browser, start_server

from mapsrv.config import Config
from mapsrv.core import Limits

POINTS = 10_000


def labelled_points(n: int) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-10 + i % 400 / 10, 35 + i // 400]},
                "properties": {"name": f"Station {i}"},
            }
            for i in range(n)
        ],
    }


def test_the_defaults_fit_a_big_import() -> None:
    body = json.dumps(labelled_points(POINTS)).encode()
    assert len(body) > 1024 * 1024, "the import this test makes is past the old 1 MiB limit"
    assert Config().max_body_size > len(body) * 2
    assert Config().max_features == Limits().max_features == 100_000


async def test_ten_thousand_points_in_one_draw_call(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)  # the default limits
    async with Client(server.url + "mcp") as agent:
        drawn = await agent.call_tool("draw", {"items": [], "geojson": labelled_points(POINTS)})
        assert not drawn.is_error, drawn.content
        answer = drawn.structured_content
        assert answer is not None
        map_id = answer["map_id"]
    entry = await server.hub.get(map_id)
    assert len(entry.state.features) == POINTS
    assert entry.state.version == answer["version"]
    names = {f.label for f in entry.state.features.values()}
    assert "Station 0" in names and f"Station {POINTS - 1}" in names


async def test_state_and_geojson_are_gzipped_when_accepted(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    browser = Browser(server.url)
    map_id = await browser.new_map()
    ops = [
        {
            "op": "add_feature",
            "id": f"p{i}",
            "type": "marker",
            "coords": [40 + i / 100, i / 100],
            "label": f"P{i}",
        }
        for i in range(500)
    ]
    assert (await browser.ops(map_id, *ops)).status_code == 200
    http = browser.client  # the owner's cookie
    try:
        for path in (f"/m/{map_id}/state", f"/m/{map_id}/geojson"):
            plain = await http.get(path, headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers
            assert "Accept-Encoding" in plain.headers["vary"]
            async with http.stream("GET", path, headers={"Accept-Encoding": "br;q=1, gzip;q=0.5"}) as packed:
                assert packed.headers["content-encoding"] == "gzip"
                assert "Accept-Encoding" in packed.headers["vary"]
                raw = b"".join([piece async for piece in packed.aiter_raw()])
            assert len(raw) < len(plain.content) / 4, "labelled points compress well"
            assert int(packed.headers["content-length"]) == len(raw)
            assert gzip.decompress(raw) == plain.content
        refused = await http.get(f"/m/{map_id}/state", headers={"Accept-Encoding": "gzip;q=0, *"})
        assert "content-encoding" not in refused.headers
        small = await http.get(f"/m/{map_id}/state?at=0", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers, "a small answer is not worth packing"
    finally:
        await browser.aclose()
