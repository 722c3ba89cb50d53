"""MCP authorization at the door of the MCP endpoints: which resource a request addressed, its RFC
9728 metadata, and who a request acts for (an API key, else an access token checked by
``mapsrv.http.tokens``).

**The resource follows the name the client used.** With ``--public-url`` it is always
``<public URL>/mcp``. Without, a client may reach one server as ``http://localhost:8000/mcp`` and
another as ``http://127.0.0.1:8000/mcp`` (both in ``--allowed-hosts``), and each must find
metadata naming the URL it used, or the MCP SDK's client stops ("Protected resource ... does not
match expected ..."). So the resource is ``<scheme>://<Host>/mcp``, but only for a Host whose name
is listed in ``allowed_hosts`` by name (``"*"`` does not count: then any Host would do) and whose
port is the one this server listens on; any other request gets the server's own address, as
before. The dispatcher's Host check has already refused a name not allowed (``mapsrv.dispatch``).

**A token is good for the resource it names, only.** RFC 8707 makes the audience the resource: a
token minted for ``http://localhost:8000/mcp`` presented at ``http://127.0.0.1:8000/mcp`` is
refused (``invalid_token``, "for another resource"), although both are this server: a client gets
a token for the URL it uses, and accepting the other names would turn every name the server
answers to into a way in for tokens made for something else.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mapsrv.config import Config
from mapsrv.errors import HttpError
from mapsrv.http.bearer import resource_metadata
from mapsrv.http.guards import parse_host
from mapsrv.http.identity import ApiKeys
from mapsrv.http.responses import send_error
from mapsrv.http.tokens import AccessTokens, Issuer, Resource
from mapsrv.http.types import Message, Receive, Scope, Send, header
from mapsrv.mcp.agents import GRANT
from mapsrv.mcp.tools import WRITE_TOOLS, WRITES_WITH

__all__ = ["METADATA_PATH", "McpAuthorization", "request_base"]

METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"  # RFC 9728: the resource's path appended
_DEFAULT_PORTS = {"http": 80, "https": 443}


def request_base(config: Config, scope: Scope) -> str | None:
    """``scheme://host[:port]`` as the request named this server, when that name may be trusted
    (see the module's docstring), else None. ``--public-url`` is not consulted here."""
    parsed = parse_host(header(scope, b"host"))
    if parsed is None:
        return None
    name, port = parsed
    if name not in {h.lower() for h in config.allowed_hosts}:
        return None  # only a name listed by name: "*" lets any Host in, so none is trusted
    scheme = str(scope.get("scheme") or "http")
    server = scope.get("server")
    listening = server[1] if server and len(server) > 1 else None
    if listening is None or (port if port is not None else _DEFAULT_PORTS.get(scheme)) != listening:
        return None  # another port: a proxy or another service's name, which --public-url must say
    return f"{scheme}://{name}" + (f":{port}" if port is not None else "")


class McpAuthorization:
    """mapsrv as an OAuth 2.1 resource server for its MCP endpoints (with ``--oidc-issuer``)."""

    def __init__(self, config: Config, issuer: Issuer, keys: ApiKeys, base_url: Callable[[], str]) -> None:
        self.config = config
        self.issuer = issuer
        self.keys = keys
        self.base_url = base_url  # the server's own address, once it listens
        self.tokens = AccessTokens(issuer)

    def resource(self, scope: Scope) -> Resource:
        """The resource a request addressed: the public URL's, else the Host's, else the
        server's own address's."""
        base = self.config.public_url or request_base(self.config, scope) or self.base_url()
        base = base.rstrip("/")
        return Resource(base + "/mcp", base + METADATA_PATH)

    async def serve_metadata(self, scope: Scope, send: Send) -> None:
        """``GET /.well-known/oauth-protected-resource[/mcp]`` (RFC 9728): the resource and the
        issuer that makes its tokens. Public, and readable from any origin (browser MCP clients)."""
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            await send_error(send, HttpError(405, "use GET", headers=(("Allow", "GET, HEAD"),)))
            return
        body = json.dumps(resource_metadata(self.resource(scope).url, self.config.oidc_issuer)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-headers", b"mcp-protocol-version"),
            (b"cache-control", b"public, max-age=3600"),
            (b"vary", b"Host"),  # the resource it names is the Host's (without --public-url)
            (b"x-content-type-options", b"nosniff"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] != "GET" else body})

    async def authorize(self, scope: Scope, receive: Receive) -> tuple[str, Receive]:
        """The principal of the request's API key or access token (refused with 401 or 403 saying
        why), and its body replayed when it had to be read (a token that may only read: a call of a
        tool that writes is refused with 403 ``insufficient_scope``)."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        key = self.keys.principal(headers)  # an API key (scripts) still works beside tokens
        if key is not None:
            return key, receive
        resource = self.resource(scope)
        grant = await self.tokens.check(_bearer(headers), resource)
        scope[GRANT] = grant
        if not grant.can_write and scope["method"] == "POST":
            body, receive = await _buffered(receive, self.config.max_body_size)
            tool = _write_tool_called(body)
            if tool is not None:
                raise resource.refuse(
                    f"the tool {tool} changes maps: it needs the scope maps:write, this token has only"
                    " maps:read",
                    "insufficient_scope",
                )
        return grant.principal, receive


def _bearer(headers: dict[str, str]) -> str | None:
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return auth[7:].strip() or None if auth[:7].lower() == "bearer " else None


async def _buffered(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    """The request's whole body (at most ``limit`` bytes), and a ``receive`` that hands it on."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise HttpError(400, "the request ended before its body")
        body += message.get("body", b"")
        if len(body) > limit:
            raise HttpError(413, f"the request body is larger than {limit} bytes", code="too_large")
        if not message.get("more_body"):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}
        return await receive()

    return bytes(body), replay


def _write_tool_called(body: bytes) -> str | None:
    """The tool that writes which a JSON-RPC message (or batch) calls, if any, quoted (and the
    argument that makes it write: ``'select' with 'mark'``)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # the SDK answers a broken body with its own parse error
    for message in parsed if isinstance(parsed, list) else [parsed]:
        if isinstance(message, dict) and message.get("method") == "tools/call":
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if name in WRITE_TOOLS:
                return repr(name)
            given = params.get("arguments") if isinstance(params, dict) else None
            if name in WRITES_WITH and isinstance(given, dict) and given.get(WRITES_WITH[name]) is not None:
                return f"{name!r} with {WRITES_WITH[name]!r}"
    return None
