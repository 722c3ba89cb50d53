"""A name nothing decides ("Salamanca" alone on an empty map) is asked of the person, when the
client can show a form: by ``input_required`` in the 2026-07-28 era and by ``elicitation/create``
in a 2025-11-25 session, with the SDK's own client over real HTTP. Without the capability (a
client that takes URL elicitation only has none for forms), or when the person declines, the
likeliest is taken and the answer says so. A name with a hint is never asked about."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mcp.client.client
import pytest
from mcp import Client, ClientSession
from mcp.client.sse import sse_client
from mcp.types import (
    ClientCapabilities,
    ElicitationCapability,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    UrlElicitationCapability,
)

from mapsrv.mcp.tools.asking import STATELESS
from mapsrv.places.search import haversine
from mapsrv.server import Server

SPAIN = (40.9650, -5.6640)  # Salamanca, Castile and León
MEXICO = (20.5710, -101.1918)  # Salamanca, Guanajuato: the likeliest by its people alone


@dataclass
class Person:
    """Answers every form the client is shown: ``pick`` chooses an option from the offered ones
    (None: declines), and what was asked is kept."""

    pick: Any = None
    forms: list[ElicitRequestFormParams] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.forms.append(params)
        if self.pick is None:
            return ElicitResult(action="decline")
        content = {
            key: self.pick(prop["enum"]) for key, prop in params.requested_schema["properties"].items()
        }
        return ElicitResult(action="accept", content=content)


def spanish(options: list[str]) -> str:
    return next(o for o in options if o.endswith(", ES") and "Madrid" not in o)


async def draw(client: Client, *names: str) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    items = [{"at": name, "label": name} for name in names]
    drawn = await client.call_tool("draw", {"items": items})
    assert not drawn.is_error, drawn.content
    answer = drawn.structured_content
    assert answer is not None
    read = await client.call_tool("read", {"map_id": answer["map_id"], "format": "geojson"})
    assert read.structured_content is not None
    points = [tuple(reversed(f["geometry"]["coordinates"])) for f in read.structured_content["features"]]
    return answer, points  # type: ignore[return-value]


def near(point: tuple[float, float], place: tuple[float, float]) -> bool:
    return haversine(point, place) < 5_000


def connect(server: Server, era: str, person: Person | None = None) -> Client:
    """A client of ``era``: "2026-07-28" (stateless, asked by input_required), "sse" (a 2025-11-25
    session on the legacy HTTP+SSE transport, asked by elicitation/create on its stream)."""
    if era == "sse":
        return Client(sse_client(server.url + "sse"), mode="legacy", elicitation_callback=person)
    return Client(server.url + "mcp", mode=era, elicitation_callback=person)


@pytest.mark.parametrize("era", ["2026-07-28", "sse"])
async def test_the_person_picks_the_place_a_lone_name_means(server: Server, era: str) -> None:
    person = Person(pick=spanish)
    async with connect(server, era, person) as client:
        answer, points = await draw(client, "Salamanca")
    assert len(person.forms) == 1
    form = person.forms[0]
    assert "Salamanca" in form.message
    (choice,) = form.requested_schema["properties"].values()
    options = choice["enum"]
    assert len(options) >= 3 and options[0] == choice["default"]
    assert any(o.endswith(", MX") for o in options) and any("Madrid" in o for o in options)
    assert near(points[0], SPAIN), points
    assert "note" not in answer  # the person decided
    assert answer["places"]["Salamanca"][2] == spanish(options)
    # the others are still listed, by their distance from the one picked
    assert any(label.endswith(", MX") for label, _ in answer["alternatives"]["Salamanca"])


async def test_context_decides_without_asking(server: Server) -> None:
    person = Person(pick=spanish)
    async with Client(server.url + "mcp", elicitation_callback=person) as client:
        _, points = await draw(client, "Lisbon", "Salamanca", "Madrid")
    assert person.forms == []
    assert near(points[1], SPAIN)


@pytest.mark.parametrize("era", ["2026-07-28", "sse"])
async def test_a_declined_question_takes_the_likeliest_and_says_so(server: Server, era: str) -> None:
    person = Person(pick=None)
    async with connect(server, era, person) as client:
        answer, points = await draw(client, "Salamanca")
    assert len(person.forms) == 1
    assert near(points[0], MEXICO)
    assert "Salamanca" in answer["note"] and "alternatives" in answer


async def test_an_answer_that_was_not_offered_is_not_taken(server: Server) -> None:
    person = Person(pick=lambda options: "Tokyo, JP")
    async with Client(server.url + "mcp", elicitation_callback=person) as client:
        answer, points = await draw(client, "Salamanca")
    assert len(person.forms) == 1
    assert near(points[0], MEXICO)
    assert "Salamanca" in answer["note"]


async def test_a_session_without_a_back_channel_is_not_asked(server: Server) -> None:
    # a 2025-11-25 session over Streamable HTTP: mapsrv answers each call as one JSON body, so
    # there is no stream to ask on; the client's capability alone does not make a question
    person = Person(pick=spanish)
    async with Client(server.url + "mcp", mode="legacy", elicitation_callback=person) as client:
        answer, points = await draw(client, "Salamanca")
    assert person.forms == []
    assert near(points[0], MEXICO) and "Salamanca" in answer["note"]


async def test_a_client_that_cannot_ask_gets_the_likeliest_and_a_note(server: Server) -> None:
    async with Client(server.url + "mcp") as client:
        answer, points = await draw(client, "Salamanca")
    assert near(points[0], MEXICO)
    assert "Salamanca" in answer["note"]
    assert [label for label, _ in answer["alternatives"]["Salamanca"]][:1] != [
        answer["places"]["Salamanca"][2]
    ]


@pytest.mark.parametrize("era", ["2026-07-28", "sse"])
async def test_a_name_with_a_hint_is_never_asked_about(server: Server, era: str) -> None:
    """A hint after the comma decides, even where the name alone would be asked: no form, and
    no note that nothing decided."""
    person = Person(pick=lambda options: options[-1])
    async with connect(server, era, person) as client:
        answer, points = await draw(client, "Salamanca, Madrid", "Cambridge, MA", "Salamanca, Spain")
    assert person.forms == []
    assert "note" not in answer
    madrid, cambridge, spain = points
    assert haversine(madrid, (40.4168, -3.7038)) < 10_000, "the district of Madrid"
    assert haversine(cambridge, (42.3736, -71.1097)) < 5_000, "Cambridge, Massachusetts"
    assert near(spain, SPAIN)


class UrlOnlySession(ClientSession):
    """A client that takes URL elicitation only: it can send its person to a page, not show a form."""

    def _build_capabilities(self, version: str) -> ClientCapabilities:
        declared = super()._build_capabilities(version)
        return declared.model_copy(
            update={"elicitation": ElicitationCapability(url=UrlElicitationCapability())}
        )


@pytest.mark.parametrize("era", ["2026-07-28", "sse"])
async def test_a_client_that_takes_url_elicitation_only_is_never_sent_a_form(
    server: Server, era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp.client.client, "ClientSession", UrlOnlySession)
    person = Person(pick=spanish)
    async with connect(server, era, person) as client:
        declared = client.session._build_capabilities(STATELESS).elicitation
        assert declared is not None and declared.form is None and declared.url is not None
        answer, points = await draw(client, "Salamanca")
    assert person.forms == []
    assert near(points[0], MEXICO) and "Salamanca" in answer["note"]
