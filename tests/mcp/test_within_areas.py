"""``select``'s ``within`` names a country or a state as a person would (issue 59), through the
real server and the SDK's client: by name, ISO 3166-1 and 3166-2 code, a postal code on a map of
the US, "New York State"; a name that is both a city and a state means the state (New York,
Washington, Wyoming); Key West is in Florida and Culebra in Puerto Rico; each answer says which
area it used."""

from __future__ import annotations

from mcp import Client
from support.agents import call, failing

from mapsrv.server import Server

TOWNS = {
    "nyc": [40.7128, -74.0060],
    "heliport": [40.7012, -74.0091],  # Downtown Manhattan Heliport, on a pier
    "albany": [42.6526, -73.7562],
    "newark": [40.7357, -74.1724],
    "houston": [29.7604, -95.3698],
    "la": [34.0522, -118.2437],
    "seattle": [47.6062, -122.3321],
    "spokane": [47.6588, -117.4260],
    "dc": [38.9072, -77.0369],
    "cheyenne": [41.1400, -104.8202],
    "miami": [25.7617, -80.1918],
    "key-west": [24.5551, -81.7800],
    "culebra": [18.3030, -65.3010],
    "toronto": [43.6532, -79.3832],
}
US = set(TOWNS) - {"culebra", "toronto"}


async def chosen(agent: Client, map_id: str, within: str) -> tuple[set[str], dict[str, str]]:
    found = await call(agent, "select", map_id=map_id, within=within)
    return {f["id"] for f in found["features"]}, found.get("area", {})


async def test_states_and_countries_by_name_and_code(server: Server) -> None:
    items = [{"at": at, "id": name, "label": name} for name, at in TOWNS.items()]
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=items))["map_id"]
        for within in ("New York", "US-NY", "New York State", "NY", "State of New York", "New York, USA"):
            ids, area = await chosen(agent, map_id, within)
            assert ids == {"nyc", "heliport", "albany"}, within
            assert area == {"kind": "region", "name": "New York", "code": "US-NY"}, within
        for within in ("TX", "Texas", "US-TX", "Texas, US"):
            assert (await chosen(agent, map_id, within))[0] == {"houston"}, within
        assert (await chosen(agent, map_id, "CA"))[0] == {"la"}, "CA on a map of the US is California"
        ids, area = await chosen(agent, map_id, "Washington")
        assert ids == {"seattle", "spokane"} and area["code"] == "US-WA", "Washington the state, not D.C."
        assert (await chosen(agent, map_id, "Wyoming"))[0] == {"cheyenne"}
        assert (await chosen(agent, map_id, "Florida"))[0] == {"miami", "key-west"}
        assert (await chosen(agent, map_id, "New Jersey"))[0] == {"newark"}
        for within in ("United States", "USA", "US"):
            ids, area = await chosen(agent, map_id, within)
            assert ids == US and area["kind"] == "country" and area["code"] == "US", within
        assert (await chosen(agent, map_id, "Puerto Rico"))[0] == {"culebra"}
        assert (await chosen(agent, map_id, "CAN"))[0] == {"toronto"}
        assert (await chosen(agent, map_id, "Ontario"))[0] == {"toronto"}


async def test_a_city_said_as_a_city_is_not_its_state(server: Server) -> None:
    """ "New York City" is the city, which has no area here: refused, not taken as the state."""
    items = [{"at": at, "id": name} for name, at in TOWNS.items()]
    async with Client(server.url + "mcp") as agent:
        map_id = (await call(agent, "draw", items=items))["map_id"]
        text, _ = await failing(agent, "select", map_id=map_id, within="New York City")
        assert "no area here" in text and "US-NY" in text
