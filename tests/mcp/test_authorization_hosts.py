"""MCP authorization under each of the server's names (issue 44), with a real OpenID provider
(oidc-provider, tests/support/openid.py) and the MCP SDK's own OAuth client.

Without ``--public-url`` the protected resource follows the Host the client used, when that name
is one of ``--allowed-hosts`` (by name) on the port the server listens on: one server is
``http://localhost:PORT/mcp`` to one client and ``http://127.0.0.1:PORT/mcp`` to another, and a
token is good only for the resource it names (RFC 8707). With ``--public-url`` everything names it,
and a page opened under another name goes there before sign-in begins. The challenge to a request
without a token carries no error code (RFC 6750 section 3.1); an agent is named by the client its
person approved, from the token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from mcp.types import Implementation
from support import start_server
from support.mcp import INITIALIZE, MCP_ACCEPT
from support.openid import open_provider, sign_in
from support.processes import free_port

from mapsrv.server import Server

METADATA = "/.well-known/oauth-protected-resource/mcp"
CALLBACK = "http://127.0.0.1:1/callback"  # never opened: sign_in stops at the redirect
DRAW = {"items": [{"at": [38.72, -9.14], "label": "Lisbon"}], "title": "Trip"}
SCOPES = "maps:read maps:write"


class Memory:
    """The SDK client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


def sdk_oauth(
    url: str, person: str, client_name: str = "test agent"
) -> tuple[OAuthClientProvider, list[str]]:
    """The SDK's OAuth client for ``url``, signing in as ``person`` at the provider's form; and the
    authorization URLs it opened."""
    opened: list[str] = []
    back: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        opened.append(authorization_url)
        back.append(await sign_in(authorization_url, person))

    async def callback_handler() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(back[-1]).query)
        assert "code" in query, back[-1]
        return AuthorizationCodeResult(
            code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
        )

    oauth = OAuthClientProvider(
        url,
        OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope=SCOPES,
            token_endpoint_auth_method="none",
        ),
        Memory(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    return oauth, opened


async def server_with_issuer(nursery: Any, **changes: Any) -> tuple[Server, int, int]:
    """A server on a port chosen here (so that its names are known before the provider starts),
    trusting the issuer that will listen on the other port."""
    port, issuer_port = free_port(), free_port()
    server = await start_server(nursery, port=port, oidc_issuer=f"http://127.0.0.1:{issuer_port}", **changes)
    return server, port, issuer_port


async def post_initialize(url: str, token: str | None = None, host: str | None = None) -> httpx.Response:
    headers = dict(MCP_ACCEPT)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if host is not None:
        headers["host"] = host
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INITIALIZE, headers=headers)


async def test_the_sdk_client_signs_in_through_localhost_and_127_0_0_1_of_one_server(nursery: Any) -> None:
    server, port, issuer_port = await server_with_issuer(nursery)
    names = {"ana": f"http://localhost:{port}/mcp", "ben": f"http://127.0.0.1:{port}/mcp"}
    async with open_provider(issuer_port, names["ana"], also=(names["ben"],)):
        for person, url in names.items():
            async with httpx.AsyncClient(timeout=10) as http:
                metadata = (await http.get(url.removesuffix("/mcp") + METADATA)).json()
            assert metadata["resource"] == url, "the metadata names the URL the client used"

            oauth, opened = sdk_oauth(url, person)
            http2 = httpx2.AsyncClient(auth=oauth, timeout=10)
            async with Client(streamable_http_client(url, http_client=http2)) as client:
                drawn = await client.call_tool("draw", DRAW)
                assert not drawn.is_error, drawn.content
                listed = (await client.call_tool("list_maps", {})).structured_content
            assert parse_qs(urlsplit(opened[0]).query)["resource"] == [url], "RFC 8707: for this name"
            map_id = drawn.structured_content["map_id"]
            assert [m["map_id"] for m in listed["maps"]] == [map_id], "each lists only their own"
            assert (await server.hub.get(map_id)).principal == f"oidc:{person}"


async def test_the_challenges_say_exactly_what_rfc_6750_asks(nursery: Any) -> None:
    """No token: no error code, under each name the metadata of that name. A bad token:
    invalid_token. Too few scopes: 403 insufficient_scope with the scopes needed."""
    _, port, issuer_port = await server_with_issuer(nursery)
    for base in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        refused = await post_initialize(base + "/mcp")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{base}{METADATA}", scope="{SCOPES}"'
        )
        assert "needs an access token" in refused.json()["error"]["message"]
        async with httpx.AsyncClient(timeout=10) as http:
            legacy = await http.get(base + "/sse")
        assert legacy.headers["www-authenticate"] == refused.headers["www-authenticate"]

        bad = await post_initialize(base + "/mcp", "not-a-jwt")
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{base}{METADATA}", error="invalid_token", scope="{SCOPES}",'
            ' error_description="the access token is not a JWT"'
        )

    resource = f"http://127.0.0.1:{port}/mcp"
    async with open_provider(issuer_port, resource) as provider:
        none_of_ours = await post_initialize(resource, provider.mint({"scope": "openid"}))
        reader = provider.mint({"scope": "maps:read"})
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "draw", "arguments": DRAW},
        }
        async with httpx.AsyncClient(timeout=10) as http:
            headers = {
                **MCP_ACCEPT,
                "authorization": f"Bearer {reader}",
                "mcp-protocol-version": "2026-07-28",
            }
            write = await http.post(resource, json=call, headers=headers)
    for answer in (none_of_ours, write):
        assert answer.status_code == 403, answer.text
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith(
            f'Bearer resource_metadata="http://127.0.0.1:{port}{METADATA}", error="insufficient_scope",'
            f' scope="{SCOPES}", error_description="'
        ), challenge


async def test_a_token_is_good_only_for_the_name_it_was_made_for(nursery: Any) -> None:
    """RFC 8707: the audience is the resource, and the resource is the name used. A token for
    localhost's resource is refused at 127.0.0.1, even right after it was accepted (and
    remembered) at localhost."""
    _, port, issuer_port = await server_with_issuer(nursery)
    localhost, loopback = f"http://localhost:{port}/mcp", f"http://127.0.0.1:{port}/mcp"
    async with open_provider(issuer_port, localhost, also=(loopback,)) as provider:
        for_localhost = provider.mint({"aud": localhost, "scope": SCOPES})
        for_loopback = provider.mint({"aud": loopback, "scope": SCOPES})
        assert (await post_initialize(localhost, for_localhost)).status_code == 200
        assert (await post_initialize(loopback, for_loopback)).status_code == 200
        for url, token, named in ((loopback, for_localhost, loopback), (localhost, for_loopback, localhost)):
            refused = await post_initialize(url, token)
            assert refused.status_code == 401, refused.text
            assert f"for another resource: its audience must be {named}" in refused.json()["error"]["message"]
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_a_host_is_trusted_only_by_its_listed_name_and_this_servers_port(nursery: Any) -> None:
    """A Host on another port, or any Host when every name is allowed (``*``), does not choose the
    resource: the metadata names the server's own address, so a token made for another service
    cannot be brought in by naming it in Host."""
    _, port, _ = await server_with_issuer(nursery)
    own = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=10) as http:
        other_port = await http.get(own + METADATA, headers={"host": f"localhost:{port + 1}"})
        assert other_port.json()["resource"] == own + "/mcp"
        assert (await http.get(own + METADATA, headers={"host": "evil.example"})).status_code == 421

    anything, any_port, _ = await server_with_issuer(nursery, allowed_hosts=("*",))
    async with httpx.AsyncClient(timeout=10) as http:
        listed = await http.get(anything.binds[0] + METADATA, headers={"host": f"evil.example:{any_port}"})
        assert listed.json()["resource"] == anything.binds[0] + "/mcp"
        challenge = (
            await post_initialize(anything.binds[0] + "/mcp", host=f"evil.example:{any_port}")
        ).headers["www-authenticate"]
        assert f'resource_metadata="{anything.binds[0]}{METADATA}"' in challenge


async def test_with_a_public_url_everything_names_it_and_pages_go_there(nursery: Any) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    signing_in = {
        "public_url": public + "/",
        "oidc_client_id": "mapsrv-web",
        "oidc_client_secret": "web-secret-0123456789",
    }
    await start_server(nursery, port=port, oidc_issuer=f"http://127.0.0.1:{free_port()}", **signing_in)
    other = f"http://localhost:{port}"
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (other, public):
            metadata = (await http.get(base + METADATA)).json()
            assert metadata["resource"] == public + "/mcp"
            challenge = (await post_initialize(base + "/mcp")).headers["www-authenticate"]
            assert challenge == f'Bearer resource_metadata="{public}{METADATA}", scope="{SCOPES}"'

        for path in ("/maps", "/login?next=/maps", "/", "/v/some-view-key"):
            moved = await http.get(other + path)
            assert moved.status_code == 302, (path, moved.status_code)
            assert moved.headers["location"] == public + path
        assert (await http.get(public + "/maps")).status_code == 200, "the public name: no redirect"
        assert (await http.get(other + "/maps.json")).status_code == 200, "the JSON API: no redirect"
        assert (await http.get(other + "/health")).status_code == 200

    # without sign-in there is nothing to protect: a page answers under any allowed name
    plain_port = free_port()
    await start_server(nursery, port=plain_port, public_url=f"http://127.0.0.1:{plain_port}/")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"http://localhost:{plain_port}/maps")).status_code == 200


async def test_the_agent_is_named_by_the_client_its_person_approved(nursery: Any) -> None:
    """The SDK client registers as "Trip Planner" and calls itself "Claude": the change says both,
    the approved name from the token; a token that names its client only by id shows the id."""
    _, port, issuer_port = await server_with_issuer(nursery)
    url = f"http://127.0.0.1:{port}/mcp"
    async with open_provider(issuer_port, url, client_name_claim=True) as provider:
        oauth, _ = sdk_oauth(url, "ana", client_name="Trip Planner")
        http2 = httpx2.AsyncClient(auth=oauth, timeout=10)
        claude = Implementation(name="Claude", version="1")
        async with Client(streamable_http_client(url, http_client=http2), client_info=claude) as client:
            map_id = (await client.call_tool("draw", DRAW)).structured_content["map_id"]
            changes = (await client.call_tool("changes", {"map_id": map_id, "since": 0})).structured_content
        assert changes["changes"][-1]["by"]["name"] == "Claude (via Trip Planner) for Ana Lima"

        by_id = provider.mint({"scope": SCOPES, "client_id": "3f2a9c1e0b7d4e5f6a7b8c9d", "name": "Ana Lima"})
        http2 = httpx2.AsyncClient(headers={"authorization": f"Bearer {by_id}"}, timeout=10)
        impostor = Implementation(name="Trip Planner", version="1")
        async with Client(streamable_http_client(url, http_client=http2), client_info=impostor) as client:
            map_id = (await client.call_tool("draw", DRAW)).structured_content["map_id"]
            changes = (await client.call_tool("changes", {"map_id": map_id, "since": 0})).structured_content
        assert changes["changes"][-1]["by"]["name"] == "Trip Planner (via client 3f2a9c1e0b7d…) for Ana Lima"


async def test_an_issuer_whose_metadata_names_another_issuer_is_refused(nursery: Any) -> None:
    """mapsrv is told the issuer is http://localhost:PORT; the provider there says it is
    http://127.0.0.1:PORT. Its tokens are not taken (503 saying so), though they verify."""
    issuer_port = free_port()
    server = await start_server(nursery, oidc_issuer=f"http://localhost:{issuer_port}")
    async with open_provider(issuer_port, server.url + "mcp") as provider:
        refused = await post_initialize(server.url + "mcp", provider.mint({"scope": SCOPES}))
    assert refused.status_code == 503, refused.text
    assert "names another issuer" in refused.json()["error"]["message"]
