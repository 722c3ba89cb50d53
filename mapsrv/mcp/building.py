"""The SDK's ``MCPServer`` as mapsrv builds it: every tool and resource, the MCP App, and the
``ToolContext`` each call gets (who asks, as which agent, with which services).
``McpEndpoints`` serves it on every transport, and answers 2026-07-28 tool calls with the same
tools and contexts itself (``mapsrv.mcp.direct``); tests build it alone to read its tool surface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request

from mapsrv import __version__
from mapsrv.config import Config
from mapsrv.core.changes import Actor
from mapsrv.http.basemaps import Basemaps
from mapsrv.http.fetch import SourcePolicy
from mapsrv.http.identity import ApiKeys, ClientIdentity
from mapsrv.http.types import Scope
from mapsrv.hub import MapHub
from mapsrv.image.service import MapImages
from mapsrv.mcp.agents import (
    GRANT,
    agent_of,
    in_session,
    request_agent,
    request_principal,
    scope_principal,
    session_agent,
)
from mapsrv.mcp.apps import map_app
from mapsrv.mcp.sdk import without_idle_tracing
from mapsrv.mcp.tools import INSTRUCTIONS, ToolContext, register_resources, sdk_tools
from mapsrv.mcp.tools.asking import Asker, PageSender, asker_of, page_sender_of
from mapsrv.mcp.tools.registry import ToolRunner, tool_runners
from mapsrv.places.service import PlaceService
from mapsrv.routing import Router

__all__ = ["ToolContexts", "build_mcp", "serve_tools"]


class ToolContexts:
    """How a call becomes its ``ToolContext``: through the SDK (``of_sdk``) or as a 2026-07-28
    request mapsrv answers itself (``of_request``), with the same services either way."""

    def __init__(
        self,
        hub: MapHub,
        base_url: Callable[[], str],
        keys: ApiKeys,
        config: Config,
        images: MapImages | None = None,
        router: Router | None = None,
        places: PlaceService | None = None,
        sources: SourcePolicy | None = None,
        basemaps: Basemaps | None = None,
    ) -> None:
        self.hub, self.base_url, self.keys, self.config = hub, base_url, keys, config
        self.basemaps = basemaps  # the street basemaps the MCP App is told of
        self.images, self.router, self.places = images, router, places or PlaceService()
        self.clients = ClientIdentity(config.trusted_proxies)
        self.sources = sources if sources is not None else SourcePolicy.from_config(config)

    def of_sdk(self, ctx: Context) -> ToolContext:
        request_context = ctx.request_context
        principal = request_principal(request_context.request, self.keys)
        actor = agent_of(request_context, principal, self.clients)
        local = not isinstance(request_context.request, Request)  # stdio: no HTTP request
        return self._context(
            principal,
            actor,
            local,
            in_session(request_context),
            partial(asker_of, ctx),
            partial(page_sender_of, ctx),
        )

    def of_request(
        self, scope: Scope, client: str, reported: str | None, asker: Callable[[], Asker | None]
    ) -> ToolContext:
        """A 2026-07-28 request's: no session, so its agent is what it presents (``client`` is
        its address as ``ClientIdentity`` reads it, ``reported`` its client's name)."""
        principal = scope_principal(scope, self.keys)
        actor = request_agent(reported, scope.get(GRANT), principal, client)
        return self._context(principal, actor, False, False, asker)

    def of_session(self, scope: Scope, session_id: str, reported: str | None) -> ToolContext:
        """A call in Streamable HTTP session ``session_id`` that mapsrv answers itself: the
        session's agent (``reported`` is its client's name), as ``of_sdk`` makes it. It cannot ask
        its person: a session's call is answered as one JSON body, with no back channel."""
        principal = scope_principal(scope, self.keys)
        actor = session_agent(reported, scope.get(GRANT), session_id)
        return self._context(principal, actor, False, True, _cannot_ask)

    def _context(
        self,
        principal: str | None,
        actor: Actor,
        local: bool,
        session: bool,
        asker: Callable[[], Asker | None],
        page_sender: Callable[[], PageSender | None] = lambda: None,
    ) -> ToolContext:
        return ToolContext(
            self.hub,
            self.base_url(),
            principal,
            actor,
            self.images,
            local,
            session,
            self.router,
            self.places,
            asker,
            self.sources,
            page_sender,
        )


def _cannot_ask() -> Asker | None:
    return None


def build_mcp(
    hub: MapHub,
    base_url: Callable[[], str],
    keys: ApiKeys,
    config: Config | None = None,
    images: MapImages | None = None,
    router: Router | None = None,
    places: PlaceService | None = None,
) -> MCPServer:
    contexts = ToolContexts(hub, base_url, keys, config or Config(), images, router, places)
    return serve_tools(contexts, tool_runners(routing=router is not None))


def serve_tools(contexts: ToolContexts, runners: Mapping[str, ToolRunner]) -> MCPServer:
    """The SDK's server of ``runners``, each call's context made by ``contexts``."""
    config, sources = contexts.config, contexts.sources
    # MCPServer() calls logging.basicConfig; mapsrv configures logging before this runs, so that
    # call finds handlers in place and changes nothing.
    mcp = MCPServer(
        name="mapsrv",
        title="mapsrv live map",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=sdk_tools(contexts.of_sdk, runners),
        extensions=[
            map_app(
                contexts.base_url,
                config.online_tiles(),
                config.tile_attribution,
                tuple(sources.page_sources()),
                contexts.basemaps,
            )
        ],
    )
    register_resources(mcp, contexts.of_sdk)
    without_idle_tracing(mcp.middleware)
    return mcp
