"""Who may open a map: by its id, which is the owner's capability (agents use it; a browser
page also needs the owner's cookie); by its edit key, which lets a person edit but not manage
the map's links, and which the owner can turn off; or by its view key, which can only ever read.
Unknown, expired and foreign maps all get the same ``NotFound``, so a probe learns nothing."""

from __future__ import annotations

from mapsrv.core.ids import looks_like_token
from mapsrv.errors import NotFound
from mapsrv.hub.facade import MapHub
from mapsrv.hub.registry import MapEntry

__all__ = ["ROLES", "resolve", "unclaimed"]

ROLES = {"m": "owner", "e": "editor", "v": "viewer"}  # by the kind of link a map was opened with


async def resolve(hub: MapHub, kind: str, key: str, user: str | None, *, claim: bool = False) -> MapEntry:
    """The map behind ``/m/<id>`` (kind "m", owner only), ``/e/<edit key>`` (kind "e") or
    ``/v/<view key>`` (kind "v"). A turned-off edit key is ``Forbidden``, saying so.
    With ``claim`` (the owner's page), an agent-made map nobody owns yet becomes ``user``'s."""
    if not looks_like_token(key):
        raise NotFound("map not found")
    if kind == "v":
        return await hub.get_by_view_key(key)
    if kind == "e":
        return await hub.get_by_edit_key(key)
    entry = await hub.get(key)
    if claim and user is not None:
        await hub.claim(entry, user)
    if not await hub.people.owns(entry, user):
        raise NotFound("map not found")
    return entry


async def unclaimed(hub: MapHub, key: str) -> MapEntry:
    """The agent-made map behind ``/m/<id>`` that no browser has claimed yet; ``NotFound`` for
    every other map (owned by someone, unknown or expired: the same answer)."""
    if not looks_like_token(key):
        raise NotFound("map not found")
    entry = await hub.get(key)
    if entry.owner is not None:
        raise NotFound("map not found")
    return entry
