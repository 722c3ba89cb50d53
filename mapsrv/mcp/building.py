"""The SDK's ``MCPServer`` as mapsrv builds it: every tool and resource, the MCP App, and the
``ToolContext`` each call gets (who asks, as which agent, with which services).
``McpEndpoints`` serves it on every transport; tests build it alone to read its tool surface."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request

from mapsrv import __version__
from mapsrv.config import Config
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.identity import ApiKeys, ClientIdentity
from mapsrv.hub import MapHub
from mapsrv.image.service import MapImages
from mapsrv.mcp.agents import agent_of, in_session, request_principal
from mapsrv.mcp.apps import map_app
from mapsrv.mcp.sdk import without_idle_tracing
from mapsrv.mcp.tools import INSTRUCTIONS, ToolContext, register_resources, sdk_tools
from mapsrv.mcp.tools.asking import asker_of
from mapsrv.places.service import PlaceService
from mapsrv.routing import Router

__all__ = ["build_mcp"]


def build_mcp(
    hub: MapHub,
    base_url: Callable[[], str],
    keys: ApiKeys,
    config: Config | None = None,
    images: MapImages | None = None,
    router: Router | None = None,
    places: PlaceService | None = None,
) -> MCPServer:
    config = config or Config()
    places = places or PlaceService()
    clients = ClientIdentity(config.trusted_proxies)
    sources = SourcePolicy.from_config(config)

    def context_of(ctx: Context) -> ToolContext:
        request_context = ctx.request_context
        principal = request_principal(request_context.request, keys)
        actor = agent_of(request_context, principal, clients)
        local = not isinstance(request_context.request, Request)  # stdio: no HTTP request
        return ToolContext(
            hub,
            base_url(),
            principal,
            actor,
            images,
            local,
            in_session(request_context),
            router,
            places,
            partial(asker_of, ctx),
            sources,
        )

    # MCPServer() calls logging.basicConfig; mapsrv configures logging before this runs, so that
    # call finds handlers in place and changes nothing.
    mcp = MCPServer(
        name="mapsrv",
        title="mapsrv live map",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=sdk_tools(context_of, routing=router is not None),
        extensions=[
            map_app(base_url, config.tile_url, config.tile_attribution, tuple(sources.page_sources()))
        ],
    )
    register_resources(mcp, context_of)
    without_idle_tracing(mcp.middleware)
    return mcp
