"""The live map as an MCP App: the ``ui://mapsrv/map`` resource (``text/html;profile=mcp-app``).

Hosts that render MCP Apps show it, in a sandboxed iframe, for the tools that hand out a map
(``tools.apps``). The page (``templates/app.html``, a Jinja2 template) gets the tool result from
the host over the MCP Apps postMessage protocol and follows the map it names through the map's
read-only event stream, with Leaflet from this server. So its ``_meta.ui.csp`` declares this
server's origin (scripts, styles and the event stream) and the tile server's (images); a host
builds the iframe's Content-Security-Policy from them. Both are known only once the server runs
(port 0, a proxy's public URL), so the page and its ``_meta`` are made when the resource is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.apps import APP_MIME_TYPE, Apps, ResourceCsp
from mcp.server.mcpserver.resources import Resource
from pydantic import Field

from mapsrv import __version__
from mapsrv.http.guards import origin_of
from mapsrv.http.templates import render
from mapsrv.mcp.tools.apps import APP_URI

__all__ = ["APP_PAGE", "PACKAGE", "MapApp", "map_app"]

PACKAGE = "mapsrv.mcp"  # whose templates/ the page is
APP_PAGE = "app.html"


class MapApp(Resource):
    """The app page, rendered for this server's public URL on each read."""

    base_url: Callable[[], str] = Field(exclude=True)
    tile_url: str = Field(exclude=True)
    tile_attribution: str = Field(exclude=True)
    # the hosts raster layers' tiles may come from (``--allowed-sources``, ``mapsrv.http.fetch``)
    sources: tuple[str, ...] = Field(default=(), exclude=True)
    # the street basemaps (``mapsrv.http.basemaps``): their descriptions, read per render
    streets: Any = Field(default=None, exclude=True)

    def csp(self) -> dict[str, Any]:
        origin, tiles = origin_of(self.base_url()), origin_of(self.tile_url)
        domains = ResourceCsp(
            # PMTiles archives are read with fetch() from the listed hosts (the tile server: images)
            connect_domains=list(dict.fromkeys(d for d in (origin, *self.sources) if d and d != tiles)),
            resource_domains=list(dict.fromkeys(d for d in (origin, tiles, *self.sources) if d)),
        )
        return {"ui": {"csp": domains.model_dump(by_alias=True, exclude_none=True), "prefersBorder": True}}

    async def read(self) -> str:
        origin = origin_of(self.base_url())
        config = {
            "origin": origin,
            "tiles": self.tile_url,
            "attribution": self.tile_attribution,
            "version": __version__,
            "basemaps": [m.describe() for m in await self.streets.maps()] if self.streets is not None else [],
        }
        # The SDK puts ``self.meta`` on the contents it returns after this read: the CSP of the
        # origin this read was made for.
        self.meta = self.csp()
        # The template writes the config into its <script> with ``|tojson`` (``<``, ``>``, ``&``
        # and ``'`` as JSON escapes): a ``</script>`` in an attribution cannot end the element.
        return render(PACKAGE, APP_PAGE, origin=origin, config=config)


def map_app(
    base_url: Callable[[], str],
    tile_url: str,
    tile_attribution: str,
    sources: tuple[str, ...] = (),
    streets: Any = None,
) -> Apps:
    """The MCP Apps extension with the map app: ``MCPServer(extensions=[...])`` advertises it and
    serves the resource."""
    apps = Apps()
    app = MapApp(
        uri=APP_URI,
        name="map",
        title="Live map",
        description="The map a tool result names, live",
        mime_type=APP_MIME_TYPE,
        base_url=base_url,
        tile_url=tile_url,
        tile_attribution=tile_attribution,
        sources=sources,
        streets=streets,
    )
    apps.add_resource(app)
    return apps
