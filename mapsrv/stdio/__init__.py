"""``mapsrv stdio``: a desktop MCP client's pipes, onto the maps of a running mapsrv or of its own.

    pipes      the SDK's stdio transport on trio-native pipes
    discovery  which mapsrv to relay to (``--server``, or one that answers where ``serve`` listens)
    relay      stdin's messages to that server's ``/mcp`` and the answers back

Imported only when ``mapsrv stdio`` runs.
"""

__all__: list[str] = []
