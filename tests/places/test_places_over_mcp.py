"""Places as an agent meets them: a real mapsrv on port 0, driven by the MCP SDK's own client over
real HTTP, with support/place_extract.py's Lisbon behind it, imported with ``mapsrv places import``
into its places directory (source "index") or served by a real Nominatim (source "geocoder").

Where things are is checked against the extract's own facts, with distances computed here on the
WGS84 ellipsoid (geographiclib), not with mapsrv's haversine. A geocoder that is down, hung or
answers HTML makes a call with an address a tool error that names the geocoder and not its address,
and leaves the map as it was; a city of the built-in list never waits on it. Hostile text reaches
find_places as text: a clear tool error or a plain search, never a crash or SQL in the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from geographiclib.geodesic import Geodesic
from mcp import Client
from support import free_port, start_server
from support.agents import followed
from support.geocoder import Asked, Reply, answer, open_fake_geocoder, result
from support.nominatim import Imported, Nominatim
from support.place_extract import Named, PlaceFacts, write_place_extract, write_places

from mapsrv.cli import main
from mapsrv.server import Server

ADDRESS = "Rua Augusta 24, Lisbon"
GEOCODER_TIMEOUT = 0.5  # seconds: a hung geocoder fails the call this soon
LEAKS = ("sqlite", "fts5", "syntax error", "traceback", "operationalerror", "no such column")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1])["s12"])


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlaceFacts]:
    path = tmp_path_factory.mktemp("extract") / "lisbon.osm.pbf"
    return path, write_place_extract(path)


@pytest.fixture(scope="module")
def facts(extract: tuple[Path, PlaceFacts]) -> PlaceFacts:
    return extract[1]


@pytest.fixture(scope="module")
def places_dir(tmp_path_factory: pytest.TempPathFactory, extract: tuple[Path, PlaceFacts]) -> Path:
    """The extract imported as an operator imports it: `mapsrv places import FILE --places-dir DIR`."""
    directory = tmp_path_factory.mktemp("places")
    assert main(["places", "import", str(extract[0]), "--places-dir", str(directory)]) == 0
    return directory


@pytest.fixture
async def indexed(nursery: trio.Nursery, places_dir: Path) -> Server:
    return await start_server(nursery, places_dir=str(places_dir))


@pytest.fixture
async def geocoded(nursery: trio.Nursery, nominatim: Nominatim) -> Server:
    return await start_server(nursery, geocoder=f"nominatim+{nominatim.url}", geocoder_timeout=5.0)


@asynccontextmanager
async def open_agent(server: Server) -> AsyncIterator[Client]:
    async with Client(server.url + "mcp") as client:
        yield client


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return await followed(dict(result.structured_content))  # a big GeoJSON comes by its link


async def error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return str(result.content[0].text)


async def points(client: Client, map_id: str) -> dict[str, tuple[float, float]]:
    """Every labelled feature's point on the map, as the map holds it (GeoJSON is [lon, lat])."""
    read = await call(client, "read", {"map_id": map_id, "format": "geojson"})
    # mapsrv's label is in its member, but when it is the data's name (not written twice)
    labels = [f["mapsrv"].get("label", f["properties"].get("name")) for f in read["features"]]
    return {
        label: (f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
        for f, label in zip(read["features"], labels, strict=True)
        if f["geometry"]["type"] == "Point" and label
    }


async def summary(client: Client, map_id: str) -> tuple[int, int]:
    read = await call(client, "read", {"map_id": map_id})
    return read["version"], read["count"]


# an imported region


async def test_an_address_and_a_museum_are_drawn_where_the_extract_has_them(
    indexed: Server, facts: PlaceFacts
) -> None:
    museum = facts.museum
    async with open_agent(indexed) as agent:
        items = [{"at": ADDRESS, "label": "hotel"}, {"at": museum.name, "label": "museum"}]
        drawn = await call(agent, "draw", {"items": items})
        placed = await points(agent, drawn["map_id"])
    assert metres(placed["hotel"], facts.address("24").latlon) < 30
    assert metres(placed["museum"], museum.latlon) < 30
    said = drawn["places"]
    assert said[ADDRESS][3:] == ["index"] and said[museum.name][3:] == ["index"], said
    assert said[ADDRESS][2] == facts.address("24").text, said  # "Rua Augusta 24, 1100-053 Lisboa", once
    # what the answer says is where the marker is
    assert metres(tuple(said[ADDRESS][:2]), placed["hotel"]) < 2  # type: ignore[arg-type]


async def test_pharmacies_near_an_address_nearest_first_with_their_distances(
    indexed: Server, facts: PlaceFacts
) -> None:
    here, within_km = facts.address("24").latlon, 0.8
    expected = sorted(
        (p for p in facts.pharmacies if metres(p.latlon, here) <= within_km * 1000),
        key=lambda p: metres(p.latlon, here),
    )
    assert 2 <= len(expected) < len(facts.pharmacies)  # the data keeps the test honest
    async with open_agent(indexed) as agent:
        result = await agent.call_tool(
            "find_places",
            {"query": "pharmacy", "category": "pharmacy", "near": ADDRESS, "within_km": within_km},
        )
    assert not result.is_error, result.content
    found = result.structured_content["places"]  # type: ignore[index]
    assert [p["name"] for p in found] == [p.name for p in expected]
    for place, pharmacy in zip(found, expected, strict=True):
        assert (place["category"], place["source"]) == ("amenity=pharmacy", "index")
        assert metres((place["lat"], place["lon"]), pharmacy.latlon) < 2
        # in metres under a kilometre, else km to 0.1; measured from the address, not Lisbon's centre
        said = place["distance_m"] if "distance_m" in place else place["distance_km"] * 1000
        assert abs(said - metres(pharmacy.latlon, here)) <= (2 if "distance_m" in place else 60), place
    assert len(result.content[0].text.encode()) < 2_000  # four places cost an agent little


async def test_nearest_place_at_an_address_is_that_address(indexed: Server, facts: PlaceFacts) -> None:
    written = facts.address("24")
    async with open_agent(indexed) as agent:
        answer = await call(agent, "nearest_place", {"lat": written.lat, "lon": written.lon})
    place = answer["place"]
    assert (place["name"], place["kind"], place["source"]) == ("Rua Augusta 24", "address", "index")
    assert place["distance_m"] == 0 and "distance_km" not in place  # metres at street scale
    assert place["label"] == f"Rua Augusta 24, {written.postcode} {written.city}"


async def test_a_route_through_addresses(indexed: Server, facts: PlaceFacts) -> None:
    numbers = ("24", "100", "150")
    stops = [f"Rua Augusta {n}, Lisbon" for n in numbers]
    async with open_agent(indexed) as agent:
        drawn = await call(agent, "draw", {"items": [{"type": "route", "points": stops, "id": "walk"}]})
        read = await call(agent, "read", {"map_id": drawn["map_id"], "format": "geojson"})
    [route] = drawn["routes"]
    assert route["id"] == "walk" and len(route["stops"]) == 3
    features = {f["id"]: f for f in read["features"]}
    line = [(lat, lon) for lon, lat in features["walk"]["geometry"]["coordinates"]]
    assert len(line) == 3
    for at, number in zip(line, numbers, strict=True):
        assert metres(at, facts.address(number).latlon) < 30, number
    for stop, number in zip(route["stops"], numbers, strict=True):
        lon, lat = features[stop]["geometry"]["coordinates"]
        assert metres((lat, lon), facts.address(number).latlon) < 30, number
    assert {drawn["places"][s][3] for s in stops} == {"index"}


async def test_within_km_keeps_out_the_builtin_cities_beyond_it(nursery: trio.Nursery) -> None:
    """The built-in list's cities, like an index's places, only within ``within_km`` of ``near``:
    Paris near Paris, Texas is that Paris alone, not France's 7,800 km off."""
    server = await start_server(nursery)  # the built-in list alone
    texas = [33.6609, -95.5555]
    async with open_agent(server) as agent:
        within = await call(
            agent, "find_places", {"query": "Paris", "near": texas, "within_km": 50, "limit": 10}
        )
        anywhere = await call(agent, "find_places", {"query": "Paris", "near": texas, "limit": 10})
    assert any(p["country"] == "FR" for p in anywhere["places"]), anywhere  # the search finds it
    assert [p["label"] for p in within["places"]] == ["Paris, TX, US"], within
    assert all(p.get("distance_km", 0) <= 50 for p in within["places"])


LONDON_ONTARIO = (42.9834, -81.2330)


async def test_a_region_hint_keeps_out_another_countrys_place_from_every_source(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """ "London, Ontario" is Ontario's London whatever else knows a London: an imported region
    whose London names its country, or names none (an extract's places seldom do, and a
    continent's are given none), or a geocoder. A name only the geocoder knows, in two countries,
    is the hinted one's."""
    london = (51.5074, -0.1278)
    people = ("population", "8900000")
    write_places(
        tmp_path / "england.osm.pbf",
        [(Named("London", *london, tags=(people, ("addr:country", "GB"))), "city")],
    )
    paris = Named("Paris", 48.8566, 2.3522, tags=(people,))
    write_places(
        tmp_path / "europe.osm.pbf", [(Named("London", *london, tags=(people,)), "city"), (paris, "city")]
    )
    directory = tmp_path / "places"
    for region in ("england", "europe"):
        extract = str(tmp_path / f"{region}.osm.pbf")
        assert main(["places", "import", extract, "--places-dir", str(directory)]) == 0
    ontario, england = (44.30, -79.90), (52.20, -1.50)

    def reply(asked: Asked) -> Reply:
        if asked.params.get("q") != "Hollowmere":
            return answer([])
        found = [("gb", england, 0.6), ("ca", ontario, 0.2)]
        return answer([result("Hollowmere", *at, country_code=iso, kind="village", importance=weight)
                       for iso, at, weight in found])  # fmt: skip

    placed: dict[str, tuple[float, float]] = {}
    said: dict[str, list[Any]] = {}
    async with open_fake_geocoder(reply) as geocoder:
        server = await start_server(nursery, places_dir=str(directory), geocoder=f"nominatim+{geocoder.url}")
        async with open_agent(server) as agent:
            known = await call(agent, "find_places", {"query": "London", "limit": 10})
            for name in ("London, Ontario", "London, ON", "Hollowmere, Ontario"):
                drawn = await call(agent, "draw", {"items": [{"at": name, "label": name}]})
                placed[name] = (await points(agent, drawn["map_id"]))[name]
                said[name] = drawn["places"][name]
    assert sum(p["source"] == "index" for p in known["places"] if p.get("source")) >= 1, known  # it knows one
    assert any(a.params.get("q") == "Hollowmere" for a in geocoder.asked)
    for name in ("London, Ontario", "London, ON"):
        assert metres(placed[name], LONDON_ONTARIO) < 10_000, (name, said[name])
    assert metres(placed["Hollowmere, Ontario"], ontario) < 100, said["Hollowmere, Ontario"]
    assert said["Hollowmere, Ontario"][3] == "geocoder"


# a geocoder


async def test_an_address_is_drawn_from_the_geocoder(geocoded: Server, lisbon: Imported) -> None:
    facts = lisbon.facts
    async with open_agent(geocoded) as agent:
        drawn = await call(agent, "draw", {"items": [{"at": ADDRESS, "label": "hotel"}]})
        placed = await points(agent, drawn["map_id"])
        here = await call(
            agent, "nearest_place", {"lat": facts.address("24").lat, "lon": facts.address("24").lon}
        )
    assert metres(placed["hotel"], facts.address("24").latlon) < 30
    assert drawn["places"][ADDRESS][2:] == [facts.address("24").text, "geocoder"], drawn["places"]
    assert (here["place"]["name"], here["place"]["source"]) == ("Rua Augusta 24", "geocoder")


@dataclass
class Listener:
    """A geocoder that fails: ``hang`` accepts and never answers, else every request gets an HTML
    page with status 200. ``requests`` counts the requests that reached it."""

    hang: bool
    port: int = 0
    requests: int = 0
    streams: list[trio.SocketStream] = field(default_factory=list)

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            if self.hang:
                await trio.sleep_forever()
            body = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
            await stream.send_all(head.encode() + body)


@asynccontextmanager
async def open_failing_geocoder(how: str) -> AsyncIterator[Listener | None]:
    """``how``: "closed" (a port nothing listens on: None), "hung" or "html"."""
    if how == "closed":
        yield None
        return
    listener = Listener(hang=how == "hung")
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, listener.handle, 0, host="127.0.0.1"))
        listener.port = listeners[0].socket.getsockname()[1]
        yield listener
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("closed", "it could not be reached"),
        ("hung", f"no answer within {GEOCODER_TIMEOUT:g} s"),
        ("html", "its answer could not be read"),
    ],
)
async def test_a_geocoder_that_fails_is_a_tool_error_and_the_map_stays(
    nursery: trio.Nursery, how: str, why: str
) -> None:
    async with open_failing_geocoder(how) as listener:
        port = listener.port if listener is not None else free_port()
        server = await start_server(
            nursery, geocoder=f"nominatim+http://127.0.0.1:{port}", geocoder_timeout=GEOCODER_TIMEOUT
        )
        async with open_agent(server) as agent:
            # a city of the built-in list is known exactly here: the geocoder is not asked
            drawn = await call(agent, "draw", {"items": [{"at": "Lisbon", "label": "Lisbon"}]})
            map_id = drawn["map_id"]
            assert drawn["places"]["Lisbon"][2:] == ["Lisbon, PT"], drawn["places"]
            assert listener is None or listener.requests == 0
            before = await summary(agent, map_id)
            assert before[1] == 1
            started = trio.current_time()
            with trio.fail_after(GEOCODER_TIMEOUT + 5):
                text = await error(
                    agent, "draw", {"map_id": map_id, "items": [{"at": ADDRESS, "label": "hotel"}]}
                )
            took = trio.current_time() - started
            assert await summary(agent, map_id) == before, "the failed call changed the map"
    assert text.startswith("unavailable: the geocoder is unavailable (" + why), text
    assert "nothing was drawn" in text
    assert "127.0.0.1" not in text and str(port) not in text, text
    assert listener is None or listener.requests == 1, "asked once, not once per reading of the name"
    assert took < GEOCODER_TIMEOUT + 2, took


async def test_a_region_imported_while_the_server_runs_is_used_at_once(
    nursery: trio.Nursery, tmp_path: Path, extract: tuple[Path, PlaceFacts]
) -> None:
    directory = tmp_path / "places"  # not even there yet when the server starts
    server = await start_server(nursery, places_dir=str(directory))
    near = {"query": "pharmacy", "category": "pharmacy", "near": [38.71, -9.137]}
    async with open_agent(server) as agent:
        before = await error(agent, "find_places", near)
        assert "mapsrv places import" in before, before
        assert main(["places", "import", str(extract[0]), "--places-dir", str(directory)]) == 0
        found = await call(agent, "find_places", near)
        assert found["places"] and all(p["category"] == "amenity=pharmacy" for p in found["places"])
        drawn = await call(agent, "draw", {"items": [{"at": ADDRESS, "label": "hotel"}]})
        assert drawn["places"][ADDRESS][3] == "index", drawn["places"]
        assert main(["places", "remove", "lisbon", "--places-dir", str(directory)]) == 0
        after = await error(agent, "find_places", near)
    assert "mapsrv places import" in after, after


async def test_searches_answer_from_the_other_sources_while_the_geocoder_is_down(
    nursery: trio.Nursery, places_dir: Path, facts: PlaceFacts
) -> None:
    port = free_port()  # nothing listens there
    server = await start_server(
        nursery,
        places_dir=str(places_dir),
        geocoder=f"nominatim+http://127.0.0.1:{port}",
        geocoder_timeout=GEOCODER_TIMEOUT,
    )
    async with open_agent(server) as agent:
        found = await call(agent, "find_places", {"query": "Lisbon"})
        assert {p["name"] for p in found["places"][:2]} == {"Lisboa", "Lisbon"}, found  # index, built-in
        assert found["unavailable"].startswith("the geocoder is unavailable (it could not be reached")
        assert "127.0.0.1" not in found["unavailable"] and str(port) not in found["unavailable"]
        # the offline index still answers what is at a point; the answer says what was missing
        here = facts.address("24").latlon
        at = await call(agent, "nearest_place", {"lat": here[0], "lon": here[1]})
        assert at["place"]["name"] == "Rua Augusta 24" and at["place"]["source"] == "index", at
        # nothing else knows a name: the search fails as the geocoder did
        text = await error(agent, "find_places", {"query": "Xyzzy Plugh Street 9"})
    assert text.startswith("unavailable: the geocoder is unavailable"), text


# hostile text


HOSTILE = [
    "A" * 10_240,
    "Rua\x00 Augusta\x1b[2J\r\n 24\x7f",
    '"*" OR NEAR(',
    "pharmacy' OR 1=1; DROP TABLE places; --",
    'augusta" NEAR/2 "rua',
    "\u202eatsuguA auR",
]


async def ask_hostile(agent: Client, text: str) -> None:
    """``text`` as every argument of find_places that takes text: each answer a clear tool error
    or a plain list, with no SQL, no raw control characters and not the whole text back."""
    for arguments in (
        {"query": text},
        {"query": text, "near": [38.7089, -9.1369]},
        {"query": "pharmacy", "category": text, "near": [38.7089, -9.1369]},
        {"query": "pharmacy", "near": text},
    ):
        result = await agent.call_tool("find_places", arguments)
        said = str(result.content[0].text)
        assert not any(leak in said.casefold() for leak in LEAKS), (arguments, said[:300])
        assert not any(c in said for c in "\x00\x1b\u202e"), "raw control characters in the answer"
        if result.is_error:
            assert said.startswith(("invalid: ", "not_found: ")), said[:300]
            assert len(said) < 600, "the error repeats the whole text"
        else:
            assert isinstance(result.structured_content["places"], list)  # type: ignore[index]


@pytest.mark.parametrize("text", HOSTILE, ids=["10kb", "control", "fts", "sql", "near", "bidi"])
async def test_hostile_text_to_find_places_is_text(indexed: Server, text: str) -> None:
    async with open_agent(indexed) as agent:
        await ask_hostile(agent, text)
        after = await call(agent, "find_places", {"query": "Rua Augusta 24"})  # the server answers as before
    assert after["places"][0]["name"] == "Rua Augusta 24"


async def test_hostile_text_through_the_geocoder_is_text(geocoded: Server) -> None:
    async with open_agent(geocoded) as agent:
        for text in HOSTILE:
            await ask_hostile(agent, text)
        after = await call(agent, "find_places", {"query": "Rua Augusta 24"})
    assert after["places"][0]["name"] == "Rua Augusta 24"


async def test_control_characters_are_dropped_from_a_search(indexed: Server) -> None:
    async with open_agent(indexed) as agent:
        found = await call(agent, "find_places", {"query": "Rua\x00 Augusta\r\n\t24\x7f\x1b"})
        long = await error(agent, "find_places", {"query": "A" * 10_240})
    assert found["places"][0]["name"] == "Rua Augusta 24"
    assert long.startswith("invalid: ") and "200 characters, got 10240" in long, long
