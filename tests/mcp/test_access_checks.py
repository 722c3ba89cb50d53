"""Every MCP access check, each pinned by a caller it must refuse (issue 44's audit): the one
allowed caller succeeds, every other kind of caller (another API key, an anonymous session, an
agent for another person, a stale token, a token from an issuer whose metadata names another
issuer, a token that may only read) is refused with its status or error, and the map is read back
to show that nothing changed. Real servers on port 0, the SDK's clients, the tests' real OpenID
provider (``support.openid``; behind ``support.issuer_proxy`` where the issuer must misbehave)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import httpx2
import jwt
import trio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import Browser, start_server, wait_until
from support.agents import agent, call, failing
from support.issuer_proxy import open_failing_issuer, open_proxied_provider
from support.mcp import INITIALIZE, MCP_ACCEPT
from support.openid import Provider, new_key, open_provider
from support.processes import free_port

from mapsrv.http import tokens as token_module
from mapsrv.server import Server

KEYS = ("alice:alice-secret-1", "bob:bob-secret-2")
LISBON = {"type": "marker", "at": [38.72, -9.14], "label": "Lisbon"}
RW = "maps:read maps:write"


def keyed(server: Server, key: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=10)
    return Client(streamable_http_client(server.url + "mcp", http_client=http))


def with_token(server: Server, token: str) -> Client:
    return keyed(server, token)


async def snapshot(server: Server, map_id: str) -> tuple[int, str, int]:
    """What must not change: the map's version, title and number of features (read from the hub,
    so a deleted map fails here)."""
    entry = await server.hub.get(map_id)
    return entry.state.version, entry.state.title, len(entry.state.features)


async def post_mcp(server: Server, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = dict(MCP_ACCEPT)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=20) as http:
        return await http.post(server.url + "mcp", json=body, headers=headers)


ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A 2026-07-28 tools/call, one request standing alone."""
    params = {"name": name, "arguments": arguments, "_meta": ENVELOPE}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


def challenge_scope(header: str) -> set[str]:
    """The scopes a ``WWW-Authenticate: Bearer ...`` challenge names in ``scope="..."``."""
    assert 'scope="' in header, header
    return set(header.split('scope="', 1)[1].split('"', 1)[0].split())


# --- delete_map -------------------------------------------------------------------------------


async def test_an_api_key_given_a_browsers_map_id_cannot_delete_it(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    person = Browser(server.url)
    map_id = await person.new_map()
    drawn = await person.ops(map_id, {"op": "add_feature", "type": "marker", "coords": [38.72, -9.14]})
    assert drawn.status_code == 200, drawn.text
    before = await snapshot(server, map_id)
    async with keyed(server, "alice-secret-1") as alice:
        # the key may draw on it (the id is the agent's capability), but it is not the key's map
        text, _ = await failing(alice, "delete_map", map_id=map_id)
        assert text.startswith("forbidden:") and "owner" in text, text
        mine = await call(alice, "create_map", title="Alice's")
        assert (await call(alice, "delete_map", map_id=mine["map_id"]))["deleted"] is True
    assert await snapshot(server, map_id) == before
    assert (await person.client.get(f"/m/{map_id}/state")).status_code == 200, "still the person's"
    await person.aclose()


async def test_an_anonymous_session_cannot_delete_a_map_a_person_has_claimed(nursery: trio.Nursery) -> None:
    server = await start_server(nursery)
    person = Browser(server.url)
    async with agent(server.url + "mcp", "claude") as session:
        made = await call(session, "draw", items=[LISBON], title="For the person")
        claimed = await person.client.post(
            f"/m/{made['map_id']}/claim", headers={"origin": server.url.rstrip("/")}
        )
        assert claimed.status_code == 303
        assert (await server.hub.get(made["map_id"])).owner is not None
        before = await snapshot(server, made["map_id"])
        text, _ = await failing(session, "delete_map", map_id=made["map_id"])
        assert text.startswith("forbidden:"), text
        assert await snapshot(server, made["map_id"]) == before
        # its own map nobody claimed: the session deletes it
        other = await call(session, "create_map", title="Still mine")
        assert (await call(session, "delete_map", map_id=other["map_id"]))["deleted"] is True
    assert (await person.client.get(f"/m/{made['map_id']}/state")).status_code == 200
    await person.aclose()


async def test_one_keys_map_is_not_found_by_another_key_for_any_tool(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    async with keyed(server, "alice-secret-1") as alice, keyed(server, "bob-secret-2") as bob:
        made = await call(alice, "draw", items=[LISBON], title="Alice's trip")
        map_id = made["map_id"]
        before = await snapshot(server, map_id)
        attempts: dict[str, dict[str, Any]] = {
            "read": {"map_id": map_id},
            "draw": {"map_id": map_id, "items": [LISBON]},
            "set_title": {"map_id": map_id, "title": "Bob's now"},
            "set_view": {"map_id": map_id, "at": [41.15, -8.61], "zoom": 9},
            "set_layer": {"map_id": map_id, "layer": "bob", "visible": False},
            "style_layer": {"map_id": map_id, "layer": "default", "kind": "heatmap"},
            "delete_map": {"map_id": map_id},
        }
        for tool, arguments in attempts.items():
            text, _ = await failing(bob, tool, **arguments)
            assert text.startswith("not_found:"), (tool, text)
        assert await snapshot(server, map_id) == before
        # the owner key itself may do each of these
        assert (await call(alice, "set_title", map_id=map_id, title="Still Alice's"))["version"] > before[0]


async def test_a_map_resource_of_another_key_is_not_read(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    async with keyed(server, "alice-secret-1") as alice, keyed(server, "bob-secret-2") as bob:
        made = await call(alice, "draw", items=[LISBON], title="Alice's trip")
        uri = f"map://{made['map_id']}"
        read = await alice.read_resource(uri)
        assert "Lisbon" in read.contents[0].text  # type: ignore[union-attr]
        refused: BaseException | None = None
        try:
            await bob.read_resource(uri)
        except Exception as exc:  # the SDK raises the JSON-RPC error
            refused = exc
        assert refused is not None and "not found" in str(refused), refused


# --- list_maps --------------------------------------------------------------------------------


async def test_list_maps_search_needs_every_word_and_limit_gives_that_many(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, api_keys=KEYS)
    async with keyed(server, "alice-secret-1") as alice, keyed(server, "bob-secret-2") as bob:
        for title in ("Lisbon trip", "Porto trip", "Lisbon food", "Faro"):
            await call(alice, "create_map", title=title)
        await call(bob, "create_map", title="Lisbon trip of Bob")
        found = await call(alice, "list_maps", search="trip LISBON")
        assert [m["title"] for m in found["maps"]] == ["Lisbon trip"] and found["count"] == 1
        assert [m["title"] for m in (await call(alice, "list_maps", search="lisbon"))["maps"]] == [
            "Lisbon food",
            "Lisbon trip",
        ]
        for limit in (1, 2, 3, 4):
            listed = await call(alice, "list_maps", limit=limit)
            assert len(listed["maps"]) == limit and listed["count"] == 4, (limit, listed)
        listed = await call(alice, "list_maps", limit=200)
        assert len(listed["maps"]) == 4
        assert "Lisbon trip of Bob" not in [m["title"] for m in listed["maps"]]


async def test_list_maps_holds_no_browsers_maps(nursery: trio.Nursery) -> None:
    """A browser's map is listed for no agent: not for an API key, nor an anonymous session."""
    keyed_server = await start_server(nursery, api_keys=KEYS)
    open_server = await start_server(nursery)
    for server in (keyed_server, open_server):
        person = Browser(server.url)
        await person.new_map()
        client = keyed(server, "alice-secret-1") if server is keyed_server else agent(server.url + "mcp", "c")
        async with client:
            await call(client, "create_map", title="The agent's")
            listed = await call(client, "list_maps")
            assert [m["title"] for m in listed["maps"]] == ["The agent's"] and listed["count"] == 1
        await person.aclose()


# --- access tokens ----------------------------------------------------------------------------


async def test_a_write_refused_for_scope_names_the_scope_to_ask_for(nursery: trio.Nursery) -> None:
    port = free_port()
    server = await start_server(nursery, oidc_issuer=f"http://127.0.0.1:{port}")
    async with open_provider(port, server.url + "mcp") as provider:
        writer = provider.mint({"sub": "ana", "scope": RW})
        async with with_token(server, writer) as ana:
            map_id = (await call(ana, "draw", items=[LISBON], title="Ana's"))["map_id"]
        before = await snapshot(server, map_id)
        reader = provider.mint({"sub": "ana", "scope": "maps:read"})
        refused = await post_mcp(server, reader, tool_call("set_title", {"map_id": map_id, "title": "x"}))
        assert refused.status_code == 403, refused.text
        header = refused.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in header
        assert "maps:write" in challenge_scope(header), header
        nothing = await post_mcp(server, provider.mint({"sub": "ana", "scope": "openid"}), INITIALIZE)
        assert nothing.status_code == 403
        assert challenge_scope(nothing.headers["www-authenticate"]) & {"maps:read", "maps:write"}
        assert await snapshot(server, map_id) == before
        async with with_token(server, reader) as reading:  # the reader reads
            assert (await call(reading, "read", map_id=map_id))["title"] == "Ana's"


async def test_a_token_that_may_write_but_is_not_for_this_server_changes_nothing(
    nursery: trio.Nursery,
) -> None:
    """Each token below grants maps:write and names Ana, and each is refused with 401: made for
    another resource, by another issuer, expired an hour ago, or signed with another key."""
    port = free_port()
    server = await start_server(nursery, oidc_issuer=f"http://127.0.0.1:{port}")
    async with open_provider(port, server.url + "mcp") as provider:
        async with with_token(server, provider.mint({"sub": "ana", "scope": RW})) as ana:
            map_id = (await call(ana, "draw", items=[LISBON], title="Ana's"))["map_id"]
        before = await snapshot(server, map_id)
        now = int(time.time())
        cases = {
            "another resource": {"aud": "http://elsewhere.example/mcp"},
            "another issuer": {"iss": f"http://127.0.0.1:{free_port()}"},
            "expired an hour ago": {"exp": now - 3600, "iat": now - 7200},
            "not yet valid": {"nbf": now + 3600},
        }
        tokens = {
            what: provider.mint({"sub": "ana", "scope": RW, **claims}) for what, claims in cases.items()
        }
        tokens["another key"] = provider.mint({"sub": "ana", "scope": RW}, key=new_key())
        tokens["no subject"] = jwt_without_sub(provider)
        for what, token in tokens.items():
            for body in (
                tool_call("set_title", {"map_id": map_id, "title": what}),
                tool_call("create_map", {}),
            ):
                answer = await post_mcp(server, token, body)
                assert answer.status_code == 401, (what, answer.status_code, answer.text[:200])
                assert 'error="invalid_token"' in answer.headers["www-authenticate"], what
        assert await snapshot(server, map_id) == before
        assert [m.meta.id for m in await server.hub.maps_of(principal="oidc:ana")] == [map_id]


def jwt_without_sub(provider: Provider) -> str:
    token = provider.mint({"scope": RW})
    claims = jwt.decode(token, options={"verify_signature": False})
    del claims["sub"]
    return jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": provider.kid})


async def test_a_remembered_token_is_refused_once_it_expires(nursery: trio.Nursery) -> None:
    """A token checked once is remembered; once its expiry (plus the clock leeway) has passed, the
    remembered grant is refused like a fresh check would be, not kept for its cache's life."""
    port = free_port()
    server = await start_server(nursery, oidc_issuer=f"http://127.0.0.1:{port}")
    leeway = float(getattr(token_module, "LEEWAY_S", 30))
    async with open_provider(port, server.url + "mcp") as provider:
        exp = int(time.time() - leeway + 4)  # valid for about 4 more seconds, leeway included
        token = provider.mint({"sub": "ana", "scope": RW, "exp": exp, "iat": exp - 3600})
        async with with_token(server, token) as ana:  # checked once, then remembered
            await call(ana, "create_map", title="While it lasted")
        made = len(await server.hub.maps_of(principal="oidc:ana"))
        await wait_until(lambda: time.time() > exp + leeway + 0.5, timeout=20)
        late = await post_mcp(server, token, tool_call("create_map", {"title": "Too late"}))
        assert late.status_code == 401, late.text
        assert "expired" in late.json()["error"]["message"]
        assert 'error="invalid_token"' in late.headers["www-authenticate"]
        assert len(await server.hub.maps_of(principal="oidc:ana")) == made, "nothing made with it"
        fresh = provider.mint({"sub": "ana", "scope": RW})
        assert (await post_mcp(server, fresh, INITIALIZE)).status_code == 200


async def test_metadata_that_names_another_issuer_is_not_trusted(nursery: trio.Nursery) -> None:
    """The issuer's discovery document names another issuer (a mix-up): no token is accepted,
    neither one from the configured issuer nor one from the issuer the metadata names, and
    sign-in does not begin."""
    port = free_port()
    server = await start_server(
        nursery,
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id="mapsrv-web",
        oidc_client_secret="web-secret-0123456789",
    )
    other = f"http://127.0.0.1:{free_port()}"
    async with open_proxied_provider(port, server.url + "mcp") as (provider, proxy):
        proxy.metadata = lambda metadata: {**metadata, "issuer": other}
        for iss in (other, provider.issuer):
            token = provider.mint({"sub": "ana", "scope": RW, "iss": iss})
            answer = await post_mcp(server, token, tool_call("create_map", {"title": "Mixed up"}))
            assert answer.status_code == 503, (iss, answer.status_code, answer.text)
            assert "another issuer" in answer.json()["error"]["message"]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as browser:
            login = await browser.get("/login")
            assert login.status_code == 503, (login.status_code, login.headers.get("location"))
        assert await server.hub.maps_of(principal="oidc:ana") == []


async def test_an_issuer_that_fails_is_not_asked_again_until_its_retry_delay(nursery: trio.Nursery) -> None:
    port = free_port()
    retry = float(getattr(token_module, "RETRY_S", 5.0))
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJhbmEifQ.c2ln"  # any JWT: keys are needed
    async with open_failing_issuer(port) as issuer:
        # the issuer fails from before the server starts (which may try it at once, then after
        # the retry delay): the requests below come well within that delay
        started = time.monotonic()
        server = await start_server(nursery, oidc_issuer=f"http://127.0.0.1:{port}")
        first = await post_mcp(server, token, INITIALIZE)
        assert first.status_code == 503 and first.headers["retry-after"] == "5", first.text
        asked = len(issuer.paths)
        assert asked >= 1
        for _ in range(3):
            again = await post_mcp(server, token, INITIALIZE)
            assert again.status_code == 503
        if time.monotonic() - started < retry:  # on a very slow machine the delay may be over
            assert len(issuer.paths) == asked, f"asked the issuer again within {retry} s: {issuer.paths}"

        async def asked_again() -> bool:
            await post_mcp(server, token, INITIALIZE)
            return len(issuer.paths) > asked

        await wait_until(asked_again, timeout=retry + 10)  # and once the delay is over, it is
