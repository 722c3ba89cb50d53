"""The one table of tools, and the SDK tools made from it.

Each tool becomes an SDK ``Tool`` (the public type ``MCPServer(tools=...)`` takes) whose input
schema is the lean schema of its signature and whose arguments mapsrv validates itself
(``arguments.Arguments``): an unknown argument is refused with the known ones, and every error
says how to fix the call. Annotations tell clients which tools only read (auto-approvable) and
which remove or overwrite (worth a warning).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp import MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    ToolAnnotations,
)
from pydantic import ConfigDict

from mapsrv.errors import MapsrvError
from mapsrv.mcp.tools.apps import TOOL_META, with_view
from mapsrv.mcp.tools.arguments import Arguments
from mapsrv.mcp.tools.asking import FORM, InputNeeded
from mapsrv.mcp.tools.context import ToolContext
from mapsrv.mcp.tools.drawing import draw, edit, remove
from mapsrv.mcp.tools.files import import_file
from mapsrv.mcp.tools.history import changes, undo
from mapsrv.mcp.tools.images import map_image
from mapsrv.mcp.tools.maps import create_map, delete_map, list_maps, set_layer, set_title, set_view
from mapsrv.mcp.tools.measuring import measure
from mapsrv.mcp.tools.places import find_places, nearest_place
from mapsrv.mcp.tools.reading import read, read_map
from mapsrv.mcp.tools.results import tool_error
from mapsrv.mcp.tools.routing import reachable, travel_times
from mapsrv.mcp.tools.sources import add_layer
from mapsrv.mcp.tools.spatial import derive, select
from mapsrv.mcp.tools.styling import style_layer

__all__ = [
    "INSTRUCTIONS",
    "ROUTING_TOOLS",
    "TOOLS",
    "WRITES_WITH",
    "WRITE_TOOLS",
    "ToolRunner",
    "ToolSpec",
    "register_resources",
    "sdk_tool",
    "sdk_tools",
    "tool_runners",
]

INSTRUCTIONS = """\
mapsrv shows a live map in the user's browser; what you draw appears at once. draw puts many
features on a map in one call (without map_id it makes a new map: give the user its url). Points
are [lat, lon]; a place name works wherever a point does. Errors say how to fix the call.
People edit the map too: changes tells you what they did since a version; undo takes back only
your own last change."""

ToolFunction = Callable[..., Awaitable[CallToolResult]]

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_ADD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
_SET = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_OVERWRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
_UNDO = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its function (named as the tool, documented by its docstring), its title and its
    hints. Every hint is explicit: the spec's defaults (destructive, open-world) are not ours."""

    function: ToolFunction
    title: str
    hints: ToolAnnotations
    # JSON-schema keywords beyond the signature's: what a schema-only caller needs to form a
    # valid call ("give one of these", which the tool itself also checks and explains)
    schema: Mapping[str, Any] = field(default_factory=dict)
    app: bool = False  # shows the live map in hosts that render MCP Apps (``tools.apps``)
    called: str = ""  # the tool's name when it cannot be the function's (``import`` is a keyword)
    # a tool that reads unless this argument is given (select's ``mark``): its hints say it may
    # write, and a token that may only read may still call it without the argument
    writes_with: str = ""

    @property
    def name(self) -> str:
        return self.called or self.function.__name__

    @property
    def description(self) -> str:
        return " ".join((self.function.__doc__ or "").split())

    @property
    def annotations(self) -> ToolAnnotations:
        return self.hints  # the title is the tool's own (a second copy here would cost bytes)


# Open-world is false throughout: places come from the offline gazetteer, not the network.
TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(create_map, "Create a map", _ADD, app=True),
    ToolSpec(list_maps, "List your maps", _READ),
    ToolSpec(delete_map, "Delete a map", _OVERWRITE),
    ToolSpec(draw, "Draw features", _ADD, app=True),
    ToolSpec(edit, "Change features", _OVERWRITE),
    ToolSpec(remove, "Remove features or layers", _OVERWRITE, {"minProperties": 2}),
    ToolSpec(import_file, "Import a file", _ADD, called="import"),
    ToolSpec(read, "Read a map", _READ),
    ToolSpec(map_image, "See the map as an image", _READ),
    ToolSpec(changes, "What changed, and who did it", _READ),
    ToolSpec(undo, "Undo (or redo) your last change", _UNDO),
    ToolSpec(set_view, "Move the camera", _SET),
    ToolSpec(set_title, "Set the title", _SET),
    ToolSpec(set_layer, "Show or hide a layer", _SET),
    ToolSpec(style_layer, "Style a layer by value", _SET),
    ToolSpec(add_layer, "Add a layer from elsewhere", _ADD.model_copy(update={"open_world_hint": True})),
    ToolSpec(
        find_places,
        "Find places by name",
        _READ,
        {"anyOf": [{"required": ["query"]}, {"required": ["category"]}]},
    ),
    ToolSpec(nearest_place, "Nearest place to a point", _READ),
    ToolSpec(measure, "Measure distance, area, bearing", _READ, {"minProperties": 1}),
    # select writes only to mark (``tools.marking``): one change, undoable, replaced by the next
    ToolSpec(
        select,
        "Select (and mark) features by place or distance",
        _SET,
        {"minProperties": 2},
        writes_with="mark",
    ),
    ToolSpec(derive, "Buffer, overlay, hull or centroid", _ADD),
)
# Listed only when the server has a router (``--router``): a tool that could only fail is noise.
# Their open-world hint is true: they ask another service, which may be down.
ROUTING_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        reachable,
        "Areas reachable within minutes",
        _ADD.model_copy(update={"open_world_hint": True}),
        app=True,
    ),
    ToolSpec(travel_times, "Travel times between places", _READ.model_copy(update={"open_world_hint": True})),
)
# The tools a token with only maps:read may not call (MCP authorization, ``mapsrv.http.tokens``),
# and those it may call without the argument that makes them write.
WRITE_TOOLS = frozenset(
    spec.name for spec in (*TOOLS, *ROUTING_TOOLS) if not spec.hints.read_only_hint and not spec.writes_with
)
WRITES_WITH = {spec.name: spec.writes_with for spec in (*TOOLS, *ROUTING_TOOLS) if spec.writes_with}


class _RawArguments(ArgModelBase):
    """Hands the tool every argument as sent; ``Arguments.validate`` checks them."""

    model_config = ConfigDict(extra="allow")

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


@dataclass(frozen=True)
class ToolRunner:
    """A tool as both paths call it (the SDK's ``Tool`` and ``mapsrv.mcp.direct``): every
    argument as sent, validated here, and mapsrv's errors answered as tool errors."""

    spec: ToolSpec
    validator: Arguments

    @classmethod
    def of(cls, spec: ToolSpec) -> ToolRunner:
        return cls(spec, Arguments.of(spec.function, spec.name))

    async def __call__(
        self, tc: ToolContext, arguments: dict[str, Any]
    ) -> CallToolResult | InputRequiredResult:
        spec = self.spec
        try:
            result = await spec.function(tc, **self.validator.validate(arguments))
        except MapsrvError as exc:
            return tool_error(exc, tc.actor.id)
        except InputNeeded as needed:  # 2026-07-28: the client asks its person, then calls again
            form = ElicitRequestFormParams(message=needed.message, requested_schema=needed.schema)
            return InputRequiredResult(input_requests={FORM: ElicitRequest(params=form)})
        return await with_view(tc, result) if spec.app else result


def tool_runners(*, routing: bool = False) -> dict[str, ToolRunner]:
    """Every tool of ``TOOLS`` (and of ``ROUTING_TOOLS`` with a router) by name."""
    return {spec.name: ToolRunner.of(spec) for spec in (*TOOLS, *(ROUTING_TOOLS if routing else ()))}


def sdk_tool(runner: ToolRunner, context_of: Callable[[Context], ToolContext]) -> Tool:
    """``runner``'s tool as the SDK's Tool, with the schema and hints of its spec."""
    spec = runner.spec

    async def call(ctx: Context, arguments: dict[str, Any]) -> CallToolResult | InputRequiredResult:
        return await runner(context_of(ctx), arguments)

    return Tool(
        fn=call,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        parameters={**runner.validator.schema, **spec.schema},
        fn_metadata=FuncMetadata(arg_model=_RawArguments),
        is_async=True,
        context_kwarg="ctx",
        annotations=spec.annotations,
        meta=TOOL_META if spec.app else None,
    )


def sdk_tools(context_of: Callable[[Context], ToolContext], runners: Mapping[str, ToolRunner]) -> list[Tool]:
    """Each of ``runners`` as the SDK's Tool, for ``MCPServer(tools=...)``."""
    return [sdk_tool(runner, context_of) for runner in runners.values()]


def register_resources(mcp: MCPServer, context_of: Callable[[Context], ToolContext]) -> None:
    """Add the ``map://{map_id}`` resource to ``mcp``."""

    @mcp.resource(
        "map://{map_id}",
        mime_type="application/json",
        title="A live map",
        description="A map's summary as JSON",
    )
    async def map_resource(map_id: str, ctx: Context) -> str:
        try:
            return await read_map(context_of(ctx), map_id)
        except MapsrvError as exc:  # a clear JSON-RPC error, and nothing logged with the id in it
            raise MCPError(exc.jsonrpc_code, exc.message) from None
