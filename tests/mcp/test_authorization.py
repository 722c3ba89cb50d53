"""MCP authorization with a real OpenID provider (oidc-provider, tests/support/openid.py): mapsrv
is a resource server for /mcp and the legacy SSE endpoints. It publishes RFC 9728 metadata,
answers a request without a valid token with 401 and where to get one, accepts only JWTs its
issuer signed for its own URL (RFC 8707), and needs maps:write to change maps. The MCP SDK's
own OAuth client finds all of that from the 401 and signs in; an agent with a token acts for its
person: the maps it makes are theirs, listed for them, and never for another person."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import jwt
import pytest
import trio
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from mcp.types import Implementation
from support import start_server, wait_until
from support.mcp import INITIALIZE, MCP_ACCEPT
from support.openid import new_key, open_provider, sign_in
from support.processes import free_port
from support.redis_server import open_redis

from mapsrv.server import Server

METADATA = "/.well-known/oauth-protected-resource/mcp"
CALLBACK = "http://127.0.0.1:1/callback"  # never opened: sign_in stops at the redirect
DRAW = {"items": [{"at": [38.72, -9.14], "label": "Lisbon"}], "title": "Trip"}


async def authorized_server(nursery: trio.Nursery) -> tuple[Server, int]:
    port = free_port()
    server = await start_server(
        nursery, oidc_issuer=f"http://127.0.0.1:{port}", api_keys=("script:s3cret-key-1234",)
    )
    return server, port


def agent(server: Server, token: str, name: str = "claude") -> Client:
    """An MCP client with ``token``, talking to this process (whatever its public URL)."""
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
    return Client(
        streamable_http_client(server.binds[0].rstrip("/") + "/mcp", http_client=http),
        client_info=Implementation(name=name, version="1"),
    )


async def initialize(server: Server, token: str | None) -> httpx.Response:
    headers = dict(MCP_ACCEPT)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(server.url + "mcp", json=INITIALIZE, headers=headers)


async def test_tokens_are_checked_and_each_refusal_says_why(nursery: trio.Nursery) -> None:
    server, port = await authorized_server(nursery)
    resource = server.url + "mcp"
    async with open_provider(port, resource) as provider, httpx.AsyncClient(timeout=10) as http:
        metadata = (await http.get(server.url.rstrip("/") + METADATA)).json()
        assert metadata["resource"] == resource
        assert metadata["authorization_servers"] == [provider.issuer]
        assert set(metadata["scopes_supported"]) == {"maps:read", "maps:write"}

        refused = await initialize(server, None)
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert (
            challenge.startswith("Bearer ")
            and f'resource_metadata="{server.url.rstrip("/")}{METADATA}"' in challenge
        )
        assert "needs an access token" in refused.json()["error"]["message"]

        now = int(time.time())
        cases = {
            "a wrong audience": (
                provider.mint({"aud": "http://elsewhere.example/mcp"}),
                401,
                "another resource",
            ),
            "an expired token": (provider.mint({"exp": now - 600, "iat": now - 4200}), 401, "expired"),
            "a foreign key": (provider.mint({}, key=new_key(), kid="stranger"), 401, "does not publish"),
            "a foreign key under the issuer's kid": (provider.mint({}, key=new_key()), 401, "signature"),
            "another issuer": (provider.mint({"iss": "http://127.0.0.1:1"}), 401, "another issuer"),
            "no scope of ours": (provider.mint({"scope": "openid"}), 403, "neither maps:read nor maps:write"),
            "not a JWT": ("s3cret-but-wrong", 401, "not a JWT"),
        }
        for what, (token, status, said) in cases.items():
            answer = await initialize(server, token)
            assert answer.status_code == status, (what, answer.status_code, answer.text)
            assert said in answer.json()["error"]["message"], (what, answer.text)
            header = answer.headers["www-authenticate"]
            assert f'error="{"insufficient_scope" if status == 403 else "invalid_token"}"' in header, (
                what,
                header,
            )
            assert token not in answer.text and token not in header

        # only maps:read: reading works, a write is refused with 403 insufficient_scope
        reader = provider.mint({"scope": "maps:read", "sub": "ana"})
        async with agent(server, reader) as client:
            listed = await client.call_tool("list_maps", {})
            assert not listed.is_error and listed.structured_content["count"] == 0
            with pytest.raises(Exception) as refused_write:
                await client.call_tool("draw", DRAW)
        assert "maps:write" in str(refused_write.value) or "403" in str(refused_write.value), (
            refused_write.value
        )
        async with httpx.AsyncClient(timeout=10) as raw:
            call = {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "tools/call",
                "params": {"name": "draw", "arguments": DRAW},
            }
            headers = {
                **MCP_ACCEPT,
                "authorization": f"Bearer {reader}",
                "mcp-protocol-version": "2026-07-28",
            }
            answer = await raw.post(resource, json=call, headers=headers)
        assert (
            answer.status_code == 403 and 'error="insufficient_scope"' in answer.headers["www-authenticate"]
        )
        assert "needs the scope maps:write" in answer.json()["error"]["message"]

        # an API key still works beside tokens (scripts)
        async with Client(
            streamable_http_client(
                resource, http_client=httpx2.AsyncClient(headers={"authorization": "Bearer s3cret-key-1234"})
            )
        ) as script:
            assert not (await script.call_tool("draw", DRAW)).is_error


async def test_an_agent_with_a_token_acts_for_its_person(nursery: trio.Nursery) -> None:
    server, port = await authorized_server(nursery)
    async with open_provider(port, server.url + "mcp") as provider:
        ana = provider.mint({"sub": "ana", "scope": "maps:read maps:write", "name": "Ana Lima"})
        ben = provider.mint({"sub": "ben", "scope": "maps:read maps:write", "name": "Ben Okafor"})
        async with agent(server, ana) as client:
            drawn = await client.call_tool("draw", DRAW)
            assert not drawn.is_error, drawn.content
            map_id = drawn.structured_content["map_id"]
            listed = (await client.call_tool("list_maps", {})).structured_content
            assert [m["map_id"] for m in listed["maps"]] == [map_id]
            changes = (await client.call_tool("changes", {"map_id": map_id, "since": 0})).structured_content
            assert changes["changes"][-1]["by"]["name"] == "claude for Ana Lima"
        entry = await server.hub.get(map_id)
        assert entry.owner == entry.principal == "oidc:ana", "the person's at once: no claim page"
        async with agent(server, ben) as other:
            assert (await other.call_tool("list_maps", {})).structured_content["count"] == 0
            foreign = await other.call_tool("read", {"map_id": map_id})
            assert foreign.is_error and "not found" in foreign.content[0].text
            refused = await other.call_tool("delete_map", {"map_id": map_id})
            assert refused.is_error
        # the legacy SSE transport asks for the same token
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(server.url + "sse")).status_code == 401
        headers = {"authorization": f"Bearer {ana}"}
        async with Client(sse_client(server.url + "sse", headers=headers)) as legacy:
            listed = (await legacy.call_tool("list_maps", {})).structured_content
            assert [m["map_id"] for m in listed["maps"]] == [map_id]


class Memory:
    """The SDK client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def test_the_sdk_oauth_client_finds_the_issuer_registers_signs_in_and_calls_tools(
    nursery: trio.Nursery,
) -> None:
    server, port = await authorized_server(nursery)
    async with open_provider(port, server.url + "mcp"):
        sent_to: list[str] = []
        back: list[str] = []

        async def redirect_handler(url: str) -> None:
            sent_to.append(url)
            back.append(await sign_in(url, "ana"))

        async def callback_handler() -> AuthorizationCodeResult:
            query = parse_qs(urlsplit(back[-1]).query)
            assert "code" in query, back[-1]
            # RFC 9207: the issuer in the redirect, which the client checks
            return AuthorizationCodeResult(
                code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
            )

        storage = Memory()
        oauth = OAuthClientProvider(
            server.url + "mcp",
            OAuthClientMetadata(
                client_name="test agent",
                redirect_uris=[CALLBACK],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                scope="maps:read maps:write",
                token_endpoint_auth_method="none",
            ),
            storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )
        http = httpx2.AsyncClient(auth=oauth, timeout=10)
        async with Client(streamable_http_client(server.url + "mcp", http_client=http)) as client:
            drawn = await client.call_tool("draw", DRAW)
            assert not drawn.is_error, drawn.content
            listed = (await client.call_tool("list_maps", {})).structured_content
        query = parse_qs(urlsplit(sent_to[0]).query)
        assert query["resource"] == [server.url + "mcp"], "RFC 8707: the token is for this server"
        assert query["code_challenge_method"] == ["S256"]
        assert storage.client is not None, "registered itself"
        assert storage.tokens is not None and "maps:write" in (storage.tokens.scope or "")
        assert [m["map_id"] for m in listed["maps"]] == [drawn.structured_content["map_id"]]
        entry = await server.hub.get(drawn.structured_content["map_id"])
        assert entry.principal == "oidc:ana"


async def test_two_processes_sharing_redis_never_mix_two_peoples_maps(nursery: trio.Nursery) -> None:
    """Two processes behind one public URL, one Redis: Ana's agent draws on A, Ben's on B; each
    person's list, asked of either process, holds their maps and never the other's; Ana signs in
    with her browser on B and finds the map her agent made on A."""
    port = free_port()
    public = f"http://127.0.0.1:{free_port()}/"  # what the ingress would answer to; nobody listens
    async with open_redis() as redis_url, httpx.AsyncClient(timeout=10) as http:
        common: dict[str, Any] = {
            "store": redis_url,
            "public_url": public,
            "oidc_issuer": f"http://127.0.0.1:{port}",
            "oidc_client_id": "mapsrv-web",
            "oidc_client_secret": "web-secret-0123456789",
        }
        a = await start_server(nursery, **common)
        b = await start_server(nursery, **common)
        web = {
            "client_id": "mapsrv-web",
            "client_secret": "web-secret-0123456789",
            "redirect_uris": [public + "auth/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        async with open_provider(port, public + "mcp", clients=[web]) as provider:
            ana = provider.mint({"sub": "ana", "scope": "maps:read maps:write", "name": "Ana Lima"})
            ben = provider.mint({"sub": "ben", "scope": "maps:read maps:write", "name": "Ben Okafor"})
            async with agent(a, ana) as on_a:
                anas = (await on_a.call_tool("draw", DRAW)).structured_content["map_id"]
            async with agent(b, ben) as on_b:
                bens = (await on_b.call_tool("draw", DRAW)).structured_content["map_id"]
            for server in (a, b):
                for token, mine in ((ana, anas), (ben, bens)):
                    async with agent(server, token) as client:
                        listed = (await client.call_tool("list_maps", {})).structured_content
                    assert [m["map_id"] for m in listed["maps"]] == [mine]

            # Ana's browser signs in on B (the callback comes back through the public URL)
            browser = httpx.AsyncClient(base_url=b.binds[0], timeout=10)
            started = await browser.get("/login")
            back = await sign_in(started.headers["location"], "ana")
            returned = urlsplit(back)
            finished = await browser.get(f"/auth/callback?{returned.query}")
            assert finished.status_code == 303, finished.text
            listed = (await browser.get("/maps.json")).json()["maps"]
            assert [m["id"] for m in listed] == [anas]
            assert (await browser.get(f"/m/{bens}/state")).status_code == 404
            await browser.aclose()
            assert (await http.get(b.binds[0] + "/me")).json()["signed_in"] is False, (
                "another browser: nobody"
            )


async def test_the_issuers_new_keys_are_followed(nursery: trio.Nursery) -> None:
    """The issuer rotates its signing key (here: the provider comes back with a new one): a token
    signed with the new key is accepted at once (mapsrv fetches the keys again for a key id it
    has not seen), one signed with the withdrawn key no longer is."""
    server, port = await authorized_server(nursery)
    async with open_provider(port, server.url + "mcp") as before:
        old = before.mint({"scope": "maps:read maps:write"})
        assert (await initialize(server, old)).status_code == 200
    async with open_provider(port, server.url + "mcp") as after:
        assert after.kid != before.kid
        new = after.mint({"scope": "maps:read maps:write"})
        assert (await initialize(server, new)).status_code == 200
        fresh_old = before.mint({"scope": "maps:read maps:write", "jti": "another"})  # not cached
        refused = await initialize(server, fresh_old)
        assert refused.status_code == 401 and "does not publish" in refused.json()["error"]["message"]


async def test_an_issuer_that_is_down_or_hangs_gets_a_503_that_says_so(nursery: trio.Nursery) -> None:
    """Tokens cannot be checked while the issuer's keys cannot be fetched: 503 with Retry-After
    and the reason, whether the issuer refuses connections or accepts them and never answers
    (then mapsrv gives up after 5 s, and answers at once for the next 5 s rather than make
    every request wait); once the issuer is back, tokens work again."""
    server, port = await authorized_server(nursery)
    token = jwt.encode({"sub": "ana"}, new_key(), algorithm="RS256", headers={"kid": "k"})
    refused = await initialize(server, token)  # nothing listens on the issuer's port
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert "cannot read the metadata of the issuer" in refused.json()["error"]["message"]

    hung: list[trio.SocketStream] = []

    async def never_answer(stream: trio.SocketStream) -> None:
        hung.append(stream)
        await trio.sleep_forever()

    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    async with trio.open_nursery() as hanging:
        hanging.start_soon(trio.serve_listeners, never_answer, listeners)
        answers: list[httpx.Response] = []

        async def asked_the_hung_issuer() -> bool:
            # mapsrv's start-up discovery may be the first to reach the hung issuer, while the
            # requests are still answered from the failure remembered before: wait for a request's
            answers.append(await initialize(server, token))
            return bool(hung) and "did not answer" in answers[-1].json()["error"]["message"]

        await wait_until(asked_the_hung_issuer, timeout=30)
        assert all(a.status_code == 503 for a in answers)
        assert "did not answer within 5 s" in answers[-1].json()["error"]["message"]
        hanging.cancel_scope.cancel()
    for stream in hung:
        await stream.aclose()
    async with open_provider(port, server.url + "mcp") as provider:
        good = provider.mint({"scope": "maps:read maps:write"})

        async def back() -> bool:
            return (await initialize(server, good)).status_code == 200

        await wait_until(back, timeout=30)
