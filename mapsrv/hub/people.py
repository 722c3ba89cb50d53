"""People who sign in (OpenID Connect, ``mapsrv.web.signin``), and what that changes about whose
maps are whose.

A browser is a *user*: a random id in its cookie, as before. Signing in as a person (``oidc:<sub>``,
the same principal an agent acting for them with an access token has) links that user to the
person for good: the maps the user owns are the person's, in every browser they sign in with, and
an agent acting for the person makes maps the person owns at once. Signing out ends the link's
session only (the browser gets a new user id; its old maps stay the person's).

The store keeps the links (every process sees the same); with ``memory://`` this process does.
Lookups are cached for ``CACHE_S`` per user and person, so a page's requests cost a dictionary
lookup; a sign-out reaches other processes within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mapsrv.hub.registry import MapEntry
from mapsrv.store import Store

__all__ = ["CACHE_S", "People"]

CACHE_S = 5.0


class People:
    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._links: dict[str, tuple[str, bool]] = {}  # memory://: user -> (person, signed in)
        self._person_of: dict[str, tuple[str | None, float]] = {}
        self._identities: dict[str, tuple[list[str], float]] = {}

    async def sign_in(self, user: str, person: str) -> None:
        if self.store.durable:
            await self.store.sign_in(user, person)
        else:
            self._links[user] = (person, True)
        self._person_of[user] = (person, self.clock())
        self._identities.pop(person, None)

    async def sign_out(self, user: str) -> None:
        if self.store.durable:
            await self.store.sign_out(user)
        elif user in self._links:
            self._links[user] = (self._links[user][0], False)
        self._person_of[user] = (None, self.clock())

    async def person_of(self, user: str | None) -> str | None:
        """The person a browser user stands for while signed in."""
        if user is None:
            return None
        cached = self._person_of.get(user)
        now = self.clock()
        if cached is not None and now - cached[1] < CACHE_S:
            return cached[0]
        if self.store.durable:
            person = await self.store.person_of(user)
        else:
            link = self._links.get(user)
            person = link[0] if link is not None and link[1] else None
        if len(self._person_of) > 100_000:
            self._person_of.clear()
        self._person_of[user] = (person, now)
        return person

    async def identities_of(self, person: str) -> list[str]:
        """Every browser user that ever signed in as ``person``."""
        cached = self._identities.get(person)
        now = self.clock()
        if cached is not None and now - cached[1] < CACHE_S:
            return cached[0]
        if self.store.durable:
            users = await self.store.identities_of(person)
        else:
            users = sorted(u for u, (p, _) in self._links.items() if p == person)
        if len(self._identities) > 100_000:
            self._identities.clear()
        self._identities[person] = (users, now)
        return users

    async def owns(self, entry: MapEntry, user: str | None) -> bool:
        """Whether the browser user ``user`` owns the map: it made or claimed it, or it is signed
        in as the person who owns it (through any browser they signed in with, or an agent that
        acted for them)."""
        if user is None or entry.owner is None:
            return False
        if entry.owner == user:
            return True
        person = await self.person_of(user)
        if person is None:
            return False
        return entry.owner == person or entry.owner in await self.identities_of(person)

    async def owners_of_person(self, person: str) -> list[str]:
        """Every owner id whose maps are the person's: theirs, and each browser they signed in with."""
        return [person, *await self.identities_of(person)]

    async def owners_of(self, user: str | None) -> list[str]:
        """Every owner id whose maps are this browser user's: itself and, signed in, the person
        and each browser they signed in with."""
        if user is None:
            return []
        person = await self.person_of(user)
        if person is None:
            return [user]
        return [user, person, *(u for u in await self.identities_of(person) if u != user)]
