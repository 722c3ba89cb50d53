"""``read``'s summary is made once for a state, a link and who is on the map, and answered again
while they hold (``mapsrv.mcp.tools.reading``): every answer here is checked against a summary
made afresh from the map's state, after a write, a person joining and leaving, another host's
link, and on a map big enough to be summarised in a worker; the resource ``map://`` says the same.
The tools run against a real MapHub."""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

from mapsrv.hub import MapHub
from mapsrv.hub.presence import Member
from mapsrv.mcp.tools import ToolContext, reading
from mapsrv.mcp.tools.drawing import draw
from mapsrv.mcp.tools.maps import create_map, set_title
from mapsrv.mcp.tools.reading import SUMMARIES_KEPT, read, read_map, summary
from mapsrv.mcp.tools.schema import MAX_ITEMS
from mapsrv.workers import BIG_MAP, workers

BASE, OTHER = "https://maps.example/", "http://10.0.0.7:8000/"


async def summarised(tc: ToolContext, map_id: str) -> dict[str, Any]:
    """``read``'s summary, checked: its text is its content's JSON, and it is what a summary made
    afresh of the map's state now says (with who is on it); ``map://`` gives the same text."""
    result = await read(tc, map_id)
    assert not result.is_error, result.content
    text = result.content[0].text  # type: ignore[union-attr]
    content = dict(result.structured_content or {})
    assert json.loads(text) == content
    entry = await tc.hub.get(map_id)
    fresh = summary(entry.state, tc.links(entry)[0])
    listed, more = tc.hub.present(entry)
    if listed:
        fresh["present"] = [f"{m['name']} ({m['role']})" for m in listed] + (
            [f"+{more} more"] if more else []
        )
    assert content == fresh
    assert await read_map(tc, map_id) == text
    return content


async def test_a_summary_follows_writes_people_and_links() -> None:
    hub = MapHub()
    tc, other = ToolContext(hub, BASE), ToolContext(hub, OTHER)
    map_id = json.loads((await create_map(tc, "Trip")).content[0].text)["map_id"]  # type: ignore[union-attr]
    await draw(tc, [{"at": [38.72, -9.14], "label": "Lisbon"}], map_id=map_id)
    first = await summarised(tc, map_id)
    assert await summarised(tc, map_id) == first  # answered again
    assert [row["label"] for row in first["latest"]] == ["Lisbon"]

    await draw(tc, [{"at": [40.4, -3.7], "label": "Madrid"}], map_id=map_id)
    drawn = await summarised(tc, map_id)
    assert drawn["version"] > first["version"] and drawn["count"] == 2
    await set_title(tc, map_id, "Iberia")
    assert (await summarised(tc, map_id))["title"] == "Iberia"

    ana = Member(id="ana1", kind="person", name="Ana", role="editor", actor="person:ana")
    hub.presence.join(map_id, ana)
    assert (await summarised(tc, map_id))["present"] == ["Ana (editor)"]
    hub.presence.leave(map_id, ana)
    assert "present" not in await summarised(tc, map_id)

    elsewhere = await summarised(other, map_id)  # the same map through another host
    assert elsewhere["url"] == f"{OTHER}m/{map_id}"
    assert (await summarised(tc, map_id))["url"] == f"{BASE}m/{map_id}"


async def test_a_summary_keeps_no_state_a_write_replaced() -> None:
    """The summary kept refers to its state weakly: a state replaced by a write is freed, and
    what was kept of it with it."""
    tc = ToolContext(MapHub(), BASE)
    map_id = json.loads((await create_map(tc, "")).content[0].text)["map_id"]  # type: ignore[union-attr]
    await draw(tc, [{"at": [1, 2]}], map_id=map_id)
    await summarised(tc, map_id)
    entry = await tc.hub.get(map_id)
    assert reading._SUMMARIES.holds(map_id, entry.state)
    kept = weakref.ref(entry.state)
    await draw(tc, [{"at": [3, 4]}], map_id=map_id)
    gc.collect()
    assert kept() is None
    assert map_id not in reading._SUMMARIES


async def test_a_big_maps_summary_is_made_in_a_worker_once_a_version() -> None:
    tc = ToolContext(MapHub(), BASE)
    map_id = json.loads((await create_map(tc, "")).content[0].text)["map_id"]  # type: ignore[union-attr]
    for start in range(0, BIG_MAP, MAX_ITEMS):
        items = [{"at": [i / 1000, 0.0], "label": f"p{i}"} for i in range(start, start + MAX_ITEMS)]
        await draw(tc, items, map_id=map_id)
    encode = workers().pools["encode"].stats
    before = encode.done
    first = await summarised(tc, map_id)
    assert first["count"] == BIG_MAP and encode.done == before + 1  # counted in a worker
    assert await summarised(tc, map_id) == first
    assert encode.done == before + 1, "an unchanged map was summarised again"
    await draw(tc, [{"at": [5, 5], "label": "last"}], map_id=map_id)
    assert (await summarised(tc, map_id))["latest"][-1]["label"] == "last"
    assert encode.done == before + 2


async def test_the_summaries_kept_are_the_maps_read_last() -> None:
    """A summary is kept for the ``SUMMARIES_KEPT`` maps read last: reading one more forgets the
    one read longest ago, which is then made again (in a worker, for a big map), right."""
    tc = ToolContext(MapHub(), BASE)
    ids = []
    for n in range(SUMMARIES_KEPT + 1):
        map_id = json.loads((await create_map(tc, f"m{n}")).content[0].text)["map_id"]  # type: ignore[union-attr]
        await read(tc, map_id)
        ids.append(map_id)
    assert len(reading._SUMMARIES) == SUMMARIES_KEPT
    assert ids[0] not in reading._SUMMARIES and ids[-1] in reading._SUMMARIES
    assert (await summarised(tc, ids[0]))["title"] == "m0"
    assert ids[0] in reading._SUMMARIES and ids[1] not in reading._SUMMARIES
