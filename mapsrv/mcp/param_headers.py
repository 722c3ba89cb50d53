"""The tool schemas the SDK checks ``Mcp-Param-*`` headers against, found once per schema.

Before every 2026-07-28 ``tools/call`` the SDK (mcp 2.3, ``handle_modern_request``) compares the
request's ``Mcp-Param-*`` headers with the arguments at each property its tool's input schema
annotates with ``x-mcp-header``, asking ``Server.get_tool_input_schema`` for the schema and
walking all of it twice (once for a badly placed annotation, once for the annotations). Without
an annotation there is nothing to compare and the SDK lets the call through whatever the headers
say: the same as when the lookup finds no schema. mapsrv's schemas have none, and the two walks
were 5 % of a ``read`` (profiled, docs/benchmarks.md "Issue 47"). ``annotated_only`` hands the SDK
the schemas that carry an annotation and None for the rest, deciding once per schema object (a
tool registered again under the same name is looked at again); tests/mcp/test_param_headers.py
checks that a schema with one is still checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mcp.shared.inbound import X_MCP_HEADER_KEY

__all__ = ["SchemaLookup", "annotated_only"]

SchemaLookup = Callable[[str], Mapping[str, Any] | None]


def annotated_only(lookup: SchemaLookup | None) -> SchemaLookup | None:
    """``lookup`` (the server's ``get_tool_input_schema``), answering None for a schema without
    an ``x-mcp-header`` anywhere in it. No lookup: none (the SDK then asks ``tools/list``)."""
    if lookup is None:
        return None
    seen: dict[str, tuple[Mapping[str, Any], bool]] = {}

    def schema_of(name: str) -> Mapping[str, Any] | None:
        schema = lookup(name)
        if schema is None:
            return None
        known = seen.get(name)
        if known is None or known[0] is not schema:
            # The key's name anywhere in the JSON (a description that mentions it included):
            # a false positive only costs the SDK's own check.
            known = (schema, f'"{X_MCP_HEADER_KEY}"' in json.dumps(schema, default=str))
            seen[name] = known
        return schema if known[1] else None

    return schema_of
