"""Asking the person which place a name means, when nothing in the call or on the map decides.

"Salamanca" alone on an empty map is Mexico's (160,000 people), Spain's (145,000) or a district of
Madrid: the priors are close and no other name or feature tells them apart. When the client says
it can show a form (its ``elicitation`` capability), the call asks, with the candidates as a choice,
and draws what the person picked; otherwise it takes the likeliest and the answer says so
(``mcp.tools.places.Resolver.resolved``).

How a call asks depends on the protocol era:

- 2025-11-25 sessions (and stdio): ``elicitation/create`` on the session's back channel, awaited
  within the call (``ASK_TIMEOUT``; past it, or on decline, the likeliest is taken);
- 2026-07-28 (stateless): the call answers ``resultType: "input_required"`` with the same form, and
  the client calls again with the person's answer (multi round-trip requests). The retry carries
  the same arguments, so the call resolves the same names again and reads the answer for each by
  its key; an answer that is not one of the candidates offered is ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import trio
from mcp.server.mcpserver import Context
from mcp.types import ClientCapabilities, ElicitResult

from mapsrv.places.context import ALTERNATIVES, Choice
from mapsrv.places.model import Place
from mapsrv.places.search import haversine
from mapsrv.places.service import PlaceService, Resolution

__all__ = [
    "ASK_TIMEOUT",
    "FORM",
    "STATELESS",
    "Asker",
    "InputNeeded",
    "PageSender",
    "ask_unsure",
    "asker_of",
    "can_ask",
    "can_send_to_page",
    "first_round_asker",
    "page_sender_of",
    "question",
]

ASK_TIMEOUT = 120.0  # seconds a person has to pick a place before the likeliest is taken
FORM = "places"  # the key of the one input request a call makes
STATELESS = "2026-07-28"  # the protocol version from which a call asks by input_required

# what a client answers a form with: the action ("accept", "decline", "cancel") and the content
Answer = tuple[str, Mapping[str, Any] | None]


class InputNeeded(Exception):
    """A 2026-07-28 call that needs the person's answer first: the registry answers it as an
    ``input_required`` result carrying this form."""

    def __init__(self, message: str, schema: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.schema = schema


@dataclass(frozen=True)
class Asker:
    """How this call can ask its client's person: ``send`` a form and await the answer (a session
    with a back channel), or read ``answers`` a retried call carries (2026-07-28; None on the
    first round, when asking raises InputNeeded)."""

    send: Callable[[str, dict[str, Any]], Awaitable[Answer]] | None = None
    answers: Mapping[str, Answer] | None = None

    async def ask(self, message: str, schema: dict[str, Any]) -> Mapping[str, Any] | None:
        """The content the person accepted, or None (declined, cancelled, no answer in time)."""
        if self.send is not None:
            with trio.move_on_after(ASK_TIMEOUT):
                action, content = await self.send(message, schema)
                return content if action == "accept" else None
            return None
        if self.answers is None:
            raise InputNeeded(message, schema)
        action, content = self.answers.get(FORM, ("cancel", None))
        return content if action == "accept" else None


def _key(name: str) -> str:
    # stable across the rounds of one call (the same name gives the same key), and a plain
    # identifier whatever the name holds
    return "place_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def question(service: PlaceService, unsure: Mapping[str, Choice]) -> tuple[str, dict[str, Any]]:
    """The form that asks which place each of ``unsure``'s names means: one choice per name, of
    its likeliest candidates' labels, the likeliest first (also the default)."""
    properties: dict[str, Any] = {}
    for name, choice in unsure.items():
        labels = list(dict.fromkeys(service.label(p) for p in _offered(choice)))
        properties[_key(name)] = {
            "type": "string",
            "title": f"Which {name}?"[:120],
            "enum": labels,
            "default": labels[0],
        }
    names = ", ".join(unsure)
    message = f"Several places are called {names}. Which do you mean?"
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return message, schema


def _offered(choice: Choice) -> list[Place]:
    return [choice.place, *(p for p, _ in choice.alternatives)][: ALTERNATIVES + 1]


async def ask_unsure(
    asker_for: Callable[[], Asker | None], service: PlaceService, resolution: Resolution
) -> Resolution:
    """``resolution`` with each unsure name (``Choice.close``) settled by the person when the
    client can ask (``asker_for``, called only then); unchanged when it cannot, or nothing is
    unsure."""
    unsure = {name: c for name, c in resolution.choices.items() if c.close and c.alternatives}
    if not unsure:
        return resolution
    asker = asker_for()
    if asker is None:
        return resolution
    message, schema = question(service, unsure)
    content = await asker.ask(message, schema)
    choices = dict(resolution.choices)
    for name, choice in unsure.items():
        picked = (content or {}).get(_key(name))
        offered = {service.label(p): p for p in _offered(choice)}
        if isinstance(picked, str) and picked in offered:
            place = offered[picked]
            # the others, and how far each is from the one picked
            others = tuple(
                (p, haversine(p.latlon, place.latlon) / 1000) for p in offered.values() if p is not place
            )
            choices[name] = replace(choice, place=place, why="asked", close=False, alternatives=others)
        else:  # no answer: the likeliest, and the answer says nothing decided
            choices[name] = replace(choice, why="unanswered")
    return replace(resolution, choices=choices)


def can_ask(capabilities: ClientCapabilities | None) -> bool:
    """Whether a client that declared ``capabilities`` takes form elicitation."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    # an empty elicitation capability means form (2025-06-18 clients declare {})
    return elicitation is not None and not (elicitation.url is not None and elicitation.form is None)


def can_send_to_page(capabilities: ClientCapabilities | None) -> bool:
    """Whether a client that declared ``capabilities`` takes URL elicitation: it can send its
    person to a page (MCP 2025-11-25)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


@dataclass(frozen=True)
class PageSender:
    """How a call can send its client's person to a page of ours and hear back (URL elicitation
    on a 2025-11-25 session's back channel): ``open`` shows the message and the link and answers
    the person's action ("accept": they went; "decline", "cancel"), ``done`` tells the client
    that what the page was for has happened (``notifications/elicitation/complete``)."""

    open: Callable[[str, str, str], Awaitable[str]]  # message, url, elicitation id -> action
    done: Callable[[str], Awaitable[None]]  # elicitation id


def page_sender_of(ctx: Context[Any, Any]) -> PageSender | None:
    """How the call ``ctx`` can send its person to a page: None when its client declared no URL
    elicitation, speaks 2026-07-28 (no back channel: the agent hands the link over itself), or
    its session has no back channel."""
    if not can_send_to_page(ctx.client_capabilities) or (ctx.protocol_version or "") >= STATELESS:
        return None
    session, request_id = ctx.request_context.session, ctx.request_id
    if not session.can_send_request:
        return None

    async def open_page(message: str, url: str, elicitation_id: str) -> str:
        result = await session.elicit_url(message, url, elicitation_id, request_id)
        return result.action

    async def done(elicitation_id: str) -> None:
        await session.send_elicit_complete(elicitation_id, request_id)

    return PageSender(open_page, done)


def first_round_asker(capabilities: ClientCapabilities | None) -> Asker | None:
    """How a 2026-07-28 call with no answers yet asks its person: by ``input_required``."""
    return Asker() if can_ask(capabilities) else None


def asker_of(ctx: Context[Any, Any]) -> Asker | None:
    """How the call ``ctx`` can ask its person: None when its client declared no form
    elicitation (then the likeliest place is taken, and the answer says so)."""
    if not can_ask(ctx.client_capabilities):
        return None
    if (ctx.protocol_version or "") >= STATELESS:
        responses = ctx.input_responses
        if responses is None:
            return Asker()
        answers: dict[str, Answer] = {}
        for key, response in responses.items():
            if isinstance(response, ElicitResult):
                answers[key] = (response.action, response.content)
        return Asker(answers=answers)
    session, request_id = ctx.request_context.session, ctx.request_id
    if not session.can_send_request:
        return None  # a Streamable HTTP session answers each call as one JSON body: no back channel

    async def send(message: str, schema: dict[str, Any]) -> Answer:
        result = await session.elicit_form(message, schema, request_id)
        return result.action, result.content

    return Asker(send=send)
