"""What every tool works with: the hub, the server's public URL and who is calling."""

from __future__ import annotations

from dataclasses import dataclass

from mapsrv.core import feature_ids
from mapsrv.core.ops import Op
from mapsrv.errors import NotFound
from mapsrv.hub import MapEntry, MapHub
from mapsrv.tools.results import WriteResult

__all__ = ["ToolContext"]


@dataclass(frozen=True)
class ToolContext:
    """One tool call's view of the server. ``principal`` is the name of the caller's API key
    (None without keys): a map made with a key is that key's alone."""

    hub: MapHub
    base_url: str
    principal: str | None = None

    async def entry(self, map_id: str) -> MapEntry:
        """The map, or the same NotFound for unknown, expired and foreign ids."""
        try:
            entry = await self.hub.get(map_id) if len(map_id) <= 64 else None
        except NotFound:
            entry = None
        if entry is None or (entry.principal is not None and entry.principal != self.principal):
            raise NotFound(f"map {map_id[:64]!r} not found: check the map_id, or create_map a new one")
        return entry

    def links(self, entry: MapEntry) -> tuple[str, str]:
        """The owner's page and the read-only view link."""
        base = self.base_url.rstrip("/")
        return f"{base}/m/{entry.id}", f"{base}/v/{entry.view_key}"

    async def write(self, map_id: str, op: Op, expected_version: int | None) -> WriteResult:
        entry = await self.entry(map_id)
        events = await self.hub.apply(entry.id, [op], expected_version=expected_version)
        return WriteResult(map_id=entry.id, version=events[-1].version, feature_ids=feature_ids(events))
