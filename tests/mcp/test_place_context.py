"""Place names in context as an agent meets them: a real mapsrv on port 0 (no router: routes are
straight lines), the MCP SDK's own client over real HTTP, ``draw`` with names and ``read`` of the
map. A trip's stops place its shared names (Salamanca between Porto and Madrid is Spain's), the
map's features are context for a later call, a hint after the comma places the name, and a name
nothing decides is drawn at the likeliest place with a note saying so.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from support.agents import followed

from mapsrv.places.search import haversine
from mapsrv.server import Server

LatLon = tuple[float, float]

SALAMANCA_ES = (40.9650, -5.6640)  # Castile and León
SALAMANCA_MX = (20.5710, -101.1918)  # Guanajuato: the likeliest by its people alone
MADRID = (40.4165, -3.7026)
HARTFORD = (41.7637, -72.6851)
SPRINGFIELD_MA = (42.1015, -72.5898)
CAMBRIDGE_MA = (42.3736, -71.1097)
LONDON_ON = (42.9834, -81.2330)
TRIP = ["Lisbon", "Porto", "Salamanca", "Madrid"]


def near(point: LatLon, place: LatLon, within_m: float = 5_000) -> bool:
    return haversine(point, place) < within_m


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return await followed(dict(result.structured_content))  # a big GeoJSON comes by its link


async def features(client: Client, map_id: str) -> list[dict[str, Any]]:
    return list((await call(client, "read", {"map_id": map_id, "format": "geojson"}))["features"])


def latlon(coordinates: list[float]) -> LatLon:
    return (coordinates[1], coordinates[0])  # GeoJSON is [lon, lat]


def markers(drawn: list[dict[str, Any]]) -> list[tuple[str, LatLon]]:
    return [
        (f["mapsrv"]["label"], latlon(f["geometry"]["coordinates"]))
        for f in drawn
        if f["mapsrv"]["type"] == "marker"
    ]


def placed(answer: dict[str, Any], name: str) -> LatLon:
    lat, lon = answer["places"][name][:2]
    return (lat, lon)


async def test_a_routes_stops_place_salamanca_in_spain(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        answer = await call(agent, "draw", {"items": [{"type": "route", "points": TRIP}]})
        drawn = await features(agent, answer["map_id"])
    assert "routes_along" in answer  # no router: the line is straight through the stops
    (line,) = [f for f in drawn if f["mapsrv"]["type"] == "polyline"]
    points = [latlon(c) for c in line["geometry"]["coordinates"]]
    assert len(points) == 4 and near(points[2], SALAMANCA_ES)
    stops = dict(markers(drawn))
    assert list(stops) == TRIP and near(stops["Salamanca"], SALAMANCA_ES)
    assert not near(stops["Salamanca"], MADRID, 100_000)  # not the Madrid district of that name
    # what the answer says is where it was drawn, with a label that tells it from its namesakes
    assert near(placed(answer, "Salamanca"), stops["Salamanca"], 1)
    label = answer["places"]["Salamanca"][2]
    assert label.endswith(", ES") and "Madrid" not in label, label
    others = answer["alternatives"]["Salamanca"]
    assert any(other.endswith(", MX") for other, _ in others), others
    assert all(isinstance(km, int) and km > 0 for _, km in others)
    assert "note" not in answer  # the trip decided


@pytest.mark.parametrize(
    "route_first",
    [
        pytest.param(True, id="route-then-marker"),
        pytest.param(False, id="marker-then-route"),
    ],
)
async def test_a_place_named_as_a_stop_and_as_a_marker_is_one_marker(
    server: Server, route_first: bool
) -> None:
    route = {"type": "route", "points": TRIP}
    marker = {"at": "Salamanca", "label": "Salamanca"}
    items = [route, marker] if route_first else [marker, route]
    async with Client(server.url + "mcp") as agent:
        answer = await call(agent, "draw", {"items": items})
        drawn = await features(agent, answer["map_id"])
    at_salamanca = [point for _, point in markers(drawn) if near(point, SALAMANCA_ES)]
    assert len(at_salamanca) == 1, markers(drawn)
    assert len(markers(drawn)) == len(TRIP)
    assert not any(near(point, SALAMANCA_MX) for _, point in markers(drawn))
    assert set(answer["places"]) == set(TRIP)


async def test_a_name_drawn_later_is_placed_by_what_the_map_already_has(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        first = await call(agent, "draw", {"items": [{"at": "Hartford", "label": "Hartford"}]})
        map_id = first["map_id"]
        assert near(placed(first, "Hartford"), HARTFORD)
        second = await call(
            agent, "draw", {"map_id": map_id, "items": [{"at": "Springfield", "label": "Springfield"}]}
        )
        drawn = dict(markers(await features(agent, map_id)))
        # the same name on a map of its own is Missouri's, by its people
        alone = await call(agent, "draw", {"items": [{"at": "Springfield", "label": "Springfield"}]})
    assert near(drawn["Springfield"], SPRINGFIELD_MA) and near(drawn["Hartford"], HARTFORD)
    assert second["places"]["Springfield"][2] == "Springfield, MA, US"
    assert "note" not in second
    assert not near(placed(alone, "Springfield"), SPRINGFIELD_MA, 100_000)


async def test_london_drawn_on_a_map_of_toronto_is_ontarios(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        first = await call(agent, "draw", {"items": [{"at": "Toronto", "label": "Toronto"}]})
        map_id = first["map_id"]
        await call(agent, "set_view", {"map_id": map_id, "at": "Toronto", "zoom": 11})
        answer = await call(agent, "draw", {"map_id": map_id, "items": [{"at": "London", "label": "London"}]})
    assert near(placed(answer, "London"), LONDON_ON), answer
    assert answer["places"]["London"][2].endswith(", CA")


async def test_a_hint_after_the_comma_places_the_name(server: Server) -> None:
    async with Client(server.url + "mcp") as agent:
        answer = await call(agent, "draw", {"items": [{"at": "Cambridge, MA", "label": "Cambridge"}]})
        drawn = dict(markers(await features(agent, answer["map_id"])))
    assert near(drawn["Cambridge"], CAMBRIDGE_MA)
    assert near(placed(answer, "Cambridge, MA"), CAMBRIDGE_MA)
    assert "note" not in answer


async def test_a_lone_shared_name_on_an_empty_map_is_the_likeliest_and_the_answer_says_so(
    server: Server,
) -> None:
    async with Client(server.url + "mcp") as agent:  # a client that cannot be asked
        answer = await call(agent, "draw", {"items": [{"at": "Salamanca", "label": "Salamanca"}]})
        drawn = dict(markers(await features(agent, answer["map_id"])))
    assert near(drawn["Salamanca"], SALAMANCA_MX)
    note = answer["note"]
    assert note.startswith("Salamanca:") and "nothing in the call or on the map decided" in note
    labels = [label for label, _ in answer["alternatives"]["Salamanca"]]
    assert any(label.endswith(", ES") and "Madrid" not in label for label in labels), labels
    assert answer["places"]["Salamanca"][2] not in labels
