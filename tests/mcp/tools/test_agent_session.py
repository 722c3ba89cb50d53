"""A scripted agent over real HTTP with the SDK's client: what an agent pays, in calls and bytes,
for the tasks of issue 13, and calls formed from the tool list alone.

Bytes are those of each JSON-RPC result as the client received it (content text + structured
content), so an agent that reads either pays at most this. Run as a script for the numbers in
docs/benchmarks.md (timings included: the test only checks sizes and counts)::

    PYTHONPATH=$PWD:$PWD/tests python tests/mcp/tools/test_agent_session.py
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from typing import Any

import jsonschema
import trio
from mcp import Client
from support import start_server

from mapsrv.places import find_places, gazetteer
from mapsrv.server import Server

LIST_BUDGET = 20 * 1_100  # issue 34: at most 1,100 bytes per tool on average (21 tools with select, derive)
TRIP_BUDGET = 2_000
READ_BUDGET = 6_000
CAPITALS = ["Lisbon", "Madrid", "Paris", "Berlin", "Rome"]


def size(result: Any) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


class Agent:
    """Knows only what tools/list says; counts its calls and the bytes of their answers."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.tools: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.read = 0

    async def list_tools(self) -> int:
        listed = await self.client.list_tools()
        self.tools = {
            t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools
        }
        return size(listed)

    def tool_for(self, *words: str) -> str:
        """The tool whose name, title or description mentions every word (as a model would pick)."""
        found = [
            name
            for name, tool in self.tools.items()
            if all(w in f"{name} {tool.get('title', '')} {tool['description']}".lower() for w in words)
        ]
        assert len(found) == 1, (words, found)
        return found[0]

    def form(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """A call whose every argument the schema names and whose shape the schema accepts."""
        schema = self.tools[tool]["inputSchema"]
        assert set(arguments) <= set(schema["properties"]), (tool, set(arguments) - set(schema["properties"]))
        jsonschema.validate(arguments, schema)
        return arguments

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, self.form(tool, **arguments))
        self.calls += 1
        self.read += size(result)
        assert not result.is_error, result.content
        assert json.loads(result.content[0].text) == result.structured_content
        return dict(result.structured_content)


def example(schema: dict[str, Any]) -> Any:
    """A value for ``schema`` made from the schema alone: enums, ranges, item shapes."""
    if "anyOf" in schema and "properties" not in schema:
        return example(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        props = schema["properties"]
        names = list(schema.get("required", []))
        names += schema.get("anyOf", [{}])[0].get("required", [])  # "one of these is required"
        names += [name for name in props if name not in names][
            : max(0, schema.get("minProperties", 0) - len(names))
        ]
        return {name: example(props[name]) for name in names}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        return [example(schema.get("items", {"type": "number"})) for _ in range(count)]
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 1)
        return (low + high) // 2 if kind == "integer" else (low + high) / 2
    if kind == "boolean":
        return schema.get("default", True)
    return "x"


async def session(server: Server) -> dict[str, Any]:
    """The tasks of issue 13, as an agent does them; the numbers they cost."""
    numbers: dict[str, Any] = {}
    async with Client(server.url + "mcp") as client:
        agent = Agent(client)
        numbers["tools_list_bytes"] = await agent.list_tools()
        numbers["tools"] = len(agent.tools)

        # "Mark five capitals by name and draw the route between them": one call.
        draw = agent.tool_for("route", "place")
        route = {"type": "route", "points": CAPITALS, "color": "crimson", "id": "route"}
        trip = await agent.call(draw, items=[route], title="Five capitals")
        numbers["trip"] = {"calls": agent.calls, "bytes": agent.read}
        assert trip["ids"] == ["route", "route.1", "route.2", "route.3", "route.4", "route.5"]
        assert list(trip["places"]) == CAPITALS and trip["url"].endswith(trip["map_id"])

        # A map of 1,000 features, read by default: a bounded summary and a cursor to the rest.
        markers = [{"at": [i / 25, i / 20], "label": f"site {i}" if i % 4 == 0 else ""} for i in range(994)]
        await agent.call(draw, map_id=trip["map_id"], items=markers, fit=False)
        reader = agent.tool_for("read")
        before = agent.read
        summary = await agent.call(reader, map_id=trip["map_id"])
        numbers["read_1000_bytes"] = agent.read - before
        assert summary["count"] == 1000 and summary["next"] == "0"
        page = await agent.call(reader, map_id=trip["map_id"], cursor=summary["next"], limit=100)
        assert len(page["features"]) == 100 and page["next"] == "100"

        # Places by name and measurements, each one call.
        found = await agent.call(agent.tool_for("find", "places"), query="München")
        assert found["places"][0]["name"] == "Munich"
        nearest = await agent.call(agent.tool_for("nearest"), lat=41.9, lon=12.5)
        assert nearest["place"]["name"] == "Rome"
        measured = await agent.call(agent.tool_for("measure"), points=CAPITALS, unit="mi")
        assert 2_000 < measured["distance"] < 2_400 and len(measured["legs"]) == 4

        # Every tool called with arguments made from its schema alone: the shape is accepted
        # (a call may still fail on the map's contents, and then says why).
        for name, tool in agent.tools.items():
            arguments = example(tool["inputSchema"])
            if "map_id" in tool["inputSchema"]["properties"]:
                arguments["map_id"] = trip["map_id"]
            if name == "delete_map":  # a map of its own, not the one the other calls read
                arguments["map_id"] = (await agent.call(agent.tool_for("create", "map")))["map_id"]
            jsonschema.validate(arguments, tool["inputSchema"])
            result = await client.call_tool(name, arguments)
            text = next(c.text for c in result.content if c.type == "text")
            refused_for_its_content = (
                (name == "import" and "give the file one way, got none: path" in text)
                or (name == "style_layer" and "by must name the property a graduated style reads" in text)
                or (name == "add_layer" and "url must be http or https, got 'none' in 'x'" in text)
                or (
                    name == "delete_map"
                    and text.startswith("forbidden: only the map's owner")  # keyless, sessionless
                )
            )
            assert (
                not result.is_error
                or text.startswith(("not_found", "nothing_to_undo"))
                or (refused_for_its_content)
            ), (name, text)
    return numbers


async def test_an_agent_draws_five_places_and_the_route_in_one_cheap_call(nursery: trio.Nursery) -> None:
    numbers = await session(await start_server(nursery))
    assert numbers["tools_list_bytes"] <= LIST_BUDGET
    assert numbers["trip"]["calls"] <= 2 and numbers["trip"]["bytes"] <= TRIP_BUDGET
    assert numbers["read_1000_bytes"] <= READ_BUDGET


def place_lookup_p50_ms() -> dict[str, float]:
    gazetteer()
    names = ["Lisbon", "München", "Köln", "São Paulo", "Paris, TX", "New York", "Wien", "Tokyo", "Lagos"]
    times = []
    for _ in range(200):
        for name in names:
            started = time.perf_counter()
            find_places(name)
            times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(sorted(times)[int(len(times) * 0.99)], 3),
    }


async def main() -> None:
    logging.disable(logging.INFO)
    async with trio.open_nursery() as nursery:
        numbers = await session(await start_server(nursery))
        numbers["find_place"] = place_lookup_p50_ms()
        print(json.dumps(numbers, indent=1))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
