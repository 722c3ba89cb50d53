"""Issue 57 through the MCP front door, with the SDK's own client over Streamable HTTP against the
real server, and a browser's stream watching: ``draw`` with a GeoJSON MultiPolygon (Natural
Earth's Italy: eight parts, two holes) draws one feature with one id, which the stream gets as one
feature whole; ``read`` names its kind and counts its parts and holes; ``edit`` with a geometry
reshapes it (into a Polygon with a hole: South Africa's mainland and Lesotho), and ``undo`` puts
the multipolygon back exactly. What cannot be meant is refused in words an agent can act on."""

from __future__ import annotations

from typing import Any

import trio
from mcp import Client
from support import Browser, open_stream, start_server
from support.agents import call, failing
from support.natural_earth import countries_geojson

from mapsrv.core.geometry import check
from mapsrv.server import Server


def country(name: str) -> dict[str, Any]:
    """A Natural Earth country's GeoJSON geometry (1:50m), [lon, lat], rings closed."""
    [found] = [f for f in countries_geojson("50m")["features"] if f["properties"]["name"] == name]
    return dict(found["geometry"])


def as_mapsrv(geometry: dict[str, Any], type_: str) -> Any:
    """A GeoJSON (Multi)Polygon as mapsrv holds it: [lat, lon], rings unclosed, checked by core."""
    flip = [[[[lat, lon] for lon, lat in ring] for ring in polygon] for polygon in geometry["coordinates"]]
    coords = flip if geometry["type"] == "MultiPolygon" else flip[0]
    held = check(type_, coords, 1_000_000)
    return held


def as_lists(value: Any) -> Any:
    return [as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


async def test_an_agent_draws_a_country_whole_reshapes_it_and_undoes_that(nursery: trio.Nursery) -> None:
    server: Server = await start_server(nursery)
    italy, africa = country("Italy"), country("South Africa")
    mainland = {"type": "Polygon", "coordinates": africa["coordinates"][0]}  # its outline and Lesotho
    assert italy["type"] == "MultiPolygon" and len(mainland["coordinates"]) == 2
    async with Client(server.url + "mcp") as client:
        created = await call(client, "create_map", title="Countries")
        map_id = created["map_id"]
        browser = Browser(server.url.rstrip("/"))
        await browser.client.get(f"/m/{map_id}")
        assert (await browser.client.post(f"/m/{map_id}/claim")).status_code == 303  # the user opens it
        stream = await open_stream(nursery, browser.client, f"/m/{map_id}/events")
        with trio.fail_after(5):
            await stream.wait_for(lambda ev: bool(ev))

        drawn = await call(
            client,
            "draw",
            map_id=map_id,
            items=[{"geometry": italy, "label": "Italia", "fill_color": "#0a0"}],
        )
        [fid] = drawn["ids"]
        with trio.fail_after(5):
            await stream.wait_for(lambda ev: int(ev[-1][1]) >= drawn["version"])
        upserts = [
            data for kind, _, data in stream.events if kind == "change" and data.get("kind") == "upsert"
        ]
        [seen] = [f for change in upserts for f in change["features"]]
        assert seen["id"] == fid and seen["type"] == "multipolygon" and len(seen["coords"]) == 8
        entry = await server.hub.get(map_id)
        feature = entry.state.features[fid]
        assert as_lists(feature.coords) == as_lists(as_mapsrv(italy, "multipolygon")), (
            "every part and hole kept"
        )

        page = await call(client, "read", map_id=map_id, kind="multipolygon")
        [row] = page["features"]
        assert (row["id"], row["type"], row["parts"], row["holes"]) == (fid, "multipolygon", 8, 2)
        summary = await call(client, "read", map_id=map_id)
        assert summary["layers"]["default"]["multipolygon"] == 1

        message, _ = await failing(
            client, "edit", map_id=map_id, changes=[{"id": fid, "points": [[0, 0], [1, 1], [1, 0]]}]
        )
        assert "changes[0].points cannot reshape" in message and "give geometry" in message, message
        edited = await call(client, "edit", map_id=map_id, changes=[{"id": fid, "geometry": mainland}])
        reshaped = (await server.hub.get(map_id)).state.features[fid]
        assert reshaped.type == "polygon" and len(reshaped.coords) == 2, "an outline and its hole"
        assert reshaped.label == "Italia" and reshaped.style == feature.style, "only the shape changed"
        [row] = (await call(client, "read", map_id=map_id, kind="polygon"))["features"]
        assert row["holes"] == 1 and "parts" not in row

        undone = await call(client, "undo", map_id=map_id)
        assert undone["version"] > edited["version"]
        back = (await server.hub.get(map_id)).state.features[fid]
        assert back == feature, "the multipolygon back as it was"

        refused, _ = await failing(
            client, "draw", map_id=map_id, items=[{"type": "polygon", "geometry": italy}]
        )
        assert refused.startswith(
            "invalid: items[0].type must be its geometry's kind, multipolygon, got 'polygon'"
        )
        both, _ = await failing(client, "draw", map_id=map_id, items=[{"at": "Rome", "geometry": italy}])
        assert "items[0] must give one geometry, got at and geometry" in both
        await browser.aclose()
