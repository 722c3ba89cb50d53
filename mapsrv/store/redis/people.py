"""The Redis store's people who sign in (the hash ``mapsrv:people``: browser user -> ``"1 <person>"``
signed in, ``"0 <person>"`` signed out, and ``mapsrv:identities:<person>``: the users that ever
signed in as the person; neither expires) and each browser user's last map
(``mapsrv:user:<id>``, remembered for 400 days)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mapsrv.store.contract import PersonLink
from mapsrv.store.redis.keys import as_text

__all__ = ["PEOPLE", "USER_TTL_MS", "RedisPeople"]

USER_TTL_MS = 400 * 24 * 3600 * 1000  # a browser user's last map, remembered for 400 days
Run = Callable[[Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


class RedisPeople:
    def __init__(self, run: Run) -> None:
        self._run = run  # the link's call: through its breaker and hang detection

    async def last_map_of(self, user: str) -> str | None:
        return as_text(await self._run(lambda c: c.get(f"mapsrv:user:{user}")))

    async def remember_last_map(self, user: str, map_id: str) -> None:
        await self._run(lambda c: c.set(f"mapsrv:user:{user}", map_id, px=USER_TTL_MS))

    async def sign_in(self, user: str, person: str) -> None:
        await self._run(lambda c: c.hset(PEOPLE, user, f"1 {person}"))
        await self._run(lambda c: c.sadd(f"mapsrv:identities:{person}", user))

    async def sign_out(self, user: str) -> None:
        person = await self._person(user)
        if person is not None:
            await self._run(lambda c: c.hset(PEOPLE, user, f"0 {person[1]}"))

    async def _person(self, user: str) -> tuple[bool, str] | None:
        return _person_link(await self._run(lambda c: c.hget(PEOPLE, user)))

    async def person_of(self, user: str) -> str | None:
        person = await self._person(user)
        return person[1] if person is not None and person[0] else None

    async def identities_of(self, person: str) -> list[str]:
        users = await self._run(lambda c: c.smembers(f"mapsrv:identities:{person}"))
        return sorted(u for u in (as_text(v) for v in users) if u)

    async def people(self) -> list[PersonLink]:
        links = await self._run(lambda c: c.hgetall(PEOPLE))
        out = []
        for user, value in links.items():
            found = _person_link(value)
            if found is not None:
                out.append(PersonLink(as_text(user) or "", found[1], found[0]))
        return sorted(out)

    async def restore_person(self, link: PersonLink) -> None:
        await self._run(lambda c: c.hset(PEOPLE, link.user, f"{int(link.signed_in)} {link.person}"))
        await self._run(lambda c: c.sadd(f"mapsrv:identities:{link.person}", link.user))


PEOPLE = "mapsrv:people"


def _person_link(value: Any) -> tuple[bool, str] | None:
    found = as_text(value)
    if not found or found[1:2] != " ":
        return None
    return found[0] == "1", found[2:]
