"""Who changed a map and how to take it back: the change record one write batch carries.

A write batch (``hub.apply``) is one *change*. Its last event carries a ``Change``: the actor, the
version of the batch's first event, when it was applied, a short summary, and the ``Inverse`` that
reverts it (the features, layers and title as they were before). Views are not undone. These are
plain values; ``mapsrv.core.history`` computes them and keeps them per map.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mapsrv.core.model import Feature, Layer
from mapsrv.errors import InvalidInput

__all__ = [
    "MAX_PERSON_NAME",
    "SYSTEM",
    "Actor",
    "Change",
    "Inverse",
    "agent_actor",
    "clean_name",
    "person_actor",
    "suggested_name",
]

MAX_ACTOR_NAME = 60


@dataclass(frozen=True)
class Actor:
    id: str  # "agent:" + 8 hex, "person:" + 8 hex, or "system"; a hash, never a secret itself
    name: str  # for display: an MCP client's name, or "Chrome on Linux"; at most 60 characters


SYSTEM = Actor("system", "mapsrv")


@dataclass(frozen=True)
class Inverse:
    """What reverts a change: each feature and layer it touched as it was before (None: it did
    not exist), and the title before when the change set it."""

    features: tuple[tuple[str, Feature | None], ...] = ()
    layers: tuple[tuple[str, Layer | None], ...] = ()
    title: str | None = None
    members: tuple[tuple[str, Any], ...] | None = None  # the map's members before, when it set them

    def __bool__(self) -> bool:
        return bool(self.features or self.layers or self.title is not None or self.members is not None)


@dataclass(frozen=True)
class Change:
    by: Actor
    first: int  # the version of the batch's first event
    at: float  # unix seconds when it was applied
    summary: str  # "added 3 markers", "moved 'Hotel'", "undid 'added 3 markers'"
    undo: Inverse
    undoes: int | None = None  # ``first`` of the change this one reverts (an undo)
    redoes: int | None = None  # ``first`` of the undo this one reverts (a redo)


def _hashed(kind: str, secret: str) -> str:
    # A fixed prefix per kind: the id of a session never equals the id of a cookie with the same bytes.
    return hashlib.sha256(f"mapsrv-actor:{kind}:{secret}".encode()).hexdigest()[:8]


def _display(text: str | None, fallback: str) -> str:
    cleaned = " ".join((text or "").split())
    cleaned = "".join(c for c in cleaned if c.isprintable())
    return cleaned[:MAX_ACTOR_NAME] or fallback


def agent_actor(client_name: str | None, session_secret: str, for_whom: str | None = None) -> Actor:
    """The agent behind one MCP session, named by its client (``clientInfo.name``), and by the
    person it acts for when its access token names them ("Claude for Ana")."""
    name = _display(client_name, "an agent")
    person = _display(for_whom, "")
    if person:
        name = f"{name[: MAX_ACTOR_NAME - len(person) - 5]} for {person}"[:MAX_ACTOR_NAME]
    return Actor(f"agent:{_hashed('agent', session_secret)}", name)


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def _browser(user_agent: str) -> str | None:
    for token, name in _BROWSERS:
        if token in user_agent:
            return name
    if "Safari/" in user_agent:
        return "Safari"
    return None


MAX_PERSON_NAME = 40
# A name a person has not chosen yet: the same for the same browser everywhere, friendly, never
# derived in a way that shows the cookie (a hash of it picks the words).
_ADJECTIVES = (
    "Amber", "Brave", "Calm", "Coral", "Bright", "Swift", "Gentle", "Jolly", "Keen", "Lucky",
    "Merry", "Quiet", "Rapid", "Sunny", "Teal", "Witty", "Bold", "Clever", "Golden", "Misty",
)  # fmt: skip
_ANIMALS = (
    "Otter", "Heron", "Fox", "Badger", "Falcon", "Lynx", "Puffin", "Marten", "Ibex", "Gecko",
    "Wren", "Orca", "Bison", "Koala", "Panda", "Robin", "Stoat", "Tapir", "Yak", "Zebra",
)  # fmt: skip


def suggested_name(user_cookie: str) -> str:
    """A friendly default display name for a browser ("Teal Otter")."""
    digest = hashlib.sha256(f"mapsrv-name:{user_cookie}".encode()).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]} {_ANIMALS[digest[1] % len(_ANIMALS)]}"


def clean_name(text: object) -> str:
    """A display name a person chose, as it will be shown: whitespace folded, no control or
    format characters, at most ``MAX_PERSON_NAME`` characters. InvalidInput names the problem."""
    if not isinstance(text, str):
        raise InvalidInput(f'name must be text, got {type(text).__name__}; e.g. "Ana"')
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not cleaned:
        raise InvalidInput('name must have at least one visible character; e.g. "Ana"')
    if len(cleaned) > MAX_PERSON_NAME:
        raise InvalidInput(f"name must be at most {MAX_PERSON_NAME} characters, got {len(cleaned)}")
    return cleaned


def person_actor(user_agent: str | None, user_cookie: str, name: str | None = None) -> Actor:
    """A person in a browser, by the display name they chose, else by a simple reading of its
    User-Agent ("Chrome on Linux")."""
    if name:
        return Actor(f"person:{_hashed('person', user_cookie)}", _display(name, "a person"))
    ua = user_agent or ""
    browser = _browser(ua)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    if browser and system:
        name = f"{browser} on {system}"
    else:
        name = browser or system or "a person"
    return Actor(f"person:{_hashed('person', user_cookie)}", _display(name, "a person"))
