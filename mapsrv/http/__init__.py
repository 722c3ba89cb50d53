"""The ASGI edge that ``mapsrv serve`` and ``mapsrv gateway`` share: below the pages and the MCP
endpoints, above the hub.

    types          the ASGI type aliases and ``header()``, written once
    hypercorn      hypercorn's configuration and our three fixes to it (its private names live here)
    socket_writer  a browser stream's frames written by the fan-out straight to its socket
    routes         every route in one table: transport label, metric template, checks
    guards         which Host and Origin are ours
    identity       the browser's user cookie, API keys, the client address behind trusted proxies
    responses      the one error writer (web JSON or JSON-RPC)
    ratelimit      token buckets, pure; throttle: the rate limits and quotas as a middleware
    hygiene        request bodies in time and in size, connections closed after an early answer
    observe        the access log, request metrics and the in-flight count, as a middleware
    templates      the Jinja2 environment of a package's templates/ (autoescape, StrictUndefined)
    fetch          the one guarded fetcher of sources from elsewhere (add_layer), and what the CSP allows
"""

__all__: list[str] = []
