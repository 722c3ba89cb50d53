"""Who an MCP caller is: the agent its writes are attributed to (``core.changes.agent_actor``),
named by its client (``clientInfo.name``) and keyed by a secret of its session, which is hashed
and never shown.

- A 2025-11-25 session (stateful Streamable HTTP, legacy HTTP+SSE) is keyed by its session id,
  through an HMAC with a secret of this process (``session_secret``): two sessions are two agents
  even with the same client name, and a session's calls are one agent whichever path answers them
  (the SDK's, or ``mapsrv.mcp.direct``'s, which sees the session id and not the SDK's connection).
- stdio is one agent per process (one client talks to it).
- The 2026-07-28 protocol has no sessions: each request stands alone, so the agent is what the
  request presents: its API key, its client address and its client name. Two agents with the same
  client name behind one key (or one address, without keys) are one agent to undo.

**The name.** ``clientInfo.name`` is whatever the client says it is. An access token says which
client the person approved (``client_name`` where the issuer adds it, else ``azp``/``client_id``),
and that name is always shown: "Claude (via Claude Desktop) for Ana Lima", "my-script (via client
3f2a9c1e0b7d…) for Ana Lima". When the two agree it is said once; without a token (an API key,
stdio, no issuer) the self-reported name stands alone, as before. The self-reported part is what is
cut when the whole is too long, so a long made-up name can never push the approved one out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from starlette.requests import Request

from mapsrv.core.changes import MAX_ACTOR_NAME, Actor, agent_actor
from mapsrv.http.identity import ApiKeys, ClientIdentity
from mapsrv.http.tokens import Grant
from mapsrv.http.types import Scope
from mapsrv.mcp.sdk import connection_of

__all__ = [
    "GRANT",
    "agent_name",
    "agent_of",
    "client_of",
    "in_session",
    "request_agent",
    "request_principal",
    "scope_principal",
    "sdk_user",
    "session_agent",
    "session_secret",
]

_PROCESS_SECRET = secrets.token_hex(16)  # stdio: the one client of this process; sessions' HMAC key
_SECRET_KEY = "mapsrv.agent"


def agent_of(ctx: ServerRequestContext[Any, Any], principal: str | None, clients: ClientIdentity) -> Actor:
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    request = ctx.request
    if not isinstance(request, Request):
        return agent_actor(name, _PROCESS_SECRET)
    grant = request.scope.get(GRANT)
    connection = connection_of(ctx)
    if not connection.has_standalone_channel:  # a 2026-07-28 request: no session to key on
        peer = request.client.host if request.client else ""
        return request_agent(name, grant, principal, clients.of(peer, request.headers.get("x-forwarded-for")))
    if connection.session_id is not None:
        return session_agent(name, grant, connection.session_id)
    secret = connection.state.setdefault(_SECRET_KEY, secrets.token_hex(16))  # a session without an id
    return _agent_of_secret(name, grant, str(secret))


def session_secret(session_id: str) -> str:
    """The secret an agent in session ``session_id`` is keyed by: unguessable without this
    process's secret, though the session id is the client's to see."""
    return hmac.new(_PROCESS_SECRET.encode(), session_id.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4096)  # ... and its HMAC once
def session_agent(reported: str | None, grant: Grant | None, session_id: str) -> Actor:
    """The agent of a call in session ``session_id`` whose client calls itself ``reported``."""
    return _agent_of_secret(reported, grant, session_secret(session_id))


@lru_cache(maxsize=4096)  # a session sends many calls: its agent's name and hash are made once
def _agent_of_secret(reported: str | None, grant: Grant | None, secret: str) -> Actor:
    person = grant.name if grant is not None else None  # the person its access token acts for
    return agent_actor(agent_name(reported, grant, person), secret, person)


@lru_cache(maxsize=4096)  # one agent sends many calls: its name and hash are worked out once
def request_agent(reported: str | None, grant: Grant | None, principal: str | None, client: str) -> Actor:
    """The agent of a 2026-07-28 request, which has no session: what it presents (its key or
    person, its client's address as ``ClientIdentity`` reads it, its client's name)."""
    person = grant.name if grant is not None else None
    name = agent_name(reported, grant, person)
    return agent_actor(name, json.dumps(["request", principal, client, name]), person)


def agent_name(reported: str | None, grant: Grant | None, person: str | None = None) -> str | None:
    """The agent's name: what the client calls itself, and the client the person approved when
    its token names one (see the module's docstring). ``person`` is how much of the room the
    person's name takes ("... for Ana Lima")."""
    approved = (grant.client_name or _short_client_id(grant.client_id)) if grant is not None else ""
    approved = " ".join(approved.split())
    said = " ".join((reported or "").split())
    if not approved:
        return reported
    if not said or said.casefold() == approved.casefold():
        return approved
    via = f" (via {approved})"
    room = MAX_ACTOR_NAME - len(via) - (len(" for " + person) if person else 0)
    return said[: max(room, 0)] + via if room >= 8 else approved


def _short_client_id(client_id: str) -> str:
    """A client id as a person can read it: a URL id (a client ID metadata document) by its host;
    an opaque one (dynamic registration's are 40 characters and more) by its start."""
    if not client_id:
        return ""
    if client_id.startswith(("https://", "http://")):
        host = urlsplit(client_id).hostname
        if host:
            return host
    return f"client {client_id[:12]}…" if len(client_id) > 16 else f"client {client_id}"


def in_session(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the caller is one agent over time: stdio (one client a process) or a session of
    its own. A 2026-07-28 request without a key is not: ``agent_of`` names it by its client's
    name and address, which many people behind one host (a hosted assistant) share."""
    return not isinstance(ctx.request, Request) or connection_of(ctx).has_standalone_channel


GRANT = "mapsrv.grant"  # the ASGI scope key of a request's checked access token (tokens.Grant)


def request_principal(request: Any, keys: ApiKeys) -> str | None:
    """Who a request acts for: the person of its access token (``oidc:<sub>``), else its API
    key's name, else nobody. Stdio has no HTTP request: nobody."""
    if not isinstance(request, Request):
        return None
    return scope_principal(request.scope, keys)


def scope_principal(scope: Scope, keys: ApiKeys) -> str | None:
    """Who an HTTP request (its ASGI ``scope``) acts for, as ``request_principal`` says."""
    grant = scope.get(GRANT)
    if grant is not None:
        return str(grant.principal)
    return keys.principal_of(scope)


def client_of(ctx: ServerRequestContext[Any, Any], *, keys: ApiKeys, clients: ClientIdentity) -> str:
    """Whom a request counts against for a quota: its API key, else its address (stdio: the one
    client of the process)."""
    request = ctx.request
    if not isinstance(request, Request):
        return ""
    key = request_principal(request, keys)
    peer = request.client.host if request.client else ""
    return f"key:{key}" if key else clients.of(peer, request.headers.get("x-forwarded-for"))


@lru_cache(maxsize=1024)
def sdk_user(key: str) -> AuthenticatedUser:
    """The SDK's user for the credential ``key`` names (it binds each session to its user's
    ``client_id``): one per key, shared by its requests, which only read it (a pydantic model
    made per call was 1 µs of each)."""
    return AuthenticatedUser(AccessToken(token="", client_id=key, scopes=[]))
