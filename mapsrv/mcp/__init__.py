"""The MCP side of mapsrv: the endpoints (Streamable HTTP, legacy SSE, stdio) mounted from the
SDK's own transports, the sessions, agents' subscriptions to their maps, the MCP App, and the
tools. Imported as ``mapsrv.mcp``; inside it, ``mcp`` is always the SDK (absolute imports).

    endpoints      /mcp, /sse + /messages/ and stdio, over one MCPServer
    sessions       the MCP session quotas per client and per API key, handshake deadlines
    subscriptions  ``map://<id>`` change notifications to agents, both protocol eras
    agents         who an agent is (client name, API key) for attribution
    apps           the live map as an MCP App (``ui://mapsrv/map``)
    errors         JSON-RPC error answers for what the SDK would answer badly
    sdk            every private name of the SDK that mapsrv uses, each with a guard test
    tools/         the tools: plain async functions over the hub, one table registers them
"""

__all__: list[str] = []
