"""What every tool works with: the hub, the server's public URL and who is calling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mapsrv.core import feature_ids
from mapsrv.core.changes import SYSTEM, Actor
from mapsrv.core.ops import Op
from mapsrv.errors import Gone, NotFound
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.tokens import is_person
from mapsrv.hub import MapEntry, MapHub
from mapsrv.image.service import MapImages
from mapsrv.mcp.tools.asking import Asker, PageSender
from mapsrv.places.service import PlaceService
from mapsrv.routing import Router

__all__ = ["ToolContext"]


@dataclass(frozen=True)
class ToolContext:
    """One tool call's view of the server. ``principal`` is the name of the caller's API key, or
    the person its access token acts for (``oidc:<sub>``), or None: a map made with either is
    theirs alone. ``actor`` is the agent the
    caller's writes are attributed to (``mapsrv.mcp.agents``), whose own changes ``undo`` reverts."""

    hub: MapHub
    base_url: str
    principal: str | None = None
    actor: Actor = SYSTEM
    images: MapImages | None = None  # draws the map as an image (the map_image tool)
    local: bool = False  # a call over stdio: the person at this computer, whose process this is
    # One agent over time (stdio, or a session of its own): its actor names the maps it made.
    # A keyless 2026-07-28 request's actor is shared by everyone behind the same host and client.
    in_session: bool = True
    router: Router | None = None  # routes along the roads (``--router``); None: straight lines
    places: PlaceService = field(default_factory=PlaceService)  # names, addresses, shops: all sources
    # how to ask the caller's person which place a name means (None: cannot); made only when a
    # call has a name nothing decides, so the other calls pay nothing for it
    asker: Callable[[], Asker | None] = lambda: None
    sources: SourcePolicy = field(default_factory=SourcePolicy)  # layers from elsewhere (add_layer)
    # how to send the caller's person to a page of ours (an upload link), None: cannot
    page_sender: Callable[[], PageSender | None] = lambda: None

    @property
    def person(self) -> str | None:
        """The person an agent with an access token acts for: the maps it makes are theirs."""
        return self.principal if is_person(self.principal) else None

    async def entry(self, map_id: str) -> MapEntry:
        """The map, or the same NotFound for unknown, expired and foreign ids."""
        try:
            entry = await self.hub.get(map_id) if len(map_id) <= 64 else None
        except Gone:
            raise  # its holder had the map's id: telling them it was deleted leaks nothing
        except NotFound:
            entry = None
        if entry is None or (entry.principal is not None and entry.principal != self.principal):
            raise NotFound(f"map {map_id[:64]!r} not found: check the map_id, or create_map a new one")
        return entry

    def links(self, entry: MapEntry) -> tuple[str, str]:
        """The owner's page and the read-only view link."""
        base = self.base_url.rstrip("/")
        return f"{base}/m/{entry.id}", f"{base}/v/{entry.view_key}"

    async def write(
        self,
        map_id: str,
        ops: Sequence[Op],
        expected_version: int | None,
        base_version: int | None = None,
    ) -> dict[str, Any]:
        """Apply ``ops`` as one batch (all or none, one commit, one change by ``actor``) and
        answer what a write answers: the map, its version after the batch, its view link (for
        the person to watch: it reveals no edit id) and the ids of the features added or
        changed."""
        entry = await self.entry(map_id)
        events = await self.hub.apply(
            entry.id, ops, expected_version=expected_version, base_version=base_version, actor=self.actor
        )
        out = events.acknowledgement(entry.id) | {"view_url": self.links(entry)[1]}
        ids = feature_ids(events)
        if ids:
            out["ids"] = ids
        return out
