"""Issue 77's seven everyday place tasks, each played by a careful agent over MCP: the calls it
makes, the tool errors, the bytes it reads and whether it got what it wanted.

    python -m tests.bench.place_tasks [--json] [--answers]     # from the repo root
    cd /tmp/wt-before && PYTHONPATH=/tmp/wt-before python -P /work/main/tests/bench/place_tasks.py

The second line runs this file against another checkout (a worktree of ``fdbfa11^``, before issue
77): ``mapsrv`` comes from PYTHONPATH (its file and commit are printed first), the test support
from this file's tests/ (appended to sys.path: only the server differs); ``-P`` keeps tests/bench's
modules off the path. Each task is a policy: the calls an agent makes in order, reading each
answer; a tool error, or an answer without what it needs, makes it take the call an agent would
take next. A real server (``serve``, a memory store, tiles from a closed local port: the offline
world map, no network) holds support/area_extract.py's Helsinki, imported with ``mapsrv places
import`` once its header has a box whose north edge (60.181 N) cuts Kallio, as the issue's extract
did. Bytes: ``len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))``
of each answer (its text, structured content and images as the client has them); ``img``: the
part that is images. Success is checked after the policy by calls not counted. Prints a table,
then the numbers as one JSON line (``--json``: the line alone; ``--answers``: each call and the
start of its answer on stderr). Deterministic: one run is enough.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import osmium
import shapely
import trio
from mcp import Client
from pyproj import Geod

import mapsrv
from mapsrv.cli import main as cli
from mapsrv.config import Config
from mapsrv.server import serve

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # after PYTHONPATH: another checkout's mapsrv, this one's support

from support.area_extract import AreaFacts, Outline, write_area_extract  # noqa: E402

BOX = (24.88, 60.13, 25.06, 60.181)  # west, south, east, north: Kallio (60.178-60.188 N) cut
GEOD = Geod(ellps="WGS84")
NY = 100  # airports inside New York State (42.2-43.2 N, 76.5-74.5 W: well inside)
ROWS = 177
STOPS = [[60.1710, 24.9414], [60.1702, 24.9525], [60.1690, 24.9320], [60.1675, 24.9530]]
ORDERS = ([0, 1, 2, 3], [0, 2, 1, 3])  # the orders that keep the first and last stop
SHOW = 600 if "--answers" in sys.argv else 0  # print each call and the start of its answer
NEAR_KM = 1.5  # the extract's cafés are 1.3-2 km from Kallio's point


@dataclass
class Answer:
    ok: bool
    data: dict[str, Any]
    text: str

    @property
    def places(self) -> list[dict[str, Any]]:
        return list(self.data.get("places", []))


@dataclass
class Agent:
    """A client that counts what a task's policy asks and reads."""

    client: Client
    trail: list[str] = field(default_factory=list)
    errors: int = 0
    size: int = 0
    images: int = 0

    async def ask(self, tool: str, **arguments: Any) -> Answer:
        answer = await self.peek(tool, **arguments)
        self.trail.append(tool if answer.ok else tool + "!")
        self.errors += not answer.ok
        return answer

    async def peek(self, tool: str, counted: bool = True, **arguments: Any) -> Answer:
        result = await self.client.call_tool(tool, arguments)
        dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if counted:
            self.size += len(json.dumps(dumped))
            self.images += sum(len(json.dumps(c)) for c in dumped["content"] if c["type"] == "image")
        text = next((c["text"] for c in dumped["content"] if c["type"] == "text"), "")
        if SHOW and counted:
            print(f"  {tool} {json.dumps(arguments)[:160]}\n    -> {text[:SHOW]}", file=sys.stderr)
        return Answer(not result.is_error, dict(result.structured_content or {}), text)

    async def check(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """An uncounted call of the task's check."""
        answer = await self.peek(tool, counted=False, **arguments)
        assert answer.ok, answer.text
        return answer.data


def airports() -> str:
    rng = random.Random(77)
    rows = [(rng.uniform(42.2, 43.2), rng.uniform(-76.5, -74.5), "NY") for _ in range(NY)]
    rows += [(rng.uniform(30.5, 39.5), rng.uniform(-118, -82), "--") for _ in range(120)]  # south of NY
    rows += [(rng.uniform(44.5, 48.5), rng.uniform(-122, -90), "--") for _ in range(100)]  # north-west
    return "name,lat,lon,state\n" + "".join(
        f"Airport {i:03},{lat:.4f},{lon:.4f},{state}\n" for i, (lat, lon, state) in enumerate(rows)
    )


def shape(outline: Outline) -> Any:
    return shapely.MultiPolygon([shapely.Polygon([(lon, lat) for lat, lon in r]) for r in outline.outers])


def walk(order: list[int]) -> float:
    """The metres from stop to stop of STOPS in ``order``."""
    return sum(
        float(GEOD.inv(STOPS[a][1], STOPS[a][0], STOPS[b][1], STOPS[b][0])[2]) for a, b in pairwise(order)
    )


def ids_in(listed: list[str]) -> list[str]:
    """The ids a list stands for, runs (``f1-f177``) written out, as an agent reads the docs."""
    out: list[str] = []
    for item in listed:
        run = re.fullmatch(r"f(\d+)-f(\d+)", item)
        out += [f"f{n}" for n in range(int(run[1]), int(run[2]) + 1)] if run else [item]
    return out


async def ny_airports(agent: Agent, facts: AreaFacts) -> bool:
    """1. Import the airports, count those in New York State and show them."""
    map_id = (await agent.ask("import", content=airports(), format="csv")).data["map_id"]
    chosen = await agent.ask("select", map_id=map_id, within="New York State")
    if not chosen.ok:
        chosen = await agent.ask("select", map_id=map_id, within="New York")
    image = await agent.ask("map_image", map_id=map_id, bbox="New York State")
    if not image.ok:  # the frame by the state's bounds, found by name
        found = await agent.ask("find_places", query="New York State")
        if not found.ok:
            found = await agent.ask("find_places", query="New York")
        state = next(p for p in found.places if p["kind"] == "state")
        image = await agent.ask("map_image", map_id=map_id, bbox=state["bounds"])
    return chosen.data.get("count") == NY and image.ok and "New York" in str(chosen.data.get("area"))


async def draw_kallio(agent: Agent, facts: AreaFacts) -> bool:
    """2. Find "Kallio, Helsinki" and draw its outline."""
    found = await agent.ask("find_places", query="Kallio, Helsinki", limit=1)
    if not found.ok:
        found = await agent.ask("find_places", query="Kallio", limit=1)
    place = found.places[0]
    drawn = await agent.ask("draw", items=[place.get("draw") or {"type": "polygon", "bounds": place["name"]}])
    if not drawn.ok:  # no outline by name: the box it has
        drawn = await agent.ask("draw", items=[{"bounds": place["bounds"], "label": place["name"]}])
    read = await agent.check("read", map_id=drawn.data["map_id"], format="geojson")
    (feature,) = read["features"]
    same = shapely.geometry.shape(feature["geometry"]).symmetric_difference(shape(facts.district))
    return same.area < 1e-9 and feature["mapsrv"]["type"] in ("polygon", "multipolygon")


async def cafes_near_kallio(agent: Agent, facts: AreaFacts) -> bool:
    """3. Cafés within NEAR_KM of Kallio, and whether the extract covers the circle."""
    asked = {"category": "cafe", "within_km": NEAR_KM, "limit": 50}
    for near in ("Kallio, Helsinki", "Kallio"):
        found = await agent.ask("find_places", near=near, **asked)
        if found.ok:
            break
    listed, said = found.places, "coverage" in found.data
    cursors: list[str | None] = [None]
    while found.ok and found.data.get("cursor") not in cursors:  # a cursor given back again: no more
        cursors.append(found.data["cursor"])
        found = await agent.ask("find_places", near=near, cursor=cursors[-1], **asked)
        listed, said = listed + found.places, said or "coverage" in found.data
    return bool(listed) and said


async def in_the_station(agent: Agent, facts: AreaFacts) -> bool:
    """4. What is at a point under the station's roof: its name wanted."""
    lat, lon = shape(facts.station).centroid.coords[0][::-1]
    here = await agent.ask("nearest_place", lat=lat, lon=lon)
    names = [a["name"] for a in here.data.get("inside", [])]
    if not names:  # nothing said of what it stands in: a station near it, by search
        found = await agent.ask("find_places", query="station", near=[lat, lon], within_km=0.3)
        names = [p["name"] for p in found.places]
    return facts.station.name in names


async def best_route(agent: Agent, facts: AreaFacts) -> bool:
    """5. Four stops in the best order without a router, then the middle two swapped."""
    route = {"type": "route", "id": "trip", "points": STOPS, "order": "best"}
    drawn = await agent.ask("draw", items=[route])
    if drawn.ok:
        order = [step["stop"] for step in drawn.data["routes"][0]["order"]]
    else:  # refused: the two orders that keep the ends measured, the shorter drawn
        lengths = [
            (await agent.ask("measure", points=[STOPS[i] for i in o])).data["distance"] for o in ORDERS
        ]
        order = ORDERS[lengths.index(min(lengths))]
        route = {"type": "route", "id": "trip", "points": [STOPS[i] for i in order]}
        drawn = await agent.ask("draw", items=[route])
    map_id, stops = drawn.data["map_id"], drawn.data["routes"][0]["stops"]
    shortest = min(ORDERS, key=walk) == order
    swapped = [order[0], order[2], order[1], order[3]]
    change = {"id": "trip", "points": [STOPS[i] for i in swapped]}
    edited = await agent.ask("edit", map_id=map_id, changes=[change])
    if edited.ok and "renumbered" not in edited.data:  # the markers keep their numbers: set them
        numbers = [{"id": stops[k], "symbol": str(swapped.index(order[k]) + 1)} for k in (1, 2)]
        await agent.ask("edit", map_id=map_id, changes=numbers)
    features = {f["id"]: f for f in (await agent.check("read", map_id=map_id, format="geojson"))["features"]}
    line = [[lat, lon] for lon, lat in features["trip"]["geometry"]["coordinates"]]
    for fid in stops:
        lon, lat = features[fid]["geometry"]["coordinates"]
        symbol = str(features[fid]["mapsrv"].get("style", {}).get("symbol", ""))
        if symbol != str(line.index([lat, lon]) + 1):
            return False
    return shortest and line == [STOPS[i] for i in swapped]


async def remove_import(agent: Agent, facts: AreaFacts) -> bool:
    """6. Import 177 rows onto a map that has 3 markers of its own, then remove the 177 by id."""
    keep = [{"at": [61, 25 + i], "label": f"keep {i}", "id": f"keep{i}"} for i in range(3)]
    map_id = (await agent.check("draw", items=keep))["map_id"]
    table = "name,lat,lon\n" + "".join(
        f"Stop {n},{60 + n / 1000:.3f},{24.9 + n / 1000:.3f}\n" for n in range(ROWS)
    )
    imported = await agent.ask("import", map_id=map_id, content=table, format="csv")
    ids = imported.data["ids"]
    if len(ids_in(ids)) < imported.data["added"]:  # not every id: read the map's markers for them
        ids, cursor = [], None
        while True:
            page = await agent.ask(
                "read", map_id=map_id, kind="marker", limit=200, **({"cursor": cursor} if cursor else {})
            )
            ids += [f["id"] for f in page.data["features"] if not f["id"].startswith("keep")]
            if not (cursor := page.data.get("next")):
                break
    await agent.ask("remove", map_id=map_id, ids=ids)
    left = await agent.check("read", map_id=map_id, format="geojson")
    return sorted(f["id"] for f in left["features"]) == ["keep0", "keep1", "keep2"]


async def measure_areas(agent: Agent, facts: AreaFacts) -> bool:
    """7. The areas of Kallio and the university's campus, by name."""
    names = [facts.district.name, facts.campus.name]
    drawn = await agent.ask("draw", items=[{"type": "polygon", "bounds": name} for name in names])
    if not drawn.ok:  # no outline by name: each one's box
        found = [(await agent.ask("find_places", query=name, limit=1)).places[0] for name in names]
        drawn = await agent.ask("draw", items=[{"bounds": p["bounds"], "label": p["name"]} for p in found])
    map_id, ids = drawn.data["map_id"], drawn.data["ids"]
    measured = (await agent.ask("measure", map_id=map_id, ids=ids)).data["features"]
    labels = {f["id"]: f.get("label") for f in measured}
    if not all(labels.values()):  # ids and areas only: the labels read from the map
        summary = (await agent.ask("read", map_id=map_id)).data
        labels = {f["id"]: f.get("label") for f in (*summary.get("latest", []), *summary.get("named", []))}
    areas = {labels[f["id"]]: f["area"] for f in measured}
    for outline in (facts.district, facts.campus):
        truth = abs(GEOD.geometry_area_perimeter(shape(outline))[0]) / 1e6
        if not math.isclose(areas.get(outline.name, -1), truth, rel_tol=0.01):
            return False
    return True


TASKS: dict[str, Callable[[Agent, AreaFacts], Awaitable[bool]]] = {
    "1 NY airports": ny_airports,
    "2 Kallio outline": draw_kallio,
    "3 cafés near Kallio": cafes_near_kallio,
    "4 in the station": in_the_station,
    "5 route best, edit": best_route,
    "6 remove 177 by id": remove_import,
    "7 measure 2 areas": measure_areas,
}


def extract(folder: Path) -> AreaFacts:
    """The area extract, rewritten with a header box (as ``osmium extract`` writes one)."""
    written = folder / "written.osm.pbf"
    facts = write_area_extract(written)
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(*BOX[:2]), osmium.osm.Location(*BOX[2:])))
    with osmium.SimpleWriter(str(folder / "helsinki.osm.pbf"), header=header) as writer:
        for obj in osmium.FileProcessor(str(written)):
            writer.add(obj)
    return facts


async def play(
    client: Client, task: Callable[[Agent, AreaFacts], Awaitable[bool]], facts: AreaFacts
) -> dict[str, Any]:
    agent = Agent(client)
    with trio.fail_after(120):
        try:
            ok, stuck = await task(agent, facts), ""
        except Exception as error:  # an answer the policy could not read: failed there
            ok, stuck = False, f"{type(error).__name__}: {error}"[:200]
    out = {
        "calls": len(agent.trail),
        "errors": agent.errors,
        "bytes": agent.size,
        "image_bytes": agent.images,
    }
    return out | {"ok": ok, "trail": agent.trail} | ({"stuck": stuck} if stuck else {})


async def run_tasks(places: Path, facts: AreaFacts) -> dict[str, dict[str, Any]]:
    config = Config(
        host="127.0.0.1", port=0, store="memory://", places_dir=str(places),
        tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png",  # refused at once: the offline world map
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve, config)
        async with Client(server.url + "mcp") as client:
            out = {name: await play(client, task, facts) for name, task in TASKS.items()}
        nursery.cancel_scope.cancel()
    return out


def table(tasks: dict[str, dict[str, Any]], total: dict[str, Any]) -> None:
    print(
        f"{'task':22} {'calls':>5} {'errors':>6} {'bytes':>8} {'img':>7} {'ok':>3}  calls made (! an error)"
    )
    for name, t in {**tasks, "total": total}.items():
        ok = "yes" if t["ok"] is True else "no" if t["ok"] is False else f"{t['ok']}/{len(tasks)}"
        row = f"{name:22} {t['calls']:5} {t['errors']:6} {t['bytes']:8,} {t['image_bytes']:7,} {ok:>3}"
        print(f"{row}  {' '.join(t.get('trail', []))}")


def main() -> None:
    logging.disable(logging.WARNING)  # the server's request and stall lines
    where = Path(mapsrv.__file__).parent
    commit = subprocess.run(
        ["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    quiet = "--json" in sys.argv[1:]
    if not quiet:
        print(f"mapsrv from {mapsrv.__file__} ({commit.stdout.strip()})")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        facts = extract(folder)
        cli(["places", "import", str(folder / "helsinki.osm.pbf"), "--places-dir", str(folder / "places")])
        tasks = trio.run(run_tasks, folder / "places", facts)
    total = {k: sum(t[k] for t in tasks.values()) for k in ("calls", "errors", "bytes", "image_bytes", "ok")}
    if not quiet:
        table(tasks, total)
    print(
        json.dumps(
            {"mapsrv": mapsrv.__file__, "commit": commit.stdout.strip(), "tasks": tasks, "total": total}
        )
    )


if __name__ == "__main__":
    main()
