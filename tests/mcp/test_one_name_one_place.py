"""One name, one place (issue 77), through the real server and the SDK's client: the labels
``find_places`` answers ("Cambridge, Ontario, CA", "New York City, NY, US", "New York State, US") read
back as the places they label, in ``find_places`` and in a drawing; and a state said as one ("New
York State", "State of New York") is the state in every tool: a point drawn at it, ``map_image``'s
frame, ``select within`` and ``find_places``, where "New York" alone is the city for a point or a
frame and the state for ``within``."""

from __future__ import annotations

import re

import trio
from mcp import Client
from support import start_server
from support.agents import call

NAMESAKES = ("Cambridge", "Springfield", "Salamanca", "London", "Portland", "Paris", "New York", "Georgia")


async def test_every_label_answered_reads_back_as_its_place(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "create_map"))["map_id"]
        labelled = {}
        for name in NAMESAKES:
            for place in (await call(agent, "find_places", query=name, limit=5))["places"]:
                labelled[place["label"]] = place
        assert len(labelled) > 25, sorted(labelled)
        assert {"Cambridge, Ontario, CA", "New York City, NY, US", "New York State, US"} <= set(labelled)
        for label, place in labelled.items():
            (again, *_) = (await call(agent, "find_places", query=label, limit=1))["places"]
            assert (again["name"], again["kind"], again["country"]) == (
                place["name"],
                place["kind"],
                place["country"],
            ), label
            assert (again["lat"], again["lon"]) == (place["lat"], place["lon"]), label
        drawn = await call(agent, "draw", map_id=map_id, items=[{"at": label} for label in labelled])
    for label, (lat, lon, _) in drawn["places"].items():
        assert (lat, lon) == (labelled[label]["lat"], labelled[label]["lon"]), label


async def test_a_state_said_as_one_is_the_state_in_every_tool(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    towns = "name,lat,lon\nManhattan,40.78,-73.97\nAlbany,42.65,-73.75\nBuffalo,42.89,-78.88\n"
    towns += "Boston,42.36,-71.06\n"
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "import", content=towns))["map_id"]
        (state,) = [
            p for p in (await call(agent, "find_places", query="New York"))["places"] if p["kind"] == "state"
        ]
        for said in ("New York State", "State of New York", "new york state, US"):
            (found, *_) = (await call(agent, "find_places", query=said))["places"]
            assert (found["kind"], found["name"]) == ("state", "New York"), said
            drawn = await call(agent, "draw", map_id=map_id, items=[{"at": said}])
            assert drawn["places"][said][:2] == [state["lat"], state["lon"]], said
            chosen = await call(agent, "select", map_id=map_id, within=said)
            assert sorted(f["label"] for f in chosen["features"]) == ["Albany", "Buffalo", "Manhattan"]
            image = await agent.call_tool("map_image", {"map_id": map_id, "bbox": said})
            assert not image.is_error, image.content
            box = frame_of(image)
            (south, west), (north, east) = state["bounds"]
            assert box[0] <= south and box[1] <= west and box[2] >= north and box[3] >= east, (said, box)
            assert box[2] - box[0] < 3 * (north - south), "framed on the state, not the world"
        # "New York" alone: the city for a point and a frame, the state for within
        city = await agent.call_tool("map_image", {"map_id": map_id, "bbox": "New York"})
        south, _, north, _ = frame_of(city)
        assert south < 40.71 < north and north - south < 2, "the city's frame"
        within = await call(agent, "select", map_id=map_id, within="New York")
        assert within["area"]["kind"] == "region" and within["area"]["code"] == "US-NY"


def frame_of(image: object) -> list[float]:
    text = next(c.text for c in image.content if c.type == "text")  # type: ignore[attr-defined]
    found = re.search(r"bbox \[([^\]]+)\] \(south, west, north, east\)", text)
    assert found, text
    return [float(v) for v in found[1].split(",")]
